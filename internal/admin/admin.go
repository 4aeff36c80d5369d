// Package admin is the JSON admin API of API.md: orgs, org admin tokens,
// federation configs, access keys and the audit log, behind bearer tokens.
//
// Authorisation is simple and total: the root token may do everything; an
// org token may act only inside its org, gets 404 for any other org's
// resources (existence is not revealed) and 403 on root-only endpoints.
// Every change and its audit event commit in one store transaction.
package admin

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/s3fed/s3fed/internal/jsonapi"
	"github.com/s3fed/s3fed/internal/store"
)

// MaxBodyBytes is the admin API's request body limit.
const MaxBodyBytes = 1 << 20

// TokenPrefix marks s3fed admin tokens so secret scanners can find leaked ones.
const TokenPrefix = "s3fed_"

// KeyInvalidator drops revoked access keys from the S3 path's credential
// cache at once.
type KeyInvalidator interface {
	Invalidate(accessKeyIDs ...string)
}

// API serves the admin endpoints.
type API struct {
	Store store.Store
	Log   *slog.Logger
	Now   func() time.Time
	// Keys is told about revocations; nil when nothing caches keys.
	Keys KeyInvalidator
	// PublicURL is the base of the SAML SP URLs shown with each config.
	PublicURL string
	// Policies holds the compiled access policies; nil disables the
	// access-policy endpoints.
	Policies *Policies
	// SyncAudit, when set, is called before the audit log is read so that it
	// includes events still queued by the S3 path.
	SyncAudit func(ctx context.Context)
	// TestConfig serves POST .../CONFIG:test; nil until the exchange is wired.
	TestConfig func(w http.ResponseWriter, r *http.Request, cfg store.Config) error
}

// Caller is the authenticated admin token.
type Caller struct {
	TokenID string
	OrgID   string // "" for root
}

// Root reports whether the caller holds the root token.
func (c Caller) Root() bool { return c.OrgID == "" }

type callerKey struct{}

// CallerFrom returns the authenticated caller stored by Authenticate.
func CallerFrom(ctx context.Context) (Caller, bool) {
	c, ok := ctx.Value(callerKey{}).(Caller)
	return c, ok
}

func (a *API) now() time.Time {
	if a.Now != nil {
		return a.Now().UTC()
	}
	return time.Now().UTC()
}

// HashToken is how tokens are stored: only their SHA-256.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// NewToken returns a fresh admin token secret.
func NewToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return TokenPrefix + base64.RawURLEncoding.EncodeToString(b[:])
}

// NewID returns an opaque, URL-safe, unguessable identifier (128 random bits).
func NewID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))
}

// Authenticate resolves the bearer token into a Caller.
func (a *API) Authenticate(r *http.Request) (Caller, error) {
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if h == "" || !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
		return Caller{}, jsonapi.Errorf(http.StatusUnauthorized, "unauthenticated", "send an admin token as 'Authorization: Bearer TOKEN'")
	}
	tok = strings.TrimSpace(tok)
	hash := HashToken(tok)
	t, err := a.Store.GetTokenByHash(r.Context(), hash)
	if errors.Is(err, store.ErrNotFound) {
		return Caller{}, jsonapi.Errorf(http.StatusUnauthorized, "unauthenticated", "the admin token is not valid (revoked or mistyped)")
	}
	if err != nil {
		return Caller{}, fmt.Errorf("look up token: %w", err)
	}
	// The lookup is by hash; compare again in constant time for good measure.
	if subtle.ConstantTimeCompare([]byte(t.Hash), []byte(hash)) != 1 {
		return Caller{}, jsonapi.Errorf(http.StatusUnauthorized, "unauthenticated", "the admin token is not valid")
	}
	return Caller{TokenID: t.ID, OrgID: t.OrgID}, nil
}

