package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/ramp-flags/ramp"
)

func newRollbackCmd(a *app) *cobra.Command {
	var env string
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "rollback FLAG",
		Short: "Kill switch: serve the off variant to everyone now",
		Long: `Kill switch. Turn the flag off in an environment and serve the off variant:
it takes effect at once for everyone in the environment. The rollout
percentage is reset to 0%, so a later "ramp set" starts from zero with the
same variant. A guarded rollout of the flag in the environment is aborted
in the same change. --dry-run checks the kill switch and says what it would
change, writing nothing.`,
		Example: `  ramp rollback checkout-v2
  ramp rollback checkout-v2 --env staging
  ramp rollback checkout-v2 --dry-run`,
		Args: argsExactly("FLAG"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if dryRun {
				return a.rollbackDryRun(cmd, args[0], env)
			}
			f, err := a.client().Rollback(cmd.Context(), args[0], env)
			if err != nil {
				return err
			}
			return a.render(f, func(w io.Writer) {
				fmt.Fprintf(w, "%s in %s: rolled back, everyone gets %s\n", f.Key, env, f.OffVariantKey(env))
			})
		},
	}
	cmd.Flags().StringVarP(&env, "env", "e", ramp.EnvProduction, "environment")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "check the kill switch and show what it would change; write nothing")
	return cmd
}
