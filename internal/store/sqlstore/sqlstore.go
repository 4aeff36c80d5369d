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
	"unicode/utf8"

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
	// TextToBlob is the SQL expression that turns a text column into its
	// UTF-8 bytes (migration 2 moves every string column to Blob).
	TextToBlob func(col string) string
	// LockMigrations is a statement that, run first in a migration's
	// transaction, keeps other processes from migrating until it ends; ""
	// when a write transaction already excludes them (SQLite's BEGIN
	// IMMEDIATE).
	LockMigrations string
	// ResetSerial is a statement that sets table's Serial column counter
	// past its largest value after rows were copied in with their IDs, or
	// "" when the engine does that itself.
	ResetSerial func(table, col string) string
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
		s.bytesMigration(),
		publicAccessBlockMigration,
	}
}

// publicAccessBlockMigration adds each bucket's Block Public Access
// configuration as a bit set (pabBits): existing buckets get all four
// settings on, as every new bucket does.
const publicAccessBlockMigration = `ALTER TABLE buckets ADD COLUMN public_access_block BIGINT NOT NULL DEFAULT 31`

// bytesMigration (migration 2) moves every string column to the Blob type
// and the zero time from 0 to noTime: PostgreSQL text cannot hold NUL and
// sorts by collation, and 0 is the instant 1970-01-01 (see values.go).
// Replay claims are dropped: their keys change form (a SHA-256 of a key
// scoped by org and config kind) and an old claim can never match a new
// key; a claim lasts as long as its assertion, minutes.
func (s *DB) bytesMigration() string {
	B := s.d.Blob
	x := s.d.TextToBlob
	t := func(col string) string {
		return "CASE WHEN " + col + " = 0 THEN (-9223372036854775807 - 1) ELSE " + col + " END"
	}
	rebuild := func(table, create, cols string, conv ...string) string {
		return `CREATE TABLE ` + table + `_v2 (` + create + `);
		INSERT INTO ` + table + `_v2 (` + cols + `) SELECT ` + strings.Join(conv, ", ") + ` FROM ` + table + `;
		DROP TABLE ` + table + `;
		ALTER TABLE ` + table + `_v2 RENAME TO ` + table + `;
		`
	}
	m := rebuild("orgs", `id `+B+` PRIMARY KEY, name `+B+` NOT NULL, created BIGINT NOT NULL`,
		"id, name, created", x("id"), x("name"), t("created")) +
		rebuild("tokens", `id `+B+` PRIMARY KEY, org_id `+B+` NOT NULL, description `+B+` NOT NULL, hash `+B+` NOT NULL UNIQUE, created BIGINT NOT NULL`,
			"id, org_id, description, hash, created", x("id"), x("org_id"), x("description"), x("hash"), t("created")) +
		`CREATE INDEX tokens_org ON tokens(org_id);
		` +
		rebuild("configs", `org_id `+B+` NOT NULL, id `+B+` NOT NULL, kind `+B+` NOT NULL, name `+B+` NOT NULL, body TEXT NOT NULL, created BIGINT NOT NULL, PRIMARY KEY (org_id, id)`,
			"org_id, id, kind, name, body, created", x("org_id"), x("id"), x("kind"), x("name"), "body", t("created")) +
		rebuild("access_keys", `id `+B+` PRIMARY KEY, org_id `+B+` NOT NULL, config_id `+B+` NOT NULL, principal_name `+B+` NOT NULL, body TEXT NOT NULL, issued BIGINT NOT NULL, expiry BIGINT NOT NULL, revoked_at BIGINT NOT NULL`,
			"id, org_id, config_id, principal_name, body, issued, expiry, revoked_at",
			x("id"), x("org_id"), x("config_id"), x("principal_name"), "body", t("issued"), t("expiry"), t("revoked_at")) +
		`CREATE INDEX access_keys_org ON access_keys(org_id, principal_name);
		CREATE INDEX access_keys_expiry ON access_keys(expiry);
		DROP TABLE replay;
		CREATE TABLE replay (k ` + B + ` PRIMARY KEY, until_ns BIGINT NOT NULL);
		CREATE INDEX replay_until ON replay(until_ns);
		` +
		rebuild("policies", `org_id `+B+` NOT NULL, name `+B+` NOT NULL, document `+B+` NOT NULL, updated BIGINT NOT NULL, PRIMARY KEY (org_id, name)`,
			"org_id, name, document, updated", x("org_id"), x("name"), x("document"), t("updated")) +
		rebuild("buckets", `name `+B+` PRIMARY KEY, org_id `+B+` NOT NULL, created_by `+B+` NOT NULL, created BIGINT NOT NULL, policy `+B+` NOT NULL`,
			"name, org_id, created_by, created, policy", x("name"), x("org_id"), x("created_by"), t("created"), x("policy")) +
		`CREATE INDEX buckets_org ON buckets(org_id);
		` +
		rebuild("events", `id `+s.d.Serial+`, time_ns BIGINT NOT NULL, org_id `+B+` NOT NULL, principal_name `+B+` NOT NULL, body TEXT NOT NULL`,
			"id, time_ns, org_id, principal_name, body", "id", t("time_ns"), x("org_id"), x("principal_name"), "body") +
		`CREATE INDEX events_org ON events(org_id, id)`
	if r := s.d.ResetSerial("events", "id"); r != "" {
		m += ";\n\t\t" + r
	}
	return m
}

