// Package openfeature is an OpenFeature provider for ramp: it evaluates
// flags in-process through the Go SDK (package sdk), so that applications
// written against the OpenFeature API (github.com/open-feature/go-sdk) get
// ramp's nanosecond evaluation, streaming updates and cache file.
//
// Import it under another name, as its name is OpenFeature's own:
//
//	import rampof "github.com/ramp-flags/ramp/sdk/openfeature"
//
//	client, err := sdk.New(ctx, sdk.Config{URL: url, Token: token})
//	...
//	err = openfeature.SetProviderAndWait(rampof.NewProvider(client))
//
// The provider maps ramp's reasons, variants and error codes to
// OpenFeature's one for one, and turns the SDK's notifications into
// provider events: PROVIDER_READY when the flags are live,
// PROVIDER_CONFIGURATION_CHANGED (with the changed flag keys) on each
// change, PROVIDER_STALE while the server is away, and an initialisation
// error (the ERROR state) while the client has no flags at all.
package openfeature

import (
	"context"
	"sync"
	"time"

	of "github.com/open-feature/go-sdk/openfeature"

	"github.com/ramp-flags/ramp/sdk"
)

// Name is the provider's name in its Metadata.
const Name = "ramp"

// staleAfterInit delays the PROVIDER_STALE event of a provider whose
// client started from its cache file. OpenFeature sets the state to READY
// when Init returns, from another goroutine than the one that reads the
// provider's events; a stale event sent before that would be overwritten.
const staleAfterInit = 50 * time.Millisecond

// Provider is an OpenFeature provider backed by an *sdk.Client. It is safe
// for concurrent use. The provider does not own the client: Shutdown stops
// the provider's events, and the application closes the client.
type Provider struct {
	client *sdk.Client
	events chan of.Event

	mu      sync.Mutex
	running bool
	stop    chan struct{} // closed by Shutdown
	remove  []func()      // unregister the client callbacks
	state   sdk.Status    // the status the provider last reported
	wg      sync.WaitGroup
}

var (
	_ of.FeatureProvider = (*Provider)(nil)
	_ of.StateHandler    = (*Provider)(nil)
	_ of.EventHandler    = (*Provider)(nil)
)

// NewProvider returns a provider that evaluates with client. Pass it to
// openfeature.SetProviderAndWait (or an isolated API's).
func NewProvider(client *sdk.Client) *Provider {
	return &Provider{client: client, events: make(chan of.Event, 16)}
}

// Metadata returns the provider's name, "ramp".
func (p *Provider) Metadata() of.Metadata { return of.Metadata{Name: Name} }

// Hooks returns no hooks: the provider needs none.
func (p *Provider) Hooks() []of.Hook { return nil }

// EventChannel returns the channel of the provider's events, read by the
// OpenFeature SDK.
func (p *Provider) EventChannel() <-chan of.Event { return p.events }

// notReady explains the PROVIDER_NOT_READY state.
const notReady = "the ramp client has no flags yet: none from the server, and no cache file"

// Init starts forwarding the client's notifications as events. It does
// not wait: sdk.New already waited for the first flags. If the client has
// none, Init returns a *openfeature.ProviderInitError (the provider enters
// the ERROR state and evaluations serve defaults with PROVIDER_NOT_READY);
// the provider emits PROVIDER_READY once the flags arrive. If the client
// serves flags from its cache file, Init succeeds and the provider then
// emits PROVIDER_STALE until the server answers.
func (p *Provider) Init(of.EvaluationContext) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.running {
		return nil
	}
	p.running = true
	p.stop = make(chan struct{})
	// Register before reading the status, so no transition is missed.
	p.remove = []func(){
		p.client.OnStatus(p.onStatus),
		p.client.OnChange(p.onChange),
	}
	p.state = p.client.Status()
	switch p.state {
	case sdk.StatusNotReady:
		msg := notReady
		if err := p.client.Err(); err != nil {
			msg += ": " + err.Error()
		}
		return &of.ProviderInitError{ErrorCode: of.ProviderNotReadyCode, Message: msg}
	case sdk.StatusStale:
		stop := p.stop
		p.wg.Go(func() {
			select {
			case <-stop:
			case <-time.After(staleAfterInit):
				p.mu.Lock()
				stale := p.running && p.state == sdk.StatusStale
				p.mu.Unlock()
				if stale {
					p.emit(stop, event(of.ProviderStale, "serving the flags of the cache file; the ramp server is not reachable", p.client.Err()))
				}
			}
		})
	}
	return nil
}

// Shutdown stops the provider's events. It does not close the client,
// which the application owns. The provider may be initialised again.
func (p *Provider) Shutdown() {
	p.mu.Lock()
	if !p.running {
		p.mu.Unlock()
		return
	}
	p.running = false
	close(p.stop)
	remove := p.remove
	p.remove = nil
	p.mu.Unlock()
	for _, r := range remove {
		r()
	}
	p.wg.Wait()
}

// onStatus turns a status change of the client into a provider event.
func (p *Provider) onStatus(ev sdk.StatusEvent) {
	p.mu.Lock()
	if !p.running || ev.Status == p.state {
		p.mu.Unlock()
		return
	}
	p.state = ev.Status
	stop := p.stop
	p.mu.Unlock()
	switch ev.Status {
	case sdk.StatusLive:
		p.emit(stop, event(of.ProviderReady, "the ramp flags are live", nil))
	case sdk.StatusStale:
		p.emit(stop, event(of.ProviderStale, "the ramp server is not reachable; serving the last flags", ev.Err))
	case sdk.StatusNotReady:
		p.emit(stop, event(of.ProviderError, notReady, ev.Err))
	}
}

