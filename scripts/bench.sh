#!/usr/bin/env bash
# bench.sh — times `evtxscan dump --format jsonl` against the other EVTX
# dumpers installed here, on the same files, side by side: first the real
# peers in interleaved rounds (one core pinned with taskset, then two cores):
# Rust omerbenamram/evtx `evtx_dump -t 1 -o jsonl` (the parser under
# Hayabusa, Chainsaw and Zircolite), libevtx's evtxexport, and our whole
# scan against our dump; then MiB/s, ratios, GOMAXPROCS=1 vs 2, and peak RSS
# for one file vs the whole corpus.
#
# Usage: scripts/bench.sh [-n RUNS] [-f FILE]... [-c CORPUS_DIR] [-r EVTX_DUMP] [-q] [-p] [-s]
#   -n RUNS    runs (rounds) per measurement (default 3): the side-by-side
#              section prints medians, the rest the fastest run
#   -f FILE    a bench file, repeatable (default: the largest .evtx of the
#              corpus and the largest System.evtx); the first is the
#              "one file" of the later sections
#   -c DIR     the corpus (default: $EVTXSCAN_CORPUS, else
#              ../shared/evtx-corpus beside the repo)
#   -r PATH    Rust evtx_dump (default: $EVTX_DUMP, else evtx_dump on PATH);
#              build 0.12.2 as ../shared/docs/peers.md says
#   -q         quick: one run each
#   -p         also time python-evtx's evtx_dump.py on the one file (about
#              0.1 MiB/s: minutes on the largest file, so off by default)
#   -s         side by side only (skip the later sections)
#
# Peers that are not installed are reported as "not installed" and skipped;
# the script never fails because a peer is missing. Install them with:
#   apt-get install libevtx-utils python3-evtx time
#
# Speed is shown here and in `go test -bench BenchmarkParse ./parser` (the
# script runs it too, for the in-process 1-CPU/2-CPU figures), never
# asserted by a timed test. Run it on a quiet machine: other CPU load
# makes every figure lower (the ratios suffer less).
set -u
set -o pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
runs=3
files=()
corpus=${EVTXSCAN_CORPUS:-"$repo/../shared/evtx-corpus"}
rust=${EVTX_DUMP:-$(command -v evtx_dump || true)}

python=0
side_only=0
while getopts "n:f:c:r:qpsh" opt; do
	case $opt in
	n) runs=$OPTARG ;;
	f) files+=("$OPTARG") ;;
	c) corpus=$OPTARG ;;
	r) rust=$OPTARG ;;
	q) runs=1 ;;
	p) python=1 ;;
	s) side_only=1 ;;
	*) sed -n '2,35p' "$0"; exit 2 ;;
	esac
done

die() { echo "bench.sh: $*" >&2; exit 2; }