func (s *DB) migrate(ctx context.Context) error { return s.migrateTo(ctx, len(s.migrations())) }

// migrateTo applies the migrations up to version target, one transaction
// each. Each transaction first takes the dialect's migration lock and
// re-reads the version, so replicas starting together on one database
// apply every migration exactly once.
func (s *DB) migrateTo(ctx context.Context, target int) error {
	if err := s.createMigrationsTable(ctx); err != nil {
		return err
	}
	ms := s.migrations()
	for {
		done, err := s.migrateOne(ctx, ms, target)
		if err != nil || done {
			return err
		}
	}
}

// createMigrationsTable creates the version table under the migration
// lock: CREATE TABLE IF NOT EXISTS is not safe against a concurrent one on
// PostgreSQL.
func (s *DB) createMigrationsTable(ctx context.Context) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	defer tx.Rollback()
	if s.d.LockMigrations != "" {
		if _, err := tx.ExecContext(ctx, s.d.LockMigrations); err != nil {
			return fmt.Errorf("migrate: lock: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied BIGINT NOT NULL)`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	return nil
}

// migrateOne applies the next migration below target, or reports done.
func (s *DB) migrateOne(ctx context.Context, ms []string, target int) (done bool, err error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("migrate: %w", err)
	}
	defer func() {
		if err != nil || done {
			_ = tx.Rollback()
		}
	}()
	if s.d.LockMigrations != "" {
		if _, err := tx.ExecContext(ctx, s.d.LockMigrations); err != nil {
			return false, fmt.Errorf("migrate: lock: %w", err)
		}
	}
	var have int
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&have); err != nil {
		return false, fmt.Errorf("read schema version: %w", err)
	}
	if have > len(ms) {
		return false, fmt.Errorf("database schema version %d is newer than this binary knows (%d): upgrade s3fed", have, len(ms))
	}
	if have >= target {
		return true, nil
	}
	v := have + 1
	for _, stmt := range strings.Split(ms[v-1], ";") {
		if strings.TrimSpace(stmt) == "" {
			continue
		}
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return false, fmt.Errorf("migration %d: %w", v, err)
		}
	}
	if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO schema_migrations (version, applied) VALUES (?, ?)`), v, time.Now().UnixNano()); err != nil {
		return false, fmt.Errorf("migration %d: record: %w", v, err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("migration %d: commit: %w", v, err)
	}
	return false, nil
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

// Stats reports the connection pool's state, for tests and metrics.
func (s *DB) Stats() sql.DBStats { return s.db.Stats() }

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
	var oid, name []byte
	var created int64
	err := r.db.QueryRowContext(ctx, r.s.q(`SELECT id, name, created FROM orgs WHERE id = ?`), bs(id)).Scan(&oid, &name, &created)
	if err != nil {
		return o, notFound("get org", err)
	}
	return store.Org{ID: string(oid), Name: string(name), Created: fromTM(created)}, nil
}

func (r reader) ListOrgs(ctx context.Context) ([]store.Org, error) {
	rows, err := r.db.QueryContext(ctx, `SELECT id, name, created FROM orgs ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list orgs: %w", err)
	}
	defer rows.Close()
	out := []store.Org{}
	for rows.Next() {
		var oid, name []byte
		var created int64
		if err := rows.Scan(&oid, &name, &created); err != nil {
			return nil, fmt.Errorf("list orgs: %w", err)
		}
		out = append(out, store.Org{ID: string(oid), Name: string(name), Created: fromTM(created)})
	}
	return out, rows.Err()
}

