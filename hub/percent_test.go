package hub_test

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/hub"
)

// TestRolloutPercentFollowsChanges reads ramp_flag_rollout_percent from the
// registry as a scrape would, before and after the flag is rolled out.
func TestRolloutPercentFollowsChanges(t *testing.T) {
	reg := prometheus.NewRegistry()
	e := newEnv(t, hub.Config{Registerer: reg})
	e.createFlag("checkout-v2")
	e.waitFor("the flag", func() bool { return e.hub.Env("production").Flag("checkout-v2") != nil })

	gauges := func() string {
		t.Helper()
		var b strings.Builder
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() != hub.RolloutPercentMetric {
				continue
			}
			for _, m := range mf.GetMetric() {
				labels := map[string]string{}
				for _, l := range m.GetLabel() {
					labels[l.GetName()] = l.GetValue()
				}
				if labels["environment"] == "production" {
					b.WriteString(labels["variant"] + "=" + strconv.FormatFloat(m.GetGauge().GetValue(), 'g', -1, 64) + " ")
				}
			}
		}
		return strings.TrimSpace(b.String())
	}
	if got := gauges(); got != "off=100 on=0" {
		t.Errorf("before the rollout: %q, want off=100 on=0", got)
	}
	_, err := e.store.UpdateFlag(context.Background(), admin, "checkout-v2", func(f *ramp.Flag) error {
		return f.SetPercentage("production", 12.5, "")
	})
	if err != nil {
		t.Fatal(err)
	}
	e.waitFor("12.5%", func() bool { return gauges() == "off=87.5 on=12.5" })
	if n := testutil.CollectAndCount(reg, hub.RolloutPercentMetric); n < 4 {
		t.Errorf("%d series; want one per environment and variant (at least 4)", n)
	}
	_, err = e.store.UpdateFlag(context.Background(), admin, "checkout-v2", func(f *ramp.Flag) error {
		f.Rollback("production")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	e.waitFor("the kill switch", func() bool { return gauges() == "off=100 on=0" })
}
