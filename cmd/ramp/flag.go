package main

import (
	"bufio"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/ramp-flags/ramp"
)

func newFlagCmd(a *app) *cobra.Command {
	cmd := newGroupCmd("flag", "Create, show, list and delete flags",
		`Create, show, list and delete feature flags.

To change what a flag serves, use "ramp set" (percentage rollouts),
"ramp rollback" (kill switch) or "ramp apply" (declarative YAML).`,
		`  ramp flag create checkout-v2 --type boolean --owner payments
  ramp flag list --tag checkout
  ramp flag get checkout-v2 -o yaml
  ramp flag delete checkout-v2 --yes`)
	cmd.AddCommand(newFlagCreateCmd(a), newFlagGetCmd(a), newFlagListCmd(a), newFlagDeleteCmd(a))
	return cmd
}

// serving describes in a few words what a flag serves in an environment.
func serving(f *ramp.Flag, env string) string {
	fe := f.Environments[env]
	switch {
	case fe == nil:
		return "-"
	case !fe.On:
		return "everyone: " + f.OffVariantKey(env)
	case fe.Fallthrough.Variant != "":
		return "everyone: " + fe.Fallthrough.Variant
	}
	parts := make([]string, 0, len(fe.Fallthrough.Split))
	for _, al := range fe.Fallthrough.Split {
		parts = append(parts, formatPercent(al.Percent)+" "+al.Variant)
	}
	return strings.Join(parts, ", ")
}

// rolloutSummary is a short state of a flag in an environment: off, or the
// percentage served something other than the off variant.
func rolloutSummary(f *ramp.Flag, env string) string {
	fe := f.Environments[env]
	if fe == nil || !fe.On {
		return "off"
	}
	s := formatPercent(f.Percentage(env))
	if len(fe.Rules) > 0 {
		s += fmt.Sprintf("+%drules", len(fe.Rules))
	}
	return s
}

func envKeys(f *ramp.Flag) []string {
	keys := make([]string, 0, len(f.Environments))
	for k := range f.Environments {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// confirm asks the person at the terminal to confirm a destructive action.
// With --yes it returns true at once; without a terminal to ask it is a
// usage error, so that scripts state their intent.
func (a *app) confirm(yes bool, what string) (bool, error) {
	if yes {
		return true, nil
	}
	f, ok := a.stdin.(*os.File)
	if !ok || !isTerminal(f) {
		return false, usageErrorf("refusing to %s without confirmation: pass --yes", what)
	}
	fmt.Fprintf(a.stderr, "%s? [y/N] ", capitalize(what))
	line, _ := bufio.NewReader(f).ReadString('\n')
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return true, nil
	}
	fmt.Fprintln(a.stderr, "Nothing changed.")
	return false, nil
}

// isTerminal reports whether f is a terminal. A character device is not
// enough: /dev/null is one too, and nobody answers there.
func isTerminal(f *os.File) bool {
	return term.IsTerminal(int(f.Fd()))
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
