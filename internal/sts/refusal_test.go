package sts_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/s3fed/s3fed/internal/admin"
	"github.com/s3fed/s3fed/internal/bodytimeout"
	"github.com/s3fed/s3fed/internal/idp"
	"github.com/s3fed/s3fed/internal/jsonapi"
	"github.com/s3fed/s3fed/internal/store"
	"github.com/s3fed/s3fed/internal/store/teststore"
	"github.com/s3fed/s3fed/internal/sts"
)

// The exchange refusal table (issue 9 defect 16): every way an exchange can
// be refused, run through every entry point that exchanges, each row saying
// what each front end must answer, and that nothing was minted.
//
// Rows describe a refusal in protocol-neutral terms where they can (which
// config is targeted, the duration asked for, a rate limit, a replay cache
// that is down, a body that does not arrive in time) and carry protocol-specific credential changes only where
// the refusal is about the credential itself (samlCred). Front ends turn a
// row into their own request. Every row must say, for every front end,
// either what it answers (want) or why the row does not apply (skip): a new
// front end (the OIDC endpoints, AssumeRoleWithWebIdentity) is added by
// appending to refusalFrontEnds, after which every row fails until it has
// an answer or a reason for the newcomer. OIDC rows add an oidcCred field
// beside samlCred.

// target names which config a row asks for.
type target int

const (
	targetGood          target = iota // the org's active config of the front end's kind
	targetInactive                    // an inactive config of the right kind
	targetUnknownOrg                  // an org that does not exist
	targetUnknownConfig               // a config ID the org does not have
	targetOtherOrgs                   // a config that exists, in another org
	targetWrongKind                   // a config of the org, of the other federation kind
	targetNoOrg                       // no org given at all
	targetNoConfig                    // no config given at all
)

// samlCred changes the front end's valid SAML Response.
type samlCred struct {
	sign   func(e *env, o *idp.SignOptions) // applied to the front end's sign options
	mangle func(e *env, b64 string) string  // applied to the signed, base64 response
}

// want is what one front end must answer: the HTTP status and the code the
// client reads (the JSON "code", the AWS STS Error/Code, or for :test the
// reported error's code, "" when every check passed).
type want struct {
	status int
	code   string
	has    string // a substring the message must hold, when not ""
}

type refusal struct {
	name     string
	target   target
	saml     *samlCred
	duration *int
	tags     map[string]string
	// awsRole is the role name AssumeRoleWithSAML asks for (and its valid
	// assertion offers); "" means reader-role.
	awsRole string
	// raw replaces the whole request body for the named front ends (for
	// refusals of the request's shape, which only that front end has).
	raw map[string]string
	// replay first presents the same request once, which must succeed.
	replay bool
	// stall sends half the body and holds the rest back until the answer
	// comes (with setup shortening the body deadline).
	stall bool
	// setup changes the service for this row and returns the undo.
	setup func(e *tableEnv) func()
	want  map[string]want
	skip  map[string]string // front end -> why the row does not apply
	// unaudited names front ends that refuse this row without writing an
	// exchange event, with the reason.
	unaudited map[string]string
}

func (r refusal) awsRoleName() string {
	if r.awsRole == "" {
		return "reader-role"
	}
	return r.awsRole
}

// exchangeRequest is a row resolved for one front end.
type exchangeRequest struct {
	org, config string
	awsRole     string
	stall       bool
	credential  string
	duration    *int
	tags        map[string]string
	raw         *string
}

type outcome struct {
	status  int
	code    string
	message string
	warning string
}

type frontEnd struct {
	name     string
	protocol string // "saml"; later "oidc"
	// audited: the front end writes an exchange event for a refusal.
	audited bool
	// credential is a valid credential for org and config through this
	// front end, with the row's changes applied.
	// front end, with the row's changes (r.saml; later r.oidc) applied.
	credential func(t *testing.T, e *env, org, config string, r refusal) string
	send       func(t *testing.T, e *env, rq exchangeRequest) outcome
}

const (
	feJSON = "json"
	feSTS  = "sts"
	feTest = "config-test"
)

func intp(n int) *int { return &n }

