package main

import (
	"fmt"
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/ramp-flags/ramp/server"
)

func newServeCmd(a *app) *cobra.Command {
	cfg := server.Config{
		Addr:    envOr(a.getenv, "RAMP_ADDR", server.DefaultAddr),
		DataDir: envOr(a.getenv, "RAMP_DATA", server.DefaultDataDir),
	}
	var logLevel string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the ramp server",
		Long: `Run the ramp server with the embedded SQLite store in the data directory.

On the first start of a data directory ramp creates an admin token, writes it
to DATA/admin-token (mode 0600) and says so; use it as $RAMP_TOKEN. For
automation, give the admin token yourself with --admin-token or
$RAMP_ADMIN_TOKEN: it is then accepted as is and no file is written.

Environment: $RAMP_ADDR, $RAMP_DATA and $RAMP_ADMIN_TOKEN set the defaults of
--addr, --data and --admin-token.`,
		Example: `  ramp serve                  # 127.0.0.1:8080, data in ./ramp-data
  export RAMP_TOKEN=$(cat ramp-data/admin-token)

  # For a test or a container, with a token you choose:
  ramp serve --addr 127.0.0.1:9090 --data /tmp/ramp --admin-token s3cret`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var level slog.Level
			if err := level.UnmarshalText([]byte(logLevel)); err != nil {
				return &usageError{msg: fmt.Sprintf("--log-level %q: use debug, info, warn or error", logLevel)}
			}
			if !cmd.Flags().Changed("admin-token") {
				// Read here, not as the flag's default, so that --help
				// never prints the secret.
				cfg.AdminToken = a.getenv("RAMP_ADMIN_TOKEN")
			}
			cfg.Logger = slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: level}))
			s, err := server.Open(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			if s.TokenFile != "" {
				fmt.Fprintf(a.stderr, "ramp: created the first admin token in %s\n      export RAMP_TOKEN=$(cat %s)\n", s.TokenFile, s.TokenFile)
			}
			fmt.Fprintf(a.stderr, "ramp: serving on %s (data in %s)\n", s.URL(), cfg.DataDir)
			return s.Run(cmd.Context())
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Addr, "addr", cfg.Addr, "address to listen on ($RAMP_ADDR)")
	f.StringVar(&cfg.DataDir, "data", cfg.DataDir, "data directory ($RAMP_DATA)")
	f.StringVar(&cfg.AdminToken, "admin-token", "", "accept this admin token; no token file is written ($RAMP_ADMIN_TOKEN)")
	f.StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn or error")
	return cmd
}

func envOr(getenv func(string) string, key, def string) string {
	if v := getenv(key); v != "" {
		return v
	}
	return def
}
