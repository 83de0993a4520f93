package resolve

import (
	"cmp"
	"slices"

	"github.com/miekg/dns"
)

// orderSRV returns recs in the order a client tries them (RFC 2782, "Usage
// rules"): priority ascending; within a priority, a weighted random
// permutation in which each record comes next with probability weight /
// (sum of the weights left). Records of weight 0 come after every record
// of non-zero weight at their priority, in random order among themselves.
// randn(n) returns a uniform int in [0, n); recs is not modified.
//
// RFC 2782 draws the number in [0, sum] inclusive and puts zero-weight
// records first, which gives a zero-weight record a small chance and
// skews the others by one part in sum+1 (weights 1 and 3 give 2/5 and 3/5,
// not the 1/4 and 3/4 its own example intends). Drawing in [0, sum) gives
// exactly the proportions the weights state, as the example intends.
func orderSRV(recs []*dns.SRV, randn func(int) int) []*dns.SRV {
	sorted := slices.Clone(recs)
	slices.SortStableFunc(sorted, func(a, b *dns.SRV) int { return cmp.Compare(a.Priority, b.Priority) })
	out := make([]*dns.SRV, 0, len(sorted))
	for len(sorted) > 0 {
		n := 1
		for n < len(sorted) && sorted[n].Priority == sorted[0].Priority {
			n++
		}
		level := sorted[:n]
		sorted = sorted[n:]
		for len(level) > 0 {
			i := pickWeighted(level, randn)
			out = append(out, level[i])
			level = slices.Delete(level, i, i+1)
		}
	}
	return out
}

// pickWeighted returns the index of the record of level to try next: one
// with probability proportional to its weight, or, when every weight is 0,
// any one with equal probability.
func pickWeighted(level []*dns.SRV, randn func(int) int) int {
	if len(level) == 1 {
		return 0
	}
	sum := 0
	for _, rr := range level {
		sum += int(rr.Weight)
	}
	if sum == 0 {
		return min(max(randn(len(level)), 0), len(level)-1)
	}
	x := randn(sum)
	for i, rr := range level {
		x -= int(rr.Weight)
		if x < 0 {
			return i
		}
	}
	return len(level) - 1 // not reached when randn keeps to [0, n)
}

// sortNAPTR sorts recs by Order, then Preference, lowest first, keeping the
// server's order among equals (RFC 3403 §4.1).
func sortNAPTR(recs []*dns.NAPTR) {
	slices.SortStableFunc(recs, func(a, b *dns.NAPTR) int {
		return cmp.Or(cmp.Compare(a.Order, b.Order), cmp.Compare(a.Preference, b.Preference))
	})
}
