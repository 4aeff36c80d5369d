// Package postgres is the shared state backend for several s3fed replicas:
// the same portable SQL as the embedded SQLite store (store/sqlstore), on
// PostgreSQL through pgx's database/sql driver.
package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver

	"github.com/s3fed/s3fed/internal/store/sqlstore"
)

// Open connects to the database named by dsn (a postgres:// URL or a
// key=value string) and migrates it.
func Open(ctx context.Context, dsn string) (*sqlstore.DB, error) {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	db.SetMaxOpenConns(32)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connect to postgres: %w", err)
	}
	s, err := sqlstore.New(ctx, db, Dialect)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return s, nil
}

// Dialect is PostgreSQL's flavour of the portable SQL.
var Dialect = sqlstore.Dialect{
	Name:     "postgres",
	Numbered: true,
	Serial:   "BIGSERIAL PRIMARY KEY",
	Blob:     "BYTEA",
	IsUniqueViolation: func(err error) bool {
		var pe *pgconn.PgError
		return errors.As(err, &pe) && pe.Code == "23505"
	},
}
