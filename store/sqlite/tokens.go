package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

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
	err = s.write(ctx, func(tx *sql.Tx, now time.Time) error {
		if t.Kind == ramp.TokenSDK {
			var n int
			if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM environments WHERE key = ?", t.Environment).Scan(&n); err != nil {
				return fmt.Errorf("look up environment: %w", err)
			}
			if n == 0 {
				return storecore.TokenEnvironmentNotFound(t.Environment)
			}
		}
		var n int
		if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM tokens WHERE id = ?", t.ID).Scan(&n); err != nil {
			return fmt.Errorf("look up token: %w", err)
		}
		if n > 0 {
			return ramp.Errorf(ramp.ECONFLICT, "token %q already exists", t.ID)
		}
		t.CreatedAt = now
		_, err := tx.ExecContext(ctx,
			`INSERT INTO tokens (id, name, kind, environment, hash, created_at, created_by)
			 VALUES (?, ?, ?, ?, ?, ?, ?)`,
			t.ID, t.Name, string(t.Kind), t.Environment, t.Hash, formatTime(now), t.CreatedBy)
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

func scanToken(scan func(...any) error) (ramp.Token, error) {
	var t ramp.Token
	var kind, created string
	if err := scan(&t.ID, &t.Name, &kind, &t.Environment, &t.Hash, &created, &t.CreatedBy); err != nil {
		return ramp.Token{}, err
	}
	t.Kind = ramp.TokenKind(kind)
	var err error
	if t.CreatedAt, err = parseTime(created); err != nil {
		return ramp.Token{}, fmt.Errorf("decode token %q: %w", t.ID, err)
	}
	return t, nil
}

// GetToken returns the token with the ID, or an ENOTFOUND error if there is
// none or it was revoked.
func (s *Store) GetToken(ctx context.Context, id string) (ramp.Token, error) {
	t, err := getToken(ctx, s.r, id)
	if err != nil {
		return ramp.Token{}, translate("get token", err)
	}
	return t, nil
}

func getToken(ctx context.Context, q querier, id string) (ramp.Token, error) {
	row := q.QueryRowContext(ctx, "SELECT "+storecore.TokenColumns+" FROM tokens WHERE id = ? AND revoked_at IS NULL", id)
	t, err := scanToken(row.Scan)
	if errors.Is(err, sql.ErrNoRows) {
		return ramp.Token{}, storecore.TokenNotFound(id)
	}
	return t, err
}

// ListTokens returns the tokens that are not revoked, oldest first.
func (s *Store) ListTokens(ctx context.Context) ([]ramp.Token, error) {
	rows, err := s.r.QueryContext(ctx, "SELECT "+storecore.TokenColumns+" FROM tokens WHERE revoked_at IS NULL ORDER BY created_at, id")
	if err != nil {
		return nil, translate("list tokens", err)
	}
	defer rows.Close()
	tokens := []ramp.Token{}
	for rows.Next() {
		t, err := scanToken(rows.Scan)
		if err != nil {
			return nil, translate("list tokens", err)
		}
		tokens = append(tokens, t)
	}
	if err := rows.Err(); err != nil {
		return nil, translate("list tokens", err)
	}
	return tokens, nil
}

// RevokeToken revokes the token and writes its audit row. It fails with
// ENOTFOUND if there is no such token or it is already revoked.
func (s *Store) RevokeToken(ctx context.Context, c ramp.Change, id string) error {
	err := s.write(ctx, func(tx *sql.Tx, now time.Time) error {
		t, err := getToken(ctx, tx, id)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "UPDATE tokens SET revoked_at = ? WHERE id = ?", formatTime(now), id); err != nil {
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