[ -d "$corpus" ] || die "no corpus at $corpus (pass -c DIR or set EVTXSCAN_CORPUS)"
corpus=$(cd "$corpus" && pwd)
if [ ${#files[@]} -eq 0 ]; then
	files+=("$(find "$corpus" -type f -iname '*.evtx' -printf '%s\t%p\n' | sort -rn | head -1 | cut -f2-)")
	files+=("$(find "$corpus" -type f -iname 'System.evtx' -printf '%s\t%p\n' | sort -rn | head -1 | cut -f2-)")
fi
for f in "${files[@]}"; do
	[ -f "$f" ] || die "no input file ${f:-found}"
done
file=${files[0]}

timebin=/usr/bin/time
if ! [ -x "$timebin" ]; then
	echo "note: /usr/bin/time is missing (apt-get install time): no peak RSS figures" >&2
	timebin=""
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "building evtxscan…" >&2
(cd "$repo" && go build -trimpath -o "$work/evtxscan" ./cmd/evtxscan) || die "go build ./cmd/evtxscan failed"
evtxscan="$work/evtxscan"
if ! "$evtxscan" dump --help >/dev/null 2>&1; then
	die "this evtxscan has no working 'dump' subcommand yet"
fi

# The corpus as a file list, NUL-separated, for the peers that take one file
# per process.
find "$corpus" -type f -iname '*.evtx' -print0 | sort -z >"$work/corpus.list"
corpus_files=$(tr -cd '\0' <"$work/corpus.list" | wc -c)
corpus_bytes=$(xargs -0 stat -c %s <"$work/corpus.list" | awk '{s+=$1} END {print s}')
file_bytes=$(stat -c %s "$file")

mib() { awk -v b="$1" 'BEGIN {printf "%.1f", b/1048576}'; }

# measure LABEL BYTES CMD... — runs CMD $runs times with stdout to /dev/null
# and sets: best_s (fastest wall time, seconds), cpu_s (user+system CPU
# seconds of that run), rss_kib (peak RSS of any process it ran, KiB),
# status (exit status of the last run).
#
# CPU seconds matter on a shared machine: when other jobs hold the cores,
# wall time (and so the 2-core speed-up) says little, while MiB per CPU
# second still compares the parsers' work.
measure() {
	local label=$1 bytes=$2; shift 2
	best_s="" cpu_s="" rss_kib=0 status=0
	local i t0 t1 s r c
	for ((i = 0; i < runs; i++)); do
		t0=$(date +%s%N)
		if [ -n "$timebin" ]; then
			"$timebin" -f '%M %U %S' -o "$work/rss" "$@" >/dev/null 2>"$work/stderr"
			status=$?
			read -r r c < <(tail -1 "$work/rss" | awk '{print $1, $2 + $3}')
		else
			"$@" >/dev/null 2>"$work/stderr"
			status=$?
			r=0 c=""
		fi
		t1=$(date +%s%N)
		s=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f", (b-a)/1e9}')
		if [ -z "$best_s" ] || awk -v x="$s" -v y="$best_s" 'BEGIN {exit !(x < y)}'; then best_s=$s cpu_s=$c; fi
		case $r in '' | *[!0-9]*) r=0 ;; esac
		[ "$r" -gt "$rss_kib" ] && rss_kib=$r
	done
	row "$label" "$bytes"
}

# Results, one line each: label|MiB/s|seconds|rss|note (read by the ratio
# section below).
: >"$work/results"
row() {
	local label=$1 bytes=$2 rate note=""
	rate=$(awk -v b="$bytes" -v s="$best_s" 'BEGIN {if (s > 0) printf "%.1f", b/1048576/s; else print "inf"}')
	# evtxexport exits 1 on files it cannot read to the end (xargs then
	# exits 123); dump exits 3 when a file is unreadable. Both still did
	# their work: say so.
	[ "$status" -ne 0 ] && note="exit $status (some files not read to the end)"
	cpu_rate=$(awk -v b="$bytes" -v s="$cpu_s" 'BEGIN {if (s > 0) printf "%.1f", b/1048576/s; else print "-"}')
	printf '  %-44s %7s MiB/s %8ss wall %7ss cpu %7s MiB/cpu-s %7s MiB RSS  %s\n' \
		"$label" "$rate" "$best_s" "${cpu_s:--}" "$cpu_rate" "$(mib $((rss_kib * 1024)))" "$note"
	echo "$label|$rate|$best_s|$rss_kib|$note|$cpu_rate" >>"$work/results"
}

rate_of() { awk -F'|' -v l="$1" '$1 == l {print $2}' "$work/results"; }
cpu_rate_of() { awk -F'|' -v l="$1" '$1 == l {print $6}' "$work/results"; }
rss_of() { awk -F'|' -v l="$1" '$1 == l {print $4}' "$work/results"; }
ratio() { # ratio A B → A/B of MiB/s, or "n/a"
	local a b
	a=$(rate_of "$1") b=$(rate_of "$2")
	if [ -z "$a" ] || [ -z "$b" ]; then echo "n/a"; return; fi
	awk -v a="$a" -v b="$b" 'BEGIN {if (b > 0 && a != "inf") printf "%.1fx", a/b; else print "n/a"}'
}

have() { command -v "$1" >/dev/null 2>&1; }

# bench_scan INPUT BYTES LABEL — times a whole `evtxscan scan` (parse +
# built-in rules + uninstall sessions + xlsx + html, the default formats);
# issue 6: it must stay within 2x the time of dump on the same input.
scan_args() { echo scan -q --out "$work/scan-out" "$1"; }
bench_scan() {
	local input=$1 bytes=$2 label=$3
	if ! "$evtxscan" scan --help >/dev/null 2>&1; then
		echo "  evtxscan scan: not available yet (skipped)"
		return
	fi
	rm -rf "$work/scan-out"
	# shellcheck disable=SC2046
	GOMAXPROCS=2 measure "evtxscan scan, 2 cores, $label" "$bytes" "$evtxscan" $(scan_args "$input")
}

cpu=$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)
echo "evtxscan dump vs peers — $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores ($cpu), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "best of $runs run(s); MiB/s = input bytes / wall time; MiB/cpu-s = input bytes / (user+sys CPU time);"
echo "RSS = peak resident set of one process. With a load above the core count, trust ratios of CPU time more than wall time."
echo

