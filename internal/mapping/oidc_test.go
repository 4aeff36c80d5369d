package mapping

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/s3fed/s3fed/internal/identity"
	"github.com/s3fed/s3fed/internal/idp"
	"github.com/s3fed/s3fed/internal/oidc"
)

func TestDefaultOIDC(t *testing.T) {
	const iss = "https://idp.example.com"
	in := func(claims map[string]any) Input {
		claims["iss"] = iss
		sub, _ := claims["sub"].(string)
		return Input{Provider: identity.ProviderOIDC, Issuer: iss, Subject: sub, Claims: claims}
	}
	tests := []struct {
		name          string
		claims        map[string]any
		subject, role string
		attrs         map[string][]string
		wantMsg       string // condition_not_met containing this
	}{
		{name: "ISSUER:SUBJECT role, sub principal", claims: map[string]any{"sub": "svc-data-ingest"},
			subject: "svc-data-ingest", role: iss + ":svc-data-ingest", attrs: map[string][]string{"iss": {iss}, "sub": {"svc-data-ingest"}}},
		{name: "CoreWeave claims", claims: map[string]any{"sub": "x", CoreWeaveRoleClaim: "reader", CoreWeavePrincipalClaim: "alice@example.com"},
			subject: "alice@example.com", role: "reader"},
		{name: "string and string-list claims kept as attributes", claims: map[string]any{"sub": "s", "repository_owner": "acme", "groups": []any{"a", "b"}, "n": 1.0, "mixed": []any{"a", 1.0}, "obj": map[string]any{}},
			subject: "s", role: iss + ":s", attrs: map[string][]string{"iss": {iss}, "sub": {"s"}, "repository_owner": {"acme"}, "groups": {"a", "b"}}},
		{name: "role claim not a string", claims: map[string]any{"sub": "s", CoreWeaveRoleClaim: []any{"a"}}, wantMsg: "claim " + CoreWeaveRoleClaim + " must be a string"},
		{name: "role claim empty", claims: map[string]any{"sub": "s", CoreWeaveRoleClaim: ""}, wantMsg: "is empty"},
		{name: "principal claim not a string", claims: map[string]any{"sub": "s", CoreWeavePrincipalClaim: 5.0}, wantMsg: "must be a string"},
		{name: "principal with a control character", claims: map[string]any{"sub": "a\tb"}, wantMsg: "control character"},
		{name: "principal with a bidi isolate", claims: map[string]any{"sub": "s", CoreWeaveRoleClaim: "r", CoreWeavePrincipalClaim: "alice\u2067x"}, wantMsg: "byte 5: U+2067 RIGHT-TO-LEFT ISOLATE"},
		{name: "sub with a BOM", claims: map[string]any{"sub": "\ufeffsvc"}, wantMsg: "byte 24: U+FEFF ZERO WIDTH NO-BREAK SPACE"}, // the role ISSUER:SUBJECT is checked first,
		{name: "ISSUER:SUBJECT over 256 bytes", claims: map[string]any{"sub": strings.Repeat("s", 240)}, wantMsg: "role is"},
		{name: "principal over 256 bytes", claims: map[string]any{"sub": "s", CoreWeaveRoleClaim: "r", CoreWeavePrincipalClaim: strings.Repeat("p", 252)}, wantMsg: "at most 256 allowed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id, err := DefaultOIDC(in(tc.claims), org, cfg)
			if tc.wantMsg != "" {
				wantErr(t, err, CodeConditionNotMet, tc.wantMsg)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if id.Subject != tc.subject || id.PrincipalName != "oidc/"+tc.subject || id.Role != tc.role || id.Provider != identity.ProviderOIDC || id.Groups != nil {
				t.Errorf("identity %+v", id)
			}
			if tc.attrs != nil && !reflect.DeepEqual(id.Attributes, tc.attrs) {
				t.Errorf("attributes %v, want %v", id.Attributes, tc.attrs)
			}
		})
	}
	if _, err := DefaultOIDC(Input{Provider: identity.ProviderSAML}, org, cfg); err == nil {
		t.Error("DefaultOIDC accepted a SAML input")
	}
	if _, err := Default(in(map[string]any{"sub": "s"}), "", cfg); err == nil {
		t.Error("empty org accepted")
	}
}

// TestOIDCChain runs the OIDC exchange's domain path without HTTP: the test
// IdP signs, the verifier checks, the CEL rules map and decide.
func TestOIDCChain(t *testing.T) {
	pk, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	key, err := idp.NewJWTKey(pk)
	if err != nil {
		t.Fatal(err)
	}
	set, err := oidc.ParseJWKS(idp.JWKS(key))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().Truncate(time.Second)
	vcfg := &oidc.Config{Issuer: idp.DefaultJWTIssuer, Audience: "s3fed", Keys: oidc.StaticKeys{Set: set}, Skew: time.Minute, Now: func() time.Time { return now }}
	token, err := idp.SignJWT(idp.JWTOptions{Key: key, Subject: "alice", Audience: []string{"s3fed"}, Now: vcfg.Now,
		Claims: map[string]any{"groups": []string{"data-eng", "ml"}, "costcenter": "42"}})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := oidc.Verify(context.Background(), token, vcfg)
	if err != nil {
		t.Fatal(err)
	}
	rules, err := Compile(Spec{AttributeMapping: map[string]string{
		"google.subject": "assertion.sub", "google.groups": "assertion.groups", "attribute.costcenter": "assertion.costcenter",
	}, AttributeCondition: "'data-eng' in google.groups"})
	if err != nil {
		t.Fatal(err)
	}
	id, err := rules.Apply(context.Background(), OIDCInput(tok), org, cfg)
	if err != nil {
		t.Fatal(err)
	}
	want := identity.Identity{OrgID: org, ConfigID: cfg, Provider: identity.ProviderOIDC, Subject: "alice", PrincipalName: "oidc/alice",
		Role: idp.DefaultJWTIssuer + ":alice", Groups: []string{"data-eng", "ml"}, Attributes: map[string][]string{"costcenter": {"42"}}}
	if !reflect.DeepEqual(id, want) {
		t.Errorf("identity\n got %+v\nwant %+v", id, want)
	}
}
