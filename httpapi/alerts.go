package httpapi

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/ramp-flags/ramp"
)

// Labels the Alertmanager receiver reads. docs/alerts.md is the contract.
const (
	// LabelFlag names the flag an alert rolls back.
	LabelFlag = "ramp_flag"
	// LabelEnv names its environment; production when absent.
	LabelEnv = "ramp_env"
	// LabelSeverity must hold one of Config.AlertSeverities.
	LabelSeverity = "severity"
)

// DefaultAlertSeverities are the severities that roll back when
// Config.AlertSeverities is empty.
var DefaultAlertSeverities = []string{"critical"}

// alertmanagerPayload is what the receiver reads of Alertmanager's webhook
// body (version 4). Other fields are ignored, so that newer Alertmanagers
// that add some are still understood.
type alertmanagerPayload struct {
	Version string `json:"version"`
	Status  string `json:"status"`
	// Alerts is a pointer to tell an empty group from a body that is not
	// a webhook payload at all.
	Alerts *[]alertmanagerAlert `json:"alerts"`
}

type alertmanagerAlert struct {
	Status      string            `json:"status"`
	Labels      map[string]string `json:"labels"`
	Fingerprint string            `json:"fingerprint"`
}

// alertSummary is the answer of the receiver: what it rolled back and
// what it left alone, and why.
type alertSummary struct {
	RolledBack []alertRollback `json:"rolledBack"`
	Ignored    []alertIgnored  `json:"ignored"`
}

type alertRollback struct {
	Flag        string `json:"flag"`
	Environment string `json:"environment"`
	Alert       string `json:"alert"`
}

type alertIgnored struct {
	Alert       string `json:"alert"`
	Reason      string `json:"reason"`
	Flag        string `json:"flag,omitempty"`
	Environment string `json:"environment,omitempty"`
}

// alertRoutes registers the Alertmanager receiver, which rolls back for
// alerts of the given severities (DefaultAlertSeverities if none). It
// panics on an empty severity, a configuration error the caller checks.
func (s *Server) alertRoutes(severities []string) {
	if len(severities) == 0 {
		severities = DefaultAlertSeverities
	}
	set := make([]string, 0, len(severities))
	for _, sev := range severities {
		sev = strings.ToLower(strings.TrimSpace(sev))
		if sev == "" {
			panic("httpapi: Config.AlertSeverities has an empty severity")
		}
		set = append(set, sev)
	}
	s.handle("POST /api/v1/alerts/alertmanager", accessAdmin, func(w http.ResponseWriter, r *http.Request) error {
		return s.alertmanager(w, r, set)
	})
}

// alertmanager is Alertmanager's webhook receiver: each firing alert of a
// configured severity whose labels name a flag pulls that flag's kill
// switch in the environment, under the actor "<token name> (alert
// <alertname>)". It answers 200 with a summary for everything a retry
// cannot change (an unknown flag, a flag already off), and fails only
// when the store does, so that Alertmanager retries then and only then.
func (s *Server) alertmanager(w http.ResponseWriter, r *http.Request, severities []string) error {
	var p alertmanagerPayload
	// Decoded without the API's strictness: the sender is Alertmanager,
	// whose payload grows fields over versions.
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, s.maxBody))
	if err := dec.Decode(&p); err != nil {
		return s.decodeError(err)
	}
	if p.Alerts == nil {
		return ramp.Errorf(ramp.EBADREQUEST, "body has no alerts array: this route takes Alertmanager's webhook payload (version 4)")
	}
	if p.Version != "" && p.Version != "4" {
		s.log.Warn("alertmanager webhook of an unknown version; reading it as version 4", "version", p.Version)
	}
	envs, err := s.store.ListEnvironments(r.Context())
	if err != nil {
		return err
	}
	principal, _ := PrincipalFromContext(r.Context())
	sum := alertSummary{RolledBack: []alertRollback{}, Ignored: []alertIgnored{}}
	for _, a := range *p.Alerts {
		name := alertName(a)
		ignore := func(format string, args ...any) {
			sum.Ignored = append(sum.Ignored, alertIgnored{Alert: name, Reason: fmt.Sprintf(format, args...),
				Flag: a.Labels[LabelFlag], Environment: a.Labels[LabelEnv]})
		}
		status := cmp.Or(a.Status, p.Status)
		flag, env := strings.TrimSpace(a.Labels[LabelFlag]), strings.TrimSpace(a.Labels[LabelEnv])
		if env == "" {
			env = ramp.EnvProduction
		}
		sev := strings.ToLower(strings.TrimSpace(a.Labels[LabelSeverity]))
		switch {
		case status == "resolved":
			ignore("the alert is resolved")
			continue
		case status != "firing":
			ignore("status %q is not firing", status)
			continue
		case flag == "":
			ignore("no %s label", LabelFlag)
			continue
		case !slices.Contains(severities, sev):
			ignore("severity %q is not one that rolls back (%s)", a.Labels[LabelSeverity], strings.Join(severities, ", "))
			continue
		}
		if msg := ramp.CheckKey(flag); msg != "" {
			ignore("%s %q is not a flag key: it %s", LabelFlag, flag, msg)
			continue
		}
		if !slices.ContainsFunc(envs, func(e ramp.Environment) bool { return e.Key == env }) {
			ignore("environment %q does not exist", env)
			continue
		}
		// A flag already off is left alone, unless a rollout of it is
		// still active, which would turn it back on at its next stage.
		ifOn := true
		if s.rolloutStore != nil {
			active, err := s.rolloutStore.ListRollouts(r.Context(), ramp.RolloutFilter{Flag: flag, Environment: env, Active: true, Limit: 1})
			if err != nil {
				return err
			}
			ifOn = len(active) == 0
		}
		actor := principal.Name + " (alert " + name + ")"
		_, err := s.killSwitch(r.Context(), actor, flag, env, ifOn)
		switch code := ramp.ErrorCode(err); {
		case err == nil:
			s.log.Info("alert rolled back a flag", "flag", flag, "environment", env, "alert", name, "actor", actor)
			sum.RolledBack = append(sum.RolledBack, alertRollback{Flag: flag, Environment: env, Alert: name})
		case errors.Is(err, errAlreadyOff):
			ignore("flag %q is already off in %s", flag, env)
		case code == ramp.ENOTFOUND:
			s.log.Warn("alert names a flag that does not exist", "flag", flag, "alert", name)
			ignore("flag %q does not exist", flag)
		case code == ramp.EUNAVAILABLE || code == ramp.EINTERNAL:
			// A retry may succeed; what was rolled back stays rolled
			// back, and the retry finds it off.
			return err
		default:
			s.log.Warn("alert rollback refused", "flag", flag, "environment", env, "alert", name, "err", err)
			ignore("%s", ramp.ErrorMessage(err))
		}
	}
	return writeJSON(w, http.StatusOK, sum)
}

// alertName names an alert in the summary and the audit actor: its
// alertname label, else its fingerprint, cut to a readable length.
func alertName(a alertmanagerAlert) string {
	name := cmp.Or(strings.TrimSpace(a.Labels["alertname"]), a.Fingerprint, "unnamed")
	if utf8.RuneCountInString(name) > 100 {
		name = string([]rune(name)[:100]) + "…"
	}
	return name
}
