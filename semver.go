package ramp

import (
	"cmp"
	"strings"
)

// Semantic versions (semver.org 2.0.0) are parsed here without allocating,
// because clauses compare them on the evaluation hot path.

// Semver is a parsed semantic version. Build metadata is dropped: it does
// not take part in comparisons.
type Semver struct {
	Major, Minor, Patch uint64
	// Pre is the pre-release part without its leading '-', or "".
	Pre string
}

// ParseSemver parses "MAJOR.MINOR.PATCH[-PRE][+BUILD]", with an optional
// leading "v". ok is false if s is not a semantic version.
func ParseSemver(s string) (v Semver, ok bool) {
	if len(s) > 0 && s[0] == 'v' {
		s = s[1:]
	}
	nums := [3]uint64{}
	for i := range nums {
		n, rest, ok := semverNumber(s)
		if !ok {
			return v, false
		}
		nums[i] = n
		s = rest
		if i < 2 {
			if len(s) == 0 || s[0] != '.' {
				return v, false
			}
			s = s[1:]
		}
	}
	v.Major, v.Minor, v.Patch = nums[0], nums[1], nums[2]
	if len(s) > 0 && s[0] == '-' {
		end := len(s)
		for i := 1; i < len(s); i++ {
			if s[i] == '+' {
				end = i
				break
			}
		}
		v.Pre = s[1:end]
		if !semverIdents(v.Pre, true) {
			return v, false
		}
		s = s[end:]
	}
	if len(s) > 0 {
		if s[0] != '+' || !semverIdents(s[1:], false) {
			return v, false
		}
	}
	return v, true
}

// semverNumber reads a numeric identifier without leading zeros.
func semverNumber(s string) (n uint64, rest string, ok bool) {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		if n > (1<<63)/10 {
			return 0, s, false
		}
		n = n*10 + uint64(s[i]-'0')
		i++
	}
	if i == 0 || (i > 1 && s[0] == '0') {
		return 0, s, false
	}
	return n, s[i:], true
}

// semverIdents checks dot-separated identifiers of [0-9A-Za-z-]; numeric
// pre-release identifiers may not have leading zeros.
func semverIdents(s string, pre bool) bool {
	if s == "" {
		return false
	}
	start := 0
	for i := 0; i <= len(s); i++ {
		if i < len(s) && s[i] != '.' {
			c := s[i]
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-') {
				return false
			}
			continue
		}
		id := s[start:i]
		if id == "" {
			return false
		}
		if pre && isDigits(id) && len(id) > 1 && id[0] == '0' {
			return false
		}
		start = i + 1
	}
	return true
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// Compare returns -1, 0 or +1 as v is lower than, equal to or higher than
// w, by semver precedence: a pre-release is lower than its release, and
// pre-release identifiers compare numerically when both are numbers.
func (v Semver) Compare(w Semver) int {
	if c := cmp.Compare(v.Major, w.Major); c != 0 {
		return c
	}
	if c := cmp.Compare(v.Minor, w.Minor); c != 0 {
		return c
	}
	if c := cmp.Compare(v.Patch, w.Patch); c != 0 {
		return c
	}
	switch {
	case v.Pre == w.Pre:
		return 0
	case v.Pre == "":
		return 1
	case w.Pre == "":
		return -1
	}
	a, b := v.Pre, w.Pre
	for a != "" && b != "" {
		var x, y string
		x, a = cutDot(a)
		y, b = cutDot(b)
		if c := compareIdent(x, y); c != 0 {
			return c
		}
	}
	switch {
	case a == "" && b == "":
		return 0
	case a == "":
		return -1
	}
	return 1
}

func cutDot(s string) (head, tail string) {
	for i := 0; i < len(s); i++ {
		if s[i] == '.' {
			return s[:i], s[i+1:]
		}
	}
	return s, ""
}

func compareIdent(x, y string) int {
	xn, yn := isDigits(x), isDigits(y)
	switch {
	case xn && yn:
		if len(x) != len(y) {
			if len(x) < len(y) {
				return -1
			}
			return 1
		}
	case xn:
		return -1
	case yn:
		return 1
	}
	return strings.Compare(x, y)
}

// ValidSemver reports whether s is a semantic version.
func ValidSemver(s string) bool {
	_, ok := ParseSemver(s)
	return ok
}
