// Package bench compares s3fed's strict SAML validator with gosaml2 v0.12.0
// on the same signed Responses. It is its own module so the product never
// depends on the peer library; CI does not run it.
//
//	go -C bench test -bench . -run '^$'
//
// Each case prints "ratio gosaml2/s3fed": how many times faster s3fed is
// (>= 1.0 is the goal, while s3fed does every extra check gosaml2 skips:
// byte pre-filter, round-trip validation, strict signature profile,
// Destination, Recipient, Audience, IssueInstant, replay claim).
package bench

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"sync"
	"testing"
	"time"

	saml2 "github.com/russellhaering/gosaml2"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/s3fed/s3fed/internal/idp"
	"github.com/s3fed/s3fed/internal/saml"
)

const (
	publicURL = "http://127.0.0.1:9001"
	orgID     = "bench-org"
	acsURL    = publicURL + "/m2m-saml-acs"
	audience  = publicURL + "/accounts/saml/" + orgID + "/metadata/"
)

// noReplay accepts every claim: the benchmark measures validation, not a
// store round trip (gosaml2 has no replay cache to compare with).
type noReplay struct{}

func (noReplay) Claim(context.Context, string, string, time.Time) error { return nil }

type fixture struct {
	xml    []byte
	b64    string
	cert   *x509.Certificate
	issuer string
	now    time.Time
}

var (
	fixturesOnce sync.Once
	fixtures     map[idp.SignMode]fixture
	fixturesErr  error
)

// load signs, once, a seed-shaped Response (RSA-2048, exclusive C14N,
// RSA-SHA256) with the Assertion signed, and one with both signed.
func load(b *testing.B) map[idp.SignMode]fixture {
	b.Helper()
	fixturesOnce.Do(func() {
		certPEM, keyPEM, err := idp.Keygen(idp.KeygenOptions{KeyType: idp.KeyRSA2048})
		if err != nil {
			fixturesErr = err
			return
		}
		kp, err := idp.ParseKeyPair(certPEM, keyPEM)
		if err != nil {
			fixturesErr = err
			return
		}
		now := time.Now().UTC().Truncate(time.Millisecond)
		fixtures = map[idp.SignMode]fixture{}
		for _, m := range []idp.SignMode{idp.SignAssertion, idp.SignBoth} {
			x, err := idp.Sign(idp.SignOptions{
				KeyPair: kp, OrgID: orgID, Principal: "alice@example.com", Role: "reader",
				PublicURL: publicURL, Sign: m, Now: func() time.Time { return now }, TTL: time.Hour,
				Attributes: map[string][]string{"https://example.com/groups": {"ml", "infra"}},
			})
			if err != nil {
				fixturesErr = err
				return
			}
			fixtures[m] = fixture{xml: x, b64: base64.StdEncoding.EncodeToString(x), cert: kp.Cert, issuer: idp.DefaultIssuer(kp.Cert), now: now}
		}
	})
	if fixturesErr != nil {
		b.Fatalf("fixtures: %v", fixturesErr)
	}
	return fixtures
}

func s3fedConfig(f fixture) *saml.Config {
	return &saml.Config{
		IdPEntityID:  f.issuer,
		Certificates: []*x509.Certificate{f.cert},
		ACSURL:       acsURL,
		Audience:     audience,
		Skew:         60 * time.Second,
		Now:          func() time.Time { return f.now.Add(time.Second) },
		Replay:       noReplay{},
	}
}

func gosaml2SP(f fixture) *saml2.SAMLServiceProvider {
	return &saml2.SAMLServiceProvider{
		IdentityProviderIssuer:      f.issuer,
		AssertionConsumerServiceURL: acsURL,
		AudienceURI:                 audience,
		IDPCertificateStore:         &dsig.MemoryX509CertificateStore{Roots: []*x509.Certificate{f.cert}},
		Clock:                       dsig.NewFakeClockAt(f.now.Add(time.Second)),
	}
}

