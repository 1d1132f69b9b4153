package hub

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ramp-flags/ramp"
)

// RolloutPercentMetric is the gauge of the share of users, in percent, the
// fallthrough of a flag serves each variant in each environment, as live
// now: labelled flag, environment and variant like the SDK's metrics. An
// environment that is off serves its off variant to 100 %. Targeting rules
// are not counted. Dashboards draw a rollout's progress from it, and its
// changes mark the stage changes (docs/dashboards.md).
const RolloutPercentMetric = "ramp_flag_rollout_percent"

// percentCollector reads RolloutPercentMetric from the live states on
// each scrape, so that it can never disagree with what SDKs are served.
type percentCollector struct {
	h    *Hub
	desc *prometheus.Desc
}

func newPercentCollector(h *Hub) *percentCollector {
	return &percentCollector{h: h, desc: prometheus.NewDesc(RolloutPercentMetric,
		"Share of users, in percent, the fallthrough of a flag serves a variant in an environment (0 to 100; targeting rules not counted).",
		[]string{"flag", "environment", "variant"}, nil)}
}

// Describe sends the gauge's descriptor.
func (c *percentCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

// Collect sends one gauge per flag, environment and variant, every
// variant of the flag included, so that a variant's series exists at 0
// before its rollout starts.
func (c *percentCollector) Collect(ch chan<- prometheus.Metric) {
	for env, st := range *c.h.states.Load() {
		for key, f := range st.flags {
			for variant, pct := range VariantShares(f, env) {
				m, err := prometheus.NewConstMetric(c.desc, prometheus.GaugeValue, pct, key, env, variant)
				if err != nil {
					m = prometheus.NewInvalidMetric(c.desc, err)
				}
				ch <- m
			}
		}
	}
}

// VariantShares returns the share of users, in percent, that the
// fallthrough of f serves each of its variants in env: the off variant
// 100 when the environment is off or missing, the split's percentages
// otherwise. Every variant of f has an entry. Targeting rules are not
// counted, as in ramp.Flag.Percentage.
func VariantShares(f *ramp.Flag, env string) map[string]float64 {
	shares := make(map[string]float64, len(f.Variants))
	for _, v := range f.Variants {
		shares[v.Key] = 0
	}
	fe := f.Environments[env]
	switch {
	case fe == nil || !fe.On:
		shares[f.OffVariantKey(env)] = 100
	case fe.Fallthrough.Variant != "":
		shares[fe.Fallthrough.Variant] = 100
	default:
		buckets := map[string]int{}
		for _, a := range fe.Fallthrough.Split {
			n, _ := ramp.PercentToBuckets(a.Percent)
			buckets[a.Variant] += n
		}
		for v, n := range buckets {
			shares[v] = float64(n) / 1000
		}
	}
	return shares
}
