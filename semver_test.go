package ramp_test

import (
	"testing"

	"github.com/ramp-flags/ramp"
)

func TestSemverCompare(t *testing.T) {
	// The precedence example of semver.org, in ascending order.
	order := []string{"1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.0.1", "1.1.0", "v2.0.0", "10.0.0"}
	for i, a := range order {
		for j, b := range order {
			va, ok1 := ramp.ParseSemver(a)
			vb, ok2 := ramp.ParseSemver(b)
			if !ok1 || !ok2 {
				t.Fatalf("parse %q %q", a, b)
			}
			want := 0
			if i < j {
				want = -1
			} else if i > j {
				want = 1
			}
			if got := va.Compare(vb); got != want {
				t.Errorf("Compare(%s, %s) = %d, want %d", a, b, got, want)
			}
		}
	}
	if v, _ := ramp.ParseSemver("1.2.3+build.5"); v.Compare(ramp.Semver{Major: 1, Minor: 2, Patch: 3}) != 0 {
		t.Error("build metadata must not count")
	}
}

func TestSemverInvalid(t *testing.T) {
	for _, s := range []string{"", "1", "1.2", "1.2.3.4", "01.2.3", "1.02.3", "1.2.3-", "1.2.3-01", "1.2.3+", "1.2.3-a..b", "1.2.3-é", "a.b.c", "1.2.3 ", "v", "99999999999999999999.0.0"} {
		if ramp.ValidSemver(s) {
			t.Errorf("ValidSemver(%q) = true", s)
		}
	}
	for _, s := range []string{"0.0.0", "1.2.3-0", "1.2.3-rc.1+sha.abc", "v1.0.0", "1.0.0-x-y.7z"} {
		if !ramp.ValidSemver(s) {
			t.Errorf("ValidSemver(%q) = false", s)
		}
	}
}

func FuzzSemver(f *testing.F) {
	f.Add("1.2.3-rc.1+b", "1.2.3")
	f.Fuzz(func(t *testing.T, a, b string) {
		va, oka := ramp.ParseSemver(a)
		vb, okb := ramp.ParseSemver(b)
		if oka && okb && va.Compare(vb) != -vb.Compare(va) {
			t.Fatalf("Compare not antisymmetric for %q %q", a, b)
		}
	})
}
