package main

import (
	"strings"
	"testing"
)

func TestParsePercent(t *testing.T) {
	valid := map[string]float64{
		"5": 5, "5%": 5, "12.5%": 12.5, "12.5": 12.5, "0.001": 0.001, "0": 0, "0%": 0,
		"100": 100, "100%": 100, "100.000": 100, "33.333%": 33.333, ".5": 0.5, " 7 ": 7,
		"1.2500": 1.25, // trailing zeros are not finer steps
	}
	for in, want := range valid {
		got, err := parsePercent(in)
		if err != nil || got != want {
			t.Errorf("parsePercent(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	invalid := map[string]string{
		"-1":      "negative",
		"-0.5%":   "negative",
		"101":     "over 100",
		"100.001": "over 100",
		"abc":     "not a percentage",
		"":        "not a percentage",
		"%":       "not a percentage",
		"5%%":     "not a percentage",
		"0.0001":  "4 decimals",
		"12.3456": "4 decimals",
		"1e2":     "not a percentage",
		"0x10":    "not a percentage",
		"NaN":     "not a percentage",
		"Inf":     "not a percentage",
		"5.":      "not a percentage",
		"1_0":     "not a percentage",
	}
	for in, msg := range invalid {
		_, err := parsePercent(in)
		if err == nil {
			t.Errorf("parsePercent(%q) succeeded", in)
			continue
		}
		if !isUsage(err) {
			t.Errorf("parsePercent(%q): %v is not a usage error", in, err)
		}
		if !strings.Contains(err.Error(), msg) {
			t.Errorf("parsePercent(%q) = %q, want a message with %q", in, err, msg)
		}
	}
}
