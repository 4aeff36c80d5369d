// Package sqlstore implements store.Store on database/sql with portable SQL.
// SQLite and PostgreSQL differ only in placeholders, a few column types and
// how a unique violation is reported; a Dialect carries exactly that, so the
// queries and the migrations are written once.
package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/s3fed/s3fed/internal/store"
)

// Dialect is what differs between SQL engines.
type Dialect struct {
	// Name is used in error messages.
	Name string
	// Numbered placeholders ($1, $2, ...) instead of "?".
	Numbered bool
	// Serial is the column type of an auto-incrementing primary key.
	Serial string
	// Blob is the binary column type.
	Blob string
	// IsUniqueViolation reports a unique/primary key constraint failure.
	IsUniqueViolation func(error) bool
	// SerializeWrites makes write transactions of this process queue on a
	// mutex. SQLite allows one writer at a time and its busy handler backs
	// off with sleeps of up to 100 ms, which turns contention into long tail
	// latency; a Go mutex hands the write lock over at once.
	SerializeWrites bool
}

// DB is a store.Store over one database/sql handle.
type DB struct {
	db  *sql.DB
	d   Dialect
	wmu sync.Mutex
}

func (s *DB) lockWrites() func() {
	if !s.d.SerializeWrites {
		return func() {}
	}
	s.wmu.Lock()
	return s.wmu.Unlock
}

// New wraps db and applies the migrations that are not yet applied.
func New(ctx context.Context, db *sql.DB, d Dialect) (*DB, error) {
	s := &DB{db: db, d: d}
	if err := s.migrate(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// migrations are applied in order; each is recorded in schema_migrations.
// Never edit a released migration: append a new one.
func (s *DB) migrations() []string {
	return []string{
		`CREATE TABLE orgs (
			id TEXT PRIMARY KEY,
			name TEXT NOT NULL,
			created BIGINT NOT NULL
		);
		CREATE TABLE tokens (
			id TEXT PRIMARY KEY,
			org_id TEXT NOT NULL,
			description TEXT NOT NULL,
			hash TEXT NOT NULL UNIQUE,
			created BIGINT NOT NULL
		);
		CREATE INDEX tokens_org ON tokens(org_id);
		CREATE TABLE configs (
			org_id TEXT NOT NULL,
			id TEXT NOT NULL,
			kind TEXT NOT NULL,
			name TEXT NOT NULL,
			body TEXT NOT NULL,
			created BIGINT NOT NULL,
			PRIMARY KEY (org_id, id)
		);
		CREATE TABLE access_keys (
			id TEXT PRIMARY KEY,
			org_id TEXT NOT NULL,
			config_id TEXT NOT NULL,
			principal_name TEXT NOT NULL,
			body TEXT NOT NULL,
			issued BIGINT NOT NULL,
			expiry BIGINT NOT NULL,
			revoked_at BIGINT NOT NULL
		);
		CREATE INDEX access_keys_org ON access_keys(org_id, principal_name);
		CREATE INDEX access_keys_expiry ON access_keys(expiry);
		CREATE TABLE replay (
			k TEXT PRIMARY KEY,
			until_ns BIGINT NOT NULL
		);
		CREATE INDEX replay_until ON replay(until_ns);
		CREATE TABLE policies (
			org_id TEXT NOT NULL,
			name TEXT NOT NULL,
			document TEXT NOT NULL,
			updated BIGINT NOT NULL,
			PRIMARY KEY (org_id, name)
		);
		CREATE TABLE buckets (
			name TEXT PRIMARY KEY,
			org_id TEXT NOT NULL,
			created_by TEXT NOT NULL,
			created BIGINT NOT NULL,
			policy TEXT NOT NULL
		);
		CREATE INDEX buckets_org ON buckets(org_id);
		CREATE TABLE events (
			id ` + s.d.Serial + `,
			time_ns BIGINT NOT NULL,
			org_id TEXT NOT NULL,
			principal_name TEXT NOT NULL,
			body TEXT NOT NULL
		);
		CREATE INDEX events_org ON events(org_id, id);`,
	}
}

func (s *DB) migrate(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied BIGINT NOT NULL)`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	var have int
	if err := s.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&have); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	ms := s.migrations()
	if have > len(ms) {
		return fmt.Errorf("database schema version %d is newer than this binary knows (%d): upgrade s3fed", have, len(ms))
	}
	for v := have + 1; v <= len(ms); v++ {
		tx, err := s.db.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("migration %d: %w", v, err)
		}
		for _, stmt := range strings.Split(ms[v-1], ";") {
			if strings.TrimSpace(stmt) == "" {
				continue
			}
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				_ = tx.Rollback()
				return fmt.Errorf("migration %d: %w", v, err)
			}
		}
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO schema_migrations (version, applied) VALUES (?, ?)`), v, time.Now().UnixNano()); err != nil {
			_ = tx.Rollback()
			return fmt.Errorf("migration %d: record: %w", v, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("migration %d: commit: %w", v, err)
		}
	}
	return nil
}

