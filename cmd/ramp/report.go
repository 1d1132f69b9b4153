package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/client"
	"github.com/ramp-flags/ramp/report"
)

// Report formats of --format.
const (
	reportMarkdown = "md"
	reportHTML     = "html"
)

func newReportCmd(a *app) *cobra.Command {
	var (
		t      rolloutTarget
		format string
		out    string
	)
	cmd := &cobra.Command{
		Use:   "report FLAG [--env ENV] [--id ID] [--format md|html] [-o FILE|DIR]",
		Short: "Write the report of a rollout: timeline, verdicts, actors and charts",
		Long: `Write the report of the newest rollout of FLAG in an environment (or of the one
--id names): its outcome, a timeline of every transition, hold and change by
hand, each stage with the judge's last verdicts and their figures (requests,
errors, rates, latency, the test statistic and the plan's threshold), who did
what from the audit log, and three charts: the canary's and the baseline's
error rate, their latency quantile, and the canary's percentage over time.

--format md (the default) writes Markdown with the charts as SVG files next
to it; --format html writes one self-contained page, styles and charts
inline, that fetches nothing.

-o names where the report goes (here -o is a path, not the table/json/yaml
output format of other commands):
  -o DIR               DIR/FLAG-ID.md (or .html), and for Markdown
                       DIR/FLAG-ID-error-rate.svg, -latency.svg and
                       -percentage.svg; DIR is created if the path ends in /
  -o FILE.md           FILE.md and FILE-error-rate.svg ... next to it
  -o FILE.html         the HTML page (the extension chooses the format when
                       --format is not given)
  no -o                the report to stdout; Markdown without charts
Files are written whole or not at all.

Exit status: 0 when the rollout was promoted or is still under way, 1 when it
ended with the flag back at 0% (rolled back by the judge or an alert, aborted
by a person or the kill switch), after the report is written, so that a
script can gate on it.`,
		Example: `  ramp report checkout-v2 -o reports/
  ramp report checkout-v2 --env staging --format html -o checkout-v2.html
  ramp report --id 7 > rollout-7.md
  ramp report checkout-v2 -o reports/ || echo "checkout-v2 was rolled back"`,
		Args: func(cmd *cobra.Command, args []string) error { return t.args(cmd, args) },
		RunE: func(cmd *cobra.Command, args []string) error {
			switch out {
			case formatTable, formatJSON, formatYAML:
				return usageErrorf("-o %q: for report, -o names the file or directory to write; choose the format with --format md or html", out)
			}
			if !cmd.Flags().Changed("format") && out != "" {
				switch strings.ToLower(filepath.Ext(out)) {
				case ".html", ".htm":
					format = reportHTML
				}
			}
			if format != reportMarkdown && format != reportHTML {
				return usageErrorf("--format %q: use md or html", format)
			}
			flag := ""
			if len(args) == 1 {
				flag = args[0]
			}
			ctx := cmd.Context()
			v, err := a.findRollout(ctx, cmd, t, flag, false)
			if err != nil {
				return err
			}
			r, err := a.buildReport(ctx, v)
			if err != nil {
				return err
			}
			if err := a.writeReport(r, format, out); err != nil {
				return err
			}
			if r.RolledBack() {
				return fmt.Errorf("rollout %d of %s in %s was %s: %s", r.ID, r.Flag, r.Environment, statusWords(r.Status), orDash(r.Reason))
			}
			return nil
		},
	}
	t.addFlags(cmd)
	cmd.Flags().Int64Var(&t.id, "rollout", 0, "the same as --id")
	cmd.Flags().StringVar(&format, "format", reportMarkdown, "md (Markdown and SVG files) or html (one self-contained page)")
	cmd.Flags().StringVarP(&out, "output", "o", "", "file or directory to write the report to (default stdout)")
	return cmd
}

// buildReport fetches a rollout's analyses and its flag's audit entries
// and builds the report.
func (a *app) buildReport(ctx context.Context, v *client.RolloutView) (*report.Report, error) {
	api := a.client()
	analyses, err := api.ListAnalyses(ctx, v.ID, 10000)
	if err != nil {
		return nil, fmt.Errorf("read the analyses of rollout %d: %w", v.ID, err)
	}
	// The audit entries of the flag from the rollout's start, newest first,
	// a page of 1000 at a time.
	var audit []ramp.AuditEntry
	f := client.AuditFilter{Flag: v.Flag, Since: v.CreatedAt.Add(-2 * time.Second), Limit: 1000}
	if !v.Status.Active() {
		f.Until = v.UpdatedAt.Add(2 * time.Second)
	}
	for page := 0; page < 100; page++ {
		es, err := api.ListAudit(ctx, f)
		if err != nil {
			return nil, fmt.Errorf("read the audit log of %s: %w", v.Flag, err)
		}
		audit = append(audit, es...)
		if len(es) < f.Limit {
			break
		}
		f.Before = es[len(es)-1].ID
	}
	return report.Build(report.Input{Rollout: &v.Rollout, Analyses: analyses, Audit: audit, Server: api.BaseURL(), Now: time.Now()})
}

// writeReport writes the report in format to out: a file, a directory, or
// stdout when out is empty.
func (a *app) writeReport(r *report.Report, format, out string) error {
	ext := "." + format
	if out == "" {
		if format == reportHTML {
			return report.WriteHTML(a.stdout, r)
		}
		fmt.Fprintf(a.stderr, "ramp: charts are written only with -o FILE or -o DIR\n")
		return report.WriteMarkdown(a.stdout, r, nil)
	}
	main, stem := out, ""
	st, err := os.Stat(out)
	switch {
	case err == nil && st.IsDir(), strings.HasSuffix(out, "/") || strings.HasSuffix(out, string(filepath.Separator)):
		if err := os.MkdirAll(out, 0o755); err != nil {
			return fmt.Errorf("create %s: %w", out, err)
		}
		stem = fmt.Sprintf("%s-%d", r.Flag, r.ID)
		main = filepath.Join(out, stem+ext)
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("-o %s: %w", out, err)
	default:
		stem = strings.TrimSuffix(filepath.Base(out), filepath.Ext(out))
	}
	dir := filepath.Dir(main)

	var files []string
	var body bytes.Buffer
	if format == reportHTML {
		if err := report.WriteHTML(&body, r); err != nil {
			return err
		}
	} else {
		charts, err := r.Charts()
		if err != nil {
			return err
		}
		var images []report.Image
		for _, c := range charts {
			name := stem + "-" + c.Name + ".svg"
			if err := writeFileAtomic(filepath.Join(dir, name), c.SVG); err != nil {
				return err
			}
			files = append(files, filepath.Join(dir, name))
			images = append(images, report.Image{Title: c.Title, Path: name})
		}
		if err := report.WriteMarkdown(&body, r, images); err != nil {
			return err
		}
	}
	if err := writeFileAtomic(main, body.Bytes()); err != nil {
		return err
	}
	files = append([]string{main}, files...)
	fmt.Fprintf(a.stderr, "ramp: wrote the report of rollout %d of %s in %s: %s\n", r.ID, r.Flag, r.Environment, strings.Join(files, ", "))
	return nil
}

// writeFileAtomic writes data to a temporary file next to path and renames
// it into place, so that path is either left as it was or replaced whole.
func writeFileAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	_, werr := f.Write(data)
	cerr := f.Close()
	if err := errors.Join(werr, cerr); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Chmod(tmp, 0o644); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