# ---- Side by side with the real peers: interleaved rounds ----------------
# Each round runs every command once, in turn, so a burst of load from other
# jobs hits all of them alike; the median of the rounds counts. "1 core" is
# the whole command pinned to CPU 0 with taskset (the parser and everything
# else it runs), "2 cores" pinned to CPUs 0-1. Beside the wall time, the
# CPU time (user+system, from /usr/bin/time) says what each parser costs
# when other jobs hold the cores: a ratio of CPU times is the steadier one.
pin1=() pin2=()
if have taskset; then
	pin1=(taskset -c 0)
	[ "$(nproc)" -ge 2 ] && pin2=(taskset -c 0,1)
else
	echo "note: taskset is missing (apt-get install util-linux): 1-core runs use GOMAXPROCS=1 / -t 1 unpinned" >&2
fi
if [ -n "$rust" ] && [ -x "$rust" ]; then
	rust_version=$("$rust" --version 2>/dev/null | head -1)
	case $rust_version in
	*0.12.2*) ;;
	*) echo "note: $rust is '${rust_version:-unknown version}', not 0.12.2: the figures are for that version" >&2 ;;
	esac
else
	rust=""
fi

# side_by_side FILE — labels and commands of one file, run in rounds.
side_by_side() {
	local f=$1 bytes labels=() cmds=() i r t0 t1
	bytes=$(stat -c %s "$f")
	echo "== side by side: ${f#"$corpus"/} ($(mib "$bytes") MiB), median of $runs interleaved round(s)"
	labels+=("evtxscan dump --format jsonl, 1 core")
	cmds+=("${pin1[*]} env GOMAXPROCS=1 $(printf %q "$evtxscan") dump --format jsonl $(printf %q "$f")")
	if [ -n "$rust" ]; then
		labels+=("Rust evtx_dump -t 1 -o jsonl, 1 core")
		cmds+=("${pin1[*]} $(printf %q "$rust") -t 1 -o jsonl $(printf %q "$f")")
	fi
	if have evtxexport; then
		labels+=("libevtx evtxexport -f xml, 1 core")
		cmds+=("${pin1[*]} evtxexport -f xml $(printf %q "$f")")
	fi
	if [ ${#pin2[@]} -gt 0 ] || ! have taskset; then
		labels+=("evtxscan dump --format jsonl, 2 cores")
		cmds+=("${pin2[*]} env GOMAXPROCS=2 $(printf %q "$evtxscan") dump --format jsonl $(printf %q "$f")")
		if [ -n "$rust" ]; then
			labels+=("Rust evtx_dump -t 2 -o jsonl, 2 cores")
			cmds+=("${pin2[*]} $(printf %q "$rust") -t 2 -o jsonl $(printf %q "$f")")
		fi
		labels+=("evtxscan scan (xlsx+html), 2 cores")
		cmds+=("${pin2[*]} env GOMAXPROCS=2 $(printf %q "$evtxscan") scan -q --out $(printf %q "$work/side-scan") $(printf %q "$f")")
	fi
	: >"$work/side"
	for ((r = 0; r < runs; r++)); do
		for i in "${!cmds[@]}"; do
			rm -rf "$work/side-scan"
			: >"$work/side-cpu"
			t0=$(date +%s%N)
			if [ -n "$timebin" ]; then
				eval "$timebin -a -f '%U %S' -o $(printf %q "$work/side-cpu") ${cmds[$i]}" >/dev/null 2>&1
			else
				eval "${cmds[$i]}" >/dev/null 2>&1
			fi
			t1=$(date +%s%N)
			# wall µs, CPU µs (user+system of the command and its children)
			echo "$i $(((t1 - t0) / 1000)) $(awk '{s += ($1 + $2) * 1e6} END {printf "%d", s}' "$work/side-cpu")" >>"$work/side"
		done
	done
	# median wall time (µs) per command
	local -a med medcpu
	median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2)}'; }
	for i in "${!cmds[@]}"; do
		med[i]=$(awk -v i="$i" '$1 == i {print $2}' "$work/side" | median)
		medcpu[i]=$(awk -v i="$i" '$1 == i {print $3}' "$work/side" | median)
		printf '  %-44s %7s MiB/s %8.3fs wall %7s MiB/cpu-s\n' "${labels[$i]}" \
			"$(awk -v b="$bytes" -v us="${med[i]}" 'BEGIN {if (us > 0) printf "%.1f", b/1048576/(us/1e6); else print "inf"}')" \
			"$(awk -v us="${med[i]}" 'BEGIN {print us/1e6}')" \
			"$(awk -v b="$bytes" -v us="${medcpu[i]}" 'BEGIN {if (us > 0) printf "%.1f", b/1048576/(us/1e6); else print "-"}')"
	done
	# ratio A B: speed of A over speed of B (= time of B over time of A)
	side_ratio() {
		local a b ia="" ib=""
		for i in "${!labels[@]}"; do
			[ "${labels[$i]}" = "$1" ] && ia=$i
			[ "${labels[$i]}" = "$2" ] && ib=$i
		done
		if [ -z "$ia" ] || [ -z "$ib" ]; then echo "n/a (not measured)"; return; fi
		a=${med[ia]} b=${med[ib]}
		awk -v a="$a" -v b="$b" 'BEGIN {if (a > 0) printf "%.2fx", b/a; else print "n/a"}'
		a=${medcpu[ia]} b=${medcpu[ib]}
		[ "${3:-}" = wall ] || awk -v a="$a" -v b="$b" 'BEGIN {if (a > 0 && b > 0) printf " (CPU time %.2fx)", b/a}'
	}
	echo "  ratios (speed over speed; > 1 means evtxscan is faster):"
	echo "    dump / Rust evtx 0.12.2, 1 core     $(side_ratio "evtxscan dump --format jsonl, 1 core" "Rust evtx_dump -t 1 -o jsonl, 1 core")   (issue 17: >= 1.0x, goal 1.5x)"
	echo "    dump / Rust evtx 0.12.2, 2 cores    $(side_ratio "evtxscan dump --format jsonl, 2 cores" "Rust evtx_dump -t 2 -o jsonl, 2 cores")"
	echo "    dump / libevtx, 1 core              $(side_ratio "evtxscan dump --format jsonl, 1 core" "libevtx evtxexport -f xml, 1 core")"
	echo "    dump 2 cores / dump 1 core          $(side_ratio "evtxscan dump --format jsonl, 2 cores" "evtxscan dump --format jsonl, 1 core" wall)   (issue 17: >= 1.8x; wall time only)"
	echo "    scan time / dump time, 2 cores      $(side_ratio "evtxscan scan (xlsx+html), 2 cores" "evtxscan dump --format jsonl, 2 cores" wall | awk '{ if ($1 ~ /x$/) { sub(/x$/, "", $1); printf "%.2f", 1/$1 } else print }')   (issue 17: <= 2.0)"
	echo
}
if [ -z "$rust" ]; then
	echo "  Rust evtx_dump: not found (build 0.12.2 as ../shared/docs/peers.md says, then pass -r PATH or set EVTX_DUMP)"
