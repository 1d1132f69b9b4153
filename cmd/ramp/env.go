package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/ramp-flags/ramp"
)

func newEnvCmd(a *app) *cobra.Command {
	cmd := newGroupCmd("env", "List, create and delete environments",
		`List, create and delete environments (production, staging, ...). Every flag
has a state in every environment; a new environment starts with every flag
off, serving its default variant.`,
		`  ramp env list
  ramp env create qa --name "QA"
  ramp env delete qa --yes`)
	cmd.Aliases = []string{"environment"}
	cmd.AddCommand(newEnvListCmd(a), newEnvCreateCmd(a), newEnvDeleteCmd(a))
	return cmd
}

func newEnvListCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Short:   "List environments",
		Long:    `List environments with their names and descriptions.`,
		Example: `  ramp env list -o json`,
		Aliases: []string{"ls"},
		Args:    argsExactly(),
		RunE: func(cmd *cobra.Command, args []string) error {
			envs, err := a.client().ListEnvironments(cmd.Context())
			if err != nil {
				return err
			}
			return a.render(nonNil(envs), func(w io.Writer) {
				row(w, "KEY", "NAME", "DESCRIPTION", "CREATED")
				for _, e := range envs {
					row(w, e.Key, orDash(e.Name), orDash(e.Description), formatTime(e.CreatedAt))
				}
			})
		},
	}
}

func newEnvCreateCmd(a *app) *cobra.Command {
	var e ramp.Environment
	cmd := &cobra.Command{
		Use:   "create KEY",
		Short: "Create an environment",
		Long: `Create an environment. Every existing flag gets a state in it: off, serving
its default variant.`,
		Example: `  ramp env create qa --name "QA" --description "integration tests"`,
		Args:    argsExactly("KEY"),
		RunE: func(cmd *cobra.Command, args []string) error {
			e.Key = args[0]
			if msg := ramp.CheckKey(e.Key); msg != "" {
				return usageErrorf("environment key %s", trimIs(msg))
			}
			created, err := a.client().CreateEnvironment(cmd.Context(), e)
			if err != nil {
				return err
			}
			return a.render(created, func(w io.Writer) { fmt.Fprintln(w, "created environment", created.Key) })
		},
	}
	cmd.Flags().StringVar(&e.Name, "name", "", "human-readable name")
	cmd.Flags().StringVar(&e.Description, "description", "", "what the environment is")
	return cmd
}

func newEnvDeleteCmd(a *app) *cobra.Command {
	var yes bool
	cmd := &cobra.Command{
		Use:   "delete KEY",
		Short: "Delete an environment",
		Long: `Delete an environment and the state of every flag in it. The server refuses
while SDK tokens are scoped to the environment: revoke them first (see "ramp
token list"). Asks for confirmation unless --yes is given; without a terminal
to ask, --yes is required.`,
		Example: `  ramp env delete qa --yes`,
		Aliases: []string{"rm"},
		Args:    argsExactly("KEY"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ok, err := a.confirm(yes, fmt.Sprintf("delete environment %s and every flag's state in it", args[0]))
			if err != nil || !ok {
				return err
			}
			if err := a.client().DeleteEnvironment(cmd.Context(), args[0]); err != nil {
				return err
			}
			return a.printDone("deleted", "environment", args[0])
		},
	}
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "delete without asking")
	return cmd
}
