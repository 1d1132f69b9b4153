package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ramp-flags/ramp"
)

func newFlagGetCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "get KEY",
		Short: "Show a flag",
		Long: `Show a flag: its variants and what it serves in each environment.
-o json and -o yaml print the whole flag, targeting rules included.`,
		Example: `  ramp flag get checkout-v2
  ramp flag get checkout-v2 -o yaml`,
		Args: argsExactly("KEY"),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := a.client().GetFlag(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return a.render(f, func(w io.Writer) { flagTable(w, f) })
		},
	}
}

func flagTable(w io.Writer, f *ramp.Flag) {
	row(w, "Key:", f.Key)
	if f.Name != "" {
		row(w, "Name:", f.Name)
	}
	if f.Description != "" {
		row(w, "Description:", f.Description)
	}
	row(w, "Type:", string(f.Type))
	row(w, "Owner:", orDash(f.Owner))
	row(w, "Tags:", orDash(strings.Join(f.Tags, ", ")))
	row(w, "Default variant:", f.DefaultVariant)
	row(w, "Version:", fmt.Sprint(f.Version))
	row(w, "Updated:", formatTime(f.UpdatedAt))
	fmt.Fprintln(w)
	row(w, "VARIANT", "VALUE", "DESCRIPTION")
	for _, v := range f.Variants {
		row(w, v.Key, string(v.Value), orDash(v.Description))
	}
	fmt.Fprintln(w)
	row(w, "ENVIRONMENT", "STATE", "SERVING", "RULES")
	for _, env := range envKeys(f) {
		fe := f.Environments[env]
		state, rules := "off", 0
		if fe != nil {
			if fe.On {
				state = "on"
			}
			rules = len(fe.Rules)
		}
		row(w, env, state, serving(f, env), fmt.Sprint(rules))
	}
}