fi
have evtxexport || echo "  evtxexport: not installed (apt-get install libevtx-utils)"
for f in "${files[@]}"; do
	side_by_side "$f"
done
[ "$side_only" = 1 ] && exit 0

echo "== one file: ${file#"$corpus"/} ($(mib "$file_bytes") MiB)"
GOMAXPROCS=1 measure "evtxscan dump --format jsonl, GOMAXPROCS=1" "$file_bytes" "$evtxscan" dump --format jsonl "$file"
GOMAXPROCS=2 measure "evtxscan dump --format jsonl, GOMAXPROCS=2" "$file_bytes" "$evtxscan" dump --format jsonl "$file"
GOMAXPROCS=1 measure "evtxscan dump --format xml, GOMAXPROCS=1" "$file_bytes" "$evtxscan" dump --format xml "$file"
if have evtxexport; then
	measure "evtxexport -f xml (libevtx)" "$file_bytes" evtxexport -f xml "$file"
else
	echo "  evtxexport: not installed (apt-get install libevtx-utils)"
fi
if ! have evtx_dump.py; then
	echo "  evtx_dump.py: not installed (apt-get install python3-evtx)"
elif [ "$python" = 1 ]; then
	save_runs=$runs runs=1
	measure "evtx_dump.py (python-evtx), 1 run" "$file_bytes" timeout 900 evtx_dump.py "$file"
	runs=$save_runs
