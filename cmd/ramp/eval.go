package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/eval"
)

func newEvalCmd(a *app) *cobra.Command {
	var (
		env, key, keysFile string
		attrs              []string
	)
	cmd := &cobra.Command{
		Use:   "eval FLAG [--key KEY] [--attr NAME=VALUE ...]",
		Short: "Evaluate a flag for a user, locally",
		Long: `Evaluate a flag for a context, the way every SDK does: the command downloads
the snapshot of the environment and evaluates it in this process with the same
evaluation code as the server and the SDKs.

--key is the targeting key (the user id); --attr adds an attribute. A value
that is a number or true/false is passed as that type, anything else as a
string; repeating an attribute makes a list.

--keys FILE evaluates every line of FILE (- for stdin) as a targeting key and
prints one line per key: KEY, VARIANT and REASON separated by tabs, or a JSON
object per line with -o json. It handles hundreds of thousands of keys in one
run, for example to check the share of users a rollout reaches. A flag that
does not exist in the environment fails before any key is read. A key whose
evaluation fails still gets its line, with ERROR:CODE as the reason (such as
ERROR:TARGETING_KEY_MISSING); the command then exits 1 after the last key.`,
		Example: `  ramp eval checkout-v2 --key user-42
  ramp eval checkout-v2 --key user-42 --attr country=NL --attr age=37 --attr beta=true
  seq -f user-%g 100000 | ramp eval checkout-v2 --keys - | cut -f2 | sort | uniq -c`,
		Args: argsExactly("FLAG"),
		RunE: func(cmd *cobra.Command, args []string) error {
			flagKey := args[0]
			attributes, err := parseAttrs(attrs)
			if err != nil {
				return err
			}
			if keysFile != "" && cmd.Flags().Changed("key") {
				return usageErrorf("use either --key or --keys, not both")
			}
			snap, err := a.client().Snapshot(cmd.Context(), env)
			if err != nil {
				return err
			}
			// A flag that does not compile evaluates to a PARSE_ERROR
			// result, so the error of the others is not needed here.
			s, _ := eval.NewSnapshot(snap.Environment, snap.Flags, snap.Segments)
			if keysFile != "" {
				// Every key would get FLAG_NOT_FOUND: say so once.
				if !slices.ContainsFunc(snap.Flags, func(f *ramp.Flag) bool { return f.Key == flagKey }) {
					return fmt.Errorf("flag %q does not exist in %s", flagKey, env)
				}
				return a.evalKeys(s, flagKey, env, keysFile, attributes)
			}
			res := s.Evaluate(flagKey, &eval.Context{TargetingKey: key, Attributes: attributes})
			out := newEvalOutput(key, res)
			err = a.render(out, func(w io.Writer) {
				line := fmt.Sprintf("variant: %s  reason: %s  value: %s", orDash(res.Variant), res.Reason, jsonText(res.Value))
				if res.RuleID != "" {
					line += "  rule: " + res.RuleID
				}
				fmt.Fprintln(w, line)
			})
			if err != nil {
				return err
			}
			if res.ErrorCode != "" {
				return fmt.Errorf("evaluate %s in %s: %s: %s", flagKey, env, res.ErrorCode, res.ErrorMessage)
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&env, "env", "e", ramp.EnvProduction, "environment")
	fl.StringVarP(&key, "key", "k", "", "targeting key of the context (the user id)")
	fl.StringArrayVarP(&attrs, "attr", "a", nil, "context attribute NAME=VALUE; repeat for each attribute")
	fl.StringVar(&keysFile, "keys", "", "file with one targeting key per line (- for stdin)")
	return cmd
}

// evalOutput is one evaluation result in JSON and YAML output.
type evalOutput struct {
	Key          string `json:"key"`
	Flag         string `json:"flag"`
	Variant      string `json:"variant"`
	Value        any    `json:"value"`
	Reason       string `json:"reason"`
	RuleID       string `json:"ruleId,omitempty"`
	ErrorCode    string `json:"errorCode,omitempty"`
	ErrorMessage string `json:"errorMessage,omitempty"`
}

func newEvalOutput(key string, r *eval.Result) evalOutput {
	return evalOutput{
		Key: key, Flag: r.FlagKey, Variant: r.Variant, Value: r.Value, Reason: string(r.Reason),
		RuleID: r.RuleID, ErrorCode: string(r.ErrorCode), ErrorMessage: r.ErrorMessage,
	}
}

// evalKeys evaluates the flag for every line of the file as a targeting
// key and streams one result per line. A key whose evaluation fails gets
// its line too; the run then fails at the end with the count.
func (a *app) evalKeys(s *eval.Snapshot, flagKey, env, file string, attrs map[string]any) (err error) {
	var in io.Reader = a.stdin
	if file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return err
		}
		defer f.Close()
		in = f
	}
	w := bufio.NewWriterSize(a.stdout, 64<<10)
	defer func() {
		if ferr := w.Flush(); err == nil {
			err = ferr
		}
	}()
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var keys, failed int
	var first string // the first failure: key, code and message
	for sc.Scan() {
		key := strings.TrimSpace(sc.Text())
		if key == "" {
			continue
		}
		res := s.Evaluate(flagKey, &eval.Context{TargetingKey: key, Attributes: attrs})
		keys++
		if res.ErrorCode != "" {
			if failed == 0 {
				first = fmt.Sprintf("%s: %s: %s", key, res.ErrorCode, res.ErrorMessage)
			}
			failed++
		}
		switch a.output {
		case formatJSON:
			err = enc.Encode(newEvalOutput(key, res))
		case formatYAML:
			var b []byte
			b, err = toYAML([]evalOutput{newEvalOutput(key, res)})
			if err == nil {
				_, err = w.Write(b)
			}
		default:
			_, err = fmt.Fprintf(w, "%s\t%s\t%s\n", key, orDash(res.Variant), evalReason(res))
		}
		if err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return fmt.Errorf("read keys: a line is longer than 1 MiB")
		}
		return fmt.Errorf("read keys: %w", err)
	}
	if failed > 0 {
		return fmt.Errorf("evaluate %s in %s: %d of %d keys failed; the first was %s", flagKey, env, failed, keys, first)
	}
	return nil
}

