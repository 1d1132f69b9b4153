package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/client"
)

func newApplyCmd(a *app) *cobra.Command {
	var (
		file   string
		dryRun bool
	)
	cmd := &cobra.Command{
		Use:   "apply -f FILE [--dry-run]",
		Short: "Create or update flags and segments from a YAML file",
		Long: `Make the server match a YAML file of environments, segments and flags.

The file has the lists environments:, segments: and flags:, with the field
names of "ramp flag get -o yaml"; variant values are plain YAML values (true,
blue, 3.5, {columns: 2}). Items missing on the server are created; items that
differ are replaced, on the condition that nobody changed them in between;
the rest are left alone. apply never deletes. Environments come first, then
segments, then flags, so flags can use both.

An environment a flag does not list under environments: keeps its state on
the server, so a file can define flags while "ramp set" and rollouts manage
their percentages. The salt is kept unless the file sets one.

Every item is checked before anything changes. One line per item says what
happened: created, updated or unchanged. --dry-run changes nothing and also
prints the difference between the server and the file for each item that
would change. FILE - reads stdin.`,
		Example: `  ramp apply -f docs/examples/flags.yaml --dry-run
  ramp apply -f docs/examples/flags.yaml
  cat docs/examples/flags.yaml | ramp apply -f - -o json`,
		Args: argsExactly(),
		RunE: func(cmd *cobra.Command, args []string) error {
			if file == "" {
				return usageErrorf("apply needs -f FILE (or -f - for stdin)")
			}
			var in io.Reader = a.stdin
			name := "stdin"
			if file != "-" {
				f, err := os.Open(file)
				if err != nil {
					return err
				}
				defer f.Close()
				in, name = f, file
			}
			envs, segs, flags, err := parseApplyFile(in)
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			ap := &applier{api: a.client(), dryRun: dryRun}
			if a.output == formatTable {
				ap.report = func(r applyResult) { r.writeText(a.stdout) }
			}
			err = ap.apply(cmd.Context(), envs, segs, flags)
			if a.output != formatTable {
				if rerr := a.render(nonNil(ap.results), nil); rerr != nil && err == nil {
					err = rerr
				}
			}
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&file, "filename", "f", "", "YAML file to apply (- for stdin)")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "change nothing; print what would change")
	return cmd
}

// applyResult says what apply did, or would do, to one item.
type applyResult struct {
	Kind   string `json:"kind"`
	Key    string `json:"key"`
	Result string `json:"result"` // created, updated or unchanged
	DryRun bool   `json:"dryRun,omitempty"`
	// Diff is the unified diff from the server's item to the file's, in
	// dry runs.
	Diff string `json:"diff,omitempty"`
	// Note explains something the user should know, such as a difference
	// apply cannot change.
	Note string `json:"note,omitempty"`
}

func (r applyResult) writeText(w io.Writer) {
	line := r.Result + " " + r.Kind + " " + r.Key
	if r.DryRun {
		line += " (dry run)"
	}
	fmt.Fprintln(w, line)
	if r.Note != "" {
		fmt.Fprintln(w, "  note: "+r.Note)
	}
	if r.Diff != "" {
		fmt.Fprint(w, r.Diff)
	}
}

// applyAPI is what apply needs of the admin API.
type applyAPI interface {
	ListEnvironments(ctx context.Context) ([]ramp.Environment, error)
	CreateEnvironment(ctx context.Context, e ramp.Environment) (ramp.Environment, error)
	ListSegments(ctx context.Context) ([]*ramp.Segment, error)
	GetSegment(ctx context.Context, key string) (*ramp.Segment, error)
	CreateSegment(ctx context.Context, s *ramp.Segment) (*ramp.Segment, error)
	UpdateSegment(ctx context.Context, s *ramp.Segment) (*ramp.Segment, error)
	GetFlag(ctx context.Context, key string) (*ramp.Flag, error)
	CreateFlag(ctx context.Context, f *ramp.Flag) (*ramp.Flag, error)
	UpdateFlag(ctx context.Context, f *ramp.Flag) (*ramp.Flag, error)
}

var _ applyAPI = (*client.Client)(nil)

// applier makes the server match a file, item by item.
type applier struct {
	api    applyAPI
	dryRun bool
	// report, if set, is called with each result as it happens.
	report  func(applyResult)
	results []applyResult
}

