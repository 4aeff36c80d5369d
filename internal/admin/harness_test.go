package admin_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/s3fed/s3fed/internal/admin"
	"github.com/s3fed/s3fed/internal/creds"
	"github.com/s3fed/s3fed/internal/jsonapi"
	"github.com/s3fed/s3fed/internal/store"
	"github.com/s3fed/s3fed/internal/store/sqlite"
)

// clock is the API's injected, settable time.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// invalidator records what the API told the credential cache.
type invalidator struct {
	mu  sync.Mutex
	ids []string
}

func (i *invalidator) Invalidate(ids ...string) {
	i.mu.Lock()
	i.ids = append(i.ids, ids...)
	i.mu.Unlock()
}

func (i *invalidator) take() []string {
	i.mu.Lock()
	defer i.mu.Unlock()
	out := i.ids
	i.ids = nil
	slices.Sort(out)
	return out
}

// lockedBuffer is a log sink safe for server goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// env is the admin API as internal/server builds it (jsonapi router, admin
// routes, jsonapi middleware) over a real SQLite state in a temp dir.
type env struct {
	t    *testing.T
	st   store.Store
	srv  *httptest.Server
	root string
	clk  *clock
	inv  *invalidator
	kr   *creds.Keyring
}

const publicURL = "https://s3fed.example.com"

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	root := admin.NewToken()
	if err := st.Update(ctx, func(tx store.Tx) error {
		return tx.PutToken(ctx, store.Token{ID: store.RootTokenID, Hash: admin.HashToken(root), Description: "root", Created: time.Now()})
	}); err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, st: st, root: root, clk: &clock{t: time.Now().UTC().Truncate(time.Second)}, inv: &invalidator{},
		kr: &creds.Keyring{Current: 1, Keys: map[uint16][]byte{1: bytes.Repeat([]byte{7}, 32)}}}
	log := slog.New(slog.NewJSONHandler(&lockedBuffer{}, nil))
	api := &admin.API{Store: st, Log: log, Now: e.clk.Now, Keys: e.inv, PublicURL: publicURL}
	rt := jsonapi.NewRouter()
	api.Register(rt)
	e.srv = httptest.NewServer(jsonapi.Middleware(log, rt))
	t.Cleanup(e.srv.Close)
	return e
}

// resp is an API answer.
type resp struct {
	status int
	header http.Header
	raw    []byte
	body   map[string]any
}

func (r resp) str(key string) string { s, _ := r.body[key].(string); return s }

func (r resp) list(key string) []map[string]any {
	arr, _ := r.body[key].([]any)
	out := make([]map[string]any, 0, len(arr))
	for _, v := range arr {
		m, _ := v.(map[string]any)
		out = append(out, m)
	}
	return out
}

// request describes a call; body is sent as JSON unless raw is set.
type request struct {
	method, path, token string
	body                any
	raw                 *string
	contentType         *string // nil: application/json when there is a body
	chunked             bool
	authHeader          *string // overrides the Bearer header
}

func (e *env) send(rq request) resp {
	e.t.Helper()
	var data []byte
	switch {
	case rq.raw != nil:
		data = []byte(*rq.raw)
	case rq.body != nil:
		var err error
		if data, err = json.Marshal(rq.body); err != nil {
			e.t.Fatal(err)
		}
	}
	var rd io.Reader
	if data != nil {
		rd = bytes.NewReader(data)
		if rq.chunked {
			rd = io.MultiReader(rd)
		}
	}
	req, err := http.NewRequest(rq.method, e.srv.URL+rq.path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if rq.chunked {
		req.ContentLength = -1
	}
	switch {
	case rq.contentType != nil:
		if *rq.contentType != "" {
			req.Header.Set("Content-Type", *rq.contentType)
		}
	case data != nil:
		req.Header.Set("Content-Type", "application/json")
	}
	switch {
	case rq.authHeader != nil:
		if *rq.authHeader != "" {
			req.Header.Set("Authorization", *rq.authHeader)
		}
	case rq.token != "":
		req.Header.Set("Authorization", "Bearer "+rq.token)
	}
	hr, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", rq.method, rq.path, err)
	}
	defer hr.Body.Close()
	raw, err := io.ReadAll(hr.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	r := resp{status: hr.StatusCode, header: hr.Header, raw: raw}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &r.body); err != nil {
			e.t.Fatalf("%s %s: answer is not a JSON object: %v: %s", rq.method, rq.path, err, raw)
		}
	}
	if hr.Header.Get("X-Request-Id") == "" {
		e.t.Errorf("%s %s: no X-Request-Id", rq.method, rq.path)
	}
	return r
}

// call sends a JSON body (nil for none) with a bearer token.
func (e *env) call(method, path, token string, body any) resp {
	e.t.Helper()
	return e.send(request{method: method, path: path, token: token, body: body})
}

// ok fails the test unless r has status.
func (e *env) ok(r resp, status int) resp {
	e.t.Helper()
	if r.status != status {
		e.t.Fatalf("status %d, want %d: %s", r.status, status, r.raw)
	}
	return r
}