// q rewrites "?" placeholders for dialects that number them.
func (s *DB) q(query string) string {
	if !s.d.Numbered {
		return query
	}
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// querier is what both *sql.DB and *sql.Tx offer.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// reader implements store.Reader over a querier.
type reader struct {
	s  *DB
	db querier
}

// Ping checks the database answers, for /readyz.
func (s *DB) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

// Close closes the database handle.
func (s *DB) Close() error { return s.db.Close() }

func (s *DB) r() reader { return reader{s: s, db: s.db} }

// Update runs fn in one transaction.
func (s *DB) Update(ctx context.Context, fn func(store.Tx) error) error {
	defer s.lockWrites()()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(&txn{reader{s: s, db: tx}}); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

func ns(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromNS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.Unix(0, v).UTC()
}

func (s *DB) wrapInsert(what string, err error) error {
	if err == nil {
		return nil
	}
	if s.d.IsUniqueViolation(err) {
		return fmt.Errorf("%s: %w", what, store.ErrAlreadyExists)
	}
	return fmt.Errorf("%s: %w", what, err)
}

func notFound(what string, err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%s: %w", what, store.ErrNotFound)
	}
	return fmt.Errorf("%s: %w", what, err)
}

func mustAffect(what string, res sql.Result, err error) error {
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if n == 0 {
		return fmt.Errorf("%s: %w", what, store.ErrNotFound)
	}
	return nil
}

// --- orgs ---

func (r reader) GetOrg(ctx context.Context, id string) (store.Org, error) {
	var o store.Org
	var created int64
	err := r.db.QueryRowContext(ctx, r.s.q(`SELECT id, name, created FROM orgs WHERE id = ?`), id).Scan(&o.ID, &o.Name, &created)
	if err != nil {
		return o, notFound("get org", err)
	}
	o.Created = fromNS(created)
	return o, nil
}

func (r reader) ListOrgs(ctx context.Context) ([]store.Org, error) {
	rows, err := r.db.QueryContext(ctx, `SELECT id, name, created FROM orgs ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list orgs: %w", err)
	}
	defer rows.Close()
	out := []store.Org{}
	for rows.Next() {
		var o store.Org
		var created int64
		if err := rows.Scan(&o.ID, &o.Name, &created); err != nil {
			return nil, fmt.Errorf("list orgs: %w", err)
		}
		o.Created = fromNS(created)
		out = append(out, o)
	}
	return out, rows.Err()
}

// --- tokens ---

func (r reader) GetToken(ctx context.Context, id string) (store.Token, error) {
	var t store.Token
	var created int64
	err := r.db.QueryRowContext(ctx, r.s.q(`SELECT id, org_id, description, hash, created FROM tokens WHERE id = ?`), id).
		Scan(&t.ID, &t.OrgID, &t.Description, &t.Hash, &created)
	if err != nil {
		return t, notFound("get token", err)
	}
	t.Created = fromNS(created)
	return t, nil
}

func (r reader) GetTokenByHash(ctx context.Context, hash string) (store.Token, error) {
	var t store.Token
	var created int64
	err := r.db.QueryRowContext(ctx, r.s.q(`SELECT id, org_id, description, hash, created FROM tokens WHERE hash = ?`), hash).
		Scan(&t.ID, &t.OrgID, &t.Description, &t.Hash, &created)
	if err != nil {
		return t, notFound("get token", err)
	}
	t.Created = fromNS(created)
	return t, nil
}

func (r reader) ListTokens(ctx context.Context, orgID string) ([]store.Token, error) {
	rows, err := r.db.QueryContext(ctx, r.s.q(`SELECT id, org_id, description, hash, created FROM tokens WHERE org_id = ? AND id <> ? ORDER BY created, id`), orgID, store.RootTokenID)
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	defer rows.Close()
	out := []store.Token{}
	for rows.Next() {
		var t store.Token
		var created int64
		if err := rows.Scan(&t.ID, &t.OrgID, &t.Description, &t.Hash, &created); err != nil {
			return nil, fmt.Errorf("list tokens: %w", err)
		}
		t.Created = fromNS(created)
		out = append(out, t)
	}
	return out, rows.Err()
}

// --- configs (kept as JSON so new config fields need no migration) ---

func (r reader) GetConfig(ctx context.Context, orgID, id string) (store.Config, error) {
	var body string
	err := r.db.QueryRowContext(ctx, r.s.q(`SELECT body FROM configs WHERE org_id = ? AND id = ?`), orgID, id).Scan(&body)
	if err != nil {
		return store.Config{}, notFound("get config", err)
	}
	var c store.Config
	if err := json.Unmarshal([]byte(body), &c); err != nil {
		return c, fmt.Errorf("decode config %s: %w", id, err)
	}
	return c, nil
}

func (r reader) ListConfigs(ctx context.Context, orgID string) ([]store.Config, error) {
	rows, err := r.db.QueryContext(ctx, r.s.q(`SELECT body FROM configs WHERE org_id = ? ORDER BY created, id`), orgID)
	if err != nil {
		return nil, fmt.Errorf("list configs: %w", err)
	}
	defer rows.Close()
	out := []store.Config{}
	for rows.Next() {
		var body string
		if err := rows.Scan(&body); err != nil {
			return nil, fmt.Errorf("list configs: %w", err)
		}
		var c store.Config
		if err := json.Unmarshal([]byte(body), &c); err != nil {
			return nil, fmt.Errorf("decode config: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// --- access keys ---

type keyBody struct {
	store.AccessKey
	HasToken bool `json:"hasToken,omitempty"`
}

func (r reader) GetAccessKey(ctx context.Context, id string) (store.AccessKey, error) {
	var body string
	var revoked int64
	err := r.db.QueryRowContext(ctx, r.s.q(`SELECT body, revoked_at FROM access_keys WHERE id = ?`), id).Scan(&body, &revoked)
	if err != nil {
		return store.AccessKey{}, notFound("get access key", err)
	}
	return decodeKey(body, revoked)
}

func decodeKey(body string, revoked int64) (store.AccessKey, error) {
	var kb keyBody
	if err := json.Unmarshal([]byte(body), &kb); err != nil {
		return store.AccessKey{}, fmt.Errorf("decode access key: %w", err)
	}
	k := kb.AccessKey
	k.HasToken = kb.HasToken
	k.Revoked = revoked != 0
	k.RevokedAt = fromNS(revoked)
	return k, nil
}

func (r reader) ListAccessKeys(ctx context.Context, f store.AccessKeyFilter) ([]store.AccessKey, error) {
	q := `SELECT body, revoked_at FROM access_keys WHERE org_id = ?`
	args := []any{f.OrgID}
	if f.PrincipalName != "" {
		q += ` AND principal_name = ?`
		args = append(args, f.PrincipalName)
	}
	if f.ConfigID != "" {
		q += ` AND config_id = ?`
		args = append(args, f.ConfigID)
	}
	now := ns(f.Now)
	switch f.Status {
	case "":
	case "ACTIVE":
		q += ` AND revoked_at = 0 AND expiry > ?`
		args = append(args, now)
	case "EXPIRED":
		q += ` AND revoked_at = 0 AND expiry <= ?`
		args = append(args, now)
	case "REVOKED":
		q += ` AND revoked_at <> 0`
	default:
		return nil, fmt.Errorf("list access keys: unknown status %q", f.Status)
	}
	q += ` ORDER BY issued DESC, id`
	if f.Limit > 0 {
		q += ` LIMIT ` + strconv.Itoa(f.Limit)
	}
	rows, err := r.db.QueryContext(ctx, r.s.q(q), args...)
	if err != nil {
		return nil, fmt.Errorf("list access keys: %w", err)
	}
	defer rows.Close()
	out := []store.AccessKey{}
	for rows.Next() {
		var body string
		var revoked int64
		if err := rows.Scan(&body, &revoked); err != nil {
			return nil, fmt.Errorf("list access keys: %w", err)
		}
		k, err := decodeKey(body, revoked)
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

// --- policies ---

func (r reader) GetPolicy(ctx context.Context, orgID, name string) (store.Policy, error) {
	var p store.Policy
	var doc string
	var updated int64
	err := r.db.QueryRowContext(ctx, r.s.q(`SELECT org_id, name, document, updated FROM policies WHERE org_id = ? AND name = ?`), orgID, name).
		Scan(&p.OrgID, &p.Name, &doc, &updated)
	if err != nil {
		return p, notFound("get policy", err)
	}
	p.Document = []byte(doc)
	p.Updated = fromNS(updated)
	return p, nil
}

func (r reader) ListPolicies(ctx context.Context, orgID string) ([]store.Policy, error) {
	rows, err := r.db.QueryContext(ctx, r.s.q(`SELECT org_id, name, document, updated FROM policies WHERE org_id = ? ORDER BY name`), orgID)
	if err != nil {
		return nil, fmt.Errorf("list policies: %w", err)
	}
	defer rows.Close()
	out := []store.Policy{}
	for rows.Next() {
		var p store.Policy
		var doc string
		var updated int64
		if err := rows.Scan(&p.OrgID, &p.Name, &doc, &updated); err != nil {
			return nil, fmt.Errorf("list policies: %w", err)
		}
		p.Document = []byte(doc)
		p.Updated = fromNS(updated)
		out = append(out, p)
	}
	return out, rows.Err()
}

// --- buckets ---

func (r reader) GetBucket(ctx context.Context, name string) (store.Bucket, error) {
	var b store.Bucket
	var created int64
	var pol string
	err := r.db.QueryRowContext(ctx, r.s.q(`SELECT name, org_id, created_by, created, policy FROM buckets WHERE name = ?`), name).
		Scan(&b.Name, &b.OrgID, &b.CreatedBy, &created, &pol)
	if err != nil {
		return b, notFound("get bucket", err)
	}
	b.Created = fromNS(created)
	if pol != "" {
		b.Policy = []byte(pol)
	}
	return b, nil
}

func (r reader) ListBuckets(ctx context.Context, orgID string) ([]store.Bucket, error) {
	rows, err := r.db.QueryContext(ctx, r.s.q(`SELECT name, org_id, created_by, created, policy FROM buckets WHERE org_id = ? ORDER BY name`), orgID)
	if err != nil {
		return nil, fmt.Errorf("list buckets: %w", err)
	}
	defer rows.Close()
	out := []store.Bucket{}
	for rows.Next() {
		var b store.Bucket
		var created int64
		var pol string
		if err := rows.Scan(&b.Name, &b.OrgID, &b.CreatedBy, &created, &pol); err != nil {
			return nil, fmt.Errorf("list buckets: %w", err)
		}
		b.Created = fromNS(created)
		if pol != "" {
			b.Policy = []byte(pol)
		}
		out = append(out, b)
	}
	return out, rows.Err()
}

// --- events ---

func (r reader) ListEvents(ctx context.Context, f store.EventFilter) ([]store.Event, error) {
	q := `SELECT id, body FROM events WHERE org_id = ?`
	args := []any{f.OrgID}
	if !f.Since.IsZero() {
		q += ` AND time_ns >= ?`
		args = append(args, ns(f.Since))
	}
	if f.PrincipalName != "" {
		q += ` AND principal_name = ?`
		args = append(args, f.PrincipalName)
	}
	if f.Before > 0 {
		q += ` AND id < ?`
		args = append(args, f.Before)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	q += ` ORDER BY id DESC LIMIT ` + strconv.Itoa(limit)
	rows, err := r.db.QueryContext(ctx, r.s.q(q), args...)
	if err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	defer rows.Close()
	out := []store.Event{}
	for rows.Next() {
		var id int64
		var body string
		if err := rows.Scan(&id, &body); err != nil {
			return nil, fmt.Errorf("list events: %w", err)
		}
		var e store.Event
		if err := json.Unmarshal([]byte(body), &e); err != nil {
			return nil, fmt.Errorf("decode event %d: %w", id, err)
		}
		e.ID = id
		out = append(out, e)
	}
	return out, rows.Err()
}

// Store-level reads delegate to a reader on the pool.

func (s *DB) GetOrg(ctx context.Context, id string) (store.Org, error) { return s.r().GetOrg(ctx, id) }
func (s *DB) ListOrgs(ctx context.Context) ([]store.Org, error)        { return s.r().ListOrgs(ctx) }
func (s *DB) GetToken(ctx context.Context, id string) (store.Token, error) {
	return s.r().GetToken(ctx, id)
}
func (s *DB) GetTokenByHash(ctx context.Context, h string) (store.Token, error) {
	return s.r().GetTokenByHash(ctx, h)
}
func (s *DB) ListTokens(ctx context.Context, orgID string) ([]store.Token, error) {
	return s.r().ListTokens(ctx, orgID)
}
func (s *DB) GetConfig(ctx context.Context, orgID, id string) (store.Config, error) {
	return s.r().GetConfig(ctx, orgID, id)
}
func (s *DB) ListConfigs(ctx context.Context, orgID string) ([]store.Config, error) {
	return s.r().ListConfigs(ctx, orgID)
}
func (s *DB) GetAccessKey(ctx context.Context, id string) (store.AccessKey, error) {
	return s.r().GetAccessKey(ctx, id)
}
func (s *DB) ListAccessKeys(ctx context.Context, f store.AccessKeyFilter) ([]store.AccessKey, error) {
	return s.r().ListAccessKeys(ctx, f)
}
func (s *DB) GetPolicy(ctx context.Context, orgID, name string) (store.Policy, error) {
	return s.r().GetPolicy(ctx, orgID, name)
}
func (s *DB) ListPolicies(ctx context.Context, orgID string) ([]store.Policy, error) {
	return s.r().ListPolicies(ctx, orgID)
}
func (s *DB) GetBucket(ctx context.Context, name string) (store.Bucket, error) {
	return s.r().GetBucket(ctx, name)
}
func (s *DB) ListBuckets(ctx context.Context, orgID string) ([]store.Bucket, error) {
	return s.r().ListBuckets(ctx, orgID)
}
func (s *DB) ListEvents(ctx context.Context, f store.EventFilter) ([]store.Event, error) {
	return s.r().ListEvents(ctx, f)
}

// ClaimReplay inserts key; an existing unexpired claim is ErrReplayed. An
// expired row is replaced in the same transaction.
func (s *DB) ClaimReplay(ctx context.Context, key string, until, now time.Time) error {
	return s.Update(ctx, func(t store.Tx) error {
		tx := t.(*txn)
		var have int64
		err := tx.db.QueryRowContext(ctx, s.q(`SELECT until_ns FROM replay WHERE k = ?`), key).Scan(&have)
		switch {
		case err == nil:
			if have > now.UnixNano() {
				return store.ErrReplayed
			}
			_, err = tx.db.ExecContext(ctx, s.q(`UPDATE replay SET until_ns = ? WHERE k = ?`), until.UnixNano(), key)
			if err != nil {
				return fmt.Errorf("replay update: %w", err)
			}
			return nil
		case errors.Is(err, sql.ErrNoRows):
			_, err = tx.db.ExecContext(ctx, s.q(`INSERT INTO replay (k, until_ns) VALUES (?, ?)`), key, until.UnixNano())
			if err != nil {
				if s.d.IsUniqueViolation(err) {
					return store.ErrReplayed
				}
				return fmt.Errorf("replay insert: %w", err)
			}
			return nil
		default:
			return fmt.Errorf("replay read: %w", err)
		}
	})
}

// AppendEvents writes events in one transaction with one prepared statement.
func (s *DB) AppendEvents(ctx context.Context, events []store.Event) error {
	if len(events) == 0 {
		return nil
	}
	return s.Update(ctx, func(t store.Tx) error {
		tx := t.(*txn)
		stmt, err := tx.db.(*sql.Tx).PrepareContext(ctx, s.q(insertEvent))
		if err != nil {
			return fmt.Errorf("append events: %w", err)
		}
		defer stmt.Close()
		for _, e := range events {
			args, err := eventArgs(e)
			if err != nil {
				return err
			}
			if _, err := stmt.ExecContext(ctx, args...); err != nil {
				return fmt.Errorf("append event: %w", err)
			}
		}
		return nil
	})
}

const insertEvent = `INSERT INTO events (time_ns, org_id, principal_name, body) VALUES (?, ?, ?, ?)`

func eventArgs(e store.Event) ([]any, error) {
	if e.Time.IsZero() {
		e.Time = time.Now().UTC()
	}
	body, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("encode event: %w", err)
	}
	return []any{ns(e.Time), e.OrgID, e.PrincipalName, string(body)}, nil
}

// Prune removes replay entries and access keys that expired before `before`.
func (s *DB) Prune(ctx context.Context, before time.Time) (int64, error) {
	defer s.lockWrites()()
	var total int64
	for _, q := range []string{`DELETE FROM replay WHERE until_ns < ?`, `DELETE FROM access_keys WHERE expiry < ?`} {
		res, err := s.db.ExecContext(ctx, s.q(q), before.UnixNano())
		if err != nil {
			return total, fmt.Errorf("prune: %w", err)
		}
		n, _ := res.RowsAffected()
		total += n
	}
	return total, nil
}

// txn is the write side.
type txn struct{ reader }

func (t *txn) CreateOrg(ctx context.Context, o store.Org) error {
	_, err := t.db.ExecContext(ctx, t.s.q(`INSERT INTO orgs (id, name, created) VALUES (?, ?, ?)`), o.ID, o.Name, ns(o.Created))
	return t.s.wrapInsert("create org", err)
}

func (t *txn) PutToken(ctx context.Context, tk store.Token) error {
	if tk.ID == store.RootTokenID {
		if _, err := t.db.ExecContext(ctx, t.s.q(`DELETE FROM tokens WHERE id = ?`), store.RootTokenID); err != nil {
			return fmt.Errorf("replace root token: %w", err)
		}
	}
	_, err := t.db.ExecContext(ctx, t.s.q(`INSERT INTO tokens (id, org_id, description, hash, created) VALUES (?, ?, ?, ?, ?)`),
		tk.ID, tk.OrgID, tk.Description, tk.Hash, ns(tk.Created))
	return t.s.wrapInsert("create token", err)
}

func (t *txn) DeleteToken(ctx context.Context, orgID, id string) error {
	res, err := t.db.ExecContext(ctx, t.s.q(`DELETE FROM tokens WHERE org_id = ? AND id = ? AND id <> ?`), orgID, id, store.RootTokenID)
	return mustAffect("delete token", res, err)
}

func (t *txn) CreateConfig(ctx context.Context, c store.Config) error {
	body, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("encode config: %w", err)
	}
	_, err = t.db.ExecContext(ctx, t.s.q(`INSERT INTO configs (org_id, id, kind, name, body, created) VALUES (?, ?, ?, ?, ?, ?)`),
		c.OrgID, c.ID, c.Kind, c.Name, string(body), ns(c.Created))
	return t.s.wrapInsert("create config", err)
}

func (t *txn) UpdateConfig(ctx context.Context, c store.Config) error {
	body, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("encode config: %w", err)
	}
	res, err := t.db.ExecContext(ctx, t.s.q(`UPDATE configs SET name = ?, body = ? WHERE org_id = ? AND id = ?`), c.Name, string(body), c.OrgID, c.ID)
	return mustAffect("update config", res, err)
}

func (t *txn) DeleteConfig(ctx context.Context, orgID, id string) error {
	res, err := t.db.ExecContext(ctx, t.s.q(`DELETE FROM configs WHERE org_id = ? AND id = ?`), orgID, id)
	return mustAffect("delete config", res, err)
}

func (t *txn) CreateAccessKey(ctx context.Context, k store.AccessKey) error {
	body, err := json.Marshal(keyBody{AccessKey: k, HasToken: k.HasToken})
	if err != nil {
		return fmt.Errorf("encode access key: %w", err)
	}
	_, err = t.db.ExecContext(ctx, t.s.q(`INSERT INTO access_keys (id, org_id, config_id, principal_name, body, issued, expiry, revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?, 0)`),
		k.ID, k.OrgID, k.ConfigID, k.PrincipalName, string(body), ns(k.Issued), ns(k.Expiry))
	return t.s.wrapInsert("create access key", err)
}

func (t *txn) RevokeAccessKeys(ctx context.Context, f store.RevokeFilter) ([]string, error) {
	if f.OrgID == "" {
		return nil, errors.New("revoke access keys: org is required")
	}
	where := ` WHERE org_id = ? AND revoked_at = 0`
	args := []any{f.OrgID}
	if f.AccessKeyID != "" {
		where += ` AND id = ?`
		args = append(args, f.AccessKeyID)
	}
	if f.PrincipalName != "" {
		where += ` AND principal_name = ?`
		args = append(args, f.PrincipalName)
	}
	if f.ConfigID != "" {
		where += ` AND config_id = ?`
		args = append(args, f.ConfigID)
	}
	rows, err := t.db.QueryContext(ctx, t.s.q(`SELECT id FROM access_keys`+where), args...)
	if err != nil {
		return nil, fmt.Errorf("revoke access keys: %w", err)
	}
	ids := []string{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, fmt.Errorf("revoke access keys: %w", err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("revoke access keys: %w", err)
	}
	if len(ids) == 0 {
		return ids, nil
	}
	now := f.Now
	if now.IsZero() {
		now = time.Now()
	}
	if _, err := t.db.ExecContext(ctx, t.s.q(`UPDATE access_keys SET revoked_at = ?`+where), append([]any{now.UnixNano()}, args...)...); err != nil {
		return nil, fmt.Errorf("revoke access keys: %w", err)
	}
	return ids, nil
}

func (t *txn) PutPolicy(ctx context.Context, p store.Policy) error {
	res, err := t.db.ExecContext(ctx, t.s.q(`UPDATE policies SET document = ?, updated = ? WHERE org_id = ? AND name = ?`), string(p.Document), ns(p.Updated), p.OrgID, p.Name)
	if err != nil {
		return fmt.Errorf("put policy: %w", err)
	}
	if n, _ := res.RowsAffected(); n > 0 {
		return nil
	}
	_, err = t.db.ExecContext(ctx, t.s.q(`INSERT INTO policies (org_id, name, document, updated) VALUES (?, ?, ?, ?)`), p.OrgID, p.Name, string(p.Document), ns(p.Updated))
	return t.s.wrapInsert("put policy", err)
}

func (t *txn) DeletePolicy(ctx context.Context, orgID, name string) error {
	res, err := t.db.ExecContext(ctx, t.s.q(`DELETE FROM policies WHERE org_id = ? AND name = ?`), orgID, name)
	return mustAffect("delete policy", res, err)
}

func (t *txn) CreateBucket(ctx context.Context, b store.Bucket) error {
	_, err := t.db.ExecContext(ctx, t.s.q(`INSERT INTO buckets (name, org_id, created_by, created, policy) VALUES (?, ?, ?, ?, ?)`),
		b.Name, b.OrgID, b.CreatedBy, ns(b.Created), string(b.Policy))
	return t.s.wrapInsert("create bucket", err)
}

func (t *txn) DeleteBucket(ctx context.Context, name string) error {
	res, err := t.db.ExecContext(ctx, t.s.q(`DELETE FROM buckets WHERE name = ?`), name)
	return mustAffect("delete bucket", res, err)
}

func (t *txn) SetBucketPolicy(ctx context.Context, name string, policy []byte) error {
	res, err := t.db.ExecContext(ctx, t.s.q(`UPDATE buckets SET policy = ? WHERE name = ?`), string(policy), name)
	return mustAffect("set bucket policy", res, err)
}

func (t *txn) AppendEvent(ctx context.Context, e store.Event) error {
	args, err := eventArgs(e)
	if err != nil {
		return err
	}
	if _, err = t.db.ExecContext(ctx, t.s.q(insertEvent), args...); err != nil {
		return fmt.Errorf("append event: %w", err)
	}
	return nil
}
