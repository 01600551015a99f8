package rules

import (
	"sort"
	"strings"
)

// suggest returns the candidate name is most likely a misspelling of, or
// "": first a candidate equal but for letter case, then the closest by
// edit distance (at most 2, and less than half the name), ties broken
// alphabetically. name itself is never suggested.
func suggest(name string, candidates []string) string {
	sorted := append([]string(nil), candidates...)
	sort.Strings(sorted)
	for _, c := range sorted {
		if c != name && strings.EqualFold(c, name) {
			return c
		}
	}
	best, bestD := "", 3
	lname := strings.ToLower(name)
	for _, c := range sorted {
		if c == name {
			continue
		}
		d := editDistance(lname, strings.ToLower(c))
		if d < bestD && 2*d < len(name) {
			best, bestD = c, d
		}
	}
	return best
}

// didYouMean formats suggest's answer as " (did you mean X?)", or "".
func didYouMean(name string, candidates []string) string {
	if s := suggest(name, candidates); s != "" {
		return " (did you mean " + s + "?)"
	}
	return ""
}

// editDistance is the optimal-string-alignment distance of a and b:
// insertions, deletions, substitutions and swaps of adjacent bytes, each
// costing one.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 { // names, not text: bound the work
		if a == b {
			return 0
		}
		return 99
	}
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}