// BenchmarkValidate runs, for each Response, s3fed's Validate (base64 in,
// like gosaml2's RetrieveAssertionInfo), s3fed's ValidateXML, and gosaml2,
// then logs the ratios. Both libraries must accept the input first.
func BenchmarkValidate(b *testing.B) {
	fx := load(b)
	for _, m := range []idp.SignMode{idp.SignAssertion, idp.SignBoth} {
		f := fx[m]
		name := map[idp.SignMode]string{idp.SignAssertion: "signed-once-assertion", idp.SignBoth: "signed-twice-both"}[m]
		b.Run(name, func(b *testing.B) {
			cfg, sp := s3fedConfig(f), gosaml2SP(f)
			if _, err := saml.Validate(context.Background(), f.b64, cfg); err != nil {
				b.Fatalf("s3fed refuses the fixture: %v", err)
			}
			info, err := sp.RetrieveAssertionInfo(f.b64)
			if err != nil {
				b.Fatalf("gosaml2 refuses the fixture: %v", err)
			}
			if w := info.WarningInfo; w.InvalidTime || w.NotInAudience {
				b.Fatalf("gosaml2 warns on the fixture: %+v", w)
			}
			nsPerOp := map[string]float64{}
			run := func(label string, fn func() error) {
				b.Run(label, func(b *testing.B) {
					b.ReportAllocs()
					b.SetBytes(int64(len(f.xml)))
					for b.Loop() {
						if err := fn(); err != nil {
							b.Fatal(err)
						}
					}
					nsPerOp[label] = float64(b.Elapsed().Nanoseconds()) / float64(b.N)
				})
			}
			run("s3fed-Validate", func() error { _, err := saml.Validate(context.Background(), f.b64, cfg); return err })
			run("s3fed-ValidateXML", func() error { _, err := saml.ValidateXML(context.Background(), f.xml, cfg); return err })
			run("gosaml2-RetrieveAssertionInfo", func() error { _, err := sp.RetrieveAssertionInfo(f.b64); return err })
			g := nsPerOp["gosaml2-RetrieveAssertionInfo"]
			if s := nsPerOp["s3fed-Validate"]; s > 0 && g > 0 {
				fmt.Printf("%s: %d bytes; ratio gosaml2/s3fed = %.2fx (Validate %.0f ns/op, ValidateXML %.0f ns/op = %.2fx, gosaml2 %.0f ns/op)\n",
					name, len(f.xml), g/s, s, nsPerOp["s3fed-ValidateXML"], g/nsPerOp["s3fed-ValidateXML"], g)

			}
		})
	}
}

// BenchmarkInterleaved measures the ratio robustly on a shared, noisy
// machine: each iteration validates the same Response with s3fed and with
// gosaml2 (alternating which goes first) and times each call, so load
// changes during the run hit both equally. It reports s3fed-ns/op,
// gosaml2-ns/op and ratio (gosaml2/s3fed; >= 1 means s3fed is faster).
func BenchmarkInterleaved(b *testing.B) {
	fx := load(b)
	for _, m := range []idp.SignMode{idp.SignAssertion, idp.SignBoth} {
		f := fx[m]
		name := map[idp.SignMode]string{idp.SignAssertion: "signed-once-assertion", idp.SignBoth: "signed-twice-both"}[m]
		b.Run(name, func(b *testing.B) {
			cfg, sp := s3fedConfig(f), gosaml2SP(f)
			s3 := func() {
				if _, err := saml.Validate(context.Background(), f.b64, cfg); err != nil {
					b.Fatal(err)
				}
			}
			gs := func() {
				if _, err := sp.RetrieveAssertionInfo(f.b64); err != nil {
					b.Fatal(err)
				}
			}
			var s3Total, gsTotal time.Duration
			i := 0
			for b.Loop() {
				if i%2 == 0 {
					t0 := time.Now()
					s3()
					t1 := time.Now()
					gs()
					s3Total += t1.Sub(t0)
					gsTotal += time.Since(t1)
				} else {
					t0 := time.Now()
					gs()
					t1 := time.Now()
					s3()
					gsTotal += t1.Sub(t0)
					s3Total += time.Since(t1)
				}
				i++
			}
			s, g := float64(s3Total.Nanoseconds())/float64(b.N), float64(gsTotal.Nanoseconds())/float64(b.N)
			b.ReportMetric(s, "s3fed-ns/op")
			b.ReportMetric(g, "gosaml2-ns/op")
			b.ReportMetric(g/s, "ratio")
		})
	}
}
