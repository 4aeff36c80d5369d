package sqlstore

import (
	"context"
	"database/sql"
)

// NewAtVersion migrates db only up to version v, as an older binary would
// have left it, for upgrade tests.
func NewAtVersion(ctx context.Context, db *sql.DB, d Dialect, v int) error {
	s := &DB{db: db, d: d}
	return s.migrateTo(ctx, v)
}
