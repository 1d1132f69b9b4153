package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newFlagDeleteCmd(a *app) *cobra.Command {
	var yes bool
	cmd := &cobra.Command{
		Use:   "delete KEY",
		Short: "Delete a flag",
		Long: `Delete a flag in every environment. SDKs then serve their own default value
for it. Asks for confirmation unless --yes is given; without a terminal to
ask, --yes is required.`,
		Example: `  ramp flag delete checkout-v2 --yes`,
		Aliases: []string{"rm"},
		Args:    argsExactly("KEY"),
		RunE: func(cmd *cobra.Command, args []string) error {
			key := args[0]
			ok, err := a.confirm(yes, fmt.Sprintf("delete flag %s in every environment", key))
			if err != nil || !ok {
				return err
			}
			if err := a.client().DeleteFlag(cmd.Context(), key, 0); err != nil {
				return err
			}
			return a.printDone("deleted", "flag", key)
		},
	}
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "delete without asking")
	return cmd
}
