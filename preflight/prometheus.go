package preflight

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
)

// prometheus asks a Prometheus HTTP API the few questions of the
// checklist.
type prometheus struct {
	base string
	hc   *http.Client
}

// maxAnswer bounds what is read of one answer: a rules listing of a large
// Prometheus fits easily.
const maxAnswer = 32 << 20

// get calls path with the query and decodes the data of a success
// envelope into out. Errors say what failed without credentials.
func (p *prometheus) get(ctx context.Context, path string, q url.Values, out any) error {
	u := p.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("the Prometheus URL %s is not usable: %v", redact(p.base), err)
	}
	resp, err := p.hc.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("no answer from Prometheus at %s: %v", redact(p.base), err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return fmt.Errorf("read %s from Prometheus at %s: %v", path, redact(p.base), err)
	}
	var env struct {
		Status string          `json:"status"`
		Data   json.RawMessage `json:"data"`
		Error  string          `json:"error"`
	}
	if err := json.Unmarshal(body, &env); err != nil || env.Status == "" {
		return fmt.Errorf("%s%s answered %s, not like a Prometheus HTTP API", redact(p.base), path, resp.Status)
	}
	if env.Status != "success" {
		return fmt.Errorf("the Prometheus at %s refused %s: %s", redact(p.base), path, env.Error)
	}
	if err := json.Unmarshal(env.Data, out); err != nil {
		return fmt.Errorf("unexpected answer to %s from Prometheus at %s: %v", path, redact(p.base), err)
	}
	return nil
}

func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(an unparsable URL)"
	}
	return u.Redacted()
}

// version returns Prometheus's version.
func (p *prometheus) version(ctx context.Context) (string, error) {
	var bi struct {
		Version string `json:"version"`
	}
	if err := p.get(ctx, "/api/v1/status/buildinfo", nil, &bi); err != nil {
		return "", err
	}
	return bi.Version, nil
}

// labelValues runs an instant query and returns the values of label in
// its result series.
func (p *prometheus) labelValues(ctx context.Context, query, label string) ([]string, error) {
	var data struct {
		ResultType string `json:"resultType"`
		Result     []struct {
			Metric map[string]string `json:"metric"`
		} `json:"result"`
	}
	if err := p.get(ctx, "/api/v1/query", url.Values{"query": {query}}, &data); err != nil {
		return nil, err
	}
	var out []string
	for _, r := range data.Result {
		if v, ok := r.Metric[label]; ok {
			out = append(out, v)
		}
	}
	return out, nil
}

// alertRule is an alerting rule as the rules API lists it.
type alertRule struct {
	Name      string            `json:"name"`
	Labels    map[string]string `json:"labels"`
	Health    string            `json:"health"`
	LastError string            `json:"lastError"`
	Type      string            `json:"type"`
}

// alertRules returns every alerting rule Prometheus has loaded.
func (p *prometheus) alertRules(ctx context.Context) ([]alertRule, error) {
	var data struct {
		Groups []struct {
			Rules []alertRule `json:"rules"`
		} `json:"groups"`
	}
	if err := p.get(ctx, "/api/v1/rules", url.Values{"type": {"alert"}}, &data); err != nil {
		return nil, err
	}
	var out []alertRule
	for _, g := range data.Groups {
		for _, r := range g.Rules {
			if r.Type == "" || r.Type == "alerting" {
				out = append(out, r)
			}
		}
	}
	return out, nil
}

// activeAlertmanagers returns how many Alertmanagers Prometheus sends
// alerts to.
func (p *prometheus) activeAlertmanagers(ctx context.Context) (int, error) {
	var data struct {
		Active []json.RawMessage `json:"activeAlertmanagers"`
	}
	if err := p.get(ctx, "/api/v1/alertmanagers", nil, &data); err != nil {
		return 0, err
	}
	return len(data.Active), nil
}
