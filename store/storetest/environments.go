package storetest

import (
	"slices"
	"strings"
	"testing"

	"github.com/ramp-flags/ramp"
)

func testEnvironments(t *testing.T, open func(t *testing.T) Store) {
	s := open(t)
	ctx := t.Context()
	envs, err := s.ListEnvironments(ctx)
	if err != nil {
		t.Fatalf("ListEnvironments: %v", err)
	}
	if len(envs) != 2 || envs[0].Key != ramp.EnvProduction || envs[1].Key != ramp.EnvStaging {
		t.Fatalf("a new store has environments %+v, want production and staging", envs)
	}
	for _, e := range envs {
		if e.CreatedAt.IsZero() {
			t.Errorf("environment %s has no creation time", e.Key)
		}
	}

	var qa ramp.Environment
	oneAudit(t, s, wantAudit{Actor: "alice", Action: ramp.ActionEnvironmentCreate, Kind: "environment", Key: "qa", Environment: "qa", After: true}, func() {
		qa, err = s.CreateEnvironment(ctx, change("alice"), ramp.Environment{Key: "qa", Name: "QA", Description: "for testers"})
		if err != nil {
			t.Fatalf("CreateEnvironment: %v", err)
		}
	})
	if qa.Key != "qa" || qa.Name != "QA" || qa.Description != "for testers" || qa.CreatedAt.IsZero() {
		t.Errorf("created environment = %+v", qa)
	}
	envs, _ = s.ListEnvironments(ctx)
	if len(envs) != 3 || envs[1].Key != "qa" || envs[1].Name != "QA" || !envs[1].CreatedAt.Equal(qa.CreatedAt) {
		t.Errorf("ListEnvironments = %+v, want production, qa, staging", envs)
	}

	noAudit(t, s, "rejected environment changes", func() {
		_, err = s.CreateEnvironment(ctx, change("alice"), ramp.Environment{Key: "qa"})
		wantCode(t, err, ramp.ECONFLICT)
		_, err = s.CreateEnvironment(ctx, change("alice"), ramp.Environment{Key: "Not Valid"})
		if e := wantCode(t, err, ramp.EINVALID); !hasField(e, "key") {
			t.Errorf("fields = %+v, want key", e.Fields)
		}
		_, err = s.CreateEnvironment(ctx, change("alice"), ramp.Environment{})
		wantCode(t, err, ramp.EINVALID)
		wantCode(t, s.DeleteEnvironment(ctx, change("alice"), "mars"), ramp.ENOTFOUND)
	})

	oneAudit(t, s, wantAudit{Actor: "bob", Action: ramp.ActionEnvironmentDelete, Kind: "environment", Key: "qa", Environment: "qa", Before: true}, func() {
		if err := s.DeleteEnvironment(ctx, change("bob"), "qa"); err != nil {
			t.Fatalf("DeleteEnvironment: %v", err)
		}
	})
	if keys := envKeys(t, s); !slices.Equal(keys, []string{"production", "staging"}) {
		t.Errorf("after delete, environments = %v", keys)
	}
	// The key can be used again.
	if _, err := s.CreateEnvironment(ctx, change("alice"), ramp.Environment{Key: "qa"}); err != nil {
		t.Fatalf("CreateEnvironment again: %v", err)
	}
}

