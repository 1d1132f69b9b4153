package storetest

import (
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/ramp-flags/ramp"
)

func testTokens(t *testing.T, open func(t *testing.T) Store) {
	s := open(t)
	ctx := t.Context()
	tokens, err := s.ListTokens(ctx)
	if err != nil || len(tokens) != 0 {
		t.Fatalf("ListTokens on an empty store = %v, %v; want none", tokens, err)
	}

	plain, id, hash := ramp.NewToken(ramp.TokenAdmin)
	var admin ramp.Token
	e := oneAudit(t, s, wantAudit{Actor: "alice", Action: ramp.ActionTokenCreate, Kind: "token", Key: id, After: true}, func() {
		admin, err = s.CreateToken(ctx, change("alice"), ramp.Token{ID: id, Name: "ops", Kind: ramp.TokenAdmin, Hash: hash})
		if err != nil {
			t.Fatalf("CreateToken: %v", err)
		}
	})
	if admin.ID != id || admin.Kind != ramp.TokenAdmin || admin.Name != "ops" || admin.CreatedAt.IsZero() || admin.CreatedBy != "alice" {
		t.Errorf("created token = %+v", admin)
	}
	for _, enc := range []string{base64.StdEncoding.EncodeToString(hash), base64.RawURLEncoding.EncodeToString(hash), hex.EncodeToString(hash)} {
		if strings.Contains(string(e.After), enc) {
			t.Errorf("the audit entry %s holds the token hash", e.After)
		}
	}
	if strings.Contains(string(e.After), plain) {
		t.Errorf("the audit entry holds the token secret")
	}

	_, sdkID, sdkHash := ramp.NewToken(ramp.TokenSDK)
	sdk, err := s.CreateToken(ctx, ramp.Change{Actor: "bob"}, ramp.Token{
		ID: sdkID, Name: "web", Kind: ramp.TokenSDK, Environment: ramp.EnvProduction, Hash: sdkHash, CreatedBy: "deploy-bot",
	})
	if err != nil {
		t.Fatalf("CreateToken(sdk): %v", err)
	}
	if sdk.CreatedBy != "deploy-bot" || sdk.Environment != ramp.EnvProduction {
		t.Errorf("sdk token = %+v", sdk)
	}

	// Look up by ID and compare the hash, as the API authenticates.
	pid, phash, ok := ramp.ParseToken(plain)
	if !ok || pid != id {
		t.Fatalf("ParseToken(%q) = %q, %v", plain, pid, ok)
	}
	got, err := s.GetToken(ctx, pid)
	if err != nil {
		t.Fatalf("GetToken: %v", err)
	}
	if !ramp.HashEqual(got.Hash, phash) || got.Kind != ramp.TokenAdmin || got.Name != "ops" || !got.CreatedAt.Equal(admin.CreatedAt) || got.CreatedBy != "alice" {
		t.Errorf("GetToken = %+v, want %+v", got, admin)
	}
	tokens, err = s.ListTokens(ctx)
	if err != nil || len(tokens) != 2 {
		t.Fatalf("ListTokens = %+v, %v; want 2", tokens, err)
	}
	ids := map[string]bool{}
	for _, tk := range tokens {
		ids[tk.ID] = true
	}
	if !ids[id] || !ids[sdkID] {
		t.Errorf("ListTokens = %+v, want both tokens", tokens)
	}

	oneAudit(t, s, wantAudit{Actor: "carol", Action: ramp.ActionTokenRevoke, Kind: "token", Key: sdkID, Environment: ramp.EnvProduction, Before: true}, func() {
		if err := s.RevokeToken(ctx, change("carol"), sdkID); err != nil {
			t.Fatalf("RevokeToken: %v", err)
		}
	})
	_, err = s.GetToken(ctx, sdkID)
	wantCode(t, err, ramp.ENOTFOUND)
	tokens, _ = s.ListTokens(ctx)
	if len(tokens) != 1 || tokens[0].ID != id {
		t.Errorf("ListTokens after revoke = %+v, want only the admin token", tokens)
	}

	noAudit(t, s, "rejected token changes", func() {
		wantCode(t, s.RevokeToken(ctx, change("carol"), sdkID), ramp.ENOTFOUND)
		wantCode(t, s.RevokeToken(ctx, change("carol"), "nosuchtoken"), ramp.ENOTFOUND)
		_, err = s.GetToken(ctx, "nosuchtoken")
		wantCode(t, err, ramp.ENOTFOUND)
		// IDs are never reused, not even those of revoked tokens.
		_, err = s.CreateToken(ctx, change("alice"), ramp.Token{ID: id, Kind: ramp.TokenAdmin, Hash: hash})
		wantCode(t, err, ramp.ECONFLICT)
		_, err = s.CreateToken(ctx, change("alice"), ramp.Token{ID: sdkID, Kind: ramp.TokenSDK, Environment: ramp.EnvStaging, Hash: sdkHash})
		wantCode(t, err, ramp.ECONFLICT)
	})
}

func testTokenValidation(t *testing.T, open func(t *testing.T) Store) {
	s := open(t)
	ctx := t.Context()
	_, id, hash := ramp.NewToken(ramp.TokenSDK)
	noAudit(t, s, "invalid tokens", func() {
		for name, tc := range map[string]struct {
			tok   ramp.Token
			field string
		}{
			"no id":               {ramp.Token{Kind: ramp.TokenAdmin, Hash: hash}, "id"},
			"unknown kind":        {ramp.Token{ID: id, Kind: "root", Hash: hash}, "kind"},
			"no hash":             {ramp.Token{ID: id, Kind: ramp.TokenAdmin}, "hash"},
			"sdk without env":     {ramp.Token{ID: id, Kind: ramp.TokenSDK, Hash: hash}, "environment"},
			"sdk in unknown env":  {ramp.Token{ID: id, Kind: ramp.TokenSDK, Environment: "mars", Hash: hash}, "environment"},
			"admin scoped to env": {ramp.Token{ID: id, Kind: ramp.TokenAdmin, Environment: ramp.EnvProduction, Hash: hash}, "environment"},
		} {
			_, err := s.CreateToken(ctx, change("alice"), tc.tok)
			if e := wantCode(t, err, ramp.EINVALID); !hasField(e, tc.field) {
				t.Errorf("%s: fields = %+v, want one on %s", name, e.Fields, tc.field)
			}
		}
	})
	if tokens, _ := s.ListTokens(ctx); len(tokens) != 0 {
		t.Errorf("invalid tokens were stored: %+v", tokens)
	}
}
