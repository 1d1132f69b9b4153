package notify

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/rollout"
)

// PayloadVersion is the version of Payload's schema. Fields may be added
// within a version; none is removed or changes meaning.
const PayloadVersion = 1

// Payload is the body a FormatJSON target receives for one rollout event.
// docs/notifications.md describes it with an example.
type Payload struct {
	// Version is PayloadVersion.
	Version int `json:"version"`
	// Event is the audit action of the transition, such as
	// rollout.promote, rollout.step_back or rollout.rollback, or
	// rollout.hold when an analysis holds the rollout for a new reason.
	Event       string `json:"event"`
	Flag        string `json:"flag"`
	Environment string `json:"environment"`
	RolloutID   int64  `json:"rolloutId"`
	// Status is the rollout's status after the event: running, paused,
	// promoted, rolled_back or aborted.
	Status string `json:"status"`
	// Stage is the index, from 0, of the stage in force after the event;
	// Stages is the number of stages of the plan.
	Stage  int `json:"stage"`
	Stages int `json:"stages"`
	// Percent is the share of users the canary gets after the event.
	Percent float64 `json:"percent"`
	// Actor is who made the change: rollout-controller for the judge's
	// decisions, else the name of the token that asked.
	Actor  string `json:"actor"`
	Reason string `json:"reason"`
	// Time is when the event happened, in UTC.
	Time time.Time `json:"time"`
	// Summary says in one line what happened and why, for people.
	Summary string `json:"summary"`
	// Decision is the analysis behind the event; null when a person made
	// the change.
	Decision *Decision `json:"decision"`
}

// Decision is the judge's decision behind an event.
type Decision struct {
	// Action is promote, hold, step_back or rollback.
	Action string `json:"action"`
	Reason string `json:"reason"`
	// Guards are every guard's verdict, in the plan's order (never null).
	Guards []GuardOutcome `json:"guards"`
}

// GuardOutcome is one guard's verdict.
type GuardOutcome struct {
	Guard string `json:"guard"`
	// Metric is error_rate, latency or throughput.
	Metric string `json:"metric"`
	// Outcome is pass, warning, critical or inconclusive.
	Outcome string `json:"outcome"`
	// Summary says in one sentence what the figures show.
	Summary string `json:"summary"`
}

// message is an event with what both formats say of it.
type message struct {
	p Payload
	// headline is the summary without the reason.
	headline string
}

// newMessage describes e.
func newMessage(e rollout.Event) message {
	p := Payload{Version: PayloadVersion, Event: e.Action, Percent: e.Percent, Actor: e.Actor, Reason: e.Reason, Time: e.Time.UTC()}
	if r := e.Rollout; r != nil {
		p.Flag, p.Environment, p.RolloutID, p.Status, p.Stage = r.Flag, r.Environment, r.ID, string(r.Status), r.Stage
		if plan, err := rollout.DecodePlan(r.Plan); err == nil {
			p.Stages = len(plan.Stages)
		}
	}
	if d := e.Decision; d != nil {
		p.Decision = &Decision{Action: string(d.Action), Reason: d.Reason, Guards: make([]GuardOutcome, len(d.Verdicts))}
		for i, v := range d.Verdicts {
			p.Decision.Guards[i] = GuardOutcome{Guard: v.Guard, Metric: string(v.Metric), Outcome: string(v.Outcome), Summary: v.Summary}
		}
	}
	m := message{p: p, headline: headline(p)}
	m.p.Summary = m.headline
	if p.Reason != "" {
		m.p.Summary += " — " + p.Reason
	}
	return m
}

// what names the event in logs.
func (m message) what() string {
	return fmt.Sprintf("%s of %s in %s", m.p.Event, m.p.Flag, m.p.Environment)
}

// headline says what happened, in words, such as "checkout-v2 rolled
// back to 0% in production".
func headline(p Payload) string {
	pct := percent(p.Percent)
	stage := ""
	if p.Stages > 0 {
		stage = fmt.Sprintf(" (stage %d of %d)", p.Stage+1, p.Stages)
	}
	switch p.Event {
	case ramp.ActionRolloutCreate:
		return fmt.Sprintf("%s rollout created in %s", p.Flag, p.Environment)
	case ramp.ActionRolloutStart:
		return fmt.Sprintf("%s rollout started in %s at %s%s", p.Flag, p.Environment, pct, stage)
	case ramp.ActionRolloutPromote:
		return fmt.Sprintf("%s promoted to %s in %s%s", p.Flag, pct, p.Environment, stage)
	case ramp.ActionRolloutComplete:
		return fmt.Sprintf("%s rollout complete in %s at %s", p.Flag, p.Environment, pct)
	case ramp.ActionRolloutStepBack:
		return fmt.Sprintf("%s stepped back to %s in %s%s", p.Flag, pct, p.Environment, stage)
	case ramp.ActionRolloutRollback:
		return fmt.Sprintf("%s rolled back to %s in %s", p.Flag, pct, p.Environment)
	case ramp.ActionRolloutAbort:
		return fmt.Sprintf("%s rollout aborted in %s, back to %s", p.Flag, p.Environment, pct)
	case ramp.ActionRolloutPause:
		return fmt.Sprintf("%s rollout paused in %s at %s%s", p.Flag, p.Environment, pct, stage)
	case ramp.ActionRolloutResume:
		return fmt.Sprintf("%s rollout resumed in %s at %s%s", p.Flag, p.Environment, pct, stage)
	case rollout.ActionHold:
		return fmt.Sprintf("%s holding at %s in %s%s", p.Flag, pct, p.Environment, stage)
	}
	return fmt.Sprintf("%s: %s in %s at %s", p.Flag, p.Event, p.Environment, pct)
}

