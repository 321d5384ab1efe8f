package config

import "strings"

// suggest returns the known field closest to key when it is a plausible typo of it.
func suggest(key string, fields []jsonField) string {
	best, bestDist := "", 3
	k := normalize(key)
	for _, f := range fields {
		d := editDistance(k, normalize(f.name))
		if d < bestDist {
			best, bestDist = f.name, d
		}
	}
	if len(k) <= bestDist {
		return "" // too short to tell a typo from a different word
	}
	return best
}

// normalize folds case and drops separators, so read-only, read_only and READONLY meet readOnly.
func normalize(s string) string {
	return strings.NewReplacer("-", "", "_", "", " ", "").Replace(strings.ToLower(s))
}

func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
