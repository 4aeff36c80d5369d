// Package server is configuration and wiring: it opens the state and the
// keys under the data dir, builds the handlers and runs the two listeners.
// It has no logic of its own; everything it starts lives in another package.
package server

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/s3fed/s3fed/internal/admin"
	"github.com/s3fed/s3fed/internal/creds"
	"github.com/s3fed/s3fed/internal/jsonapi"
	"github.com/s3fed/s3fed/internal/store"
	"github.com/s3fed/s3fed/internal/store/postgres"
	"github.com/s3fed/s3fed/internal/store/sqlite"
)

// MaxClockSkew is the largest --clock-skew accepted (API.md).
const MaxClockSkew = 180 * time.Second

// Config is everything `s3fed serve` can be told (flags and S3FED_* env).
type Config struct {
	S3Addr    string
	APIAddr   string
	DataDir   string
	PublicURL string
	TLSCert   string
	TLSKey    string
	ClockSkew time.Duration
	S3Domain  string
	Region    string
	// ExchangeRate and ExchangeBurst throttle the anonymous exchange
	// endpoints per client IP (exchanges per second, and at once); a rate of
	// 0 disables the limit.
	ExchangeRate  float64
	ExchangeBurst int
	// DatabaseURL, when set (postgres://...), keeps state in PostgreSQL so
	// that several replicas share it; empty means SQLite under DataDir.
	DatabaseURL string
	// MasterKeyFile is the master key file; "" means <DataDir>/master.key.
	MasterKeyFile string
	// RootToken, when set, becomes the root token (S3FED_ROOT_TOKEN).
	RootToken string
	// Timeouts bound what slow or stalled clients can hold.
	Timeouts Timeouts
	Log      *slog.Logger
	// Out receives the one-time root token banner and the listening lines.
	Out io.Writer
}

// Timeouts are the listeners' limits on slow clients (docs/operations.md):
// without them a client that opens connections and sends nothing, or sends
// a body a byte at a time, holds a connection and a goroutine each, for
// ever, on endpoints that need no credentials.
type Timeouts struct {
	// ReadHeader bounds the request line and headers, on both listeners;
	// it also closes a new connection that sends nothing.
	ReadHeader time.Duration
	// Idle closes a keep-alive connection with no request in flight.
	Idle time.Duration
	// APIBody bounds a whole request body on the JSON API (admin and
	// exchange endpoints) and on the STS query API: they are small (at
	// most 512 KiB), so a body still arriving after this is a slow client.
	APIBody time.Duration
	// S3BodyStall ends an S3 request body that sends no bytes for this
	// long. An upload may take as long as it needs while bytes flow.
	S3BodyStall time.Duration
}

// Default timeouts: generous for real clients on slow links, short enough
// that a slow client cannot pile up connections.
const (
	DefaultReadHeaderTimeout  = 10 * time.Second
	DefaultIdleTimeout        = 2 * time.Minute
	DefaultAPIBodyTimeout     = 30 * time.Second
	DefaultS3BodyStallTimeout = 60 * time.Second
)

// Defaults returns the configuration of a bare `s3fed serve`.
func Defaults() Config {
	return Config{S3Addr: "127.0.0.1:9000", APIAddr: "127.0.0.1:9001", DataDir: "./s3fed-data",
		ClockSkew: 60 * time.Second, Region: "us-east-1", ExchangeRate: 20, ExchangeBurst: 40,
		Timeouts: Timeouts{ReadHeader: DefaultReadHeaderTimeout, Idle: DefaultIdleTimeout,
			APIBody: DefaultAPIBodyTimeout, S3BodyStall: DefaultS3BodyStallTimeout}}
}