// evalReason is the reason column of "ramp eval --keys": the reason, or
// ERROR:CODE for an error result.
func evalReason(r *eval.Result) string {
	if r.ErrorCode != "" {
		return "ERROR:" + string(r.ErrorCode)
	}
	return string(r.Reason)
}

// jsonNumber matches the JSON number grammar, so that attribute values
// such as 0x10, 1_000 or Inf stay strings.
var jsonNumber = regexp.MustCompile(`^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?$`)

// parseAttr parses NAME=VALUE. VALUE becomes a float64 if it is a JSON
// number, a bool if it is true or false, and a string otherwise.
func parseAttr(s string) (string, any, error) {
	name, val, ok := strings.Cut(s, "=")
	name = strings.TrimSpace(name)
	if !ok || name == "" {
		return "", nil, usageErrorf("--attr %q: use NAME=VALUE, for example --attr country=NL", s)
	}
	switch {
	case val == "true":
		return name, true, nil
	case val == "false":
		return name, false, nil
	case jsonNumber.MatchString(val):
		if f, err := strconv.ParseFloat(val, 64); err == nil {
			return name, f, nil
		}
	}
	return name, val, nil
}

// parseAttrs parses every --attr. An attribute given more than once
// becomes a list of its values.
func parseAttrs(specs []string) (map[string]any, error) {
	attrs := make(map[string]any, len(specs))
	for _, s := range specs {
		name, v, err := parseAttr(s)
		if err != nil {
			return nil, err
		}
		switch prev := attrs[name].(type) {
		case nil:
			attrs[name] = v
		case []any:
			attrs[name] = append(prev, v)
		default:
			attrs[name] = []any{prev, v}
		}
	}
	return attrs, nil
}

// jsonText prints a value as JSON for a table.
func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
