// Package sqlite is the embedded state backend: one SQLite file under the data
// dir, opened with the pure-Go modernc driver so the binary stays static.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/s3fed/s3fed/internal/store/sqlstore"
)

// Open opens (creating if needed) the database file at path and migrates it.
// WAL lets readers proceed during a write; write transactions take the lock
// up front (BEGIN IMMEDIATE) so two writers never deadlock on an upgrade,
// and busy_timeout makes a second writer wait instead of failing.
func Open(ctx context.Context, path string) (*sqlstore.DB, error) {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Set("_txlock", "immediate")
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	db.SetMaxOpenConns(8)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	s, err := sqlstore.New(ctx, db, Dialect)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite %s: %w", path, err)
	}
	return s, nil
}

// Dialect is SQLite's flavour of the portable SQL.
var Dialect = sqlstore.Dialect{
	Name:   "sqlite",
	Serial: "INTEGER PRIMARY KEY AUTOINCREMENT",
	Blob:   "BLOB",
	// One writer at a time: queue in Go rather than in SQLite's busy handler.
	SerializeWrites: true,
	TextToBlob:      func(col string) string { return "CAST(" + col + " AS BLOB)" },
	// AUTOINCREMENT keeps its counter past any ID inserted explicitly.
	ResetSerial: func(string, string) string { return "" },
	IsUniqueViolation: func(err error) bool {
		var se *sqlite.Error
		if errors.As(err, &se) {
			c := se.Code()
			return c == sqlite3.SQLITE_CONSTRAINT_UNIQUE || c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
		}
		return false
	},
}
