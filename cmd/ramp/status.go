package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

func newStatusCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "status FLAG",
		Short: "Show a flag's rollout in every environment",
		Long: `Show the state of a flag in every environment: on or off, the percentage of
users served the rolled-out variant, the off variant and the number of
targeting rules.`,
		Example: `  ramp status checkout-v2
  ramp status checkout-v2 -o json`,
		Args: argsExactly("FLAG"),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := a.client().FlagStatus(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			s.Environments = nonNil(s.Environments)
			return a.render(s, func(w io.Writer) {
				row(w, "ENVIRONMENT", "STATE", "PERCENTAGE", "VARIANT", "OFF VARIANT", "RULES")
				for _, e := range s.Environments {
					state := "off"
					if e.On {
						state = "on"
					}
					row(w, e.Environment, state, formatPercent(e.Percentage), orDash(e.Variant),
						orDash(e.OffVariant), fmt.Sprint(e.Rules))
				}
			})
		},
	}
}