else
	echo "  evtx_dump.py (python-evtx): skipped (slow; -p to time it)"
fi
bench_scan "$file" "$file_bytes" "one file"
# What one process costs before it reads a byte (Go runtime and package
# initialisation, excelize's tables among them): the same on any number of
# cores, so it caps the 2-core speed-up of a run this short.
measure "start-up: evtxscan --version" 1 "$evtxscan" --version >/dev/null
startup_s=$best_s
printf '  %-44s %21ss wall\n' "start-up (evtxscan --version)" "$startup_s"
echo

# The parser alone, in process (go test -bench): one worker on one CPU
# against two workers on two CPUs, Encoded to JSON as dump does; the best
# of 3 runs each.
inproc() { # inproc CPUS WORKERS → best ns/op
	(cd "$repo" && go test ./parser -run '^$' -bench "Parse/workers=$2/encoded\$" -benchtime 20x -count 3 -cpu "$1" 2>/dev/null) |
		awk '/^BenchmarkParse/ {print $3}' | sort -n | head -1
}
echo "== in process: go test ./parser -bench 'Parse/workers=N/encoded' (same file, from memory)"
ns1=$(inproc 1 1) ns2=$(inproc 2 2)
if [ -n "$ns1" ] && [ -n "$ns2" ]; then
	awk -v b="$file_bytes" -v n="$ns1" 'BEGIN {printf "  1 worker, 1 CPU                                %7.1f MiB/s %8.3fs\n", b/1048576/(n/1e9), n/1e9}'
	awk -v b="$file_bytes" -v n="$ns2" 'BEGIN {printf "  2 workers, 2 CPUs                              %7.1f MiB/s %8.3fs\n", b/1048576/(n/1e9), n/1e9}'
	echo "in process 1 CPU|$(awk -v b="$file_bytes" -v n="$ns1" 'BEGIN {printf "%.1f", b/1048576/(n/1e9)}')|||" >>"$work/results"
	echo "in process 2 CPUs|$(awk -v b="$file_bytes" -v n="$ns2" 'BEGIN {printf "%.1f", b/1048576/(n/1e9)}')|||" >>"$work/results"
else
	echo "  (go test -bench did not run: no Go toolchain or no corpus)"
fi
echo

echo "== whole corpus: $corpus_files files, $(mib "$corpus_bytes") MiB"
GOMAXPROCS=1 measure "corpus: evtxscan dump, GOMAXPROCS=1" "$corpus_bytes" "$evtxscan" dump --format jsonl "$corpus"
GOMAXPROCS=2 measure "corpus: evtxscan dump, GOMAXPROCS=2" "$corpus_bytes" "$evtxscan" dump --format jsonl "$corpus"
if have evtxexport; then
	save_runs=$runs runs=1
	# One evtxexport process per file, as a user would run it.
	measure "corpus: evtxexport -f xml, 1 per file" "$corpus_bytes" \
		bash -c 'xargs -0 -n 1 evtxexport -f xml <"$0"' "$work/corpus.list"
	runs=$save_runs
fi
if have evtx_dump.py; then
	echo "  corpus: evtx_dump.py: skipped (tens of minutes; see the one-file figure)"
fi
bench_scan "$corpus" "$corpus_bytes" "corpus"
echo