func testEnvironmentPropagation(t *testing.T, open func(t *testing.T) Store) {
	s := open(t)
	ctx := t.Context()
	a := newFlag("a")
	a.Environments = map[string]*ramp.FlagEnv{ramp.EnvProduction: {On: true, Fallthrough: ramp.Serve{Variant: "on"}}}
	mustCreateFlag(t, s, a)
	mustCreateFlag(t, s, newFlag("b"))
	if _, err := s.UpdateFlag(ctx, change("alice"), "b", func(*ramp.Flag) error { return nil }); err != nil {
		t.Fatal(err)
	}
	versions := map[string]int64{"a": 1, "b": 2}

	if _, err := s.CreateEnvironment(ctx, change("alice"), ramp.Environment{Key: "qa"}); err != nil {
		t.Fatalf("CreateEnvironment: %v", err)
	}
	flags, err := s.ListFlags(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range flags {
		fe := f.Environments["qa"]
		if fe == nil {
			t.Fatalf("flag %s has no state in the new environment: %+v", f.Key, f.Environments)
		}
		if fe.On || fe.OffVariant != "off" || fe.Fallthrough.Variant != "off" || len(fe.Rules) != 0 {
			t.Errorf("flag %s in qa = %+v, want off, serving the default", f.Key, fe)
		}
		if f.Version != versions[f.Key]+1 {
			t.Errorf("flag %s version %d, want %d", f.Key, f.Version, versions[f.Key]+1)
		}
		if err := f.Validate(ramp.Scope{Environments: []string{"production", "qa", "staging"}}); err != nil {
			t.Errorf("flag %s is invalid after the environment was added: %v", f.Key, err)
		}
		versions[f.Key] = f.Version
	}
	if fe := mustGetFlag(t, s, "a").Environments[ramp.EnvProduction]; !fe.On || fe.Fallthrough.Variant != "on" {
		t.Errorf("flag a's production state changed: %+v", fe)
	}

	// A flag made now gets the new environment too, and may use it.
	c := newFlag("c")
	c.Environments = map[string]*ramp.FlagEnv{"qa": {On: true, Fallthrough: ramp.Serve{Variant: "on"}}}
	if got := mustCreateFlag(t, s, c); !got.Environments["qa"].On {
		t.Errorf("flag c in qa = %+v, want on", got.Environments["qa"])
	}
	versions["c"] = 1

	if err := s.DeleteEnvironment(ctx, change("bob"), "qa"); err != nil {
		t.Fatalf("DeleteEnvironment: %v", err)
	}
	flags, _ = s.ListFlags(ctx)
	if len(flags) != 3 {
		t.Fatalf("%d flags after deleting an environment, want 3", len(flags))
	}
	for _, f := range flags {
		if _, ok := f.Environments["qa"]; ok {
			t.Errorf("flag %s still has a state in the deleted environment", f.Key)
		}
		if len(f.Environments) != 2 {
			t.Errorf("flag %s has environments %v, want production and staging", f.Key, f.Environments)
		}
		if f.Version != versions[f.Key]+1 {
			t.Errorf("flag %s version %d, want %d", f.Key, f.Version, versions[f.Key]+1)
		}
	}
	// The environment is gone for validation too.
	_, err = s.UpdateFlag(ctx, change("bob"), "c", func(f *ramp.Flag) error {
		f.Environments["qa"] = &ramp.FlagEnv{Fallthrough: ramp.Serve{Variant: "off"}}
		return nil
	})
	wantCode(t, err, ramp.EINVALID)
}

func testEnvironmentWithTokens(t *testing.T, open func(t *testing.T) Store) {
	s := open(t)
	ctx := t.Context()
	if _, err := s.CreateEnvironment(ctx, change("alice"), ramp.Environment{Key: "qa"}); err != nil {
		t.Fatal(err)
	}
	mustCreateFlag(t, s, newFlag("f"))
	_, id, hash := ramp.NewToken(ramp.TokenSDK)
	if _, err := s.CreateToken(ctx, change("alice"), ramp.Token{ID: id, Name: "qa-web", Kind: ramp.TokenSDK, Environment: "qa", Hash: hash}); err != nil {
		t.Fatalf("CreateToken: %v", err)
	}
	// An admin token and an SDK token of another environment do not block.
	_, adminID, adminHash := ramp.NewToken(ramp.TokenAdmin)
	if _, err := s.CreateToken(ctx, change("alice"), ramp.Token{ID: adminID, Name: "ops", Kind: ramp.TokenAdmin, Hash: adminHash}); err != nil {
		t.Fatalf("CreateToken: %v", err)
	}
	noAudit(t, s, "deleting an environment with tokens", func() {
		e := wantCode(t, s.DeleteEnvironment(ctx, change("bob"), "qa"), ramp.ECONFLICT)
		if !strings.Contains(e.Message, "revoke") || !strings.Contains(e.Message, "qa-web") {
			t.Errorf("message %q should name the token and say to revoke it", e.Message)
		}
	})
	if f := mustGetFlag(t, s, "f"); f.Environments["qa"] == nil || f.Version != 1 {
		t.Errorf("a refused delete changed the flag: %+v", f)
	}
	if err := s.RevokeToken(ctx, change("bob"), id); err != nil {
		t.Fatalf("RevokeToken: %v", err)
	}
	if err := s.DeleteEnvironment(ctx, change("bob"), "qa"); err != nil {
		t.Fatalf("DeleteEnvironment after revoking its token: %v", err)
	}
	// An SDK token cannot be made for the deleted environment.
	_, id2, hash2 := ramp.NewToken(ramp.TokenSDK)
	_, err := s.CreateToken(ctx, change("alice"), ramp.Token{ID: id2, Name: "late", Kind: ramp.TokenSDK, Environment: "qa", Hash: hash2})
	wantCode(t, err, ramp.EINVALID)
}
