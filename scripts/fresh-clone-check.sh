#!/usr/bin/env bash
# fresh-clone-check.sh — runs the README's two commands (the main job and the
# tests) in a fresh clone of the committed repository, with no ../shared
# beside it and no EVTXSCAN_CORPUS, the way a newcomer would: the main job
# must write its reports, and the tests must pass, skipping what needs the
# corpus or a missing tool with a message (a one-line tally is printed).
#
# It was a Go test (TestReadmeCommandsInFreshClone) that ran the whole suite
# a second time inside `go test ./...`; .ci/run calls this script instead.
#
# Usage: scripts/fresh-clone-check.sh      (from anywhere in the repository)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
clone="$work/clone"
git clone --quiet "$repo" "$clone"
cd "$clone"

# readme_command MARKER — the first command of the fenced block after the
# <!-- MARKER --> comment in README.md.
readme_command() {
	awk -v m="<!-- $1 -->" '
		{ line = $0; gsub(/^[ \t]+|[ \t]+$/, "", line) }
		state == 0 && line == m { state = 1; next }
		state == 1 && line ~ /^```/ { state = 2; next }
		state == 2 && line != "" { print line; found = 1; exit }
		END { if (!found) exit 1 }' README.md
}
main_job=$(readme_command readme-main-job) || { echo "README.md has no command after <!-- readme-main-job -->" >&2; exit 1; }
tests=$(readme_command readme-tests) || { echo "README.md has no command after <!-- readme-tests -->" >&2; exit 1; }
case $tests in
go\ test*) ;;
*) echo "the README's test command \"$tests\" is not a go test command" >&2; exit 1 ;;
esac

# A newcomer's environment: no CI flag, no corpus, no shared folder.
clean_env=(env -u CI -u EVTXSCAN_CORPUS -u EVTXSCAN_SHARED)

echo "== $main_job (in a fresh clone)"
set +e
"${clean_env[@]}" sh -c "$main_job" >"$work/main.out" 2>&1
code=$?
set -e
# The README says why the main job exits 3 (go run reports it as "exit
# status 3" and exits 1): a damaged scenario loses a record.
if [ "$code" -ne 0 ]; then
	if grep -q INCOMPLETE "$work/main.out" && { [ "$code" -eq 3 ] || grep -q "exit status 3" "$work/main.out"; }; then
		echo "exit $code: INCOMPLETE, as the README explains"
	else
		tail -c 4000 "$work/main.out"
		echo "README command \"$main_job\" failed with exit $code" >&2
		exit 1
	fi
fi
tail -c 1500 "$work/main.out"
for name in report.xlsx report.html; do
	if ! [ -s "evtxscan-report/$name" ]; then
		echo "the main job did not write evtxscan-report/$name" >&2
		exit 1
	fi
done

echo "== $tests -v (in a fresh clone, -short)"
# -short keeps the run quick (the long checks ran in .ci/run's own go test);
# -v so the skips and their reasons can be tallied.
set +e
"${clean_env[@]}" GOFLAGS="${GOFLAGS:-} -short" sh -c "$tests -v" >"$work/tests.out" 2>&1
code=$?
set -e
grep -E '^(ok|FAIL)' "$work/tests.out" | cut -c1-200 || true
if [ "$code" -ne 0 ]; then
	grep -B2 -A20 -- '--- FAIL' "$work/tests.out" | cut -c1-300 | tail -200
	echo "README command \"$tests\" failed in a fresh clone (exit $code)" >&2
	exit 1
fi
# One line: how many tests skipped, then each distinct reason once.
skips=$(grep -c -- '--- SKIP' "$work/tests.out" || true)
# go test -v prints a skip's message just before its "--- SKIP" line.
reasons=$(grep -B1 -- '--- SKIP' "$work/tests.out" | grep -E '^[[:space:]]+[A-Za-z0-9_]+\.go:[0-9]+: ' |
	sed -E 's/^[[:space:]]*[A-Za-z0-9_]+\.go:[0-9]+: //; s/no EVTX corpus at [^:]*:.*/no EVTX corpus (set EVTXSCAN_CORPUS)/; s/no shared folder at .*/no shared folder (set EVTXSCAN_SHARED)/' |
	sort | uniq -c | sort -rn | awk '{n=$1; $1=""; printf "%s%d×%s", (NR>1 ? "; " : ""), n, $0}')
echo "fresh clone: tests pass; $skips skipped: $reasons"
