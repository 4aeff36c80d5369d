package mapping

import (
	"context"
	"crypto/x509"
	"errors"
	"testing"
	"time"

	"github.com/s3fed/s3fed/internal/identity"
	"github.com/s3fed/s3fed/internal/idp"
	"github.com/s3fed/s3fed/internal/saml"
)

type okReplay struct{}

func (okReplay) Claim(context.Context, string, string, time.Time) error { return nil }

// TestChain runs the exchange's domain path without HTTP: the test IdP
// signs, the strict validator verifies, the mapping builds the identity.
func TestChain(t *testing.T) {
	certPEM, keyPEM, err := idp.Keygen(idp.KeygenOptions{KeyType: idp.KeyECDSAP256})
	if err != nil {
		t.Fatal(err)
	}
	kp, err := idp.ParseKeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	const pub = "https://s3fed.example.com"
	vcfg := &saml.Config{
		IdPEntityID:  idp.DefaultIssuer(kp.Cert),
		Certificates: []*x509.Certificate{kp.Cert},
		ACSURL:       pub + "/m2m-saml-acs",
		Audience:     pub + "/accounts/saml/" + org + "/metadata/",
		Skew:         time.Minute,
		Now:          func() time.Time { return now },
		Replay:       okReplay{},
	}
	aws := map[string][]string{
		AWSRoleAttribute:            {"arn:aws:iam::org1:role/writer,arn:aws:iam::org1:saml-provider/cfg1"},
		AWSRoleSessionNameAttribute: {"alice@example.com"},
	}
	tests := []struct {
		name      string
		opts      idp.SignOptions
		mapFn     func(*saml.Assertion) (identity.Identity, error)
		wantPN    string
		wantRole  string
		wantCode  string
		wantAttrs int
	}{
		{name: "default mapping", opts: idp.SignOptions{Principal: "alice@example.com", Role: "reader"},
			mapFn:  func(a *saml.Assertion) (identity.Identity, error) { return DefaultSAML(a, org, cfg) },
			wantPN: "saml/alice@example.com", wantRole: "reader", wantAttrs: 2},
		{name: "NameID fallback", opts: idp.SignOptions{Principal: "bob@example.com", Role: "reader",
			Attributes: map[string][]string{idp.PrincipalNameAttribute: nil}},
			mapFn:  func(a *saml.Assertion) (identity.Identity, error) { return DefaultSAML(a, org, cfg) },
			wantPN: "saml/bob@example.com", wantRole: "reader", wantAttrs: 1},
		{name: "two roles refused", opts: idp.SignOptions{Principal: "alice@example.com",
			Attributes: map[string][]string{idp.RoleAttribute: {"a", "b"}}},
			mapFn:    func(a *saml.Assertion) (identity.Identity, error) { return DefaultSAML(a, org, cfg) },
			wantCode: CodeConditionNotMet},
		{name: "aws mapping", opts: idp.SignOptions{Principal: "alice@example.com", Attributes: aws},
			mapFn: func(a *saml.Assertion) (identity.Identity, error) {
				return AWSSAML(a, org, cfg, "arn:aws:iam::org1:role/writer")
			},
			wantPN: "saml/alice@example.com", wantRole: "writer", wantAttrs: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := tt.opts
			o.KeyPair, o.OrgID, o.PublicURL, o.Now = kp, org, pub, func() time.Time { return now }
			b64, err := idp.SignBase64(o)
			if err != nil {
				t.Fatal(err)
			}
			a, err := saml.Validate(context.Background(), b64, vcfg)
			if err != nil {
				t.Fatalf("validator refuses the test IdP's Response: %v", err)
			}
			id, err := tt.mapFn(a)
			if tt.wantCode != "" {
				var me *Error
				if !errors.As(err, &me) || me.Code != tt.wantCode {
					t.Fatalf("err %v, want code %s", err, tt.wantCode)
				}
				return
			}
			if err != nil {
				t.Fatalf("mapping: %v", err)
			}
			if id.PrincipalName != tt.wantPN || id.Role != tt.wantRole || id.OrgID != org || id.ConfigID != cfg || len(id.Attributes) != tt.wantAttrs {
				t.Errorf("identity %+v; want principal %s role %s and %d attributes", id, tt.wantPN, tt.wantRole, tt.wantAttrs)
			}
		})
	}
}