func refusalRows() []refusal {
	const (
		skipNoDuration = ":test checks the response and the mapping only; it issues nothing, so there is no duration"
		skipNoTags     = "only the JSON endpoint takes key tags"
		skipDryRun     = ":test is a dry run: it does not touch the replay cache, the rate limiter or the key store"
		skipAWSMapping = "AssumeRoleWithSAML maps the AWS attributes (RoleArn pair, RoleSessionName): see the AWS mapping rows"
		skipJSONOnly   = "a refusal of the JSON request's shape; the STS query API is form-encoded (see its own rows)"
		skipSTSOnly    = "a refusal of AssumeRoleWithSAML's parameters, which the JSON endpoint does not have"
		skipCWMapping  = "the JSON endpoint and :test use the CoreWeave mapping, which does not read the AWS attributes"
	)
	role, pn := "https://coreweave.com/SAML/Attributes/Role", "https://coreweave.com/SAML/Attributes/PrincipalName"
	setAttr := func(name string, values ...string) *samlCred {
		return &samlCred{sign: func(_ *env, o *idp.SignOptions) {
			if o.Attributes == nil {
				o.Attributes = map[string][]string{}
			}
			o.Attributes[name] = values
		}}
	}
	signed := func(f func(e *env, o *idp.SignOptions)) *samlCred { return &samlCred{sign: f} }
	mangled := func(f func(e *env, b64 string) string) *samlCred { return &samlCred{mangle: f} }
	invalidResponse := map[string]want{feJSON: {400, "invalid_saml_response", ""}, feSTS: {400, "InvalidIdentityToken", "invalid_saml_response"}, feTest: {200, "invalid_saml_response", ""}}
	samlCheck := func(code string, status int, awsCode string) map[string]want {
		has := "" // AWS's specific codes speak for themselves; the generic one names s3fed's
		if awsCode == "InvalidIdentityToken" {
			has = code
		}
		return map[string]want{feJSON: {status, code, ""}, feSTS: {400, awsCode, has}, feTest: {200, code, ""}}
	}
	cwMapping := func(has string) map[string]want {
		return map[string]want{feJSON: {403, "condition_not_met", has}, feTest: {200, "condition_not_met", has}}
	}
	tags16 := map[string]string{}
	for i := range 16 {
		tags16[string(rune('a'+i))] = "v"
	}
	return []refusal{
		// The request's shape.
		{name: "body is not JSON", raw: map[string]string{feJSON: `{"orgId":`, feTest: `{"samlResponse":`},
			want: map[string]want{feJSON: {400, "invalid_json", ""}, feTest: {400, "invalid_json", ""}}, skip: map[string]string{feSTS: skipJSONOnly}},
		{name: "unknown field", raw: map[string]string{feJSON: `{"orgId":"acme","configId":"cfg1","samlResponse":"x","role":"admin"}`, feTest: `{"samlResponse":"x","role":"admin"}`},
			want: map[string]want{feJSON: {400, "invalid_argument", `"role"`}, feTest: {400, "invalid_argument", `"role"`}}, skip: map[string]string{feSTS: skipJSONOnly}},
		{name: "request over 512 KiB", saml: mangled(func(*env, string) string { return strings.Repeat("A", 600<<10) }),
			want:      map[string]want{feJSON: {413, "payload_too_large", ""}, feSTS: {413, "ValidationError", ""}, feTest: {413, "payload_too_large", ""}},
			unaudited: map[string]string{feSTS: "the STS query API checks the size before it reads the form, and so before it knows an exchange was asked for"}},
		{name: "no credential", saml: mangled(func(*env, string) string { return "" }),
			want: map[string]want{feJSON: {400, "invalid_saml_response", "samlResponse"}, feSTS: {400, "ValidationError", "SAMLAssertion"}, feTest: {400, "invalid_argument", "samlResponse"}}},
		{name: "no org", target: targetNoOrg,
			want: map[string]want{feJSON: {400, "invalid_argument", "orgId"}, feSTS: {400, "ValidationError", "RoleArn"}},
			skip: map[string]string{feTest: ":test names the org in its path"}},
		{name: "no config", target: targetNoConfig,
			want: map[string]want{feJSON: {400, "invalid_argument", "configId"}, feSTS: {400, "ValidationError", "PrincipalArn"}},
			skip: map[string]string{feTest: ":test names the config in its path"}},
		{name: "PrincipalArn of another org than RoleArn", raw: map[string]string{feSTS: "Action=AssumeRoleWithSAML&RoleArn=arn:aws:iam::acme:role/r&PrincipalArn=arn:aws:iam::other:saml-provider/cfg-other&SAMLAssertion=x"},
			want: map[string]want{feSTS: {400, "ValidationError", "PrincipalArn"}}, skip: map[string]string{feJSON: skipSTSOnly, feTest: skipSTSOnly}},
		{name: "session policy", raw: map[string]string{feSTS: "Action=AssumeRoleWithSAML&RoleArn=arn:aws:iam::acme:role/r&PrincipalArn=arn:aws:iam::acme:saml-provider/cfg1&SAMLAssertion=x&Policy=%7B%7D"},
			want: map[string]want{feSTS: {400, "ValidationError", "session policies"}}, skip: map[string]string{feJSON: skipSTSOnly, feTest: skipSTSOnly}},

		// Which config.
		{name: "unknown org", target: targetUnknownOrg,
			want: map[string]want{feJSON: {404, "not_found", ""}, feSTS: {400, "InvalidParameterValue", ""}, feTest: {404, "not_found", ""}}},
		{name: "unknown config", target: targetUnknownConfig,
			want: map[string]want{feJSON: {404, "not_found", ""}, feSTS: {400, "InvalidParameterValue", ""}, feTest: {404, "not_found", ""}}},
		{name: "another org's config", target: targetOtherOrgs,
			want: map[string]want{feJSON: {404, "not_found", ""}, feSTS: {400, "InvalidParameterValue", ""}, feTest: {404, "not_found", ""}}},
		{name: "config of the other kind", target: targetWrongKind,
			want: map[string]want{feJSON: {404, "not_found", ""}, feSTS: {400, "InvalidParameterValue", ""}, feTest: {400, "invalid_argument", "not a SAML config"}}},
		{name: "inactive config", target: targetInactive,
			// :test still runs every check (so an admin can test before
			// activating) and warns; the exchanges refuse.
			want: map[string]want{feJSON: {403, "config_inactive", ""}, feSTS: {400, "IDPRejectedClaim", "inactive"}, feTest: {200, "", "inactive"}}},

		// Duration.
		{name: "duration zero", duration: intp(0),
			want: map[string]want{feJSON: {400, "duration_out_of_range", ""}, feSTS: {400, "ValidationError", "DurationSeconds"}}, skip: map[string]string{feTest: skipNoDuration}},
		{name: "duration negative", duration: intp(-1),
			want: map[string]want{feJSON: {400, "duration_out_of_range", ""}, feSTS: {400, "ValidationError", "DurationSeconds"}}, skip: map[string]string{feTest: skipNoDuration}},
		{name: "duration over 12 hours", duration: intp(43201),
			want: map[string]want{feJSON: {400, "duration_out_of_range", ""}, feSTS: {400, "ValidationError", "DurationSeconds"}}, skip: map[string]string{feTest: skipNoDuration}},
		{name: "duration under AWS's 15 minutes", duration: intp(899),
			want: map[string]want{feSTS: {400, "ValidationError", "DurationSeconds"}},
			skip: map[string]string{feJSON: "the JSON endpoint allows 1 s to 12 h (API.md)", feTest: skipNoDuration}},
		{name: "duration not a number", raw: map[string]string{feJSON: `{"orgId":"acme","configId":"cfg1","samlResponse":"x","durationSeconds":"60"}`},
			want: map[string]want{feJSON: {400, "invalid_argument", "durationSeconds"}}, skip: map[string]string{feSTS: "see the STS row below", feTest: skipNoDuration}},
		{name: "DurationSeconds not a number", raw: map[string]string{feSTS: "Action=AssumeRoleWithSAML&RoleArn=arn:aws:iam::acme:role/r&PrincipalArn=arn:aws:iam::acme:saml-provider/cfg1&SAMLAssertion=x&DurationSeconds=1h"},
			want: map[string]want{feSTS: {400, "ValidationError", "DurationSeconds"}}, skip: map[string]string{feJSON: skipSTSOnly, feTest: skipSTSOnly}},
		{name: "IdP session ends within the second", saml: signed(func(_ *env, o *idp.SignOptions) { o.SessionTTL = 500 * time.Millisecond }),
			want: map[string]want{feJSON: {403, "condition_not_met", "session ends"}, feSTS: {400, "IDPRejectedClaim", "session ends"}},
			skip: map[string]string{feTest: skipNoDuration}},

		// Key tags.
		{name: "16 tags", tags: tags16, want: map[string]want{feJSON: {400, "invalid_argument", "at most 15"}}, skip: map[string]string{feSTS: skipNoTags, feTest: skipNoTags}},
		{name: "reserved tag key", tags: map[string]string{"cw-x": "1"}, want: map[string]want{feJSON: {400, "invalid_argument", "reserved"}}, skip: map[string]string{feSTS: skipNoTags, feTest: skipNoTags}},
		{name: "role tag key", tags: map[string]string{"role": "admin"}, want: map[string]want{feJSON: {400, "invalid_argument", "reserved"}}, skip: map[string]string{feSTS: skipNoTags, feTest: skipNoTags}},
		{name: "tag key with upper case", tags: map[string]string{"Team": "x"}, want: map[string]want{feJSON: {400, "invalid_argument", "a-z"}}, skip: map[string]string{feSTS: skipNoTags, feTest: skipNoTags}},
		{name: "tag value over 256 bytes", tags: map[string]string{"a": strings.Repeat("v", 257)}, want: map[string]want{feJSON: {400, "invalid_argument", "256"}}, skip: map[string]string{feSTS: skipNoTags, feTest: skipNoTags}},

		// The response as bytes.
		{name: "not base64", saml: mangled(func(*env, string) string { return "!!!" }), want: invalidResponse},
		{name: "not XML", saml: mangled(func(*env, string) string { return base64.StdEncoding.EncodeToString([]byte("hello")) }), want: invalidResponse},
		{name: "decoded XML over 256 KiB", saml: mangled(func(*env, string) string {
			return base64.StdEncoding.EncodeToString(bytes.Repeat([]byte("<"), 300<<10))
		}), want: invalidResponse},

		// Each SAML check.
		{name: "edited after signing", saml: mangled(func(_ *env, b64 string) string {
			x, _ := base64.StdEncoding.DecodeString(b64)
			return base64.StdEncoding.EncodeToString(bytes.Replace(x, []byte("alice"), []byte("mallory"), 1))
		}), want: samlCheck("invalid_signature", 401, "InvalidIdentityToken")},
		{name: "unsigned", saml: signed(func(_ *env, o *idp.SignOptions) { o.Sign = idp.SignNone }), want: samlCheck("invalid_signature", 401, "InvalidIdentityToken")},
		{name: "signed by a key the config does not trust", saml: signed(func(e *env, o *idp.SignOptions) {
			o.KeyPair = e.otherKeyPair()
			o.Issuer = idp.DefaultIssuer(e.kp.Cert)
		}), want: samlCheck("untrusted_key", 401, "InvalidIdentityToken")},
		{name: "another issuer", saml: signed(func(_ *env, o *idp.SignOptions) { o.Issuer = "https://other-idp.example.com" }), want: samlCheck("issuer_mismatch", 401, "InvalidIdentityToken")},
		{name: "another audience", saml: signed(func(_ *env, o *idp.SignOptions) { o.Audience = "https://elsewhere.example.com/" }), want: samlCheck("audience_mismatch", 401, "InvalidIdentityToken")},
		{name: "audience of another org", saml: signed(func(_ *env, o *idp.SignOptions) { o.OrgID = "other" }), want: samlCheck("audience_mismatch", 401, "InvalidIdentityToken")},
		{name: "another destination", saml: signed(func(_ *env, o *idp.SignOptions) {
			o.Destination, o.Recipient = "https://elsewhere.example.com/acs", "https://s3fed.example.com/m2m-saml-acs"
		}), want: samlCheck("destination_mismatch", 401, "InvalidIdentityToken")},
		{name: "another recipient", saml: signed(func(_ *env, o *idp.SignOptions) { o.Recipient = "https://elsewhere.example.com/acs" }), want: samlCheck("recipient_mismatch", 401, "InvalidIdentityToken")},
		{name: "expired", saml: signed(func(e *env, o *idp.SignOptions) { o.Now = func() time.Time { return e.now.Add(-time.Hour) } }),
			want: samlCheck("assertion_expired", 401, "ExpiredTokenException")},
		{name: "not yet valid", saml: signed(func(e *env, o *idp.SignOptions) { o.Now = func() time.Time { return e.now.Add(time.Hour) } }),
			want: samlCheck("assertion_not_yet_valid", 401, "InvalidIdentityToken")},
		{name: "IdP session already ended", saml: signed(func(e *env, o *idp.SignOptions) {
			o.Now = func() time.Time { return e.now.Add(-2 * time.Minute) }
			o.TTL, o.SessionTTL = 10*time.Minute, time.Minute
		}), want: samlCheck("assertion_expired", 401, "ExpiredTokenException")},
		{name: "replayed", replay: true,
			want: map[string]want{feJSON: {401, "replayed_assertion", ""}, feSTS: {400, "InvalidIdentityToken", "replayed_assertion"}},
			skip: map[string]string{feTest: skipDryRun}},

		// Mapping refusals: the CoreWeave mapping (JSON endpoint, :test).
		{name: "no role attribute", saml: signed(func(_ *env, o *idp.SignOptions) { o.Role = "" }), want: cwMapping(role), skip: map[string]string{feSTS: skipAWSMapping}},
		{name: "two roles", saml: setAttr(role, "a", "b"), want: cwMapping("it has 2"), skip: map[string]string{feSTS: skipAWSMapping}},
		{name: "two principal names", saml: setAttr(pn, "a", "b"), want: cwMapping(pn), skip: map[string]string{feSTS: skipAWSMapping}},
		{name: "principal name with RLO", saml: setAttr(pn, "alice\u202Emoc.evil"), want: cwMapping("byte 5: U+202E RIGHT-TO-LEFT OVERRIDE"), skip: map[string]string{feSTS: skipAWSMapping}},
		{name: "NameID with a zero-width space", saml: signed(func(_ *env, o *idp.SignOptions) {
			o.NameID = "ali\u200Bce@example.com"
			o.Attributes = map[string][]string{pn: nil}
		}), want: cwMapping("NameID: value"), skip: map[string]string{feSTS: skipAWSMapping}},
		{name: "role with a bidi isolate", saml: setAttr(role, "reader\u2066"), want: cwMapping("byte 6: U+2066 LEFT-TO-RIGHT ISOLATE"), skip: map[string]string{feSTS: skipAWSMapping}},

		// Mapping refusals: the AWS mapping (AssumeRoleWithSAML).
		{name: "RoleArn not offered by the assertion", saml: setAttr(awsRoleAttr, "arn:aws:iam::acme:role/other,arn:aws:iam::acme:saml-provider/cfg1"),
			want: map[string]want{feSTS: {400, "IDPRejectedClaim", "no value"}}, skip: map[string]string{feJSON: skipCWMapping, feTest: skipCWMapping}},
		{name: "no RoleSessionName", saml: setAttr(awsSessionAttr),
			want: map[string]want{feSTS: {400, "IDPRejectedClaim", awsSessionAttr}}, skip: map[string]string{feJSON: skipCWMapping, feTest: skipCWMapping}},
		{name: "RoleSessionName with a space", saml: setAttr(awsSessionAttr, "alice smith"),
			want: map[string]want{feSTS: {400, "IDPRejectedClaim", "allowed are"}}, skip: map[string]string{feJSON: skipCWMapping, feTest: skipCWMapping}},
		{name: "RoleArn role with RLO", awsRole: "reader\u202Erole", // offered by the assertion too
			want: map[string]want{feSTS: {400, "ValidationError", "U+202E RIGHT-TO-LEFT OVERRIDE"}}, skip: map[string]string{feJSON: skipSTSOnly, feTest: skipSTSOnly}},

		// The service's own limits and dependencies.
		{name: "rate limited", setup: func(e *tableEnv) func() {
			e.svc.Limit = &sts.Limiter{Rate: 1e-9, Burst: 0}
			return func() { e.svc.Limit = nil }
		}, want: map[string]want{feJSON: {429, "rate_limited", ""}, feSTS: {400, "Throttling", ""}}, skip: map[string]string{feTest: skipDryRun}},
		{name: "body does not arrive in time", stall: true, setup: func(e *tableEnv) func() {
			// The server wiring's deadline (internal/server: --api-body-timeout on the
			// API listener, the STS query API's on the S3 listener), made short.
			e.bodyTimeout.Store(int64(100 * time.Millisecond))
			return func() { e.bodyTimeout.Store(0) }
		}, want: map[string]want{feJSON: {408, "request_timeout", "body"}, feSTS: {408, "RequestTimeout", "body"}, feTest: {408, "request_timeout", "body"}},
			unaudited: map[string]string{feSTS: "the STS query API reads the form, and so the Action, before it knows an exchange was asked for"}},
		{name: "replay cache unavailable", setup: func(e *tableEnv) func() {
			e.svc.Store = failingReplay{e.st}
			return func() { e.svc.Store = e.st }
		}, want: map[string]want{feJSON: {503, "unavailable", ""}, feSTS: {503, "ServiceUnavailable", ""}}, skip: map[string]string{feTest: skipDryRun}},
	}
}