// Validate checks the configuration before anything is created.
func (c *Config) Validate() error {
	if c.ClockSkew < 0 || c.ClockSkew > MaxClockSkew {
		return fmt.Errorf("--clock-skew must be between 0s and %s (got %s)", MaxClockSkew, c.ClockSkew)
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return errors.New("--tls-cert and --tls-key must be given together")
	}
	if c.DataDir == "" {
		return errors.New("--data-dir must not be empty")
	}
	if c.ExchangeRate < 0 || (c.ExchangeRate > 0 && c.ExchangeBurst < 1) {
		return errors.New("--exchange-rate must be ≥ 0 and --exchange-burst ≥ 1")
	}
	if c.Region == "" {
		return errors.New("--region must not be empty")
	}
	for _, t := range []struct {
		flag string
		d    time.Duration
	}{
		{"--header-timeout", c.Timeouts.ReadHeader}, {"--idle-timeout", c.Timeouts.Idle},
		{"--api-body-timeout", c.Timeouts.APIBody}, {"--s3-stall-timeout", c.Timeouts.S3BodyStall},
	} {
		if t.d <= 0 {
			return fmt.Errorf("%s must be positive (got %s)", t.flag, t.d)
		}
	}
	return nil
}

func (c *Config) scheme() string {
	if c.TLSCert != "" {
		return "https"
	}
	return "http"
}

// Server is a running s3fed.
type Server struct {
	cfg      Config
	Store    store.Store
	Keys     *creds.Keyring
	Creds    *creds.Cache
	Policies *admin.Policies
	inflight inflight
	api, s3  *http.Server
	apiLn    net.Listener
	s3Ln     net.Listener
	bg       sync.WaitGroup
	stopBG   context.CancelFunc
	closeFns []func() error
}

// StatePath is the SQLite file under the data dir.
func StatePath(dataDir string) string { return filepath.Join(dataDir, "state.db") }

// OpenState opens (creating) the data dir and the state database: PostgreSQL
// when databaseURL is set, else SQLite in the data dir. The admin CLI uses it
// offline too (reset-root-token).
func OpenState(ctx context.Context, dataDir, databaseURL string) (store.Store, error) {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	if databaseURL != "" {
		return postgres.Open(ctx, databaseURL)
	}
	return sqlite.Open(ctx, StatePath(dataDir))
}

