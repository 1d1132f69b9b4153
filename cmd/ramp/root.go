package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ramp-flags/ramp/client"
)

// defaultServer is the address of a server started with "ramp serve" and
// no flags.
const defaultServer = "http://127.0.0.1:8080"

// app holds what every command shares: the standard streams, the
// environment and the root flags.
type app struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	getenv func(string) string

	server string
	token  string
	output string

	api *client.Client
}

func newApp(stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) *app {
	return &app{stdin: stdin, stdout: stdout, stderr: stderr, getenv: getenv}
}

// client returns the API client for --server and --token.
func (a *app) client() *client.Client {
	if a.api == nil {
		token := a.token
		if token == "" {
			token = a.getenv("RAMP_TOKEN")
		}
		a.api = client.New(a.server, token, client.WithUserAgent("ramp-cli/"+version()))
	}
	return a.api
}

// newRootCmd builds the whole command tree.
func newRootCmd(a *app) *cobra.Command {
	root := &cobra.Command{
		Use:   "ramp",
		Short: "Feature flags with guarded, gradual rollouts",
		Long: `ramp is a self-hosted feature-flag server and its command line client.

The client commands talk to the server at --server (default $RAMP_SERVER, or
` + defaultServer + `) with the admin token --token (default $RAMP_TOKEN).
Data goes to stdout in the format of -o (table, json or yaml); errors go to
stderr. Exit codes: 0 success, 1 failure, 2 usage error.`,
		Example: `  export RAMP_SERVER=http://127.0.0.1:8080 RAMP_TOKEN=ramp_admin_...
  ramp flag create checkout-v2 --type boolean
  ramp set checkout-v2 5%
  ramp status checkout-v2
  ramp rollback checkout-v2`,
		SilenceErrors: true,
		SilenceUsage:  true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			return checkOutput(a.output)
		},
	}
	root.CompletionOptions.DisableDefaultCmd = true
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return &usageError{msg: err.Error()}
	})

	server := a.getenv("RAMP_SERVER")
	if server == "" {
		server = defaultServer
	}
	pf := root.PersistentFlags()
	pf.StringVar(&a.server, "server", server, "address of the ramp server ($RAMP_SERVER)")
	// The token's default is read when it is needed, not shown in --help.
	pf.StringVar(&a.token, "token", "", "admin token (default $RAMP_TOKEN)")
	pf.StringVarP(&a.output, "output", "o", formatTable, "output format: table, json or yaml")

	root.AddCommand(
		newFlagCmd(a),
		newApplyCmd(a),
		newSetCmd(a),
		newRollbackCmd(a),
		newStatusCmd(a),
		newEvalCmd(a),
		newTokenCmd(a),
		newAuditCmd(a),
		newEnvCmd(a),
		newSegmentCmd(a),
		newVersionCmd(a),
		newSimulateCmd(a),
		newRolloutCmd(a),
		newBaselineCmd(a),
		newPreflightCmd(a),
		newAlertsCmd(a),
		newDashboardCmd(a),
	)
	root.AddCommand(newServeCmd(a))
	root.AddCommand(newMigrateCmd(a))
	root.AddCommand(newDemoCmd(a))
	root.AddCommand(newReportCmd(a), newGuideCmd(a))
	return root
}

// newGroupCmd returns a command that only holds subcommands. Run alone it
// prints its help; with an unknown subcommand it is a usage error.
func newGroupCmd(use, short, long, example string) *cobra.Command {
	return &cobra.Command{
		Use:     use,
		Short:   short,
		Long:    long,
		Example: example,
		Args:    cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return cmd.Help()
			}
			msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
			if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
				msg += "; did you mean " + strings.Join(s, " or ") + "?"
			}
			return &usageError{msg: msg}
		},
	}
}

// argsExactly returns an argument validator for a command that takes the
// named positional arguments, with messages that name what is missing.
func argsExactly(names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		switch {
		case len(args) < len(names):
			missing := names[len(args):]
			return usageErrorf("%s needs %s", cmd.CommandPath(), strings.Join(missing, " and "))
		case len(args) > len(names):
			extra := args[len(names):]
			if len(names) == 0 {
				return usageErrorf("%s takes no arguments; got %q", cmd.CommandPath(), extra)
			}
			return usageErrorf("%s takes only %s; unexpected %q", cmd.CommandPath(), strings.Join(names, " "), extra)
		}
		return nil
	}
}
