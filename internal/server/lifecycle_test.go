package server_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/s3fed/s3fed/internal/server"
	"github.com/s3fed/s3fed/internal/store"
)

// TestBusyPortCreatesNothing: a start that cannot bind a listener fails
// before it creates the data dir, the state or the master key, and before it
// prints a root token; the next start, on free ports, shows the token.
func TestBusyPortCreatesNothing(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	dir := filepath.Join(t.TempDir(), "data")
	for _, which := range []string{"API", "S3"} {
		cfg, out, _ := testConfig(t, dir)
		if which == "API" {
			cfg.APIAddr = ln.Addr().String()
		} else {
			cfg.S3Addr = ln.Addr().String()
		}
		if _, err := server.New(t.Context(), cfg); err == nil || !strings.Contains(err.Error(), which+" listener") {
			t.Fatalf("%s port in use: %v", which, err)
		}
		if strings.Contains(out.String(), "Root admin token") || out.rootToken() != "" {
			t.Errorf("%s port in use: a root token was printed by a start that failed:\n%s", which, out)
		}
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s port in use: the data dir was created (%v)", which, err)
		}
	}
	// The retry on free ports is the first start: it shows the token.
	cfg, out, _ := testConfig(t, dir)
	r := start(t, cfg)
	tok := out.rootToken()
	if tok == "" {
		t.Fatalf("the first successful start printed no root token:\n%s", out)
	}
	if st, _, _ := get(t, client, "http://"+r.srv.APIAddr()+"/v1/admin/orgs", tok); st != 200 {
		t.Errorf("printed root token: %d", st)
	}
}

// TestMissingMasterKeyWithState: once the state holds anything, a missing or
// unreadable master key stops the start with a message naming the file to
// restore; it is never silently replaced by a new key.
func TestMissingMasterKeyWithState(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	keyFile := filepath.Join(dir, "master.key")
	cfg, _, _ := testConfig(t, dir)
	start(t, cfg).stop()
	orig, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}

	if err := os.Remove(keyFile); err != nil {
		t.Fatal(err)
	}
	cfg2, out2, _ := testConfig(t, dir)
	_, err = server.New(t.Context(), cfg2)
	if err == nil {
		t.Fatal("started without its master key although the state holds a root token")
	}
	for _, want := range []string{keyFile, "restore", "backup"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("refusal %q does not mention %q", err, want)
		}
	}
	if _, err := os.Stat(keyFile); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refused start created a master key file (%v)", err)
	}
	if strings.Contains(out2.String(), "Root admin token") {
		t.Errorf("a refused start printed a root token:\n%s", out2)
	}

	// Unreadable (here: a directory where the file should be) is a refusal too.
	if err := os.Mkdir(keyFile, 0o700); err != nil {
		t.Fatal(err)
	}
	cfg3, _, _ := testConfig(t, dir)
	if _, err := server.New(t.Context(), cfg3); err == nil || !strings.Contains(err.Error(), keyFile) || !strings.Contains(err.Error(), "restore") {
		t.Errorf("unreadable master key: %v", err)
	}
	if err := os.Remove(keyFile); err != nil {
		t.Fatal(err)
	}

	// Restoring the file is enough.
	if err := os.WriteFile(keyFile, orig, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg4, _, _ := testConfig(t, dir)
	start(t, cfg4).stop()
}

// TestMasterKeyFileFlag: --master-key-file puts the key where it says (not in
// the data dir) and later starts read it from there; a key file elsewhere
// is the one that counts for the missing-key refusal too.
func TestMasterKeyFileFlag(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	keyFile := filepath.Join(t.TempDir(), "shared.key")
	cfg, _, _ := testConfig(t, dir)
	cfg.MasterKeyFile = keyFile
	r := start(t, cfg)
	r.stop()
	fi, err := os.Stat(keyFile)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("--master-key-file not created with mode 0600: %v %v", fi, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "master.key")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a master.key was created in the data dir although --master-key-file was given (%v)", err)
	}
	before, _ := os.ReadFile(keyFile)
	cfg2, _, _ := testConfig(t, dir)
	cfg2.MasterKeyFile = keyFile
	start(t, cfg2).stop()
	if after, _ := os.ReadFile(keyFile); string(after) != string(before) {
		t.Error("a restart rewrote the master key file")
	}
	// Without the flag the default file is missing, and the state exists.
	cfg3, _, _ := testConfig(t, dir)
	if _, err := server.New(t.Context(), cfg3); err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "master.key")) {
		t.Errorf("default key file missing with existing state: %v", err)
	}
}