func (ap *applier) add(r applyResult) {
	r.DryRun = ap.dryRun
	ap.results = append(ap.results, r)
	if ap.report != nil {
		ap.report(r)
	}
}

// apply checks every item, then applies environments, segments and flags
// in that order. It stops at the first failure.
func (ap *applier) apply(ctx context.Context, envs []ramp.Environment, segs []*ramp.Segment, flags []*ramp.Flag) error {
	serverEnvs, err := ap.api.ListEnvironments(ctx)
	if err != nil {
		return err
	}
	serverSegs, err := ap.api.ListSegments(ctx)
	if err != nil {
		return err
	}
	if err := checkItems(serverEnvs, serverSegs, envs, segs, flags); err != nil {
		return err
	}
	for _, e := range envs {
		if err := ap.applyEnvironment(ctx, serverEnvs, e); err != nil {
			return fmt.Errorf("environment %s: %w", e.Key, err)
		}
	}
	for _, s := range segs {
		if err := ap.applySegment(ctx, s); err != nil {
			return fmt.Errorf("segment %s: %w", s.Key, err)
		}
	}
	for _, f := range flags {
		if err := ap.applyFlag(ctx, f); err != nil {
			return fmt.Errorf("flag %s: %w", f.Key, err)
		}
	}
	return nil
}

// checkItems validates every item of the file against the environments
// and segments that will exist, and reports every problem at once.
func checkItems(serverEnvs []ramp.Environment, serverSegs []*ramp.Segment, envs []ramp.Environment, segs []*ramp.Segment, flags []*ramp.Flag) error {
	var scope ramp.Scope
	for _, e := range slices.Concat(serverEnvs, envs) {
		if !slices.Contains(scope.Environments, e.Key) {
			scope.Environments = append(scope.Environments, e.Key)
		}
	}
	for _, s := range slices.Concat(serverSegs, segs) {
		if !slices.Contains(scope.Segments, s.Key) {
			scope.Segments = append(scope.Segments, s.Key)
		}
	}
	var problems []string
	check := func(err error) {
		if err == nil {
			return
		}
		var re *ramp.Error
		if !errors.As(err, &re) {
			problems = append(problems, err.Error())
			return
		}
		var b strings.Builder
		b.WriteString(re.Message)
		for _, f := range re.Fields {
			fmt.Fprintf(&b, "\n  %s: %s", f.Field, f.Message)
		}
		problems = append(problems, b.String())
	}
	for _, e := range envs {
		check(e.Validate())
	}
	for _, s := range segs {
		check(s.Validate())
	}
	for _, f := range flags {
		check(f.Validate(scope))
	}
	if len(problems) > 0 {
		return fmt.Errorf("nothing applied:\n%s", strings.Join(problems, "\n"))
	}
	return nil
}

func (ap *applier) applyEnvironment(ctx context.Context, serverEnvs []ramp.Environment, e ramp.Environment) error {
	i := slices.IndexFunc(serverEnvs, func(se ramp.Environment) bool { return se.Key == e.Key })
	if i >= 0 {
		r := applyResult{Kind: "environment", Key: e.Key, Result: "unchanged"}
		if se := serverEnvs[i]; se.Name != e.Name || se.Description != e.Description {
			r.Note = "its name and description differ from the file; the API cannot change them"
		}
		ap.add(r)
		return nil
	}
	r := applyResult{Kind: "environment", Key: e.Key, Result: "created"}
	if ap.dryRun {
		after, err := encodeYAML(e)
		if err != nil {
			return err
		}
		r.Diff = unifiedDiff("", string(after), "environment "+e.Key+" (server)", "environment "+e.Key+" (file)")
	} else if _, err := ap.api.CreateEnvironment(ctx, e); err != nil {
		return err
	}
	ap.add(r)
	return nil
}

func (ap *applier) applySegment(ctx context.Context, want *ramp.Segment) error {
	cur, err := ap.api.GetSegment(ctx, want.Key)
	if err != nil && !client.IsNotFound(err) {
		return err
	}
	if client.IsNotFound(err) {
		cur = nil
	}
	before, after := "", ""
	if cur != nil {
		if before, err = segmentText(cur); err != nil {
			return err
		}
	}
	if after, err = segmentText(want); err != nil {
		return err
	}
	r := applyResult{Kind: "segment", Key: want.Key, Result: applyOutcome(cur != nil, before, after)}
	if ap.dryRun {
		r.Diff = unifiedDiff(before, after, "segment "+want.Key+" (server)", "segment "+want.Key+" (file)")
	} else {
		body := *want
		switch r.Result {
		case "created":
			_, err = ap.api.CreateSegment(ctx, &body)
		case "updated":
			body.Version = cur.Version
			_, err = ap.api.UpdateSegment(ctx, &body)
		}
		if err != nil {
			return conflictHint(err)
		}
	}
	ap.add(r)
	return nil
}

