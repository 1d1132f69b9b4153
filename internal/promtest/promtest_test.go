package promtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestConfig(t *testing.T) {
	got, err := config(options{scrape: time.Second, eval: 500 * time.Millisecond, job: "ramp",
		rules: []string{"/tmp/a.yml"}, alertmanagers: []string{"http://127.0.0.1:9093"}},
		[]string{"http://127.0.0.1:1234/metrics", "127.0.0.1:5678"})
	if err != nil {
		t.Fatal(err)
	}
	want := `global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 500ms
rule_files:
  - "/tmp/a.yml"
alerting:
  alertmanagers:
    - static_configs:
        - targets:
            - "127.0.0.1:9093"
scrape_configs:
  - job_name: "ramp"
    scheme: http
    metrics_path: "/metrics"
    static_configs:
      - targets:
          - "127.0.0.1:1234"
          - "127.0.0.1:5678"
`
	if got != want {
		t.Errorf("config:\n%s\nwant:\n%s", got, want)
	}
	if _, err := config(options{}, []string{"http://a:1/metrics", "http://b:2/other"}); err == nil {
		t.Error("config accepted targets with different metrics paths")
	}
}

// TestStart starts a real Prometheus with a rule file, scraping one
// target, and checks that it scrapes it and evaluates the rule.
func TestStart(t *testing.T) {
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "# TYPE demo_total counter\ndemo_total 42\n")
	}))
	defer target.Close()
	rules := filepath.Join(t.TempDir(), "rules.yml")
	err := os.WriteFile(rules, []byte(`groups:
  - name: demo
    rules:
      - record: demo:doubled
        expr: demo_total * 2
`), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	s := Start(t, []string{target.URL + "/metrics"}, RuleFiles(rules), JobName("demo-job"))
	s.WaitScraped(t, start, 15*time.Second)
	t.Logf("first scrape %v after start", time.Since(start).Round(time.Millisecond))

	deadline := time.Now().Add(15 * time.Second)
	for {
		v, err := query(s.URL, `demo:doubled{job="demo-job"}`)
		if err == nil && v == "84" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("recording rule gave %q, %v; want 84", v, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("rule evaluated %v after start", time.Since(start).Round(time.Millisecond))
}

// query returns the value of the first sample of an instant query.
func query(base, expr string) (string, error) {
	resp, err := http.Get(base + "/api/v1/query?query=" + url.QueryEscape(expr))
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var body struct {
		Status string `json:"status"`
		Data   struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return "", err
	}
	if len(body.Data.Result) == 0 {
		return "", fmt.Errorf("no result (status %s)", body.Status)
	}
	v, _ := body.Data.Result[0].Value[1].(string)
	return strings.TrimSpace(v), nil
}

// TestStopRestart stops a real Prometheus, as an outage would, and
// starts it again at the same address with its storage.
func TestStopRestart(t *testing.T) {
	s := Start(t, nil)
	s.Stop()
	if resp, err := http.Get(s.URL + "/-/ready"); err == nil {
		resp.Body.Close()
		t.Fatalf("a stopped Prometheus answered %s", resp.Status)
	}
	s.Stop() // stopping twice does nothing
	s.Restart(t)
	resp, err := http.Get(s.URL + "/-/ready")
	if err != nil {
		t.Fatalf("after Restart: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("after Restart /-/ready is %s", resp.Status)
	}
}