// emoji marks the kind of event in Slack: alarms for what takes users off
// the new variant, calm ones for progress.
func emoji(event string) string {
	switch event {
	case ramp.ActionRolloutCreate:
		return ":memo:"
	case ramp.ActionRolloutStart:
		return ":rocket:"
	case ramp.ActionRolloutPromote:
		return ":arrow_up:"
	case ramp.ActionRolloutComplete:
		return ":white_check_mark:"
	case ramp.ActionRolloutStepBack:
		return ":warning:"
	case ramp.ActionRolloutRollback:
		return ":rotating_light:"
	case ramp.ActionRolloutAbort:
		return ":octagonal_sign:"
	case ramp.ActionRolloutPause:
		return ":double_vertical_bar:"
	case ramp.ActionRolloutResume:
		return ":arrow_forward:"
	case rollout.ActionHold:
		return ":hourglass_flowing_sand:"
	}
	return ":information_source:"
}

// outcomeEmoji marks a guard's verdict in Slack.
func outcomeEmoji(outcome string) string {
	switch outcome {
	case "pass":
		return ":large_green_circle:"
	case "warning":
		return ":large_orange_circle:"
	case "critical":
		return ":red_circle:"
	}
	return ":white_circle:"
}

// percent formats a percentage as people write it: 5%, 12.5%, 0%.
func percent(p float64) string { return strconv.FormatFloat(p, 'f', -1, 64) + "%" }

// render encodes the message in the format.
func (m message) render(f Format) ([]byte, error) {
	var v any = m.p
	if f == FormatSlack {
		v = m.slack()
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("encode %s payload: %w", f, err)
	}
	return buf.Bytes(), nil
}

// slackMessage is a Slack incoming-webhook body. Text is the fallback
// shown in notifications; blocks are what the channel shows.
type slackMessage struct {
	Text   string       `json:"text"`
	Blocks []slackBlock `json:"blocks"`
}

type slackBlock struct {
	Type     string      `json:"type"`
	Text     *slackText  `json:"text,omitempty"`
	Elements []slackText `json:"elements,omitempty"`
}

type slackText struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

// Slack's limits on a section's text; longer blocks are rejected whole.
const (
	slackSectionMax = 3000
	slackLineMax    = 600
)

// slack renders the message for Slack: a headline with the reason, each
// guard's verdict, and a context line with the rollout, actor and time.
func (m message) slack() slackMessage {
	p := m.p
	text := emoji(p.Event) + " " + m.headline
	if p.Reason != "" {
		text += " — " + p.Reason
	}
	head := emoji(p.Event) + " " + slackEscape(boldKeys(m.headline, p.Flag))
	if p.Reason != "" {
		head += "\n" + slackEscape(p.Reason)
	}
	msg := slackMessage{Text: clip(slackEscape(text), slackSectionMax)}
	msg.Blocks = append(msg.Blocks, section(head))
	if p.Decision != nil && len(p.Decision.Guards) > 0 {
		var b strings.Builder
		for _, g := range p.Decision.Guards {
			line := fmt.Sprintf("%s *%s* %s: %s", outcomeEmoji(g.Outcome), slackEscape(g.Guard), g.Outcome, slackEscape(g.Summary))
			b.WriteString(clip(line, slackLineMax) + "\n")
		}
		msg.Blocks = append(msg.Blocks, section(strings.TrimSuffix(b.String(), "\n")))
	}
	ctx := []string{}
	if p.RolloutID != 0 {
		ctx = append(ctx, fmt.Sprintf("rollout %d", p.RolloutID))
	}
	if p.Stages > 0 {
		ctx = append(ctx, fmt.Sprintf("stage %d of %d", p.Stage+1, p.Stages))
	}
	if p.Actor != "" {
		ctx = append(ctx, "by "+slackEscape(p.Actor))
	}
	if !p.Time.IsZero() {
		// Slack shows the date in the reader's time zone; the text after
		// the bar is for clients that cannot.
		ctx = append(ctx, fmt.Sprintf("<!date^%d^{date_short_pretty} {time_secs}|%s>", p.Time.Unix(), p.Time.Format(time.RFC3339)))
	}
	if len(ctx) > 0 {
		msg.Blocks = append(msg.Blocks, slackBlock{Type: "context", Elements: []slackText{{Type: "mrkdwn", Text: strings.Join(ctx, " · ")}}})
	}
	return msg
}

func section(text string) slackBlock {
	return slackBlock{Type: "section", Text: &slackText{Type: "mrkdwn", Text: clip(text, slackSectionMax)}}
}

// boldKeys makes the flag key bold in a headline, which starts with it.
func boldKeys(headline, flag string) string {
	if flag == "" || !strings.HasPrefix(headline, flag) {
		return headline
	}
	return "*" + flag + "*" + headline[len(flag):]
}

// slackEscape escapes the three characters Slack's mrkdwn reserves.
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// clip shortens s to at most n bytes on a rune boundary, with an ellipsis.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
