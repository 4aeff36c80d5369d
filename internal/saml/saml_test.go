package saml

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"testing"
	"time"

	"github.com/beevik/etree"
)

// expectCode asserts that err is a *Error with the wanted code and that no Assertion came back.
func expectCode(t *testing.T, a *Assertion, err error, want Code) {
	t.Helper()
	if a != nil {
		t.Fatalf("got an Assertion (%+v) with error %v; want refusal %s", a, err, want)
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not *saml.Error; want %s", err, err, want)
	}
	if e.Code != want {
		t.Fatalf("code = %s (%s); want %s", e.Code, e.Reason, want)
	}
}

func mustValidate(t *testing.T, xml []byte, cfg *Config) *Assertion {
	t.Helper()
	a, err := ValidateXML(context.Background(), xml, cfg)
	if err != nil {
		t.Fatalf("valid response refused: %v", err)
	}
	if a == nil {
		t.Fatal("nil Assertion without error")
	}
	return a
}

func TestValidateHappyPaths(t *testing.T) {
	keys(t)
	for _, tc := range []struct {
		name             string
		h                how
		respSig, asrtSig bool
		certs            []*x509.Certificate
		key              *testKey
		noKeyInfo        bool
	}{
		{name: "both signed", h: signBoth, respSig: true, asrtSig: true},
		{name: "response only", h: signRespOnly, respSig: true},
		{name: "assertion only", h: signAsrtOnly, asrtSig: true},
		{name: "no KeyInfo", h: how{resp: &signOpts{noKeyInfo: true}, asrt: &signOpts{noKeyInfo: true}}, respSig: true, asrtSig: true},
		{name: "rotation: new key with both certs", h: how{resp: &signOpts{key: keyIdP2}, asrt: &signOpts{}}, respSig: true, asrtSig: true, certs: []*x509.Certificate{keyIdP2.cert, keyIdP.cert}},
		{name: "rotation: no KeyInfo tries each cert", h: how{resp: &signOpts{noKeyInfo: true}}, respSig: true, certs: []*x509.Certificate{keyIdP2.cert, keyOld.cert, keyIdP.cert}},
		{name: "ecdsa raw r||s", h: how{asrt: &signOpts{key: keyEC}}, asrtSig: true, certs: []*x509.Certificate{keyEC.cert}},
		{name: "ecdsa asn1", h: how{asrt: &signOpts{key: keyEC, asn1ECDSA: true}}, asrtSig: true, certs: []*x509.Certificate{keyEC.cert}},
		{name: "rsa-sha512 sha384 digest", h: how{resp: &signOpts{sigMethod: algRSASHA512, sigHash: crypto.SHA512, digestMethod: algDigest384, digestHash: crypto.SHA384}}, respSig: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(t)
			if tc.certs != nil {
				cfg.Certificates = tc.certs
			}
			a := mustValidate(t, xmlOf(t, resp{}, tc.h), cfg)
			if a.ResponseSigned != tc.respSig || a.AssertionSigned != tc.asrtSig {
				t.Fatalf("signed flags = %v/%v", a.ResponseSigned, a.AssertionSigned)
			}
			if a.Issuer != tEntityID || a.NameID != "alice@example.com" || a.Attributes[tRole][0] != "reader-role" {
				t.Fatalf("unexpected assertion %+v", a)
			}
			if !a.ReplayUntil.Equal(tNow.Add(5*time.Minute + 60*time.Second)) {
				t.Fatalf("ReplayUntil = %s", a.ReplayUntil)
			}
		})
	}
}

// Shapes real IdPs produce that a strict validator must still accept.
func TestRealWorldShapes(t *testing.T) {
	keys(t)
	t.Run("default namespace on the Assertion (ADFS style)", func(t *testing.T) {
		r := resp{edit: func(r, a *etree.Element) {
			var strip func(e *etree.Element)
			strip = func(e *etree.Element) {
				if e.Space == "saml" {
					e.Space = ""
				}
				for _, c := range e.ChildElements() {
					strip(c)
				}
			}
			strip(a)
			a.CreateAttr("xmlns", NSAssertion)
		}}
		for _, h := range []how{signBoth, signAsrtOnly, signRespOnly} {
			mustValidate(t, xmlOf(t, r, h), testConfig(t))
		}
	})
	t.Run("InclusiveNamespaces PrefixList xs (Okta style)", func(t *testing.T) {
		h := how{resp: &signOpts{inclusivePrefixes: "xs"}, asrt: &signOpts{inclusivePrefixes: "xs"}}
		mustValidate(t, xmlOf(t, resp{}, h), testConfig(t))
	})
	t.Run("KeyInfo with a chain, trusted cert second", func(t *testing.T) {
		h := how{asrt: &signOpts{keyInfo: func(ki *etree.Element) {
			xd := ki.CreateElement("ds:X509Data")
			xd.CreateElement("ds:X509Certificate").SetText(base64.StdEncoding.EncodeToString(keyIdP2.cert.Raw))
			xd.CreateElement("ds:X509Certificate").SetText(base64.StdEncoding.EncodeToString(keyIdP.cert.Raw))
		}}}
		mustValidate(t, xmlOf(t, resp{}, h), testConfig(t))
	})
	t.Run("XML declaration absent, BOM and CDATA present", func(t *testing.T) {
		x := xmlOf(t, resp{}, signBoth)
		x = x[bytes.Index(x, []byte("?>"))+2:]
		x = append([]byte("\xef\xbb\xbf"), x...)
		x = bytes.Replace(x, []byte(">reader-role<"), []byte("><![CDATA[reader-role]]><"), 1)
		a := mustValidate(t, x, testConfig(t))
		if a.Attributes[tRole][0] != "reader-role" {
			t.Fatal("CDATA value changed")
		}
	})
}
