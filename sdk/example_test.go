package sdk_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/ramp-flags/ramp/sdk"
)

// An application creates one client at start, evaluates flags on every
// request, and closes the client at exit.
func Example() {
	ctx := context.Background()
	client, err := sdk.New(ctx, sdk.Config{
		URL:       "https://ramp.example.com",
		Token:     os.Getenv("RAMP_SDK_TOKEN"), // ramp token create --sdk --env production
		CacheFile: "/var/lib/shop/ramp-flags.json",
		Logger:    slog.Default(),
	})
	switch {
	case errors.Is(err, sdk.ErrNotReady):
		// The server is down and there is no cache file yet: the client
		// serves defaults and keeps trying. Starting anyway is usually
		// right; a service that must not start without flags exits here.
		log.Printf("feature flags: %v", err)
	case err != nil:
		log.Fatal(err) // invalid configuration
	}
	defer client.Close()

	http.HandleFunc("/checkout", func(w http.ResponseWriter, r *http.Request) {
		user := sdk.EvalContext{TargetingKey: r.Header.Get("X-User-ID")}
		if client.Bool(r.Context(), "checkout-v2", user, false) {
			fmt.Fprintln(w, "new checkout")
			return
		}
		fmt.Fprintln(w, "old checkout")
	})
}

// Attributes feed targeting rules; the targeting key keeps a user in the
// same percentage bucket.
func ExampleClient_String() {
	var client *sdk.Client // from sdk.New
	ctx := context.Background()
	user := sdk.EvalContext{
		TargetingKey: "user-4821",
		Attributes:   map[string]any{"country": "NZ", "plan": "pro", "appVersion": "2.3.1"},
	}
	banner := client.String(ctx, "homepage-banner", user, "none")
	fmt.Println(banner)
}

// The Detail getters say why a value was served; on failure they serve
// the default with an error code instead of failing.
func ExampleClient_BoolDetail() {
	var client *sdk.Client // from sdk.New
	d := client.BoolDetail(context.Background(), "checkout-v2", sdk.EvalContext{TargetingKey: "user-4821"}, false)
	if d.ErrorCode != "" {
		log.Printf("checkout-v2: serving the default: %s: %s", d.ErrorCode, d.ErrorMessage)
	}
	fmt.Println(d.Value, d.Variant, d.Reason)
}

// Numbers, integers and objects have their own getters.
func ExampleClient_JSON() {
	var client *sdk.Client // from sdk.New
	ctx := context.Background()
	ec := sdk.EvalContext{TargetingKey: "account-17"}
	limit := client.Int(ctx, "max-cart-items", ec, 50)
	ratio := client.Float(ctx, "sampling-ratio", ec, 0.01)
	theme := client.JSON(ctx, "theme", ec, map[string]any{"color": "blue"})
	theme["seen"] = true // the map is the caller's own copy
	fmt.Println(limit, ratio, theme["color"])
}

// OnChange callbacks learn which flags changed, for example to refresh a
// value computed from them.
func ExampleClient_OnChange() {
	var client *sdk.Client // from sdk.New
	stop := client.OnChange(func(ev sdk.ChangeEvent) {
		log.Printf("flags changed at seq %d: %v", ev.Seq, ev.Keys)
	})
	defer stop()
}

// Ready and Status tell a health check whether the flags are current.
func ExampleClient_Status() {
	var client *sdk.Client // from sdk.New
	select {
	case <-client.Ready():
	case <-time.After(10 * time.Second):
		log.Print("still no feature flags")
	}
	if client.Status() == sdk.StatusStale {
		log.Printf("feature flags are stale: %v", client.Err())
	}
}