// authed wraps a handler with authentication.
func (a *API) authed(h func(w http.ResponseWriter, r *http.Request, c Caller) error) jsonapi.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		c, err := a.Authenticate(r)
		if err != nil {
			return err
		}
		r = r.WithContext(context.WithValue(r.Context(), callerKey{}, c))
		return h(w, r, c)
	}
}

// rootOnly refuses org tokens with 403.
func rootOnly(c Caller) error {
	if !c.Root() {
		return jsonapi.Errorf(http.StatusForbidden, "permission_denied", "this endpoint needs the root token")
	}
	return nil
}

// orgAccess resolves the ORG path segment: an org token naming another org
// gets the same 404 as a missing org.
func (a *API) orgAccess(r *http.Request, c Caller) (store.Org, error) {
	id := r.PathValue("org")
	if !c.Root() && c.OrgID != id {
		return store.Org{}, jsonapi.NotFound("org " + quote(id))
	}
	o, err := a.Store.GetOrg(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return o, jsonapi.NotFound("org " + quote(id))
	}
	return o, err
}

// OrgFor resolves the org of a call whose path has no ORG: an org token's
// own org, or the "orgId" the root token named.
func (a *API) OrgFor(ctx context.Context, c Caller, orgID string) (store.Org, error) {
	if !c.Root() {
		if orgID != "" && orgID != c.OrgID {
			return store.Org{}, jsonapi.NotFound("org " + quote(orgID))
		}
		orgID = c.OrgID
	} else if orgID == "" {
		return store.Org{}, jsonapi.BadRequest(`the root token must name the org with "orgId"`)
	}
	o, err := a.Store.GetOrg(ctx, orgID)
	if errors.Is(err, store.ErrNotFound) {
		return o, jsonapi.NotFound("org " + quote(orgID))
	}
	return o, err
}

func quote(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return fmt.Sprintf("%q", s)
}

// event builds an admin audit event for the caller.
func (a *API) event(r *http.Request, c Caller, org, action, target string) store.Event {
	return store.Event{Time: a.now(), OrgID: org, Kind: "admin", Action: action, Actor: c.TokenID, Target: target,
		Outcome: "success", RequestID: jsonapi.RequestID(r.Context()), ClientIP: ClientIP(r)}
}

// audited runs change and appends the caller's audit event for it in one
// transaction, so an admin change and its record commit together or not at
// all. change may add details to the event.
func (a *API) audited(r *http.Request, c Caller, org, action, target string, change func(tx store.Tx, ev *store.Event) error) error {
	return a.Store.Update(r.Context(), func(tx store.Tx) error {
		ev := a.event(r, c, org, action, target)
		if err := change(tx, &ev); err != nil {
			return err
		}
		return tx.AppendEvent(r.Context(), ev)
	})
}

// ClientIP is the connection's remote address without the port.
func ClientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// Register adds the admin routes to rt.
func (a *API) Register(rt *jsonapi.Router) {
	rt.Handle("POST", "/v1/admin/orgs", a.authed(a.createOrg))
	rt.Handle("GET", "/v1/admin/orgs", a.authed(a.listOrgs))
	rt.Handle("GET", "/v1/admin/orgs/{org}", a.authed(a.getOrg))
	rt.Handle("POST", "/v1/admin/orgs/{org}/tokens", a.authed(a.createToken))
	rt.Handle("GET", "/v1/admin/orgs/{org}/tokens", a.authed(a.listTokens))
	rt.Handle("DELETE", "/v1/admin/orgs/{org}/tokens/{id}", a.authed(a.deleteToken))
	rt.Handle("POST", "/v1/admin/orgs/{org}/workload-federation/saml", a.authed(a.createSAMLConfig))
	rt.Handle("GET", "/v1/admin/orgs/{org}/workload-federation", a.authed(a.listConfigs))
	rt.Handle("GET", "/v1/admin/orgs/{org}/workload-federation/{config}", a.authed(a.getConfig))
	rt.Handle("PATCH", "/v1/admin/orgs/{org}/workload-federation/{config}", a.authed(a.patchConfig))
	rt.Handle("DELETE", "/v1/admin/orgs/{org}/workload-federation/{config}", a.authed(a.deleteConfig))
	rt.Handle("POST", "/v1/admin/orgs/{org}/workload-federation/{config}", a.authed(a.configAction))
	rt.Handle("GET", "/v1/admin/orgs/{org}/workload-federation/{config}/sp-metadata", a.authed(a.spMetadata))
	rt.Handle("GET", "/v1/admin/orgs/{org}/audit", a.authed(a.listAudit))
	rt.Handle("GET", "/v1/admin/orgs/{org}/access-keys", a.authed(a.listAccessKeys))
	rt.Handle("POST", "/v1/cwobject/revoke-access-key/access-key", a.authed(a.revokeKey))
	rt.Handle("POST", "/v1/cwobject/revoke-access-key/principal", a.authed(a.revokePrincipal))
	if a.Policies != nil {
		a.registerPolicies(rt)
	}
}