// New binds both listeners, opens state and keys and builds the handlers;
// Serve starts them. The order matters: a start that fails (a busy port, a
// bad TLS key, a missing master key) must fail before it creates anything
// or prints the one-time root token, so binding comes first and the root
// token comes last.
func New(ctx context.Context, cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Out == nil {
		cfg.Out = os.Stdout
	}
	if cfg.MasterKeyFile == "" {
		cfg.MasterKeyFile = filepath.Join(cfg.DataDir, "master.key")
	}
	s := &Server{cfg: cfg}
	var tlsCfg *tls.Config
	if cfg.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
		if err != nil {
			return nil, fmt.Errorf("load TLS key pair: %w", err)
		}
		tlsCfg = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	var err error
	if s.apiLn, err = listen(cfg.APIAddr, tlsCfg); err != nil {
		return nil, fmt.Errorf("API listener: %w", err)
	}
	s.closeFns = append(s.closeFns, s.apiLn.Close)
	if s.s3Ln, err = listen(cfg.S3Addr, tlsCfg); err != nil {
		s.Close()
		return nil, fmt.Errorf("S3 listener: %w", err)
	}
	s.closeFns = append(s.closeFns, s.s3Ln.Close)
	if s.cfg.PublicURL == "" {
		s.cfg.PublicURL = cfg.scheme() + "://" + s.apiLn.Addr().String()
	}

	st, err := OpenState(ctx, cfg.DataDir, cfg.DatabaseURL)
	if err != nil {
		s.Close()
		return nil, err
	}
	s.Store = st
	s.closeFns = append(s.closeFns, st.Close)
	if s.Keys, err = loadMasterKey(ctx, st, cfg.MasterKeyFile); err != nil {
		s.Close()
		return nil, err
	}
	s.Creds = &creds.Cache{Keys: s.Keys, Source: st}
	apiHandler, s3Handler, err := s.handlers()
	if err != nil {
		s.Close()
		return nil, err
	}
	errLog := slog.NewLogLogger(cfg.Log.Handler(), slog.LevelWarn)
	to := cfg.Timeouts
	// Request bodies are bounded per request (bodytimeout), not with
	// ReadTimeout: see Timeouts.
	s.api = &http.Server{Handler: jsonapi.Middleware(cfg.Log, apiBodyTimeout(apiHandler, to.APIBody)),
		ReadHeaderTimeout: to.ReadHeader, IdleTimeout: to.Idle, ErrorLog: errLog}
	s.s3 = &http.Server{Handler: s3Handler, ReadHeaderTimeout: to.ReadHeader, IdleTimeout: to.Idle, ErrorLog: errLog}
	// Last: from here nothing can fail, so a printed root token is one the
	// operator can use.
	if err := s.ensureRootToken(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// hasState reports whether the state store already holds what a previous
// start created: the root token row (every completed start writes it) or
// any org.
func hasState(ctx context.Context, st store.Store) (bool, error) {
	if _, err := st.GetToken(ctx, store.RootTokenID); err == nil {
		return true, nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return false, fmt.Errorf("read root token: %w", err)
	}
	orgs, err := st.ListOrgs(ctx)
	if err != nil {
		return false, fmt.Errorf("list orgs: %w", err)
	}
	return len(orgs) > 0, nil
}

// loadMasterKey reads the master key file. Only a first start (the state
// holds nothing yet) may create it: with existing state a new key would
// silently invalidate every issued access key, so a missing or unreadable
// file is a refusal that says what to restore.
func loadMasterKey(ctx context.Context, st store.Store, path string) (*creds.Keyring, error) {
	restore := "restore the master key file this state was created with from your backup (mode 0600), " +
		"or point --master-key-file (S3FED_MASTER_KEY_FILE) at the file the other replicas use; " +
		"see \"Backup and restore\" in the README"
	_, statErr := os.Stat(path)
	if errors.Is(statErr, os.ErrNotExist) {
		existing, err := hasState(ctx, st)
		if err != nil {
			return nil, fmt.Errorf("check the state before creating a master key: %w", err)
		}
		if existing {
			return nil, fmt.Errorf("master key file %s is missing, but the state already holds orgs, tokens or keys "+
				"made with a master key (s3fed does not start with a new key: every issued access key would fail "+
				"with SignatureDoesNotMatch): %s", path, restore)
		}
	}
	kr, err := LoadOrCreateKeyring(path)
	if err != nil && !errors.Is(statErr, os.ErrNotExist) && !errors.Is(err, errKeyFileMode) {
		return nil, fmt.Errorf("%w; %s", err, restore)
	}
	return kr, err
}

func listen(addr string, tlsCfg *tls.Config) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	if tlsCfg != nil {
		ln = tls.NewListener(ln, tlsCfg)
	}
	return ln, nil
}

// APIAddr and S3Addr are the bound addresses (useful with port 0).
func (s *Server) APIAddr() string { return s.apiLn.Addr().String() }

// S3Addr is the bound S3 listener address.
func (s *Server) S3Addr() string { return s.s3Ln.Addr().String() }

// PublicURL is the base URL of the SAML SP endpoints.
func (s *Server) PublicURL() string { return s.cfg.PublicURL }

// Serve runs both listeners until ctx is done, then shuts down gracefully:
// in-flight requests get up to 15 seconds to finish.
func (s *Server) Serve(ctx context.Context) error {
	bgCtx, cancel := context.WithCancel(context.Background())
	s.stopBG = cancel
	s.bg.Add(1)
	go func() { defer s.bg.Done(); s.prune(bgCtx) }()

	errc := make(chan error, 2)
	go func() { errc <- s.api.Serve(s.apiLn) }()
	go func() { errc <- s.s3.Serve(s.s3Ln) }()
	fmt.Fprintf(s.cfg.Out, "s3fed: API on %s://%s, S3 on %s://%s, data in %s\n", s.cfg.scheme(), s.APIAddr(), s.cfg.scheme(), s.S3Addr(), s.cfg.DataDir)
	s.cfg.Log.Info("serving", "api", s.APIAddr(), "s3", s.S3Addr(), "public_url", s.cfg.PublicURL)

	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	shutCtx, done := context.WithTimeout(context.Background(), 15*time.Second)
	defer done()
	s.cfg.Log.Info("shutting down")
	e1 := s.api.Shutdown(shutCtx)
	e2 := s.s3.Shutdown(shutCtx)
	s.Close()
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return errors.Join(e1, e2)
}

// Close stops background work and closes state.
func (s *Server) Close() {
	if s.stopBG != nil {
		s.stopBG()
		s.bg.Wait()
	}
	for i := len(s.closeFns) - 1; i >= 0; i-- {
		_ = s.closeFns[i]()
	}
	s.closeFns = nil
}

// prune deletes expired keys and replay entries every minute.
func (s *Server) prune(ctx context.Context) {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			// Keep expired keys a day so the inventory can still show them.
			if n, err := s.Store.Prune(ctx, time.Now().Add(-24*time.Hour)); err != nil {
				s.cfg.Log.Warn("prune", "err", err)
			} else if n > 0 {
				s.cfg.Log.Info("pruned expired state", "rows", n)
			}
		}
	}
}

