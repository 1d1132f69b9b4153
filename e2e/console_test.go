package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/client"
	"github.com/ramp-flags/ramp/sdk"
)

// chromiumPath is the browser the console tests drive: the Debian package
// chromium, which test.sh installs.
const chromiumPath = "/usr/bin/chromium"

// needChromium skips the test loudly on a developer machine without
// Chromium, and fails it under CI=true.
func needChromium(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err == nil {
		return
	}
	msg := fmt.Sprintf("SKIPPING the console's browser tests: %s is missing; install the Debian package chromium (test.sh does)", chromiumPath)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// browserPage is a headless Chromium tab with a fresh profile. It records
// uncaught exceptions and Content-Security-Policy violations, which fail
// the test at its end.
type browserPage struct {
	t   *testing.T
	ctx context.Context

	mu       sync.Mutex
	problems []string
}

func newBrowserPage(t *testing.T, width, height int) *browserPage {
	t.Helper()
	needChromium(t)
	// The machine's network is closed: without these flags Chromium keeps
	// trying to reach Google's services and stalls.
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-default-browser-check", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(width, height),
	)
	ctx, cancelCtx := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancelCtx()
		cancelAlloc()
	})
	p := &browserPage{t: t, ctx: ctx}
	err := chromedp.Listen(ctx, func(ev any) {
		switch ev := ev.(type) {
		case *runtime.EventExceptionThrown:
			p.problem("uncaught exception: " + ev.ExceptionDetails.Text + " " + exceptionDescription(ev))
		case *cdplog.EventEntryAdded:
			if ev.Entry.Source == cdplog.EntrySourceSecurity || strings.Contains(ev.Entry.Text, "Content Security Policy") {
				p.problem("security: " + ev.Entry.Text)
			}
		}
	})
	if err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(int64(width), int64(height))); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, pr := range p.problems {
			t.Errorf("browser: %s", pr)
		}
	})
	return p
}

func exceptionDescription(ev *runtime.EventExceptionThrown) string {
	if ev.ExceptionDetails.Exception != nil {
		return ev.ExceptionDetails.Exception.Description
	}
	return ""
}

func (p *browserPage) problem(s string) {
	p.mu.Lock()
	p.problems = append(p.problems, s)
	p.mu.Unlock()
}

// do runs actions, failing the test on error.
func (p *browserPage) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		p.t.Fatalf("%s: %v\npage text:\n%s", what, err, p.pageText())
	}
}

