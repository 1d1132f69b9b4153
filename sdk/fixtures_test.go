package sdk_test

import (
	"context"
	"testing"

	"github.com/ramp-flags/ramp/internal/evaltest"
	"github.com/ramp-flags/ramp/sdk"
	"github.com/ramp-flags/ramp/sdk/internal/sdktest"
)

// TestFixtures serves the shared evaluation fixtures (testdata/eval) over
// the stream and checks that the SDK gives the fixtures' answers, as the
// eval package and the server's OFREP endpoint do.
func TestFixtures(t *testing.T) {
	ctx := context.Background()
	for _, file := range evaltest.Load(t) {
		srv := sdktest.NewServer(t, file.Environment, file.Flags, file.Segments)
		c := newClient(t, srv, sdktest.NewClock())
		for _, tc := range file.Cases {
			t.Run(file.Name+"/"+tc.Name, func(t *testing.T) {
				key, attrs := tc.Split()
				d := c.Evaluate(ctx, tc.Flag, sdk.EvalContext{TargetingKey: key, Attributes: attrs})
				tc.Want.Check(t, d.Variant, d.Value, string(d.Reason), string(d.ErrorCode))
			})
		}
	}
}
