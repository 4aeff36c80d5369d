// Package sts is the credential exchange: it turns a verified federation
// assertion into short-lived S3 keys. It serves the CoreWeave-compatible JSON
// endpoints under /v1/cwobject/temporary-credentials/ and (later) the AWS STS
// query API on the S3 listener.
//
// The handler only orchestrates: saml validates, mapping builds the identity,
// creds mints, store records the claims and the audit event together. Every
// exchange, accepted or refused, is audited; a refused one never with an
// identity taken from the unverified message.
package sts

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/s3fed/s3fed/internal/admin"
	"github.com/s3fed/s3fed/internal/creds"
	"github.com/s3fed/s3fed/internal/federation"
	"github.com/s3fed/s3fed/internal/identity"
	"github.com/s3fed/s3fed/internal/jsonapi"
	"github.com/s3fed/s3fed/internal/mapping"
	"github.com/s3fed/s3fed/internal/saml"
	"github.com/s3fed/s3fed/internal/store"
)

// MaxExchangeBody is the exchange request body limit (API.md): larger bodies
// get 413 before they are read whole.
const MaxExchangeBody = 512 << 10

// Key tag limits (API.md): request attributes are stored with the key,
// echoed, listed and audited, and never used for authorisation.
const (
	MaxTags        = 15
	MaxTagValueLen = 256
)

var tagKeyRe = regexp.MustCompile(`^[a-z0-9-]{1,63}$`)

// Service serves the exchange endpoints.
type Service struct {
	Store     store.Store
	Keys      *creds.Keyring
	PublicURL string
	Skew      time.Duration
	Log       *slog.Logger
	Now       func() time.Time
	// Limit throttles exchanges per client IP; nil means no limit.
	Limit *Limiter
}

