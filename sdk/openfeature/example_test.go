package openfeature_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"

	of "github.com/open-feature/go-sdk/openfeature"

	"github.com/ramp-flags/ramp/sdk"
	rampof "github.com/ramp-flags/ramp/sdk/openfeature"
)

// Applications written against OpenFeature set ramp as their provider;
// evaluation stays in-process.
func ExampleNewProvider() {
	ctx := context.Background()
	client, err := sdk.New(ctx, sdk.Config{URL: "https://ramp.example.com", Token: os.Getenv("RAMP_SDK_TOKEN")})
	if err != nil && !errors.Is(err, sdk.ErrNotReady) {
		log.Fatal(err) // invalid configuration
	}
	defer client.Close()
	if err := of.SetProviderAndWait(rampof.NewProvider(client)); err != nil {
		log.Printf("feature flags: %v", err) // no flags yet: defaults until PROVIDER_READY
	}
	defer of.Shutdown()

	flags := of.NewDefaultClient()
	user := of.NewEvaluationContext("user-4821", map[string]any{"plan": "pro"})
	fmt.Println(flags.Boolean(ctx, "checkout-v2", false, user))
}

// Provider events tell the application when flags change and when the
// server is away.
func ExampleProvider_EventChannel() {
	changed := func(d of.EventDetails) { log.Printf("flags changed: %v", d.FlagChanges) }
	stale := func(d of.EventDetails) { log.Printf("feature flags are stale: %s", d.Message) }
	of.AddHandler(of.ProviderConfigChange, &changed)
	of.AddHandler(of.ProviderStale, &stale)
}