// jsEval evaluates a JavaScript expression.
func jsEval[T any](p *browserPage, expr string) T {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		p.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

func (p *browserPage) pageText() string {
	ctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
	defer cancel()
	s, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
	return s
}

// text returns the text of the element the CSS selector finds, or "".
func (p *browserPage) text(sel string) string {
	p.t.Helper()
	return jsEval[string](p, fmt.Sprintf(`(document.querySelector(%q) || {}).textContent || ""`, sel))
}

// patience bounds the waits for the page to show something. The waits
// poll and return as soon as it shows, so a generous bound costs nothing
// when the page works, and leaves room for the race detector on a loaded
// machine (CI runs every package's tests at once on two cores).
const patience = 30 * time.Second

// waitText waits until the element's text contains want.
func (p *browserPage) waitText(d time.Duration, sel, want string) {
	p.t.Helper()
	p.waitUntil(d, fmt.Sprintf("%s to show %q", sel, want),
		fmt.Sprintf(`((document.querySelector(%q) || {}).textContent || "").includes(%q)`, sel, want))
}

// waitUntil polls a JavaScript condition.
func (p *browserPage) waitUntil(d time.Duration, what, cond string) {
	p.t.Helper()
	deadline := time.Now().Add(d)
	for !jsEval[bool](p, "!!("+cond+")") {
		if time.Now().After(deadline) {
			p.t.Fatalf("timed out after %v waiting for %s\npage text:\n%s", d, what, p.pageText())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// shoot saves a screenshot of the viewport as docs/screenshots/NAME.png
// when RAMP_SCREENSHOTS=1, so that ordinary runs leave the tree alone.
func (p *browserPage) shoot(name string) {
	p.t.Helper()
	if os.Getenv("RAMP_SCREENSHOTS") != "1" {
		return
	}
	// Let charts and fonts settle; hide the toast, which would cover the
	// page.
	time.Sleep(300 * time.Millisecond)
	jsEval[bool](p, `(document.getElementById("toast").classList.remove("show"), true)`)
	ctx, cancel := context.WithTimeout(p.ctx, 20*time.Second)
	defer cancel()
	b, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		p.t.Fatalf("screenshot %s: %v", name, err)
	}
	path := filepath.Join("..", "docs", "screenshots", name+".png")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		p.t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		p.t.Fatal(err)
	}
	p.t.Logf("wrote %s", path)
}

func css(sel string) chromedp.CSS { return chromedp.CSS(sel) }

// setInput sets a form control's value as a person would and fires the
// event the page listens to.
func (p *browserPage) setInput(sel, value string) {
	p.t.Helper()
	jsEval[bool](p, fmt.Sprintf(`(() => { const el = document.querySelector(%q); el.value = %q;
		el.dispatchEvent(new Event(el.tagName === "SELECT" ? "change" : "input", {bubbles: true})); return true; })()`, sel, value))
}

// TestConsoleInBrowser drives the web console in headless Chromium against
// the real binary: sign in, create a flag (after a validation error), set
// 5%, start a compressed guarded rollout that an application's SDK-reported
// counts move on, watch it advance on screen without a reload, press the
// kill switch and see 0% on the page and in the application's SDK, meet a
// version conflict, read the audit log with its diffs, filter the flags,
// and sign out.
func TestConsoleInBrowser(t *testing.T) {
	const adminToken = "console-e2e-admin-token"
	s := startServer(t, t.TempDir(), adminToken)
	admin := s.client()
	ctx := t.Context()
	p := newBrowserPage(t, 1280, 860)

	// Sign in.
	p.do("open the console", chromedp.Navigate(s.url+"/"), chromedp.WaitVisible(css("#token")))
	p.shoot("signin")
	unknown, _, _ := ramp.NewToken(ramp.TokenAdmin)
	p.do("sign in with a wrong token", chromedp.SendKeys(css("#token"), unknown), chromedp.Click(css("#signin")))
	p.waitText(patience, "#token-error", "unknown or revoked")
	p.do("sign in", chromedp.SetValue(css("#token"), adminToken), chromedp.Click(css("#signin")), chromedp.WaitVisible(css("#flags")))
	cookies, err := chromedp.Call(p.ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{s.url}})
	if err != nil {
		t.Fatal(err)
	}
	var session *network.Cookie
	for _, c := range cookies.Cookies {
		if c.Name == "ramp_session" {
			session = c
		}
	}
	if session == nil || !session.HTTPOnly || session.SameSite != network.CookieSameSiteStrict {
		t.Fatalf("session cookie %+v: want HttpOnly and SameSite=Strict", session)
	}
	if jsEval[bool](p, `document.cookie.includes("ramp_session")`) {
		t.Error("the session cookie is readable by scripts")
	}

	// Create a flag; the API's validation message shows next to the field.
	const flag = "checkout-v2"
	p.do("open the new flag form", chromedp.Click(css(`a[href="#/flags/new"]`)), chromedp.WaitVisible(css("#key")))
	p.do("submit a bad key", chromedp.SendKeys(css("#key"), "Checkout V2"), chromedp.Click(css("#create")))
	p.waitText(patience, "#key-error", "is not a valid key")
	if got := jsEval[string](p, `document.querySelector("#key").getAttribute("aria-invalid")`); got != "true" {
		t.Errorf("the bad key field is not marked invalid (aria-invalid=%q)", got)
	}
	p.do("create the flag",
		chromedp.SetValue(css("#key"), flag),
		chromedp.SendKeys(css("#name"), "New checkout"),
		chromedp.SendKeys(css("#owner"), "payments"),
		chromedp.SendKeys(css("#tags"), "checkout, web"),
		chromedp.Click(css("#create")),
		chromedp.WaitVisible(css("#kill-production")))
	p.waitText(patience, "#pct-value-production", "0%")

	// Set 5% in production.
	p.setInput("#pct-production", "5")
	p.do("set 5%", chromedp.Click(css("#set-production")))
	p.waitText(patience, "#pct-value-production", "5%")
	if got := statusPercentage(t, s, flag, "production"); got != 5 {
		t.Fatalf("the server serves %v%% after the console set 5%%", got)
	}
	p.shoot("flag")

	// An application embeds the SDK and reports healthy counts: about
	// 10,000 requests a second, the same latency and no errors on both
	// paths, so that every guard passes and the rollout advances.
	app := startSDKApp(t, s, appTraffic{flags: []string{flag}, perTick: 100, latencyMS: 5, spreadMS: 20}).client

	// Start a compressed guarded rollout from the flag page: the standard
	// template's guards (error rate, p99 latency) with stages of seconds.
	// The page redraws as the stream reports changes (the 5% above); what
	// is typed in its forms must survive that.
	p.setInput("#ro-stages", "5:2s,25:2s,50:1h,100")
	p.setInput("#ro-interval", "1s")
	p.do("start the rollout", chromedp.Click(css("#ro-start")), chromedp.WaitVisible(css("#stages")))
	if got := p.text("#stages"); !strings.Contains(got, "min 2s") {
		t.Fatalf("the rollout did not take the typed stages 5:2s,25:2s,50:1h,100; its stages:\n%s", got)
	}
	jsEval[bool](p, `(window.rampNoReload = true)`)
	p.waitText(patience, "#ro-status", "running")
	p.waitText(60*time.Second, "#ro-percent", "25%")
	p.waitText(60*time.Second, "#ro-percent", "50%")
	p.waitText(patience, "#ro-stage", "stage 3 of 4")
	if !jsEval[bool](p, `window.rampNoReload === true`) {
		t.Error("the rollout page reloaded to show the new stage")
	}
	if n := jsEval[int](p, `Number(document.querySelector("#chart-percent").dataset.points)`); n < 3 {
		t.Errorf("the percentage chart has %d points after two promotions", n)
	}
	p.waitUntil(patience, "the error-rate chart to have points", `Number(document.querySelector("#chart-errors").dataset.points) >= 2`)
	p.waitUntil(patience, "the verdicts table", `document.querySelectorAll("#verdicts tr[data-guard]").length === 2`)
	verdicts := p.text("#verdicts")
	for _, want := range []string{"error-rate", "p99-latency", "failed (", "p99 "} {
		if !strings.Contains(verdicts, want) {
			t.Errorf("the verdicts table lacks %q:\n%s", want, verdicts)
		}
	}
	if got := p.text("#in-stage"); !strings.Contains(got, "in stage") {
		t.Errorf("time in stage shows %q", got)
	}
	if got := p.text("#next-look"); !strings.Contains(got, "next look") {
		t.Errorf("next decision shows %q", got)
	}
	if got := p.text("#stages"); !strings.Contains(got, "done") || !strings.Contains(got, "current") {
		t.Errorf("the stage timeline shows %q", got)
	}
	p.waitUntil(patience, "a live chart update", `/\(([1-9]\d*) updates? received/.test(document.querySelector("#chart-updates").textContent)`)
	p.shoot("rollout")
	jsEval[bool](p, `(document.getElementById("charts-h").scrollIntoView(), true)`)
	p.shoot("rollout-charts")
	jsEval[bool](p, `(window.scrollTo(0, 0), true)`)

	// The kill switch, from the flag page: one confirmation, then 0% on
	// the page and in the application's SDK within a second.
	p.do("open the flag page", chromedp.Click(css(`#main h1 a[href="#/flags/`+flag+`"]`)), chromedp.WaitVisible(css("#kill-production")))
	p.waitText(patience, "#pct-value-production", "50%")
	p.do("press the kill switch", chromedp.Click(css("#kill-production")), chromedp.WaitVisible(css("#confirm-ok")))
	if got := p.text("#confirm-text"); !strings.Contains(got, "aborted") {
		t.Errorf("the confirmation does not say the rollout is aborted: %q", got)
	}
	p.shoot("kill-switch")
	pressed := time.Now()
	p.do("confirm", chromedp.Click(css("#confirm-ok")))
	p.waitText(patience, "#killed-production", "Rolled back to 0%")
	onPage := time.Since(pressed)
	p.waitText(time.Second, "#pct-value-production", "0%")
	var inSDK time.Duration
	for {
		on := 0
		for i := range 1000 {
			if app.BoolDetail(ctx, flag, sdk.EvalContext{TargetingKey: fmt.Sprintf("probe-%d", i)}, false).Value {
				on++
			}
		}
		if on == 0 {
			inSDK = time.Since(pressed)
			break
		}
		if time.Since(pressed) > patience {
			t.Fatalf("the SDK still serves on to %d of 1000 users %v after the kill switch", on, patience)
		}
		time.Sleep(5 * time.Millisecond)
	}
	// Speed is measured by benchmarks, not here: a loaded machine or the
	// race detector may slow a run. The page shows the round trip it saw.
	t.Logf("kill switch: %q; the test saw 0%% on the page after %v and in the SDK after %v",
		p.text("#killed-production"), onPage.Round(time.Millisecond), inSDK.Round(time.Millisecond))
	ros, err := admin.ListRollouts(ctx, client.RolloutFilter{Flag: flag})
	if err != nil || len(ros) != 1 || ros[0].Status != ramp.RolloutAborted {
		t.Fatalf("rollouts after the kill switch: %+v, %v", ros, err)
	}
	p.shoot("flag-killed")

	// A version conflict: someone else saves while this page edits. First
	// let the page catch up with the kill switch (the rollout's abort
	// reaches it through the event stream), so that what the test types
	// and clicks is what a person would see.
	f, err := admin.GetFlag(ctx, flag)
	if err != nil {
		t.Fatal(err)
	}
	p.waitUntil(patience, fmt.Sprintf("the page to show version %d and the aborted rollout", f.Version),
		fmt.Sprintf(`document.querySelector("#flag-version").textContent === "%d" && !document.querySelector("#rollout-link-production") && document.querySelector("#edit-version").textContent === "editing version %d"`, f.Version, f.Version))
	p.do("edit the name", chromedp.SendKeys(css("#edit-name"), " (beta)"))
	// The keys go where the focus is: a page that redraws the form under
	// the cursor loses them, or sends them to another control.
	if got := jsEval[string](p, `document.querySelector("#edit-name").value + " | focus on #" + (document.activeElement || {}).id`); got != "New checkout (beta) | focus on #edit-name" {
		t.Fatalf("after typing in the name field: %s", got)
	}
	f.Owner = "checkout-team"
	if f, err = admin.UpdateFlag(ctx, f); err != nil {
		t.Fatal(err)
	}
	// The live stream shows the other change on the page; the form keeps
	// what was typed and the version it was typed on, so saving meets the
	// conflict instead of overwriting the other change or dropping the edit.
	p.waitUntil(patience, fmt.Sprintf("the page to show version %d", f.Version), fmt.Sprintf(`document.querySelector("#flag-version").textContent === "%d"`, f.Version))
	if got := jsEval[string](p, `document.querySelector("#edit-name").value + " | " + document.querySelector("#edit-version").textContent`); got != fmt.Sprintf("New checkout (beta) | editing version %d", f.Version-1) {
		t.Errorf("after another change arrived the edit form shows %q", got)
	}
	p.do("save", chromedp.Click(css("#save")))
	p.waitText(patience, "#conflict", "Someone else changed this flag")
	if got := p.text("#conflict"); !strings.Contains(got, fmt.Sprintf("now at version %d; you edited version %d", f.Version, f.Version-1)) {
		t.Errorf("the conflict says %q", got)
	}
	p.do("compare", chromedp.Click(css("#conflict-compare")))
	p.waitText(patience, "#conflict", "checkout-team")
	p.waitText(time.Second, "#conflict", "New checkout (beta)")
	if f, _ := admin.GetFlag(ctx, flag); f.Name != "New checkout" || f.Owner != "checkout-team" {
		t.Errorf("after the conflict the flag is %q owned by %q: a lost update", f.Name, f.Owner)
	}
	p.shoot("conflict")
	p.do("reload", chromedp.Click(css("#conflict-reload")))
	p.waitUntil(patience, "the conflict to clear", `document.querySelector("#conflict").hidden`)
	if got := jsEval[string](p, `["name", "owner", "version"].map(k => document.querySelector("#edit-" + k)[k === "version" ? "textContent" : "value"]).join(" | ")`); got != fmt.Sprintf("New checkout | checkout-team | editing version %d", f.Version) {
		t.Errorf("after Reload the edit form shows %q", got)
	}

	// The audit log: every step, with the actor, and the diff of one.
	p.do("open the audit log", chromedp.Click(css(`a[href="#/audit?flag=`+flag+`"]`)), chromedp.WaitVisible(css("#audit li.entry")))
	actions := jsEval[[]string](p, `[...document.querySelectorAll("#audit li.entry")].map(e => e.dataset.action).reverse()`)
	want := []string{"flag.create", "flag.percentage", "rollout.create", "rollout.start", "rollout.promote", "rollout.promote", "flag.rollback", "rollout.abort", "flag.update"}
	if !slices.Equal(actions, want) {
		t.Errorf("audit log on the page, oldest first:\n got %v\nwant %v", actions, want)
	}
	if text := p.text("#audit"); strings.Count(text, "admin") < 5 {
		t.Errorf("the audit entries do not name the actor admin:\n%s", text)
	}
	p.do("open the rollback's diff", chromedp.Click(css(`#audit li[data-action="flag.rollback"] button[aria-controls]`)))
	p.waitText(patience, `#audit li[data-action="flag.rollback"] table.diff`, "environments.production.on")
	p.shoot("audit")
	p.do("filter by actor", chromedp.SetValue(css("#a-actor"), "rollout-controller"), chromedp.Click(css("#a-apply")))
	p.waitUntil(patience, "the actor filter", `[...document.querySelectorAll("#audit li.entry")].length === 2 && [...document.querySelectorAll("#audit li.entry")].every(e => e.dataset.action === "rollout.promote")`)

	// The flag list: search and filters.
	if _, err := admin.CreateFlag(ctx, &ramp.Flag{Key: "search-v2", Type: ramp.TypeBoolean, Tags: []string{"search"}, Owner: "discovery",
		Variants: []ramp.Variant{{Key: "on", Value: []byte("true")}, {Key: "off", Value: []byte("false")}}, DefaultVariant: "off"}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.SetPercentage(ctx, "search-v2", "production", 100, ""); err != nil {
		t.Fatal(err)
	}
	p.do("open the flag list", chromedp.Click(css(`a[data-nav="flags"]`)), chromedp.WaitVisible(css("#flags")))
	rows := func() []string {
		return jsEval[[]string](p, `[...document.querySelectorAll("#flags tbody tr[data-flag]")].map(r => r.dataset.flag)`)
	}
	p.waitUntil(patience, "two flags", `document.querySelectorAll("#flags tbody tr[data-flag]").length === 2`)
	if got := p.text(`#flags tr[data-flag="search-v2"] td[data-env="production"]`); !strings.Contains(got, "100%") {
		t.Errorf("search-v2 in production shows %q", got)
	}
	p.setInput("#tag", "search")
	if got := rows(); !slices.Equal(got, []string{"search-v2"}) {
		t.Errorf("tag search: rows %v", got)
	}
	p.setInput("#tag", "")
	// search-v2 is off in staging: "off" in any environment lists both,
	// "off" in production only the flag the kill switch turned off.
	p.setInput("#state", "off")
	if got := rows(); !slices.Equal(got, []string{flag, "search-v2"}) {
		t.Errorf("state off anywhere: rows %v", got)
	}
	p.setInput("#env", "production")
	if got := rows(); !slices.Equal(got, []string{flag}) {
		t.Errorf("state off in production: rows %v", got)
	}
	p.setInput("#state", "full")
	if got := rows(); !slices.Equal(got, []string{"search-v2"}) {
		t.Errorf("state 100%% in production: rows %v", got)
	}
	p.setInput("#state", "")
	p.setInput("#env", "")
	p.setInput("#stale", "1")
	if got := rows(); len(got) != 0 {
		t.Errorf("stale for a day: rows %v; both flags changed just now", got)
	}
	p.setInput("#stale", "0")
	if got := rows(); len(got) != 2 {
		t.Errorf("stale for 0 days (at 0%% or 100%% everywhere): rows %v", got)
	}
	p.setInput("#stale", "")
	p.setInput("#owner", "discovery")
	if got := rows(); !slices.Equal(got, []string{"search-v2"}) {
		t.Errorf("owner discovery: rows %v", got)
	}
	p.setInput("#owner", "")
	p.setInput("#q", "CHECKOUT")
	if got := rows(); !slices.Equal(got, []string{flag}) {
		t.Errorf("search CHECKOUT: rows %v", got)
	}
	p.setInput("#q", "")
	p.shoot("flags")

	// A phone-size view and the dark theme.
	if os.Getenv("RAMP_SCREENSHOTS") == "1" {
		p.do("phone size", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile),
			chromedp.Navigate(s.url+"/#/flags/"+flag), chromedp.WaitVisible(css("#kill-production")))
		p.shoot("phone-flag")
		p.do("laptop size", chromedp.EmulateViewport(1280, 860))
		if _, err := chromedp.Call(p.ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}},
		}); err != nil {
			t.Fatal(err)
		}
		p.do("dark rollout", chromedp.Navigate(s.url+"/#/rollouts/"+fmt.Sprint(ros[0].ID)), chromedp.WaitVisible(css("#chart-percent")))
		jsEval[bool](p, `(document.getElementById("guards-h").scrollIntoView(), true)`)
		p.shoot("dark-rollout")
		if _, err := chromedp.Call(p.ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{}); err != nil {
			t.Fatal(err)
		}
		p.do("back to the list", chromedp.Navigate(s.url+"/#/flags"), chromedp.WaitVisible(css("#flags")))
	}

	// Sign out: the cookie no longer opens the API.
	p.do("sign out", chromedp.Click(css("#signout")), chromedp.WaitVisible(css("#token")))
	st, err := chromedp.Run(p.ctx, chromedp.Evaluate[int](`fetch("/api/v1/flags").then(r => r.status)`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	if st != 401 {
		t.Errorf("after sign-out GET /api/v1/flags answers %d, want 401", st)
	}
}