// throttle answers rate_limited when the client has used its budget. Only
// the first refusal of a throttling episode is audited: an event per refused
// request would turn a flood into disk writes.
func (s *Service) throttle(w http.ResponseWriter, r *http.Request, x *exchange) error {
	ok, first := s.Limit.take(admin.ClientIP(r))
	if ok {
		return nil
	}
	w.Header().Set("Retry-After", "1")
	err := jsonapi.Errorf(http.StatusTooManyRequests, "rate_limited", "too many exchanges from this address; retry in a second")
	if first {
		x.ev.Details = map[string]any{"note": "first refusal of a throttling episode; later ones are not audited until the client is allowed again"}
		return s.fail(r.Context(), x, err)
	}
	return err
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

// Register adds the exchange routes.
func (s *Service) Register(rt *jsonapi.Router) {
	rt.Handle("POST", "/v1/cwobject/temporary-credentials/saml", s.exchangeSAML)
}

type samlRequest struct {
	DurationSeconds *int              `json:"durationSeconds"`
	OrgID           string            `json:"orgId"`
	ConfigID        string            `json:"configId"`
	SAMLResponse    string            `json:"samlResponse"`
	Attributes      map[string]string `json:"attributes"`
}

type credentialsJSON struct {
	AccessKeyID   string            `json:"accessKeyId"`
	SecretKey     string            `json:"secretKey"`
	PrincipalName string            `json:"principalName"`
	Role          string            `json:"role"`
	Expiry        string            `json:"expiry"`
	Attributes    map[string]string `json:"attributes"`
}

// CheckTags validates request key tags.
func CheckTags(tags map[string]string) error {
	if len(tags) > MaxTags {
		return jsonapi.BadRequest(`"attributes" may hold at most %d key tags (got %d)`, MaxTags, len(tags))
	}
	for k, v := range tags {
		if !tagKeyRe.MatchString(k) {
			return jsonapi.BadRequest(`attribute key %q must be 1-63 characters of a-z, 0-9 and '-'`, truncate(k))
		}
		for _, p := range []string{"cw-", "role", "groups"} {
			if strings.HasPrefix(k, p) {
				return jsonapi.BadRequest(`attribute key %q must not start with %q: that prefix is reserved`, k, p)
			}
		}
		if len(v) > MaxTagValueLen || !utf8.ValidString(v) {
			return jsonapi.BadRequest(`attribute %q: value must be valid UTF-8 of at most %d bytes`, k, MaxTagValueLen)
		}
	}
	return nil
}

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

// exchange records the outcome of one exchange for the audit log.
type exchange struct {
	ev store.Event
}

func (s *Service) newExchange(r *http.Request, action string) *exchange {
	return &exchange{ev: store.Event{Time: s.now(), Kind: "exchange", Action: action, Outcome: "failure",
		RequestID: jsonapi.RequestID(r.Context()), ClientIP: admin.ClientIP(r)}}
}

// fail audits a refusal (without any identity) and returns err.
func (s *Service) fail(ctx context.Context, x *exchange, err error) error {
	var ae *jsonapi.Error
	if errors.As(err, &ae) {
		x.ev.Code = ae.Code
		if x.ev.Details == nil {
			x.ev.Details = map[string]any{}
		}
		x.ev.Details["reason"] = ae.Message
	} else {
		x.ev.Code = "internal"
	}
	// A refusal is audited even when the client is gone (a body that timed
	// out, a dropped connection): its request context is already cancelled.
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if aerr := s.Store.AppendEvents(actx, []store.Event{x.ev}); aerr != nil {
		s.Log.Error("audit write failed", "err", aerr, "request_id", x.ev.RequestID)
	}
	return err
}

func (s *Service) exchangeSAML(w http.ResponseWriter, r *http.Request) error {
	x := s.newExchange(r, "exchange.saml")
	if err := s.throttle(w, r, x); err != nil {
		return err
	}
	var in samlRequest
	if err := jsonapi.Decode(w, r, MaxExchangeBody, &in); err != nil {
		return s.fail(r.Context(), x, err)
	}
	x.ev.ConfigID = in.ConfigID
	cfg, err := s.loadConfig(r.Context(), in.OrgID, in.ConfigID, "saml")
	if err == nil {
		x.ev.OrgID = cfg.OrgID
	} else {
		return s.fail(r.Context(), x, err)
	}
	if in.SAMLResponse == "" {
		return s.fail(r.Context(), x, jsonapi.Errorf(http.StatusBadRequest, "invalid_saml_response", `field "samlResponse" is required: the base64 SAML Response from your IdP`))
	}
	req := 0
	if in.DurationSeconds != nil {
		req = *in.DurationSeconds
		if req < 1 || req > int(creds.MaxDuration/time.Second) {
			return s.fail(r.Context(), x, jsonapi.Errorf(http.StatusBadRequest, "duration_out_of_range", "durationSeconds must be from 1 to %d (got %d)", int(creds.MaxDuration/time.Second), req))
		}
	}
	if err := CheckTags(in.Attributes); err != nil {
		return s.fail(r.Context(), x, err)
	}
	if !cfg.Active {
		return s.fail(r.Context(), x, jsonapi.Errorf(http.StatusForbidden, "config_inactive", "federation config %q is inactive; an admin can activate it", cfg.ID))
	}
	vc, err := s.samlConfig(cfg)
	if err != nil {
		return s.fail(r.Context(), x, err)
	}
	a, err := saml.Validate(r.Context(), in.SAMLResponse, vc)
	if err != nil {
		return s.fail(r.Context(), x, unavailable(SAMLError(err)))
	}
	id, err := mapping.DefaultSAML(a, cfg.OrgID, cfg.ID)
	if err != nil {
		return s.fail(r.Context(), x, MappingError(err))
	}
	now := s.now()
	d, err := creds.Duration(req, time.Duration(cfg.MaxDurationSeconds)*time.Second, now, a.SessionNotOnOrAfter)
	if err != nil {
		return s.fail(r.Context(), x, jsonapi.Errorf(http.StatusForbidden, "condition_not_met", "%v", err))
	}
	c, err := s.mint(r, x, id, in.Attributes, d, now, false)
	if err != nil {
		return s.fail(r.Context(), x, err)
	}
	jsonapi.WriteJSON(w, http.StatusOK, credentialsJSON{AccessKeyID: c.Key.ID, SecretKey: c.Secret, PrincipalName: id.PrincipalName,
		Role: id.Role, Expiry: c.Key.Expiry.Format("2006-01-02T15:04:05Z"), Attributes: nonNil(in.Attributes)})
	return nil
}

func nonNil(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// mint issues a key for a verified identity and records it with its audit
// event in one transaction.
func (s *Service) mint(r *http.Request, x *exchange, id identity.Identity, tags map[string]string, d time.Duration, now time.Time, withToken bool) (creds.Credential, error) {
	rec, c, err := s.Keys.Mint(id, tags, d, now, withToken)
	if err != nil {
		return c, fmt.Errorf("mint: %w", err)
	}
	x.ev.Outcome = "success"
	x.ev.PrincipalName = id.PrincipalName
	x.ev.Role = id.Role
	x.ev.AccessKeyID = rec.ID
	x.ev.Details = map[string]any{"expiry": rec.Expiry}
	if len(tags) > 0 {
		x.ev.Details["attributes"] = tags
	}
	err = s.Store.Update(r.Context(), func(tx store.Tx) error {
		if err := tx.CreateAccessKey(r.Context(), rec); err != nil {
			return err
		}
		return tx.AppendEvent(r.Context(), x.ev)
	})
	if err != nil {
		x.ev.Outcome, x.ev.PrincipalName, x.ev.Role, x.ev.AccessKeyID, x.ev.Details = "failure", "", "", "", nil
		return c, fmt.Errorf("record access key: %w", err)
	}
	return c, nil
}

// loadConfig finds an org's config of the given kind; unknown org, unknown
// config and a config of another kind all answer not_found.
func (s *Service) loadConfig(ctx context.Context, orgID, configID, kind string) (store.Config, error) {
	if orgID == "" {
		return store.Config{}, jsonapi.BadRequest(`field "orgId" is required`)
	}
	if configID == "" {
		return store.Config{}, jsonapi.BadRequest(`field "configId" is required`)
	}
	if _, err := s.Store.GetOrg(ctx, orgID); errors.Is(err, store.ErrNotFound) {
		return store.Config{}, jsonapi.NotFound(fmt.Sprintf("org %q", truncate(orgID)))
	} else if err != nil {
		return store.Config{}, err
	}
	cfg, err := s.Store.GetConfig(ctx, orgID, configID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && cfg.Kind != kind) {
		return store.Config{}, jsonapi.NotFound(fmt.Sprintf("%s federation config %q in org %q", strings.ToUpper(kind), truncate(configID), truncate(orgID)))
	}
	return cfg, err
}

// samlConfig turns a stored config into the validator's configuration.
func (s *Service) samlConfig(cfg store.Config) (*saml.Config, error) {
	certs, err := federation.ParseStored(cfg.Certificates)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", cfg.ID, err)
	}
	return &saml.Config{
		IdPEntityID:  cfg.IdPEntityID,
		Certificates: certs,
		ACSURL:       admin.ACSURL(s.PublicURL),
		Audience:     admin.Audience(s.PublicURL, cfg.OrgID),
		Skew:         s.Skew,
		Now:          s.Now,
		Replay:       replayCache{s: s.Store, now: s.now, kind: "saml", orgID: cfg.OrgID},
	}, nil
}

// replayCache keeps (issuer, assertion ID) claims in the shared store, so
// every replica and every restart sees them. Claims belong to one org and
// one kind of federation: an admin of another org who registers the same
// IdP entity ID can neither burn this org's assertion IDs nor learn which
// were used.
type replayCache struct {
	s     store.Store
	now   func() time.Time
	kind  string // "saml" or "oidc"
	orgID string
}

func (c replayCache) Claim(ctx context.Context, issuer, id string, until time.Time) error {
	// A claim only needs to outlive its assertion; an IdP's NotOnOrAfter
	// past what the store keeps is held until store.MaxTime (year 2262).
	if until.After(store.MaxTime) {
		until = store.MaxTime
	}
	err := c.s.ClaimReplay(ctx, replayKey(c.kind, c.orgID, issuer, id), until, c.now())
	if errors.Is(err, store.ErrReplayed) {
		return saml.ErrReplayed
	}
	return err
}

// replayKey is the store key of a claim: each part length-prefixed, so no
// choice of issuer or ID (NUL, separators, anything) makes two different
// claims one key.
func replayKey(parts ...string) string {
	var b []byte
	b = append(b, "replay/v2"...)
	for _, p := range parts {
		b = binary.AppendUvarint(b, uint64(len(p)))
		b = append(b, p...)
	}
	return string(b)
}

// SAMLError maps a validator refusal to the API's error: the codes are the
// same; invalid_saml_response is 400 and every other refusal 401. A failing
// replay cache is a refusal too (fail closed), reported as unavailable.
func SAMLError(err error) error {
	var se *saml.Error
	if !errors.As(err, &se) {
		return err
	}
	status := http.StatusUnauthorized
	if se.Code == saml.CodeInvalidResponse {
		status = http.StatusBadRequest
	}
	return jsonapi.Errorf(status, string(se.Code), "%s", se.Reason)
}

// MappingError maps a mapping refusal to the API's error.
func MappingError(err error) error {
	var me *mapping.Error
	if !errors.As(err, &me) {
		return err
	}
	status := http.StatusForbidden
	if me.Code == mapping.CodeInvalidArgument {
		status = http.StatusBadRequest
	}
	return jsonapi.Errorf(status, me.Code, "%s", me.Message)
}

// unavailable reports a refusal caused by a dependency that did not answer
// (the replay cache): the exchange fails closed and the client may retry.
func unavailable(err error) error {
	if errors.Is(err, saml.ErrReplayCacheUnavailable) {
		return &jsonapi.Error{Status: http.StatusServiceUnavailable, Code: "unavailable",
			Message: "the replay cache could not be consulted, so the assertion was refused; retry shortly", Err: err}
	}
	return err
}

// TestSAML serves POST .../CONFIG:test: it runs every check on a SAML
// Response and the mapping, reports each, and issues nothing (the replay
// cache is consulted read-only: the response stays usable).
func (s *Service) TestSAML(w http.ResponseWriter, r *http.Request, cfg store.Config) error {
	var in struct {
		SAMLResponse string `json:"samlResponse"`
	}
	if err := jsonapi.Decode(w, r, MaxExchangeBody, &in); err != nil {
		return err
	}
	if cfg.Kind != "saml" {
		return jsonapi.BadRequest("config %q is not a SAML config", cfg.ID)
	}
	if in.SAMLResponse == "" {
		return jsonapi.BadRequest(`field "samlResponse" is required`)
	}
	vc, err := s.samlConfig(cfg)
	if err != nil {
		return err
	}
	a, checks, err := saml.ValidateWithReport(r.Context(), in.SAMLResponse, vc, false)
	type checkJSON struct {
		Name   string `json:"name"`
		Passed bool   `json:"passed"`
		Detail string `json:"detail,omitempty"`
	}
	cj := make([]checkJSON, 0, len(checks))
	for _, c := range checks {
		cj = append(cj, checkJSON(c))
	}
	out := map[string]any{"checks": cj, "passed": false}
	if !cfg.Active {
		out["warning"] = "the config is inactive: exchanges are refused with config_inactive until it is activated"
	}
	if err == nil {
		id, merr := mapping.DefaultSAML(a, cfg.OrgID, cfg.ID)
		if merr == nil {
			out["passed"] = true
			out["identity"] = id
			out["sessionNotOnOrAfter"] = a.SessionNotOnOrAfter
		}
		err = MappingError(merr)
	} else {
		err = unavailable(SAMLError(err))
	}
	if err != nil {
		var ae *jsonapi.Error
		if !errors.As(err, &ae) {
			return err
		}
		out["error"] = map[string]string{"code": ae.Code, "message": ae.Message}
	}
	jsonapi.WriteJSON(w, http.StatusOK, out)
	return nil
}