func (ap *applier) applyFlag(ctx context.Context, file *ramp.Flag) error {
	cur, err := ap.api.GetFlag(ctx, file.Key)
	if err != nil && !client.IsNotFound(err) {
		return err
	}
	if client.IsNotFound(err) {
		cur = nil
	}
	want := mergeFlag(file, cur)
	before, after := "", ""
	if cur != nil {
		if before, err = flagText(cur, nil); err != nil {
			return err
		}
	}
	if after, err = flagText(want, cur); err != nil {
		return err
	}
	r := applyResult{Kind: "flag", Key: file.Key, Result: applyOutcome(cur != nil, before, after)}
	if ap.dryRun {
		r.Diff = unifiedDiff(before, after, "flag "+file.Key+" (server)", "flag "+file.Key+" (file)")
	} else {
		switch r.Result {
		case "created":
			_, err = ap.api.CreateFlag(ctx, want)
		case "updated":
			want.Version = cur.Version
			_, err = ap.api.UpdateFlag(ctx, want)
		}
		if err != nil {
			return conflictHint(err)
		}
	}
	ap.add(r)
	return nil
}

// mergeFlag returns the flag to send: the file's flag, plus the server's
// state of every environment the file does not list, so that a full
// replacement leaves those environments as they are.
func mergeFlag(file, cur *ramp.Flag) *ramp.Flag {
	want := file.Clone()
	want.Version = 0
	if cur == nil {
		return want
	}
	for env, fe := range cur.Environments {
		if _, listed := want.Environments[env]; listed || fe == nil {
			continue
		}
		if want.Environments == nil {
			want.Environments = map[string]*ramp.FlagEnv{}
		}
		c := *fe
		want.Environments[env] = &c
	}
	return want
}

// flagText renders a flag as canonical YAML for comparison and diffs:
// without version and timestamps, defaults filled in, values and tags in
// canonical form. When cur is set, what the server keeps or assigns and
// the file leaves out (the salt, rule ids) is taken from cur, so that it
// does not count as a difference.
func flagText(f, cur *ramp.Flag) (string, error) {
	n := f.Clone()
	n.Version, n.CreatedAt, n.UpdatedAt = 0, time.Time{}, time.Time{}
	n.Normalize(nil)
	n.Tags = sortedSet(n.Tags)
	for i := range n.Variants {
		n.Variants[i].Value = canonicalJSON(n.Variants[i].Value)
	}
	if cur != nil {
		if n.Salt == "" {
			n.Salt = cur.Salt
		}
		for env, fe := range n.Environments {
			cfe := cur.Environments[env]
			if fe == nil || cfe == nil {
				continue
			}
			for i := range fe.Rules {
				if fe.Rules[i].ID == "" && i < len(cfe.Rules) {
					fe.Rules[i].ID = cfe.Rules[i].ID
				}
			}
		}
	}
	yf, err := flagToYAML(n)
	if err != nil {
		return "", err
	}
	b, err := encodeYAML(yf)
	return string(b), err
}

// segmentText renders a segment as canonical YAML for comparison and
// diffs.
func segmentText(s *ramp.Segment) (string, error) {
	n := *s
	n.Included, n.Excluded = sortedSet(n.Included), sortedSet(n.Excluded)
	b, err := encodeYAML(&n)
	return string(b), err
}

// conflictHint adds advice to a version conflict: someone changed the item
// between apply's read and its write.
func conflictHint(err error) error {
	var apiErr *client.APIError
	if errors.As(err, &apiErr) && apiErr.CurrentVersion != 0 {
		return fmt.Errorf("%w\nit changed on the server while apply ran; run apply again", err)
	}
	return err
}

// applyOutcome says what applying an item does: created when the server
// lacks it, unchanged when its text on the server and in the file agree,
// updated otherwise.
func applyOutcome(exists bool, before, after string) string {
	switch {
	case !exists:
		return "created"
	case before == after:
		return "unchanged"
	}
	return "updated"
}