// --- tokens ---

const tokenCols = `id, org_id, description, hash, created`

// scanner is a *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

func scanToken(sc scanner) (store.Token, error) {
	var id, org, desc, hash []byte
	var created int64
	if err := sc.Scan(&id, &org, &desc, &hash, &created); err != nil {
		return store.Token{}, err
	}
	return store.Token{ID: string(id), OrgID: string(org), Description: string(desc), Hash: string(hash), Created: fromTM(created)}, nil
}

func (r reader) GetToken(ctx context.Context, id string) (store.Token, error) {
	t, err := scanToken(r.db.QueryRowContext(ctx, r.s.q(`SELECT `+tokenCols+` FROM tokens WHERE id = ?`), bs(id)))
	if err != nil {
		return t, notFound("get token", err)
	}
	return t, nil
}

func (r reader) GetTokenByHash(ctx context.Context, hash string) (store.Token, error) {
	t, err := scanToken(r.db.QueryRowContext(ctx, r.s.q(`SELECT `+tokenCols+` FROM tokens WHERE hash = ?`), bs(hash)))
	if err != nil {
		return t, notFound("get token", err)
	}
	return t, nil
}

func (r reader) ListTokens(ctx context.Context, orgID string) ([]store.Token, error) {
	rows, err := r.db.QueryContext(ctx, r.s.q(`SELECT `+tokenCols+` FROM tokens WHERE org_id = ? AND id <> ? ORDER BY created, id`), bs(orgID), bs(store.RootTokenID))
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	defer rows.Close()
	out := []store.Token{}
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, fmt.Errorf("list tokens: %w", err)
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// --- configs (kept as JSON so new config fields need no migration) ---

func (r reader) GetConfig(ctx context.Context, orgID, id string) (store.Config, error) {
	var body string
	err := r.db.QueryRowContext(ctx, r.s.q(`SELECT body FROM configs WHERE org_id = ? AND id = ?`), bs(orgID), bs(id)).Scan(&body)
	if err != nil {
		return store.Config{}, notFound("get config", err)
	}
	return decodeConfig(body)
}

func decodeConfig(body string) (store.Config, error) {
	var c store.Config
	if err := json.Unmarshal([]byte(body), &c); err != nil {
		return c, fmt.Errorf("decode config: %w", err)
	}
	c.Created, c.Updated = utc(c.Created), utc(c.Updated)
	return c, nil
}

func (r reader) ListConfigs(ctx context.Context, orgID string) ([]store.Config, error) {
	rows, err := r.db.QueryContext(ctx, r.s.q(`SELECT body FROM configs WHERE org_id = ? ORDER BY created, id`), bs(orgID))
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
		c, err := decodeConfig(body)
		if err != nil {
			return nil, err
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
	err := r.db.QueryRowContext(ctx, r.s.q(`SELECT body, revoked_at FROM access_keys WHERE id = ?`), bs(id)).Scan(&body, &revoked)
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
	k.Issued, k.Expiry = utc(k.Issued), utc(k.Expiry)
	k.RevokedAt = fromTM(revoked)
	k.Revoked = revoked != noTime
	return k, nil
}

func (r reader) ListAccessKeys(ctx context.Context, f store.AccessKeyFilter) ([]store.AccessKey, error) {
	if err := checkTime("list access keys: now", f.Now); err != nil {
		return nil, err
	}
	q := `SELECT body, revoked_at FROM access_keys WHERE org_id = ?`
	args := []any{bs(f.OrgID)}
	if f.PrincipalName != "" {
		q += ` AND principal_name = ?`
		args = append(args, bs(f.PrincipalName))
	}
	if f.ConfigID != "" {
		q += ` AND config_id = ?`
		args = append(args, bs(f.ConfigID))
	}
	now := tm(f.Now)
	switch f.Status {
	case "":
	case "ACTIVE":
		q += ` AND revoked_at = ? AND expiry > ?`
		args = append(args, noTime, now)
	case "EXPIRED":
		q += ` AND revoked_at = ? AND expiry <= ?`
		args = append(args, noTime, now)
	case "REVOKED":
		q += ` AND revoked_at <> ?`
		args = append(args, noTime)
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

func scanPolicy(sc scanner) (store.Policy, error) {
	var org, name, document []byte
	var updated int64
	if err := sc.Scan(&org, &name, &document, &updated); err != nil {
		return store.Policy{}, err
	}
	return store.Policy{OrgID: string(org), Name: string(name), Document: document, Updated: fromTM(updated)}, nil
}

func (r reader) GetPolicy(ctx context.Context, orgID, name string) (store.Policy, error) {
	p, err := scanPolicy(r.db.QueryRowContext(ctx, r.s.q(`SELECT org_id, name, document, updated FROM policies WHERE org_id = ? AND name = ?`), bs(orgID), bs(name)))
	if err != nil {
		return p, notFound("get policy", err)
	}
	return p, nil
}

func (r reader) ListPolicies(ctx context.Context, orgID string) ([]store.Policy, error) {
	rows, err := r.db.QueryContext(ctx, r.s.q(`SELECT org_id, name, document, updated FROM policies WHERE org_id = ? ORDER BY name`), bs(orgID))
	if err != nil {
		return nil, fmt.Errorf("list policies: %w", err)
	}
	defer rows.Close()
	out := []store.Policy{}
	for rows.Next() {
		p, err := scanPolicy(rows)
		if err != nil {
			return nil, fmt.Errorf("list policies: %w", err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// --- buckets ---

// bucketColumns are the columns scanBucket reads, in order.
const bucketColumns = `name, org_id, created_by, created, policy, public_access_block`

func scanBucket(sc scanner) (store.Bucket, error) {
	var name, org, by, pol []byte
	var created, pab int64
	if err := sc.Scan(&name, &org, &by, &created, &pol, &pab); err != nil {
		return store.Bucket{}, err
	}
	b := store.Bucket{Name: string(name), OrgID: string(org), CreatedBy: string(by), Created: fromTM(created),
		PublicAccessBlock: pabFromBits(pab)}
	if len(pol) > 0 {
		b.Policy = pol
	}
	return b, nil
}

// A bucket's Block Public Access configuration is stored as bits: one per
// setting, and pabConfigured when there is a configuration at all (0 is
// none).
const (
	pabBlockPublicAcls = 1 << iota
	pabIgnorePublicAcls
	pabBlockPublicPolicy
	pabRestrictPublicBuckets
	pabConfigured
)

func pabBits(p *store.PublicAccessBlock) int64 {
	if p == nil {
		return 0
	}
	b := int64(pabConfigured)
	for _, s := range []struct {
		on  bool
		bit int64
	}{{p.BlockPublicAcls, pabBlockPublicAcls}, {p.IgnorePublicAcls, pabIgnorePublicAcls},
		{p.BlockPublicPolicy, pabBlockPublicPolicy}, {p.RestrictPublicBuckets, pabRestrictPublicBuckets}} {
		if s.on {
			b |= s.bit
		}
	}
	return b
}

func pabFromBits(b int64) *store.PublicAccessBlock {
	if b&pabConfigured == 0 {
		return nil
	}
	return &store.PublicAccessBlock{
		BlockPublicAcls: b&pabBlockPublicAcls != 0, IgnorePublicAcls: b&pabIgnorePublicAcls != 0,
		BlockPublicPolicy: b&pabBlockPublicPolicy != 0, RestrictPublicBuckets: b&pabRestrictPublicBuckets != 0,
	}
}

func (r reader) GetBucket(ctx context.Context, name string) (store.Bucket, error) {
	b, err := scanBucket(r.db.QueryRowContext(ctx, r.s.q(`SELECT `+bucketColumns+` FROM buckets WHERE name = ?`), bs(name)))
	if err != nil {
		return b, notFound("get bucket", err)
	}
	return b, nil
}

func (r reader) ListBuckets(ctx context.Context, orgID string) ([]store.Bucket, error) {
	rows, err := r.db.QueryContext(ctx, r.s.q(`SELECT `+bucketColumns+` FROM buckets WHERE org_id = ? ORDER BY name`), bs(orgID))
	if err != nil {
		return nil, fmt.Errorf("list buckets: %w", err)
	}
	defer rows.Close()
	out := []store.Bucket{}
	for rows.Next() {
		b, err := scanBucket(rows)
		if err != nil {
			return nil, fmt.Errorf("list buckets: %w", err)
		}
		out = append(out, b)
	}
	return out, rows.Err()
}

// --- events ---

func (r reader) ListEvents(ctx context.Context, f store.EventFilter) ([]store.Event, error) {
	if err := checkTime("list events: since", f.Since); err != nil {
		return nil, err
	}
	q := `SELECT id, body FROM events WHERE org_id = ?`
	args := []any{bs(f.OrgID)}
	if !f.Since.IsZero() {
		q += ` AND time_ns >= ?`
		args = append(args, tm(f.Since))
	}
	if f.PrincipalName != "" {
		q += ` AND principal_name = ?`
		args = append(args, bs(f.PrincipalName))
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
		e.Time = utc(e.Time)
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

// ClaimReplay claims key in one statement: insert it, or take over a row
// whose claim has expired. Nothing changed means an unexpired claim holds
// it. Being one statement, concurrent claims serialise on the row and
// exactly one wins, on every engine.
func (s *DB) ClaimReplay(ctx context.Context, key string, until, now time.Time) error {
	if err := checkTime("replay claim: until", until); err != nil {
		return err
	}
	if err := checkTime("replay claim: now", now); err != nil {
		return err
	}
	defer s.lockWrites()()
	res, err := s.db.ExecContext(ctx, s.q(`INSERT INTO replay (k, until_ns) VALUES (?, ?)
		ON CONFLICT (k) DO UPDATE SET until_ns = excluded.until_ns WHERE replay.until_ns <= ?`),
		replayKey(key), tm(until), tm(now))
	if err != nil {
		if s.d.IsUniqueViolation(err) {
			return store.ErrReplayed
		}
		return fmt.Errorf("replay claim: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("replay claim: %w", err)
	}
	if n == 0 {
		return store.ErrReplayed
	}
	return nil
}

// AppendEvents writes events in one transaction with one prepared statement.
func (s *DB) AppendEvents(ctx context.Context, events []store.Event) error {
	if len(events) == 0 {
		return nil
	}
	args := make([][]any, len(events))
	for i, e := range events {
		a, err := eventArgs(e)
		if err != nil {
			return err
		}
		args[i] = a
	}
	return s.Update(ctx, func(t store.Tx) error {
		tx := t.(*txn)
		stmt, err := tx.db.(*sql.Tx).PrepareContext(ctx, s.q(insertEvent))
		if err != nil {
			return fmt.Errorf("append events: %w", err)
		}
		defer stmt.Close()
		for _, a := range args {
			if _, err := stmt.ExecContext(ctx, a...); err != nil {
				return fmt.Errorf("append event: %w", err)
			}
		}
		return nil
	})
}

const insertEvent = `INSERT INTO events (time_ns, org_id, principal_name, body) VALUES (?, ?, ?, ?)`

// eventArgs encodes an event. The audit log never refuses text: the filter
// columns are cleaned the way encoding/json cleans the body.
func eventArgs(e store.Event) ([]any, error) {
	if err := checkTime("event time", e.Time); err != nil {
		return nil, err
	}
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	e.Time = e.Time.UTC()
	e.OrgID, e.PrincipalName = cleanText(e.OrgID), cleanText(e.PrincipalName)
	body, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("encode event: %w", err)
	}
	return []any{tm(e.Time), bs(e.OrgID), bs(e.PrincipalName), string(body)}, nil
}

// Prune removes replay entries and access keys that expired before `before`.
func (s *DB) Prune(ctx context.Context, before time.Time) (int64, error) {
	if err := checkTime("prune: before", before); err != nil {
		return 0, err
	}
	defer s.lockWrites()()
	var total int64
	for _, q := range []string{`DELETE FROM replay WHERE until_ns < ?`, `DELETE FROM access_keys WHERE expiry < ?`} {
		res, err := s.db.ExecContext(ctx, s.q(q), tm(before))
		if err != nil {
			return total, fmt.Errorf("prune: %w", err)
		}
		n, _ := res.RowsAffected()
		total += n
	}
	return total, nil
}

// txn is the write side. Every write checks its record (check, in
// values.go) before it touches the database, so a refused write leaves the
// transaction usable and nothing written.
type txn struct{ reader }

func (t *txn) CreateOrg(ctx context.Context, o store.Org) error {
	if err := check("create org: org", o); err != nil {
		return err
	}
	_, err := t.db.ExecContext(ctx, t.s.q(`INSERT INTO orgs (id, name, created) VALUES (?, ?, ?)`), bs(o.ID), bs(o.Name), tm(o.Created))
	return t.s.wrapInsert("create org", err)
}

func (t *txn) PutToken(ctx context.Context, tk store.Token) error {
	if err := check("put token: token", tk); err != nil {
		return err
	}
	if tk.ID == store.RootTokenID {
		if _, err := t.db.ExecContext(ctx, t.s.q(`DELETE FROM tokens WHERE id = ?`), bs(store.RootTokenID)); err != nil {
			return fmt.Errorf("replace root token: %w", err)
		}
	}
	_, err := t.db.ExecContext(ctx, t.s.q(`INSERT INTO tokens (id, org_id, description, hash, created) VALUES (?, ?, ?, ?, ?)`),
		bs(tk.ID), bs(tk.OrgID), bs(tk.Description), bs(tk.Hash), tm(tk.Created))
	return t.s.wrapInsert("create token", err)
}

func (t *txn) DeleteToken(ctx context.Context, orgID, id string) error {
	res, err := t.db.ExecContext(ctx, t.s.q(`DELETE FROM tokens WHERE org_id = ? AND id = ? AND id <> ?`), bs(orgID), bs(id), bs(store.RootTokenID))
	return mustAffect("delete token", res, err)
}

func encodeConfig(what string, c store.Config) (string, error) {
	if err := check(what+": config", c); err != nil {
		return "", err
	}
	c.Created, c.Updated = utc(c.Created), utc(c.Updated)
	body, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("%s: encode config: %w", what, err)
	}
	return string(body), nil
}

func (t *txn) CreateConfig(ctx context.Context, c store.Config) error {
	body, err := encodeConfig("create config", c)
	if err != nil {
		return err
	}
	_, err = t.db.ExecContext(ctx, t.s.q(`INSERT INTO configs (org_id, id, kind, name, body, created) VALUES (?, ?, ?, ?, ?, ?)`),
		bs(c.OrgID), bs(c.ID), bs(c.Kind), bs(c.Name), body, tm(c.Created))
	return t.s.wrapInsert("create config", err)
}

func (t *txn) UpdateConfig(ctx context.Context, c store.Config) error {
	body, err := encodeConfig("update config", c)
	if err != nil {
		return err
	}
	res, err := t.db.ExecContext(ctx, t.s.q(`UPDATE configs SET name = ?, body = ? WHERE org_id = ? AND id = ?`), bs(c.Name), body, bs(c.OrgID), bs(c.ID))
	return mustAffect("update config", res, err)
}

func (t *txn) DeleteConfig(ctx context.Context, orgID, id string) error {
	res, err := t.db.ExecContext(ctx, t.s.q(`DELETE FROM configs WHERE org_id = ? AND id = ?`), bs(orgID), bs(id))
	return mustAffect("delete config", res, err)
}

func (t *txn) CreateAccessKey(ctx context.Context, k store.AccessKey) error {
	k.Revoked, k.RevokedAt = false, time.Time{}
	if err := check("create access key: key", k); err != nil {
		return err
	}
	k.Issued, k.Expiry = utc(k.Issued), utc(k.Expiry)
	body, err := json.Marshal(keyBody{AccessKey: k, HasToken: k.HasToken})
	if err != nil {
		return fmt.Errorf("encode access key: %w", err)
	}
	_, err = t.db.ExecContext(ctx, t.s.q(`INSERT INTO access_keys (id, org_id, config_id, principal_name, body, issued, expiry, revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
		bs(k.ID), bs(k.OrgID), bs(k.ConfigID), bs(k.PrincipalName), string(body), tm(k.Issued), tm(k.Expiry), noTime)
	return t.s.wrapInsert("create access key", err)
}

// RevokeAccessKeys marks and reports the keys in one statement, so the IDs
// returned are exactly the rows changed even while keys are being minted.
func (t *txn) RevokeAccessKeys(ctx context.Context, f store.RevokeFilter) ([]string, error) {
	if f.OrgID == "" {
		return nil, errors.New("revoke access keys: org is required")
	}
	if err := checkTime("revoke access keys: now", f.Now); err != nil {
		return nil, err
	}
	now := f.Now
	if now.IsZero() {
		now = time.Now()
	}
	q := `UPDATE access_keys SET revoked_at = ? WHERE org_id = ? AND revoked_at = ?`
	args := []any{tm(now), bs(f.OrgID), noTime}
	if f.AccessKeyID != "" {
		q += ` AND id = ?`
		args = append(args, bs(f.AccessKeyID))
	}
	if f.PrincipalName != "" {
		q += ` AND principal_name = ?`
		args = append(args, bs(f.PrincipalName))
	}
	if f.ConfigID != "" {
		q += ` AND config_id = ?`
		args = append(args, bs(f.ConfigID))
	}
	rows, err := t.db.QueryContext(ctx, t.s.q(q+` RETURNING id`), args...)
	if err != nil {
		return nil, fmt.Errorf("revoke access keys: %w", err)
	}
	defer rows.Close()
	ids := []string{}
	for rows.Next() {
		var id []byte
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("revoke access keys: %w", err)
		}
		ids = append(ids, string(id))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("revoke access keys: %w", err)
	}
	return ids, nil
}

// PutPolicy creates or replaces in one statement, so concurrent puts of a
// new name never collide.
func (t *txn) PutPolicy(ctx context.Context, p store.Policy) error {
	if err := check("put policy: policy", p); err != nil {
		return err
	}
	_, err := t.db.ExecContext(ctx, t.s.q(`INSERT INTO policies (org_id, name, document, updated) VALUES (?, ?, ?, ?)
		ON CONFLICT (org_id, name) DO UPDATE SET document = excluded.document, updated = excluded.updated`),
		bs(p.OrgID), bs(p.Name), doc(p.Document), tm(p.Updated))
	if err != nil {
		return fmt.Errorf("put policy: %w", err)
	}
	return nil
}

func (t *txn) DeletePolicy(ctx context.Context, orgID, name string) error {
	res, err := t.db.ExecContext(ctx, t.s.q(`DELETE FROM policies WHERE org_id = ? AND name = ?`), bs(orgID), bs(name))
	return mustAffect("delete policy", res, err)
}

func (t *txn) CreateBucket(ctx context.Context, b store.Bucket) error {
	if err := check("create bucket: bucket", b); err != nil {
		return err
	}
	_, err := t.db.ExecContext(ctx, t.s.q(`INSERT INTO buckets (name, org_id, created_by, created, policy, public_access_block) VALUES (?, ?, ?, ?, ?, ?)`),
		bs(b.Name), bs(b.OrgID), bs(b.CreatedBy), tm(b.Created), doc(b.Policy), pabBits(b.PublicAccessBlock))
	return t.s.wrapInsert("create bucket", err)
}

func (t *txn) DeleteBucket(ctx context.Context, name string) error {
	res, err := t.db.ExecContext(ctx, t.s.q(`DELETE FROM buckets WHERE name = ?`), bs(name))
	return mustAffect("delete bucket", res, err)
}

func (t *txn) SetBucketPolicy(ctx context.Context, name string, policy []byte) error {
	if !utf8.Valid(policy) {
		return invalidText("set bucket policy: policy", string(policy))
	}
	res, err := t.db.ExecContext(ctx, t.s.q(`UPDATE buckets SET policy = ? WHERE name = ?`), doc(policy), bs(name))
	return mustAffect("set bucket policy", res, err)
}

func (t *txn) SetBucketPublicAccessBlock(ctx context.Context, name string, pab *store.PublicAccessBlock) error {
	res, err := t.db.ExecContext(ctx, t.s.q(`UPDATE buckets SET public_access_block = ? WHERE name = ?`), pabBits(pab), bs(name))
	return mustAffect("set bucket public access block", res, err)
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