// isErr checks r is API.md's error shape with status and code, and that the
// message contains each of has.
func isErr(t *testing.T, r resp, status int, code string, has ...string) {
	t.Helper()
	if r.status != status {
		t.Errorf("status %d, want %d: %s", r.status, status, r.raw)
	}
	if len(r.body) != 2 || r.str("code") == "" || r.str("message") == "" {
		t.Errorf("error body is not exactly {code, message}: %s", r.raw)
	}
	if r.str("code") != code {
		t.Errorf("code %q, want %q (%s)", r.str("code"), code, r.str("message"))
	}
	for _, h := range has {
		if !strings.Contains(r.str("message"), h) {
			t.Errorf("message %q does not contain %q", r.str("message"), h)
		}
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
}

func (e *env) createOrg(id string) {
	e.t.Helper()
	e.ok(e.call("POST", "/v1/admin/orgs", e.root, map[string]any{"id": id, "name": "Org " + id}), 201)
}

// orgToken creates an org admin token and returns its secret and ID.
func (e *env) orgToken(org string) (secret, id string) {
	e.t.Helper()
	r := e.ok(e.call("POST", "/v1/admin/orgs/"+org+"/tokens", e.root, map[string]any{"description": "for " + org}), 201)
	return r.str("token"), r.str("id")
}

// createConfig creates a SAML config with a fresh P-256 certificate,
// merged with extra fields, and returns its ID.
func (e *env) createConfig(org, token string, extra map[string]any) string {
	e.t.Helper()
	body := map[string]any{"name": "idp", "idpEntityId": "https://idp.example.com/" + org, "x509Certificate": e.cert()}
	for k, v := range extra {
		body[k] = v
	}
	r := e.ok(e.call("POST", "/v1/admin/orgs/"+org+"/workload-federation/saml", token, body), 201)
	return r.str("configId")
}

// seedKey stores an issued access key directly, as the exchange would.
func (e *env) seedKey(org, config, principal string, expiry time.Time, revoked bool) string {
	e.t.Helper()
	ctx := context.Background()
	id := e.kr.NewAccessKeyID()
	k := store.AccessKey{ID: id, OrgID: org, ConfigID: config, Provider: "saml", Subject: strings.TrimPrefix(principal, "saml/"),
		PrincipalName: principal, Role: "reader", Tags: map[string]string{"team": "data"}, Issued: e.clk.Now().Add(-time.Minute), Expiry: expiry}
	if err := e.st.Update(ctx, func(tx store.Tx) error {
		if err := tx.CreateAccessKey(ctx, k); err != nil {
			return err
		}
		if revoked {
			_, err := tx.RevokeAccessKeys(ctx, store.RevokeFilter{OrgID: org, AccessKeyID: id, Now: e.clk.Now()})
			return err
		}
		return nil
	}); err != nil {
		e.t.Fatal(err)
	}
	return id
}

// events returns an org's audit events straight from the store, newest first.
func (e *env) events(org string) []store.Event {
	e.t.Helper()
	evs, err := e.st.ListEvents(context.Background(), store.EventFilter{OrgID: org, Limit: 1000})
	if err != nil {
		e.t.Fatal(err)
	}
	return evs
}

// snapshot renders every piece of state (token hashes included) so that a
// refused request can be shown to have changed nothing.
func (e *env) snapshot() string {
	e.t.Helper()
	ctx := context.Background()
	var b strings.Builder
	enc := json.NewEncoder(&b)
	orgs, err := e.st.ListOrgs(ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	_ = enc.Encode(orgs)
	rt, _ := e.st.GetToken(ctx, store.RootTokenID)
	_ = enc.Encode([]string{rt.Hash})
	_ = enc.Encode(e.events(""))
	for _, o := range orgs {
		ts, _ := e.st.ListTokens(ctx, o.ID)
		for _, t := range ts {
			_ = enc.Encode([]string{t.ID, t.Hash})
		}
		cs, _ := e.st.ListConfigs(ctx, o.ID)
		_ = enc.Encode(cs)
		ks, _ := e.st.ListAccessKeys(ctx, store.AccessKeyFilter{OrgID: o.ID, Now: e.clk.Now()})
		_ = enc.Encode(ks)
		_ = enc.Encode(e.events(o.ID))
	}
	return b.String()
}

// --- certificates ---

var (
	caOnce sync.Once
	caKey  *ecdsa.PrivateKey
	caCert *x509.Certificate
	serial int64 = 1
	serMu  sync.Mutex
)

// certFor makes a PEM certificate for pub, valid from nb to na, signed by a
// test CA (so pub may be a bare public key).
func certFor(t *testing.T, pub crypto.PublicKey, nb, na time.Time) string {
	t.Helper()
	caOnce.Do(func() {
		caKey, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
		der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, caKey.Public(), caKey)
		caCert, _ = x509.ParseCertificate(der)
	})
	serMu.Lock()
	serial++
	sn := serial
	serMu.Unlock()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(sn), Subject: pkix.Name{CommonName: "test idp"}, NotBefore: nb, NotAfter: na}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, pub, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

func ecPub(t *testing.T, c elliptic.Curve) crypto.PublicKey {
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k.Public()
}

// rsaPub is an RSA public key of exactly bits bits; only its size is
// checked on upload, so no primes are generated.
func rsaPub(t *testing.T, bits int) *rsa.PublicKey {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), uint(bits-1)))
	if err != nil {
		t.Fatal(err)
	}
	n.SetBit(n, bits-1, 1)
	n.SetBit(n, 0, 1)
	return &rsa.PublicKey{N: n, E: 65537}
}

// cert is a fresh, valid P-256 IdP certificate.
func (e *env) cert() string {
	now := e.clk.Now()
	return certFor(e.t, ecPub(e.t, elliptic.P256()), now.Add(-time.Hour), now.Add(365*24*time.Hour))
}