// tableEnv is the sts test env with what the table adds: the body deadline
// its servers apply (0: none), as the server wiring does.
type tableEnv struct {
	*env
	bodyTimeout atomic.Int64 // a time.Duration
}

func refusalFrontEnds(t *testing.T, te *tableEnv) []frontEnd {
	e := te.env
	ctx := context.Background()
	root := admin.NewToken()
	if err := e.st.Update(ctx, func(tx store.Tx) error {
		return tx.PutToken(ctx, store.Token{ID: store.RootTokenID, Hash: admin.HashToken(root), Description: "root", Created: e.now})
	}); err != nil {
		t.Fatal(err)
	}
	adm := &admin.API{Store: e.st, TestConfig: e.svc.TestSAML, Now: func() time.Time { return e.now }}
	rt := jsonapi.NewRouter()
	adm.Register(rt)
	adminSrv := httptest.NewServer(jsonapi.Middleware(e.svc.Log, te.withBodyTimeout(rt)))
	t.Cleanup(adminSrv.Close)
	stsSrv := httptest.NewServer(te.withBodyTimeout(e.svc.QueryHandler()))
	t.Cleanup(stsSrv.Close)
	ert := jsonapi.NewRouter()
	e.svc.Register(ert)
	jsonSrv := httptest.NewServer(jsonapi.Middleware(e.svc.Log, te.withBodyTimeout(ert)))
	t.Cleanup(jsonSrv.Close)

	cwCredential := func(t *testing.T, e *env, org, config string, r refusal) string {
		return e.signWith(r.saml, nil)
	}
	return []frontEnd{
		{name: feJSON, protocol: "saml", audited: true, credential: cwCredential,
			send: func(t *testing.T, e *env, rq exchangeRequest) outcome {
				body := rq.raw
				if body == nil {
					m := map[string]any{"samlResponse": rq.credential}
					if rq.org != "" {
						m["orgId"] = rq.org
					}
					if rq.config != "" {
						m["configId"] = rq.config
					}
					if rq.duration != nil {
						m["durationSeconds"] = *rq.duration
					}
					if rq.tags != nil {
						m["attributes"] = rq.tags
					}
					b, _ := json.Marshal(m)
					s := string(b)
					body = &s
				}
				return jsonOutcome(t, http.MethodPost, jsonSrv.URL+"/v1/cwobject/temporary-credentials/saml", "", *body, rq.stall)
			}},
		{name: feSTS, protocol: "saml", audited: true,
			credential: func(t *testing.T, e *env, org, config string, r refusal) string {
				return e.signWith(r.saml, func(o *idp.SignOptions) {
					o.Attributes = map[string][]string{
						awsRoleAttr:    {"arn:aws:iam::" + org + ":role/" + r.awsRoleName() + ",arn:aws:iam::" + org + ":saml-provider/" + config},
						awsSessionAttr: {"alice-session"},
					}
				})
			},
			send: func(t *testing.T, e *env, rq exchangeRequest) outcome {
				role := "arn:aws:iam::" + rq.org + ":role/" + rq.awsRole
				form := url.Values{"Action": {"AssumeRoleWithSAML"}, "Version": {"2011-06-15"}, "RoleArn": {role},
					"PrincipalArn": {"arn:aws:iam::" + rq.org + ":saml-provider/" + rq.config}, "SAMLAssertion": {rq.credential}}
				if rq.duration != nil {
					form.Set("DurationSeconds", strconv.Itoa(*rq.duration))
				}
				body := form.Encode()
				if rq.raw != nil {
					body = *rq.raw
				}
				return stsOutcome(t, stsSrv.URL, body, rq.stall)
			}},
		{name: feTest, protocol: "saml", credential: cwCredential,
			send: func(t *testing.T, e *env, rq exchangeRequest) outcome {
				body := rq.raw
				if body == nil {
					b, _ := json.Marshal(map[string]string{"samlResponse": rq.credential})
					s := string(b)
					body = &s
				}
				return jsonOutcome(t, http.MethodPost, adminSrv.URL+"/v1/admin/orgs/"+url.PathEscape(rq.org)+"/workload-federation/"+url.PathEscape(rq.config)+":test", root, *body, rq.stall)
			}},
	}
}

