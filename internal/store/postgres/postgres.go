// Package postgres is the shared state backend for several s3fed replicas:
// the same portable SQL as the embedded SQLite store (store/sqlstore), on
// PostgreSQL through pgx's database/sql driver.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/s3fed/s3fed/internal/store/sqlstore"
)

// DefaultMaxConns is the connection pool size when the DSN does not set
// pool_max_conns.
const DefaultMaxConns = 32

// MaxConnsParam is the DSN parameter that sizes the pool, named as pgxpool
// names it so that a DSN written for other pgx programs means the same here
// (e.g. postgres://host/db?pool_max_conns=8). Several replicas share one
// server's max_connections: size each replica's pool to fit.
const MaxConnsParam = "pool_max_conns"

// Open connects to the database named by dsn (a postgres:// URL or a
// key=value string) and migrates it.
func Open(ctx context.Context, dsn string) (*sqlstore.DB, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	maxConns := DefaultMaxConns
	if v, ok := cfg.RuntimeParams[MaxConnsParam]; ok {
		// Ours, not a server setting: the server would refuse it.
		delete(cfg.RuntimeParams, MaxConnsParam)
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return nil, fmt.Errorf("open postgres: %s must be a number from 1 to 1000 (got %q)", MaxConnsParam, v)
		}
		maxConns = n
	}
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(maxConns)
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
	Name:       "postgres",
	Numbered:   true,
	Serial:     "BIGSERIAL PRIMARY KEY",
	Blob:       "BYTEA",
	TextToBlob: func(col string) string { return "convert_to(" + col + ", 'UTF8')" },
	// Blocks other migrators of the same schema (not readers) until the
	// transaction ends.
	LockMigrations: "SELECT pg_advisory_xact_lock(7351, hashtext(current_schema()))",
	ResetSerial: func(table, col string) string {
		return "SELECT setval(pg_get_serial_sequence('" + table + "', '" + col + "'), COALESCE(MAX(" + col + "), 0) + 1, false) FROM " + table
	},
	IsUniqueViolation: func(err error) bool {
		var pe *pgconn.PgError
		return errors.As(err, &pe) && pe.Code == "23505"
	},
}
