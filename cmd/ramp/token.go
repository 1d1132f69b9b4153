package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/client"
)

func newTokenCmd(a *app) *cobra.Command {
	cmd := newGroupCmd("token", "Create, list and revoke API tokens",
		`Create, list and revoke API tokens.

Admin tokens use the admin API, and so every command of this tool. SDK
tokens are for applications (read-only, one environment).`,
		`  ramp token create --sdk --env production --name web
  ramp token list
  ramp token revoke abcdefghijklmnop`)
	cmd.AddCommand(newTokenCreateCmd(a), newTokenListCmd(a), newTokenRevokeCmd(a))
	return cmd
}

func newTokenCreateCmd(a *app) *cobra.Command {
	var (
		name       string
		admin, sdk bool
		env        string
	)
	cmd := &cobra.Command{
		Use:   "create (--admin | --sdk --env ENV) [--name NAME]",
		Short: "Create a token and print its secret",
		Long: `Create a token. In table format the token string alone is printed on one
line, so that it can be captured by a script; it is shown this once and
cannot be read back. --name defaults to the kind and environment, such as
sdk-production.`,
		Example: `  export RAMP_TOKEN=$(ramp token create --admin --name ci)
  ramp token create --sdk --env production --name checkout-service
  ramp token create --sdk --env staging -o json`,
		Args: argsExactly(),
		RunE: func(cmd *cobra.Command, args []string) error {
			req := client.TokenRequest{Name: name}
			switch {
			case admin && sdk:
				return usageErrorf("use either --admin or --sdk, not both")
			case admin:
				if env != "" {
					return usageErrorf("--env is for SDK tokens; admin tokens reach every environment")
				}
				req.Kind = ramp.TokenAdmin
			case sdk:
				if env == "" {
					return usageErrorf("an SDK token reads one environment: add --env, for example --env production")
				}
				req.Kind, req.Environment = ramp.TokenSDK, env
			default:
				return usageErrorf("say what the token is for: --admin, or --sdk --env ENV")
			}
			if req.Name == "" {
				req.Name = string(req.Kind)
				if env != "" {
					req.Name += "-" + env
				}
			}
			t, err := a.client().CreateToken(cmd.Context(), req)
			if err != nil {
				return err
			}
			return a.render(t, func(w io.Writer) { fmt.Fprintln(w, t.Secret) })
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&name, "name", "", "name that says who uses the token")
	fl.BoolVar(&admin, "admin", false, "admin token: full access to the admin API")
	fl.BoolVar(&sdk, "sdk", false, "SDK token: reads the flags of one environment")
	fl.StringVarP(&env, "env", "e", "", "environment of an SDK token")
	return cmd
}

func newTokenListCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Short:   "List tokens",
		Long:    `List tokens: id, name, kind, environment, and when and by whom each was created. Secrets are never shown.`,
		Example: `  ramp token list`,
		Aliases: []string{"ls"},
		Args:    argsExactly(),
		RunE: func(cmd *cobra.Command, args []string) error {
			tokens, err := a.client().ListTokens(cmd.Context())
			if err != nil {
				return err
			}
			return a.render(nonNil(tokens), func(w io.Writer) {
				row(w, "ID", "NAME", "KIND", "ENVIRONMENT", "CREATED", "CREATED BY")
				for _, t := range tokens {
					row(w, t.ID, orDash(t.Name), string(t.Kind), orDash(t.Environment),
						formatTime(t.CreatedAt), orDash(t.CreatedBy))
				}
			})
		},
	}
}

func newTokenRevokeCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:     "revoke ID",
		Short:   "Revoke a token",
		Long:    `Revoke a token by its id (see "ramp token list"). Requests made with it fail from then on.`,
		Example: `  ramp token revoke abcdefghijklmnop`,
		Args:    argsExactly("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := a.client().RevokeToken(cmd.Context(), args[0]); err != nil {
				return err
			}
			return a.printDone("revoked", "token", args[0])
		},
	}
}