// --- orgs ---

var orgIDRe = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

type orgJSON struct {
	ID      string    `json:"id"`
	Name    string    `json:"name"`
	Created time.Time `json:"created"`
}

func (a *API) createOrg(w http.ResponseWriter, r *http.Request, c Caller) error {
	if err := rootOnly(c); err != nil {
		return err
	}
	var in struct {
		ID   *string `json:"id"`
		Name *string `json:"name"`
	}
	if err := jsonapi.Decode(w, r, MaxBodyBytes, &in); err != nil {
		return err
	}
	if in.ID == nil {
		return jsonapi.BadRequest(`field "id" is required`)
	}
	if !orgIDRe.MatchString(*in.ID) {
		return jsonapi.BadRequest(`field "id" must be 1-63 lowercase letters, digits or '-', starting and ending with a letter or digit`)
	}
	name := *in.ID
	if in.Name != nil {
		name = *in.Name
	}
	if err := checkText("name", name, 1, 256); err != nil {
		return err
	}
	o := store.Org{ID: *in.ID, Name: name, Created: a.now()}
	err := a.audited(r, c, o.ID, "org.create", o.ID, func(tx store.Tx, _ *store.Event) error {
		return tx.CreateOrg(r.Context(), o)
	})
	if errors.Is(err, store.ErrAlreadyExists) {
		return jsonapi.Errorf(http.StatusConflict, "already_exists", "org %q already exists", o.ID)
	}
	if err != nil {
		return err
	}
	jsonapi.WriteJSON(w, http.StatusCreated, orgJSON(o))
	return nil
}

