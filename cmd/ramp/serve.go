package main

import (
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ramp-flags/ramp/httpapi"
	"github.com/ramp-flags/ramp/notify"
	"github.com/ramp-flags/ramp/server"
)

func newServeCmd(a *app) *cobra.Command {
	cfg := server.Config{
		Addr:    envOr(a.getenv, "RAMP_ADDR", server.DefaultAddr),
		DataDir: envOr(a.getenv, "RAMP_DATA", server.DefaultDataDir),
		Version: version(),
	}
	var logLevel string
	var webhooks, slackWebhooks []string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the ramp server",
		Long: `Run the ramp server with the embedded SQLite store in the data directory,
or on the database --db names.

--db sqlite:PATH uses another SQLite file. --db postgres://... (or
postgresql://...) uses PostgreSQL, and then several "ramp serve" replicas may
share the database behind a load balancer: a change made through any replica
reaches the SDKs streaming from every other, and one replica at a time, the
holder of a lease renewed every third of --leader-lease, runs the rollout
controller (docs/scaling.md). The data directory then holds only the admin
token file.

On the first start of a data directory ramp creates an admin token, writes it
to DATA/admin-token (mode 0600) and says so; use it as $RAMP_TOKEN. For
automation, give the admin token yourself with --admin-token or
$RAMP_ADMIN_TOKEN: it is then accepted as is and no file is written.

Every rollout event (stage change, hold, step back, rollback) is POSTed to each
--webhook as generic JSON and to each --slack-webhook as a Slack message
(docs/notifications.md). Alertmanager can pull a flag's kill switch through
POST /api/v1/alerts/alertmanager for alerts whose severity label is one of
--alert-severity (docs/alerts.md).

Environment: $RAMP_ADDR, $RAMP_DATA, $RAMP_DB and $RAMP_ADMIN_TOKEN set the
defaults of --addr, --data, --db and --admin-token. Give a Postgres password in
$RAMP_DB or in $PGPASSWORD rather than on the command line.`,
		Example: `  ramp serve                  # 127.0.0.1:8080, data in ./ramp-data
  export RAMP_TOKEN=$(cat ramp-data/admin-token)

  # For a test or a container, with a token you choose:
  ramp serve --addr 127.0.0.1:9090 --data /tmp/ramp --admin-token s3cret

  # One of several replicas on one PostgreSQL database:
  export RAMP_DB=postgres://ramp:s3cret@db.internal:5432/ramp
  ramp serve --addr 0.0.0.0:8080 --admin-token "$RAMP_ADMIN_TOKEN"

  # Tell a Slack channel and an incident tool about every rollout event, and
  # let Alertmanager roll back on critical and page alerts:
  ramp serve --slack-webhook https://hooks.slack.com/services/T000/B000/XXXX \
    --webhook https://incidents.example.com/hooks/ramp --alert-severity critical,page`,
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
			for _, u := range webhooks {
				cfg.Webhooks = append(cfg.Webhooks, notify.Target{URL: u, Format: notify.FormatJSON})
			}
			for _, u := range slackWebhooks {
				cfg.Webhooks = append(cfg.Webhooks, notify.Target{URL: u, Format: notify.FormatSlack})
			}
			for _, t := range cfg.Webhooks {
				if err := t.Check(); err != nil {
					return usageErrorf("--webhook, --slack-webhook: %v", err)
				}
			}
			for _, sev := range cfg.AlertSeverities {
				if strings.TrimSpace(sev) == "" {
					return usageErrorf("--alert-severity %q: give severities separated by commas, such as critical,page", strings.Join(cfg.AlertSeverities, ","))
				}
			}
			if cfg.DB == "" {
				// Read here, not as the flag's default, so that --help
				// never prints a password.
				cfg.DB = a.getenv("RAMP_DB")
			}
			if _, _, err := server.ParseDB(cfg.DB, cfg.DataDir); err != nil {
				return usageErrorf("--db: %v", err)
			}
			if cfg.LeaseTTL < 300*time.Millisecond {
				return usageErrorf("--leader-lease %v: give at least 300ms, such as 15s", cfg.LeaseTTL)
			}
			cfg.Logger = slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: level}))
			s, err := server.Open(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			if s.TokenFile != "" {
				fmt.Fprintf(a.stderr, "ramp: created the first admin token in %s\n      export RAMP_TOKEN=$(cat %s)\n", s.TokenFile, s.TokenFile)
			}
			if cfg.DB == "" {
				fmt.Fprintf(a.stderr, "ramp: serving on %s (data in %s)\n", s.URL(), cfg.DataDir)
			} else {
				fmt.Fprintf(a.stderr, "ramp: serving on %s (database %s, replica %s)\n", s.URL(), s.DBName(), s.ReplicaID())
			}
			fmt.Fprintf(a.stderr, "ramp: web console on %s/ (sign in with an admin token)\n", s.URL())
			return s.Run(cmd.Context())
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Addr, "addr", cfg.Addr, "address to listen on ($RAMP_ADDR)")
	f.StringVar(&cfg.DataDir, "data", cfg.DataDir, "data directory ($RAMP_DATA)")
	f.StringVar(&cfg.DB, "db", "", "database: sqlite:PATH or postgres://USER:PASSWORD@HOST/DB (default: ramp.db in --data; $RAMP_DB)")
	f.DurationVar(&cfg.LeaseTTL, "leader-lease", server.DefaultLeaseTTL, "how long the rollout leader's lease lasts unless renewed; another replica takes over within it")
	f.StringVar(&cfg.AdminToken, "admin-token", "", "accept this admin token; no token file is written ($RAMP_ADMIN_TOKEN)")
	f.StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn or error")
	f.StringArrayVar(&webhooks, "webhook", nil, "POST every rollout event as JSON to this URL (repeatable)")
	f.StringArrayVar(&slackWebhooks, "slack-webhook", nil, "POST every rollout event to this Slack incoming-webhook URL (repeatable)")
	f.StringVar(&cfg.PrometheusURL, "prometheus-url", a.getenv("RAMP_PROMETHEUS_URL"), "Prometheus HTTP API that rollout plans with source prometheus query ($RAMP_PROMETHEUS_URL)")
	f.DurationVar(&cfg.PrometheusMinWindow, "prometheus-min-window", 0, "shortest window queried from Prometheus: at least four scrape intervals (default 1m)")
	f.StringSliceVar(&cfg.AlertSeverities, "alert-severity", slices.Clone(httpapi.DefaultAlertSeverities), "severity labels whose Alertmanager alerts roll a flag back, separated by commas")
	return cmd
}

func envOr(getenv func(string) string, key, def string) string {
	if v := getenv(key); v != "" {
		return v
	}
	return def
}