// signWith signs the front end's valid response (base) with the row's
// changes (c) on top.
func (e *env) signWith(c *samlCred, base func(*idp.SignOptions)) string {
	b64 := e.sign(func(o *idp.SignOptions) {
		if base != nil {
			base(o)
		}
		if c != nil && c.sign != nil {
			c.sign(e, o)
		}
	})
	if c != nil && c.mangle != nil {
		b64 = c.mangle(e, b64)
	}
	return b64
}

// otherKeyPair is a signing key the configs do not trust.
func (e *env) otherKeyPair() *idp.KeyPair {
	e.t.Helper()
	certPEM, keyPEM, err := idp.Keygen(idp.KeygenOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	kp, err := idp.ParseKeyPair(certPEM, keyPEM)
	if err != nil {
		e.t.Fatal(err)
	}
	return kp
}

// jsonOutcome sends a JSON request and reads API.md's answer: for an error
// {code, message}; for :test its report's error and warning.
func jsonOutcome(t *testing.T, method, u, token, body string, stall bool) outcome {
	t.Helper()
	rd, release := bodyOf(body, stall)
	defer release()
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = int64(len(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("answer is not a JSON object: %q", raw)
	}
	o := outcome{status: resp.StatusCode}
	if resp.StatusCode == http.StatusTooManyRequests && resp.Header.Get("Retry-After") == "" {
		t.Errorf("429 without Retry-After")
	}
	if resp.StatusCode >= 400 {
		o.code, _ = m["code"].(string)
		o.message, _ = m["message"].(string)
		if len(m) != 2 {
			t.Errorf("error body is not exactly {code, message}: %s", raw)
		}
		return o
	}
	if _, ok := m["checks"]; ok { // a :test report
		if ev, ok := m["error"].(map[string]any); ok {
			o.code, _ = ev["code"].(string)
			o.message, _ = ev["message"].(string)
		} else if m["passed"] != true {
			t.Errorf(":test neither passed nor reported an error: %s", raw)
		}
		o.warning, _ = m["warning"].(string)
		if o.code == "" {
			o.message = o.warning
		}
	}
	return o
}

// stsOutcome posts an STS query and reads AWS's ErrorResponse.
func stsOutcome(t *testing.T, u, form string, stall bool) outcome {
	t.Helper()
	rd, release := bodyOf(form, stall)
	defer release()
	req, err := http.NewRequest(http.MethodPost, u, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = int64(len(form))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	o := outcome{status: resp.StatusCode}
	if resp.StatusCode == http.StatusOK {
		return o
	}
	var er struct {
		Error struct {
			Type, Code, Message string
		}
		RequestID string `xml:"RequestId"`
	}
	if err := xml.Unmarshal(raw, &er); err != nil {
		t.Fatalf("STS error is not an ErrorResponse: %v: %q", err, raw)
	}
	if er.RequestID == "" || er.RequestID != resp.Header.Get("x-amzn-RequestId") {
		t.Errorf("RequestId %q, header %q", er.RequestID, resp.Header.Get("x-amzn-RequestId"))
	}
	if want := map[bool]string{true: "Receiver", false: "Sender"}[resp.StatusCode >= 500]; er.Error.Type != want {
		t.Errorf("Error/Type %q, want %q", er.Error.Type, want)
	}
	o.code, o.message = er.Error.Code, er.Error.Message
	return o
}

// bodyOf is a request body; a stalled one sends its first half and then
// waits, without ending, until release is called (after the answer came).
func bodyOf(body string, stall bool) (io.Reader, func()) {
	if !stall {
		return strings.NewReader(body), func() {}
	}
	held := make(chan struct{})
	return &stalledBody{first: strings.NewReader(body[:len(body)/2]), held: held}, sync.OnceFunc(func() { close(held) })
}

type stalledBody struct {
	first io.Reader
	held  chan struct{}
}

func (b *stalledBody) Read(p []byte) (int, error) {
	n, err := b.first.Read(p)
	if err == io.EOF {
		<-b.held
		return 0, io.ErrUnexpectedEOF
	}
	return n, err
}

// withBodyTimeout gives h the body deadline the server wiring gives the
// API listener and the STS query API, at e.bodyTimeout (0: none).
func (e *tableEnv) withBodyTimeout(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if d := time.Duration(e.bodyTimeout.Load()); d > 0 {
			bodytimeout.Total(w, r, d)
		}
		h.ServeHTTP(w, r)
	})
}

// resolve maps a row's target to an org and config ID for a front end of
// the given protocol. An OIDC front end adds its configs (an active and an
// inactive OIDC config of acme) to byKind; its wrong kind is then a SAML
// config.
func (e *env) resolve(tg target, protocol string) (org, config string) {
	byKind := map[string]struct{ good, inactive, wrongKind string }{
		"saml": {good: e.cfgID, inactive: e.inactive, wrongKind: "cfg-oidc"},
	}
	k, ok := byKind[protocol]
	if !ok {
		e.t.Fatalf("no configs of kind %q in the refusal table's env", protocol)
	}
	switch tg {
	case targetInactive:
		return "acme", k.inactive
	case targetUnknownOrg:
		return "no-such-org", k.good
	case targetUnknownConfig:
		return "acme", "no-such-config"
	case targetOtherOrgs:
		return "acme", e.otherCfg
	case targetWrongKind:
		return "acme", k.wrongKind
	case targetNoOrg:
		return "", k.good
	case targetNoConfig:
		return "acme", ""
	}
	return "acme", k.good
}

// TestExchangeRefusalTable runs every refusal through every front end, on
// every state store.
func TestExchangeRefusalTable(t *testing.T) { teststore.Each(t, testExchangeRefusalTable) }

func testExchangeRefusalTable(t *testing.T, b teststore.Backend) {
	e := newEnv(t, b, false)
	te := &tableEnv{env: e}
	ctx := context.Background()
	// A config of the other federation kind, for targetWrongKind.
	if err := e.st.Update(ctx, func(tx store.Tx) error {
		return tx.CreateConfig(ctx, store.Config{OrgID: "acme", ID: "cfg-oidc", Kind: "oidc", Name: "oidc", Active: true, Created: e.now})
	}); err != nil {
		t.Fatal(err)
	}
	fes := refusalFrontEnds(t, te)
	rows := refusalRows()

	// Every row answers for every front end, or says why not.
	names := map[string]bool{}
	for _, r := range rows {
		if names[r.name] {
			t.Fatalf("row %q appears twice", r.name)
		}
		names[r.name] = true
		for _, fe := range fes {
			_, w := r.want[fe.name]
			why, s := r.skip[fe.name]
			switch {
			case w && s:
				t.Errorf("row %q both expects an answer from and skips front end %s", r.name, fe.name)
			case !w && !s:
				t.Errorf("row %q says nothing about front end %s: add its answer to want, or a reason to skip", r.name, fe.name)
			case s && why == "":
				t.Errorf("row %q skips front end %s without a reason", r.name, fe.name)
			}
		}
		for name := range r.want {
			if !hasFrontEnd(fes, name) {
				t.Errorf("row %q expects an answer from unknown front end %q", r.name, name)
			}
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	for _, r := range rows {
		for _, fe := range fes {
			w, ok := r.want[fe.name]
			if !ok {
				continue
			}
			t.Run(fe.name+"/"+r.name, func(t *testing.T) {
				e.t = t
				org, config := e.resolve(r.target, fe.protocol)
				rq := exchangeRequest{org: org, config: config, awsRole: r.awsRoleName(), stall: r.stall, duration: r.duration, tags: r.tags}
				if raw, ok := r.raw[fe.name]; ok {
					rq.raw = &raw
				}
				credOrg, credConfig := org, config
				if credOrg == "" || credConfig == "" {
					credOrg, credConfig = e.resolve(targetGood, fe.protocol)
				}
				rq.credential = fe.credential(t, e, credOrg, credConfig, r)
				if r.replay {
					if o := fe.send(t, e, rq); o.status != 200 {
						t.Fatalf("first use: %d %s %s", o.status, o.code, o.message)
					}
				}
				if r.setup != nil {
					defer r.setup(te)()
				}
				keysBefore := e.allKeys()
				eventsBefore := e.eventCount()

				o := fe.send(t, e, rq)

				if o.status != w.status || o.code != w.code {
					t.Fatalf("answered %d %q (%s), want %d %q", o.status, o.code, o.message, w.status, w.code)
				}
				if w.status != 200 || w.code != "" {
					if o.message == "" || len(o.message) > 1024 {
						t.Errorf("message %q: a refusal says why, briefly", o.message)
					}
				}
				if w.has != "" && !strings.Contains(o.message, w.has) {
					t.Errorf("message %q does not contain %q", o.message, w.has)
				}
				if keys := e.allKeys(); keys != keysBefore {
					t.Fatalf("a refused exchange minted a key:\nbefore %s\nafter  %s", keysBefore, keys)
				}
				evs := e.newEvents(eventsBefore)
				if _, quiet := r.unaudited[fe.name]; !fe.audited || quiet {
					if len(evs) != 0 {
						t.Errorf("%s wrote %d exchange events for this row: %+v", fe.name, len(evs), evs)
					}
					return
				}
				if len(evs) != 1 {
					t.Fatalf("%d exchange events for one refusal, want 1: %+v", len(evs), evs)
				}
				ev := evs[0]
				if ev.Kind != "exchange" || ev.Outcome != "failure" || ev.Code == "" || ev.PrincipalName != "" || ev.Role != "" || ev.AccessKeyID != "" {
					t.Fatalf("refusal audited as %+v: want a failure with a code and no identity", ev)
				}
				if fe.name == feJSON && ev.Code != w.code {
					t.Errorf("audited code %q, answered %q", ev.Code, w.code)
				}
			})
		}
	}
}

func hasFrontEnd(fes []frontEnd, name string) bool {
	for _, fe := range fes {
		if fe.name == name {
			return true
		}
	}
	return false
}

// allKeys renders every access key of every org, so that a refusal can be
// shown to have minted nothing.
func (e *env) allKeys() string {
	e.t.Helper()
	var ids []string
	orgs, err := e.st.ListOrgs(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	for _, o := range orgs {
		ks, err := e.st.ListAccessKeys(context.Background(), store.AccessKeyFilter{OrgID: o.ID})
		if err != nil {
			e.t.Fatal(err)
		}
		for _, k := range ks {
			ids = append(ids, k.ID)
		}
	}
	sort.Strings(ids)
	return strings.Join(ids, ",")
}

// exchangeEvents lists the exchange audit events of every org and of none
// (refusals before an org is known).
func (e *env) exchangeEvents() []store.Event {
	e.t.Helper()
	var out []store.Event
	for _, org := range []string{"", "acme", "other"} {
		evs, err := e.st.ListEvents(context.Background(), store.EventFilter{OrgID: org, Limit: 10000})
		if err != nil {
			e.t.Fatal(err)
		}
		for _, ev := range evs {
			if ev.Kind == "exchange" {
				out = append(out, ev)
			}
		}
	}
	return out
}

func (e *env) eventCount() int { return len(e.exchangeEvents()) }

// newEvents returns the exchange events written since there were n.
func (e *env) newEvents(n int) []store.Event {
	evs := e.exchangeEvents()
	if len(evs) <= n {
		return nil
	}
	sort.Slice(evs, func(i, j int) bool { return evs[i].ID < evs[j].ID })
	return evs[n:]
}