// TestMissingMasterKeyPostgres: a second machine pointed at a PostgreSQL
// database that already holds state, with an empty data dir, refuses to
// start rather than minting keys under a key of its own; with the first
// machine's key file it starts.
func TestMissingMasterKeyPostgres(t *testing.T) {
	dsn := pgSchema(t)
	cfg, _, _ := testConfig(t, filepath.Join(t.TempDir(), "a"))
	cfg.DatabaseURL = dsn
	start(t, cfg).stop()
	keyA := filepath.Join(cfg.DataDir, "master.key")

	cfgB, outB, _ := testConfig(t, filepath.Join(t.TempDir(), "b"))
	cfgB.DatabaseURL = dsn
	_, err := server.New(t.Context(), cfgB)
	if err == nil || !strings.Contains(err.Error(), "restore") || !strings.Contains(err.Error(), "--master-key-file") {
		t.Fatalf("second machine without the master key: %v", err)
	}
	if _, err := os.Stat(filepath.Join(cfgB.DataDir, "master.key")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refused start created a master key (%v)", err)
	}
	if strings.Contains(outB.String(), "Root admin token") {
		t.Errorf("printed a root token:\n%s", outB)
	}
	cfgB.MasterKeyFile = keyA
	start(t, cfgB).stop()
}

// TestMasterKeyCreatedOnlyOnEmptyState: a first start on an empty state
// creates the key even when the data dir already exists (an operator made
// it, or a start failed before creating anything).
func TestMasterKeyCreatedOnlyOnEmptyState(t *testing.T) {
	dir := t.TempDir()
	st, err := server.OpenState(t.Context(), dir, "")
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	cfg, out, _ := testConfig(t, dir)
	start(t, cfg).stop()
	if out.rootToken() == "" {
		t.Errorf("no root token on a first start over an empty state:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(dir, "master.key")); err != nil {
		t.Error(err)
	}
	// An org without a root token row is state too.
	dir2 := t.TempDir()
	st2, err := server.OpenState(t.Context(), dir2, "")
	if err != nil {
		t.Fatal(err)
	}
	err = st2.Update(t.Context(), func(tx store.Tx) error { return tx.CreateOrg(t.Context(), store.Org{ID: "acme", Name: "acme"}) })
	st2.Close()
	if err != nil {
		t.Fatal(err)
	}
	cfg2, _, _ := testConfig(t, dir2)
	if _, err := server.New(t.Context(), cfg2); err == nil || !strings.Contains(err.Error(), "master key") {
		t.Errorf("missing key with an org in the state: %v", err)
	}
}

// pgSchema returns a DSN for a fresh, empty schema on the test PostgreSQL
// (S3FED_TEST_POSTGRES, default the machine's), dropped after the test.
func pgSchema(t *testing.T) string {
	t.Helper()
	base := os.Getenv("S3FED_TEST_POSTGRES")
	if base == "" {
		base = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	}
	db, err := sql.Open("pgx", base)
	if err == nil {
		err = db.PingContext(context.Background())
	}
	if err != nil {
		if os.Getenv("CI") != "true" {
			t.Skipf("PostgreSQL not reachable (%v); CI requires it", err)
		}
		t.Fatalf("PostgreSQL not reachable: %v", err)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "s3fed_test_" + hex.EncodeToString(b)
	if _, err := db.Exec(`CREATE SCHEMA ` + schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = db.Exec(`DROP SCHEMA ` + schema + ` CASCADE`)
		db.Close()
	})
	return base + "&search_path=" + schema
}
