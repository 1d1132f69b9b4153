package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ramp-flags/ramp"
)

func newSegmentCmd(a *app) *cobra.Command {
	cmd := newGroupCmd("segment", "List, show and delete segments",
		`List, show and delete segments: reusable sets of users that targeting rules
refer to with the inSegment and notInSegment operators. Create and change
segments with "ramp apply".`,
		`  ramp segment list
  ramp segment get beta-testers -o yaml
  ramp segment delete beta-testers --yes`)
	cmd.AddCommand(newSegmentListCmd(a), newSegmentGetCmd(a), newSegmentDeleteCmd(a))
	return cmd
}

func newSegmentListCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Short:   "List segments",
		Long:    `List segments with the number of keys they include and exclude and the number of rules.`,
		Example: `  ramp segment list -o json`,
		Aliases: []string{"ls"},
		Args:    argsExactly(),
		RunE: func(cmd *cobra.Command, args []string) error {
			segs, err := a.client().ListSegments(cmd.Context())
			if err != nil {
				return err
			}
			return a.render(nonNil(segs), func(w io.Writer) {
				row(w, "KEY", "NAME", "INCLUDED", "EXCLUDED", "RULES")
				for _, s := range segs {
					row(w, s.Key, orDash(s.Name), fmt.Sprint(len(s.Included)), fmt.Sprint(len(s.Excluded)), fmt.Sprint(len(s.Rules)))
				}
			})
		},
	}
}

func newSegmentGetCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "get KEY",
		Short: "Show a segment",
		Long:  `Show a segment: the keys it includes and excludes, and its rules.`,
		Example: `  ramp segment get beta-testers
  ramp segment get beta-testers -o yaml`,
		Args: argsExactly("KEY"),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := a.client().GetSegment(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return a.render(s, func(w io.Writer) { segmentTable(w, s) })
		},
	}
}

func segmentTable(w io.Writer, s *ramp.Segment) {
	row(w, "Key:", s.Key)
	if s.Name != "" {
		row(w, "Name:", s.Name)
	}
	if s.Description != "" {
		row(w, "Description:", s.Description)
	}
	row(w, "Version:", fmt.Sprint(s.Version))
	row(w, "Updated:", formatTime(s.UpdatedAt))
	row(w, "Included:", orDash(strings.Join(s.Included, ", ")))
	row(w, "Excluded:", orDash(strings.Join(s.Excluded, ", ")))
	for i, r := range s.Rules {
		clauses := make([]string, len(r.Clauses))
		for j, c := range r.Clauses {
			clauses[j] = describeClause(c)
		}
		row(w, fmt.Sprintf("Rule %d:", i+1), strings.Join(clauses, " and "))
	}
}

func describeClause(c ramp.Clause) string {
	vals := strings.Join(c.Values, ", ")
	if c.Attribute == "" {
		return fmt.Sprintf("%s [%s]", c.Op, vals)
	}
	return fmt.Sprintf("%s %s [%s]", c.Attribute, c.Op, vals)
}

func newSegmentDeleteCmd(a *app) *cobra.Command {
	var yes bool
	cmd := &cobra.Command{
		Use:   "delete KEY",
		Short: "Delete a segment",
		Long: `Delete a segment. The server refuses while a flag's rule refers to it.
Asks for confirmation unless --yes is given.`,
		Example: `  ramp segment delete beta-testers --yes`,
		Aliases: []string{"rm"},
		Args:    argsExactly("KEY"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ok, err := a.confirm(yes, "delete segment "+args[0])
			if err != nil || !ok {
				return err
			}
			if err := a.client().DeleteSegment(cmd.Context(), args[0], 0); err != nil {
				return err
			}
			return a.printDone("deleted", "segment", args[0])
		},
	}
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "delete without asking")
	return cmd
}