func (a *API) listOrgs(w http.ResponseWriter, r *http.Request, c Caller) error {
	var out []orgJSON
	if c.Root() {
		orgs, err := a.Store.ListOrgs(r.Context())
		if err != nil {
			return err
		}
		for _, o := range orgs {
			out = append(out, orgJSON(o))
		}
	} else {
		o, err := a.Store.GetOrg(r.Context(), c.OrgID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if err == nil {
			out = append(out, orgJSON(o))
		}
	}
	if out == nil {
		out = []orgJSON{}
	}
	jsonapi.WriteJSON(w, http.StatusOK, map[string]any{"orgs": out})
	return nil
}

func (a *API) getOrg(w http.ResponseWriter, r *http.Request, c Caller) error {
	o, err := a.orgAccess(r, c)
	if err != nil {
		return err
	}
	jsonapi.WriteJSON(w, http.StatusOK, orgJSON(o))
	return nil
}

// --- tokens ---

func (a *API) createToken(w http.ResponseWriter, r *http.Request, c Caller) error {
	if err := rootOnly(c); err != nil {
		return err
	}
	o, err := a.orgAccess(r, c)
	if err != nil {
		return err
	}
	var in struct {
		Description string `json:"description"`
	}
	if err := jsonapi.Decode(w, r, MaxBodyBytes, &in); err != nil {
		return err
	}
	if err := checkText("description", in.Description, 0, 1024); err != nil {
		return err
	}
	secret := NewToken()
	t := store.Token{ID: "tok-" + NewID()[:16], OrgID: o.ID, Description: in.Description, Hash: HashToken(secret), Created: a.now()}
	if err := a.audited(r, c, o.ID, "token.create", t.ID, func(tx store.Tx, _ *store.Event) error {
		return tx.PutToken(r.Context(), t)
	}); err != nil {
		return err
	}
	jsonapi.WriteJSON(w, http.StatusCreated, map[string]any{"id": t.ID, "orgId": o.ID, "description": t.Description, "created": t.Created, "token": secret})
	return nil
}

func (a *API) listTokens(w http.ResponseWriter, r *http.Request, c Caller) error {
	o, err := a.orgAccess(r, c)
	if err != nil {
		return err
	}
	ts, err := a.Store.ListTokens(r.Context(), o.ID)
	if err != nil {
		return err
	}
	jsonapi.WriteJSON(w, http.StatusOK, map[string]any{"tokens": ts})
	return nil
}

func (a *API) deleteToken(w http.ResponseWriter, r *http.Request, c Caller) error {
	if err := rootOnly(c); err != nil {
		return err
	}
	o, err := a.orgAccess(r, c)
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	err = a.audited(r, c, o.ID, "token.revoke", id, func(tx store.Tx, _ *store.Event) error {
		return tx.DeleteToken(r.Context(), o.ID, id)
	})
	if errors.Is(err, store.ErrNotFound) {
		return jsonapi.NotFound("token " + quote(id))
	}
	if err != nil {
		return err
	}
	jsonapi.WriteJSON(w, http.StatusOK, map[string]any{})
	return nil
}

// --- audit ---

func (a *API) listAudit(w http.ResponseWriter, r *http.Request, c Caller) error {
	o, err := a.orgAccess(r, c)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	f := store.EventFilter{OrgID: o.ID, PrincipalName: q.Get("principalName"), Limit: 100}
	if s := q.Get("since"); s != "" {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return jsonapi.BadRequest(`"since" must be an RFC 3339 time such as 2026-01-02T15:04:05Z`)
		}
		f.Since = t
	}
	if s := q.Get("limit"); s != "" {
		n, err := parseIntRange("limit", s, 1, 1000)
		if err != nil {
			return err
		}
		f.Limit = n
	}
	if s := q.Get("before"); s != "" {
		n, err := parseIntRange("before", s, 1, 1<<62)
		if err != nil {
			return err
		}
		f.Before = int64(n)
	}
	if a.SyncAudit != nil {
		a.SyncAudit(r.Context())
	}
	evs, err := a.Store.ListEvents(r.Context(), f)
	if err != nil {
		return err
	}
	out := map[string]any{"events": evs}
	if len(evs) == f.Limit {
		out["nextBefore"] = evs[len(evs)-1].ID
	}
	jsonapi.WriteJSON(w, http.StatusOK, out)
	return nil
}

func parseIntRange(field, s string, lo, hi int) (int, error) {
	var n int
	if _, err := fmt.Sscanf(s, "%d", &n); err != nil || fmt.Sprint(n) != s || n < lo || n > hi {
		return 0, jsonapi.BadRequest("%q must be an integer from %d to %d", field, lo, hi)
	}
	return n, nil
}

// checkText enforces length (in bytes) and the absence of control characters.
func checkText(field, s string, min, max int) error {
	if len(s) < min {
		if min == 1 {
			return jsonapi.BadRequest("field %q must not be empty", field)
		}
		return jsonapi.BadRequest("field %q must be at least %d bytes", field, min)
	}
	if len(s) > max {
		return jsonapi.BadRequest("field %q must be at most %d bytes", field, max)
	}
	if !utf8.ValidString(s) {
		return jsonapi.BadRequest("field %q must be valid UTF-8", field)
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return jsonapi.BadRequest("field %q must not contain control characters", field)
		}
	}
	return nil
}
