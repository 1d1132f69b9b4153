package main

import (
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ramp-flags/ramp/client"
)

func newFlagListCmd(a *app) *cobra.Command {
	var filter client.FlagFilter
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List flags",
		Long: `List flags, sorted by key, with their state in each environment: off, or the
percentage of users served something other than the off variant (+N rules
when targeting rules apply too).`,
		Example: `  ramp flag list
  ramp flag list --tag checkout --owner payments
  ramp flag list -q check -o json`,
		Aliases: []string{"ls"},
		Args:    argsExactly(),
		RunE: func(cmd *cobra.Command, args []string) error {
			flags, err := a.client().ListFlags(cmd.Context(), filter)
			if err != nil {
				return err
			}
			return a.render(nonNil(flags), func(w io.Writer) {
				row(w, "KEY", "TYPE", "DEFAULT", "OWNER", "TAGS", "ENVIRONMENTS")
				for _, f := range flags {
					envs := make([]string, 0, len(f.Environments))
					for _, env := range envKeys(f) {
						envs = append(envs, env+"="+rolloutSummary(f, env))
					}
					row(w, f.Key, string(f.Type), f.DefaultVariant, orDash(f.Owner),
						orDash(strings.Join(f.Tags, ",")), orDash(strings.Join(envs, " ")))
				}
			})
		},
	}
	cmd.Flags().StringVar(&filter.Tag, "tag", "", "only flags with this tag")
	cmd.Flags().StringVar(&filter.Owner, "owner", "", "only flags of this owner")
	cmd.Flags().StringVarP(&filter.Query, "query", "q", "", "only flags whose key or name contains this text")
	return cmd
}