echo "== ratios"
echo "  one file, 1 core: evtxscan / evtxexport        $(ratio "evtxscan dump --format jsonl, GOMAXPROCS=1" "evtxexport -f xml (libevtx)")   (issue 2: >= 10x, target 30x)"
echo "  one file, 2 cores / 1 core                      $(ratio "evtxscan dump --format jsonl, GOMAXPROCS=2" "evtxscan dump --format jsonl, GOMAXPROCS=1")   (issue 2: >= 1.7x; whole process)"
t1=$(awk -F'|' '$1 == "evtxscan dump --format jsonl, GOMAXPROCS=1" {print $3}' "$work/results")
t2=$(awk -F'|' '$1 == "evtxscan dump --format jsonl, GOMAXPROCS=2" {print $3}' "$work/results")
echo "  one file, 2 cores / 1 core, after start-up      $(awk -v a="$t1" -v b="$t2" -v s="$startup_s" 'BEGIN {if (b > s) printf "%.1fx", (a-s)/(b-s); else print "n/a"}')   (start-up $(awk -v s="$startup_s" 'BEGIN {printf "%.1f ms", s*1000}') taken off both)"
echo "  in process, 2 CPUs / 1 CPU                      $(ratio "in process 2 CPUs" "in process 1 CPU")   (the parser alone)"
echo "  in process, 1 CPU: evtxscan / evtxexport        $(ratio "in process 1 CPU" "evtxexport -f xml (libevtx)")   (target 30x)"
a=$(cpu_rate_of "evtxscan dump --format jsonl, GOMAXPROCS=1") b=$(cpu_rate_of "evtxexport -f xml (libevtx)")
if [ -n "$a" ] && [ -n "$b" ] && [ "$a" != "-" ] && [ "$b" != "-" ]; then
	echo "  one file, per CPU second: evtxscan / evtxexport $(awk -v a="$a" -v b="$b" 'BEGIN {printf "%.1fx", a/b}')   (the same ratio, less disturbed by other load)"
	a=$(cpu_rate_of "evtxscan dump --format jsonl, GOMAXPROCS=2") b=$(cpu_rate_of "evtxscan dump --format jsonl, GOMAXPROCS=1")
	echo "  one file, CPU cost of the second worker        $(awk -v a="$a" -v b="$b" 'BEGIN {printf "%.0f%%", (b/a - 1) * 100}')   (extra CPU seconds at GOMAXPROCS=2; near 0 means the 2-core speed-up is limited only by free cores)"
fi
echo "  one file, 1 core: evtxscan / evtx_dump.py       $(ratio "evtxscan dump --format jsonl, GOMAXPROCS=1" "evtx_dump.py (python-evtx), 1 run")"
echo "  corpus, 1 core: evtxscan / evtxexport           $(ratio "corpus: evtxscan dump, GOMAXPROCS=1" "corpus: evtxexport -f xml, 1 per file")"
echo "  corpus, 2 cores / 1 core                        $(ratio "corpus: evtxscan dump, GOMAXPROCS=2" "corpus: evtxscan dump, GOMAXPROCS=1")"
if [ -n "$(rate_of "evtxscan scan, 2 cores, one file")" ]; then
	echo "  one file: scan / dump time (2 cores)            $(ratio "evtxscan dump --format jsonl, GOMAXPROCS=2" "evtxscan scan, 2 cores, one file")   (issue 6: <= 2.0x)"
fi
if [ -n "$(rate_of "evtxscan scan, 2 cores, corpus")" ]; then
	echo "  corpus: scan / dump time (2 cores)              $(ratio "corpus: evtxscan dump, GOMAXPROCS=2" "evtxscan scan, 2 cores, corpus")   (issue 6: <= 2.0x)"
fi
if [ -n "$timebin" ]; then
	a=$(rss_of "evtxscan dump --format jsonl, GOMAXPROCS=2") b=$(rss_of "corpus: evtxscan dump, GOMAXPROCS=2")
	echo "  peak RSS, 2 cores: one file $(mib $((a * 1024))) MiB, whole corpus $(mib $((b * 1024))) MiB ($(mib "$corpus_bytes") MiB input): memory stays flat when the second is close to the first"
fi