// onChange announces changed flags.
func (p *Provider) onChange(ev sdk.ChangeEvent) {
	p.mu.Lock()
	running, stop := p.running, p.stop
	p.mu.Unlock()
	if running {
		e := event(of.ProviderConfigChange, "ramp flags changed", nil)
		e.FlagChanges = ev.Keys
		e.EventMetadata = map[string]any{"seq": ev.Seq}
		p.emit(stop, e)
	}
}

// event returns a provider event; cause, if any, is appended to msg.
func event(typ of.EventType, msg string, cause error) of.Event {
	if cause != nil {
		msg += ": " + cause.Error()
	}
	ev := of.Event{ProviderName: Name, EventType: typ, ProviderEventDetails: of.ProviderEventDetails{Message: msg}}
	if typ == of.ProviderError {
		ev.ErrorCode = of.ProviderNotReadyCode
	}
	return ev
}

// emit sends an event, waiting for the OpenFeature SDK to take it unless
// the provider shuts down first. It runs on the client's callback
// goroutine, which the OpenFeature SDK drains promptly.
func (p *Provider) emit(stop chan struct{}, ev of.Event) {
	select {
	case <-stop:
		return
	default:
	}
	select {
	case p.events <- ev:
	case <-stop:
	}
}

// evalContext converts OpenFeature's flattened context: the targeting key
// and every attribute, which ramp's rules read as they are.
func evalContext(flat of.FlattenedContext) sdk.EvalContext {
	key, _ := flat[of.TargetingKey].(string)
	return sdk.EvalContext{TargetingKey: key, Attributes: flat}
}

// BooleanEvaluation evaluates a boolean flag. It never blocks.
func (p *Provider) BooleanEvaluation(ctx context.Context, flag string, defaultValue bool, flatCtx of.FlattenedContext) of.BoolResolutionDetail {
	d := p.client.BoolDetail(ctx, flag, evalContext(flatCtx), defaultValue)
	return of.BoolResolutionDetail{Value: d.Value, ProviderResolutionDetail: resolution(d)}
}

// StringEvaluation evaluates a string flag. It never blocks.
func (p *Provider) StringEvaluation(ctx context.Context, flag string, defaultValue string, flatCtx of.FlattenedContext) of.StringResolutionDetail {
	d := p.client.StringDetail(ctx, flag, evalContext(flatCtx), defaultValue)
	return of.StringResolutionDetail{Value: d.Value, ProviderResolutionDetail: resolution(d)}
}

// FloatEvaluation evaluates a number flag. It never blocks.
func (p *Provider) FloatEvaluation(ctx context.Context, flag string, defaultValue float64, flatCtx of.FlattenedContext) of.FloatResolutionDetail {
	d := p.client.FloatDetail(ctx, flag, evalContext(flatCtx), defaultValue)
	return of.FloatResolutionDetail{Value: d.Value, ProviderResolutionDetail: resolution(d)}
}

// IntEvaluation evaluates a number flag whose values are integers; a
// fractional value gives TYPE_MISMATCH. It never blocks.
func (p *Provider) IntEvaluation(ctx context.Context, flag string, defaultValue int64, flatCtx of.FlattenedContext) of.IntResolutionDetail {
	d := p.client.IntDetail(ctx, flag, evalContext(flatCtx), defaultValue)
	return of.IntResolutionDetail{Value: d.Value, ProviderResolutionDetail: resolution(d)}
}

// ObjectEvaluation evaluates an object flag; the value is a
// map[string]any the caller owns. It never blocks.
func (p *Provider) ObjectEvaluation(ctx context.Context, flag string, defaultValue any, flatCtx of.FlattenedContext) of.InterfaceResolutionDetail {
	d := p.client.JSONDetail(ctx, flag, evalContext(flatCtx), nil)
	var v any = d.Value
	if d.ErrorCode != "" {
		v = defaultValue
	}
	return of.InterfaceResolutionDetail{Value: v, ProviderResolutionDetail: resolution(d)}
}

// resolution maps an SDK detail to OpenFeature's: reasons are the same
// strings, error codes map one to one.
func resolution[T any](d sdk.Detail[T]) of.ProviderResolutionDetail {
	r := of.ProviderResolutionDetail{Reason: of.Reason(d.Reason), Variant: d.Variant}
	if d.RuleID != "" {
		r.FlagMetadata = of.FlagMetadata{"ruleId": d.RuleID}
	}
	if d.ErrorCode == "" {
		return r
	}
	r.Reason = of.ErrorReason
	msg := d.ErrorMessage
	switch d.ErrorCode {
	case sdk.ErrFlagNotFound:
		r.ResolutionError = of.NewFlagNotFoundResolutionError(msg)
	case sdk.ErrTypeMismatch:
		r.ResolutionError = of.NewTypeMismatchResolutionError(msg)
	case sdk.ErrTargetingKeyMissing:
		r.ResolutionError = of.NewTargetingKeyMissingResolutionError(msg)
	case sdk.ErrParse:
		r.ResolutionError = of.NewParseErrorResolutionError(msg)
	case sdk.ErrProviderNotReady:
		r.ResolutionError = of.NewProviderNotReadyResolutionError(msg)
	case sdk.ErrInvalidContext:
		r.ResolutionError = of.NewInvalidContextResolutionError(msg)
	default:
		r.ResolutionError = of.NewGeneralResolutionError(msg)
	}
	return r
}
