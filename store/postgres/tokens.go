package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/store/internal/storecore"
)

// CreateToken stores t, whose ID, Kind and Hash the caller sets, with its
// creation time and, if t names none, c.Actor as its creator, and writes its
// audit row (without the hash). An SDK token must name an environment that
// exists; an admin token must name none. It fails with ECONFLICT if the ID
// is taken and EINVALID if t is invalid.
func (s *Store) CreateToken(ctx context.Context, c ramp.Change, t ramp.Token) (ramp.Token, error) {
	t, err := storecore.NewToken(c, t)
	if err != nil {
		return ramp.Token{}, err
	}
	err = s.write(ctx, func(tx pgx.Tx, now time.Time) error {
		if t.Kind == ramp.TokenSDK {
			var n int
			if err := tx.QueryRow(ctx, "SELECT count(*) FROM environments WHERE key = $1", t.Environment).Scan(&n); err != nil {
				return fmt.Errorf("look up environment: %w", err)
			}
			if n == 0 {
				return storecore.TokenEnvironmentNotFound(t.Environment)
			}
		}
		var n int
		if err := tx.QueryRow(ctx, "SELECT count(*) FROM tokens WHERE id = $1", t.ID).Scan(&n); err != nil {
			return fmt.Errorf("look up token: %w", err)
		}
		if n > 0 {
			return ramp.Errorf(ramp.ECONFLICT, "token %q already exists", t.ID)
		}
		t.CreatedAt = now
		_, err := tx.Exec(ctx,
			`INSERT INTO tokens (id, name, kind, environment, hash, created_at, created_by)
			 VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			t.ID, t.Name, string(t.Kind), t.Environment, t.Hash, now, t.CreatedBy)
		if err != nil {
			return fmt.Errorf("insert token: %w", err)
		}
		a, err := storecore.CreationAudit(c, ramp.ActionTokenCreate, "token", t.ID, t.Environment, t) // Token.Hash is never marshalled
		if err != nil {
			return err
		}
		return insertAudit(ctx, tx, now, a)
	})
	if err != nil {
		return ramp.Token{}, translate("create token", err)
	}
	return t, nil
}

func scanToken(row pgx.CollectableRow) (ramp.Token, error) {
	var t ramp.Token
	var kind string
	if err := row.Scan(&t.ID, &t.Name, &kind, &t.Environment, &t.Hash, &t.CreatedAt, &t.CreatedBy); err != nil {
		return ramp.Token{}, err
	}
	t.Kind = ramp.TokenKind(kind)
	t.CreatedAt = t.CreatedAt.UTC()
	return t, nil
}

// GetToken returns the token with the ID, or an ENOTFOUND error if there is
// none or it was revoked.
func (s *Store) GetToken(ctx context.Context, id string) (ramp.Token, error) {
	t, err := getToken(ctx, s.pool, id)
	if err != nil {
		return ramp.Token{}, translate("get token", err)
	}
	return t, nil
}

func getToken(ctx context.Context, q querier, id string) (ramp.Token, error) {
	rows, err := q.Query(ctx, "SELECT "+storecore.TokenColumns+" FROM tokens WHERE id = $1 AND revoked_at IS NULL", id)
	if err != nil {
		return ramp.Token{}, err
	}
	t, err := pgx.CollectExactlyOneRow(rows, scanToken)
	if errors.Is(err, pgx.ErrNoRows) {
		return ramp.Token{}, storecore.TokenNotFound(id)
	}
	return t, err
}

// ListTokens returns the tokens that are not revoked, oldest first.
func (s *Store) ListTokens(ctx context.Context) ([]ramp.Token, error) {
	rows, err := s.pool.Query(ctx, "SELECT "+storecore.TokenColumns+` FROM tokens WHERE revoked_at IS NULL ORDER BY created_at, id COLLATE "C"`)
	if err != nil {
		return nil, translate("list tokens", err)
	}
	tokens, err := pgx.CollectRows(rows, scanToken)
	if err != nil {
		return nil, translate("list tokens", err)
	}
	if tokens == nil {
		tokens = []ramp.Token{}
	}
	return tokens, nil
}

// RevokeToken revokes the token and writes its audit row. It fails with
// ENOTFOUND if there is no such token or it is already revoked.
func (s *Store) RevokeToken(ctx context.Context, c ramp.Change, id string) error {
	err := s.write(ctx, func(tx pgx.Tx, now time.Time) error {
		t, err := getToken(ctx, tx, id)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "UPDATE tokens SET revoked_at = $1 WHERE id = $2", now, id); err != nil {
			return fmt.Errorf("revoke token: %w", err)
		}
		a, err := storecore.RemovalAudit(c, ramp.ActionTokenRevoke, "token", id, t.Environment, t)
		if err != nil {
			return err
		}
		return insertAudit(ctx, tx, now, a)
	})
	return translate("revoke token", err)
}