// ensureRootToken installs S3FED_ROOT_TOKEN, or on first start creates a
// root token and prints it once. Only the hash is stored.
func (s *Server) ensureRootToken(ctx context.Context) error {
	if s.cfg.RootToken != "" {
		if len(s.cfg.RootToken) < 16 {
			return errors.New("S3FED_ROOT_TOKEN must be at least 16 characters")
		}
		return SetRootToken(ctx, s.Store, s.cfg.RootToken, "S3FED_ROOT_TOKEN")
	}
	_, err := s.Store.GetToken(ctx, store.RootTokenID)
	if err == nil {
		return nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("read root token: %w", err)
	}
	tok := admin.NewToken()
	if err := SetRootToken(ctx, s.Store, tok, "first start"); err != nil {
		return err
	}
	fmt.Fprintf(s.cfg.Out, "\nRoot admin token (shown once; only its hash is stored):\n\n    %s\n\nexport S3FED_TOKEN=%s\n\n", tok, tok)
	return nil
}

// SetRootToken replaces the root token's hash and audits it.
func SetRootToken(ctx context.Context, st store.Store, token, why string) error {
	return st.Update(ctx, func(tx store.Tx) error {
		if err := tx.PutToken(ctx, store.Token{ID: store.RootTokenID, Hash: admin.HashToken(token), Description: "root", Created: time.Now().UTC()}); err != nil {
			return err
		}
		return tx.AppendEvent(ctx, store.Event{Kind: "admin", Action: "root-token.set", Target: store.RootTokenID, Outcome: "success", Details: map[string]any{"via": why}})
	})
}

// keyringFile is the on-disk master key file (mode 0600).
type keyringFile struct {
	Current uint16            `json:"current"`
	Keys    map[string]string `json:"keys"`
}

// errKeyFileMode refuses a master key file others may read; the fix is a
// chmod, not a restore.
var errKeyFileMode = errors.New("it must not be readable by group or others (chmod 600)")

// LoadOrCreateKeyring reads the master key file, creating it with one random
// key on first start. A file readable by others is refused: these keys derive
// every issued secret.
func LoadOrCreateKeyring(path string) (*creds.Keyring, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		kf := keyringFile{Current: 1, Keys: map[string]string{"1": base64.StdEncoding.EncodeToString(creds.NewMasterKey())}}
		data, _ = json.MarshalIndent(kf, "", "  ")
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return nil, fmt.Errorf("create master key file: %w", err)
		}
		if _, err := f.Write(data); err != nil {
			f.Close()
			return nil, fmt.Errorf("write master key file: %w", err)
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return nil, fmt.Errorf("sync master key file: %w", err)
		}
		if err := f.Close(); err != nil {
			return nil, fmt.Errorf("close master key file: %w", err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("read master key file: %w", err)
	} else if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("master key file %s has mode %s; %w", path, fi.Mode().Perm(), errKeyFileMode)
	}
	var kf keyringFile
	if err := json.Unmarshal(data, &kf); err != nil {
		return nil, fmt.Errorf("parse master key file %s: %w", path, err)
	}
	kr := &creds.Keyring{Current: kf.Current, Keys: map[uint16][]byte{}}
	for e, k := range kf.Keys {
		n, err := strconv.ParseUint(e, 10, 16)
		if err != nil {
			return nil, fmt.Errorf("master key file: bad epoch %q", e)
		}
		b, err := base64.StdEncoding.DecodeString(k)
		if err != nil {
			return nil, fmt.Errorf("master key file: epoch %s: %w", e, err)
		}
		kr.Keys[uint16(n)] = b
	}
	if err := kr.Validate(); err != nil {
		return nil, fmt.Errorf("master key file %s: %w", path, err)
	}
	return kr, nil
}
