package main

import (
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ramp-flags/ramp"
)

func newSetCmd(a *app) *cobra.Command {
	var env, variant string
	cmd := &cobra.Command{
		Use:   "set FLAG PERCENT",
		Short: "Roll a flag out to a percentage of users",
		Long: `Turn the flag on in an environment and serve PERCENT of users the rolled-out
variant, everyone else the off variant.

PERCENT is a number from 0 to 100 with at most three decimals, with or
without a % sign: 5, 5%, 12.5% and 0.001 are all valid. Users keep their
bucket: raising 5% to 25% keeps everyone who already had the variant.

The rolled-out variant is, in this order:
  1. --variant, if given;
  2. the variant the flag is already rolling out in the environment, so that
     a rollout can be raised, or resumed after "ramp rollback", without
     naming it again;
  3. on, for boolean flags;
  4. the only variant other than the off variant.
A flag with more candidates and no rollout yet needs --variant.`,
		Example: `  ramp set checkout-v2 5%
  ramp set checkout-v2 12.5 --env staging
  ramp set button-color 50% --variant green`,
		Args: argsExactly("FLAG", "PERCENT"),
		RunE: func(cmd *cobra.Command, args []string) error {
			key := args[0]
			pct, err := parsePercent(args[1])
			if err != nil {
				return err
			}
			f, err := a.client().SetPercentage(cmd.Context(), key, env, pct, variant)
			if err != nil {
				return err
			}
			v := variant
			if v == "" {
				v = f.RolledOut(env)
			}
			return a.render(f, func(w io.Writer) {
				fmt.Fprintf(w, "%s in %s: %s → %s\n", f.Key, env, formatPercent(pct), v)
			})
		},
	}
	cmd.Flags().StringVarP(&env, "env", "e", ramp.EnvProduction, "environment")
	cmd.Flags().StringVar(&variant, "variant", "", "variant to roll out (default: the variant already rolling out, else on, else the only variant other than the off variant)")
	// "ramp set FLAG -5" reaches the flag parser as the flag -5: say what
	// is wrong with the percentage instead of talking about flags.
	cmd.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		if m := negativeArg.FindStringSubmatch(err.Error()); m != nil {
			return usageErrorf("percentage %s is negative: use a number from 0 to 100, such as 5, 5%% or 12.5%%", m[1])
		}
		return &usageError{msg: err.Error()}
	})
	return cmd
}

var negativeArg = regexp.MustCompile(`in (-[0-9][0-9.]*%?)$`)

var percentPattern = regexp.MustCompile(`^(?:[0-9]+(?:\.([0-9]+))?|\.([0-9]+))$`)

// parsePercent parses a percentage: a number from 0 to 100 with at most
// three decimals and an optional % sign. Errors are usage errors.
func parsePercent(s string) (float64, error) {
	t := strings.TrimSuffix(strings.TrimSpace(s), "%")
	m := percentPattern.FindStringSubmatch(t)
	if m == nil {
		if strings.HasPrefix(t, "-") {
			if _, err := strconv.ParseFloat(t, 64); err == nil {
				return 0, usageErrorf("percentage %s is negative: use a number from 0 to 100, such as 5, 5%% or 12.5%%", s)
			}
		}
		return 0, usageErrorf("%q is not a percentage: use a number from 0 to 100, such as 5, 5%% or 12.5%%", s)
	}
	if decimals := strings.TrimRight(m[1]+m[2], "0"); len(decimals) > 3 {
		return 0, usageErrorf("percentage %s has %d decimals: percentages go in steps of 0.001, so use at most three", s, len(decimals))
	}
	p, err := strconv.ParseFloat(t, 64)
	if err != nil {
		return 0, usageErrorf("%q is not a percentage: use a number from 0 to 100, such as 5, 5%% or 12.5%%", s)
	}
	if p > 100 {
		return 0, usageErrorf("percentage %s is over 100: use a number from 0 to 100", s)
	}
	return p, nil
}
