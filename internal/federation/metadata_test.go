package federation_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/s3fed/s3fed/internal/federation"
)

// metaCerts are the certificates the vendor fixtures are filled with.
type metaCerts struct {
	sign, sign2, enc string // PEM
}

var (
	metaOnce sync.Once
	mc       metaCerts
)

func metadataCerts(t testing.TB) metaCerts {
	metaOnce.Do(func() {
		issuer(t)
		mc = metaCerts{
			sign:  valid(t, rsa2k.Public()),
			sign2: valid(t, ecKey(t, elliptic.P256())),
			enc:   valid(t, fakeRSA(t, 3072)),
		}
	})
	return mc
}

// b64DER is the base64 body of a PEM certificate, as metadata carries it.
func b64DER(p string) string {
	b, _ := pem.Decode([]byte(p))
	return base64.StdEncoding.EncodeToString(b.Bytes)
}

func wrap64(s string) string {
	var b strings.Builder
	for len(s) > 64 {
		b.WriteString(s[:64] + "\n")
		s = s[64:]
	}
	return b.String() + s
}

func derOf(p string) []byte {
	b, _ := pem.Decode([]byte(p))
	return b.Bytes
}

// fixture reads a vendor-shaped metadata template (testdata/metadata) and fills its certificates.
func fixture(t testing.TB, name string) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "metadata", name))
	if err != nil {
		t.Fatal(err)
	}
	c := metadataCerts(t)
	return []byte(strings.NewReplacer(
		"{{SIGNING_CERT}}", b64DER(c.sign), "{{SIGNING_CERT_2}}", b64DER(c.sign2), "{{ENCRYPTION_CERT}}", b64DER(c.enc),
		"{{SIGNING_CERT_WRAPPED}}", wrap64(b64DER(c.sign)), "{{SIGNING_CERT_2_WRAPPED}}", wrap64(b64DER(c.sign2)),
		"{{ENCRYPTION_CERT_WRAPPED}}", wrap64(b64DER(c.enc)),
	).Replace(string(raw)))
}

func TestParseIdPMetadataVendors(t *testing.T) {
	c := metadataCerts(t)
	for _, tc := range []struct {
		file, entityID, sso, binding string
		certs                        []string
		signed                       bool
	}{
		{"okta.xml", "http://www.okta.com/exk1s3fedTEST0d7", "https://dev-000000.okta.com/app/dev-000000_s3fed_1/exk1s3fedTEST0d7/sso/saml", federation.BindingRedirect, []string{c.sign}, false},
		{"entra.xml", "https://sts.windows.net/00000000-0000-4000-8000-000000000000/", "https://login.microsoftonline.com/00000000-0000-4000-8000-000000000000/saml2", federation.BindingRedirect, []string{c.sign, c.sign2}, true},
		{"adfs.xml", "http://adfs.corp.example.com/adfs/services/trust", "https://adfs.corp.example.com/adfs/ls/", federation.BindingRedirect, []string{c.sign}, true},
		{"keycloak.xml", "https://keycloak.example.com/realms/s3fed", "https://keycloak.example.com/realms/s3fed/protocol/saml", federation.BindingRedirect, []string{c.sign}, false},
		{"shibboleth.xml", "https://idp.example.org/idp/shibboleth", "https://idp.example.org/idp/profile/SAML2/Redirect/SSO", federation.BindingRedirect, []string{c.sign, c.sign2}, false},
	} {
		t.Run(tc.file, func(t *testing.T) {
			m, err := federation.ParseIdPMetadata(fixture(t, tc.file), now)
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			if m.EntityID != tc.entityID || m.SSOURL != tc.sso || m.SSOBinding != tc.binding || m.Signed != tc.signed {
				t.Fatalf("got entity %q sso %q (%s) signed %v", m.EntityID, m.SSOURL, m.SSOBinding, m.Signed)
			}
			if len(m.Certificates) != len(tc.certs) {
				t.Fatalf("%d signing certificates, want %d", len(m.Certificates), len(tc.certs))
			}
			for i, want := range tc.certs {
				if !bytes.Equal(m.Certificates[i].Raw, derOf(want)) {
					t.Fatalf("certificate %d is not the expected signing certificate", i)
				}
			}
			// What a config stores passes the upload rules unchanged.
			if got, err := federation.ParseCertificates("certificates", m.CertificatePEMs(), now); err != nil || len(got) != len(tc.certs) {
				t.Fatalf("stored PEMs: %v", err)
			}
		})
	}
}

// mutate returns a copy of the Okta fixture with old replaced by new (which must occur).
func mutate(t *testing.T, base []byte, old, new string) []byte {
	t.Helper()
	if !bytes.Contains(base, []byte(old)) {
		t.Fatalf("fixture does not contain %q", old)
	}
	return bytes.Replace(base, []byte(old), []byte(new), 1)
}

// keyDescriptor is an Okta-shaped KeyDescriptor (use may be empty: no attribute).
func keyDescriptor(use, certPEM string) string {
	u := ""
	if use != "" {
		u = ` use="` + use + `"`
	}
	return `<md:KeyDescriptor` + u + `><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>` + b64DER(certPEM) + `</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>`
}

const oktaKD = `<md:KeyDescriptor use="signing">`

// withKeys replaces the Okta fixture's KeyDescriptor with kds.
func withKeys(t *testing.T, kds ...string) []byte {
	t.Helper()
	okta := fixture(t, "okta.xml")
	start := bytes.Index(okta, []byte(oktaKD))
	end := bytes.Index(okta, []byte("</md:KeyDescriptor>")) + len("</md:KeyDescriptor>")
	return append(append(append([]byte{}, okta[:start]...), strings.Join(kds, "")...), okta[end:]...)
}

// Keycloak CVE-2026-16443: a key without use must never disable signature checking. Without
// use it is a signing key; use="encryption" alone leaves no signing key and the metadata is
// refused, never accepted with nothing to verify against.
func TestParseIdPMetadataKeyUse(t *testing.T) {
	c := metadataCerts(t)
	t.Run("no use is a signing key", func(t *testing.T) {
		kc := mutate(t, fixture(t, "keycloak.xml"), `<md:KeyDescriptor use="signing">`, `<md:KeyDescriptor>`)
		m, err := federation.ParseIdPMetadata(kc, now)
		if err != nil || len(m.Certificates) != 1 || !bytes.Equal(m.Certificates[0].Raw, derOf(c.sign)) {
			t.Fatalf("got %+v, %v", m, err)
		}
	})
	t.Run("encryption and no use: only the one without use", func(t *testing.T) {
		m, err := federation.ParseIdPMetadata(withKeys(t, keyDescriptor("encryption", c.enc), keyDescriptor("", c.sign2)), now)
		if err != nil || len(m.Certificates) != 1 || !bytes.Equal(m.Certificates[0].Raw, derOf(c.sign2)) {
			t.Fatalf("got %+v, %v", m, err)
		}
	})
	for name, kds := range map[string][]string{
		"only encryption keys": {keyDescriptor("encryption", c.sign), keyDescriptor("encryption", c.enc)},
		"no KeyDescriptor":     {},
	} {
		t.Run(name, func(t *testing.T) {
			m, err := federation.ParseIdPMetadata(withKeys(t, kds...), now)
			expectMetaErr(t, m, err, "no signing certificate")
		})
	}
	t.Run("unknown use", func(t *testing.T) {
		m, err := federation.ParseIdPMetadata(withKeys(t, keyDescriptor("sign", c.sign)), now)
		expectMetaErr(t, m, err, `use="sign"`)
	})
}

func expectMetaErr(t *testing.T, m *federation.IdPMetadata, err error, has string) {
	t.Helper()
	if m != nil {
		t.Fatalf("metadata returned with error %v", err)
	}
	var me *federation.MetadataError
	if !errors.As(err, &me) {
		t.Fatalf("error %v (%T) is not *MetadataError", err, err)
	}
	if !strings.Contains(err.Error(), has) {
		t.Fatalf("refused for another reason: %v (want %q)", err, has)
	}
	if !strings.HasPrefix(err.Error(), "IdP metadata: ") {
		t.Fatalf("message %q does not say it is about the metadata", err)
	}
}

func TestParseIdPMetadataRefusals(t *testing.T) {
	c := metadataCerts(t)
	okta := func(t *testing.T) []byte { return fixture(t, "okta.xml") }
	expired := certPEM(t, ecKey(t, elliptic.P256()), now.Add(-48*time.Hour), now.Add(-time.Hour))
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	entity := func(id string) string {
		return `<md:EntityDescriptor entityID="` + id + `"><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">` + keyDescriptor("signing", c.sign) + `</md:IDPSSODescriptor></md:EntityDescriptor>`
	}
	const entitiesOpen = `<md:EntitiesDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata">`
	deep := strings.Repeat("<md:Extensions>", 40) + strings.Repeat("</md:Extensions>", 40)
	for _, tc := range []struct {
		name string
		doc  func(t *testing.T) []byte
		has  string
	}{
		{"EntitiesDescriptor with two entities", func(t *testing.T) []byte {
			return []byte(entitiesOpen + entity("https://a.example/") + entity("https://b.example/") + `</md:EntitiesDescriptor>`)
		}, "holds 2 EntityDescriptors"},
		{"nested EntitiesDescriptors with two entities", func(t *testing.T) []byte {
			return []byte(entitiesOpen + entity("https://a.example/") + `<md:EntitiesDescriptor>` + entity("https://b.example/") + `</md:EntitiesDescriptor></md:EntitiesDescriptor>`)
		}, "holds 2 EntityDescriptors"},
		{"empty EntitiesDescriptor", func(t *testing.T) []byte { return []byte(entitiesOpen + `</md:EntitiesDescriptor>`) }, "holds 0 EntityDescriptors"},
		{"two EntityDescriptors one after the other", func(t *testing.T) []byte {
			o := bytes.TrimPrefix(okta(t), []byte(`<?xml version="1.0" encoding="UTF-8"?>`))
			return append(append([]byte{}, o...), o...)
		}, "upload one EntityDescriptor"},
		{"four signing certificates", func(t *testing.T) []byte {
			return withKeys(t, keyDescriptor("signing", c.sign), keyDescriptor("signing", c.sign2), keyDescriptor("", valid(t, ecKey(t, elliptic.P384()))), keyDescriptor("signing", valid(t, ecKey(t, elliptic.P256()))))
		}, "4 signing certificates; at most 3"},
		{"KeyDescriptor without a certificate", func(t *testing.T) []byte {
			return withKeys(t, `<md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:KeyName>k1</ds:KeyName></ds:KeyInfo></md:KeyDescriptor>`)
		}, "has no ds:X509Certificate"},
		{"KeyDescriptor with two certificates", func(t *testing.T) []byte {
			return withKeys(t, strings.Replace(keyDescriptor("signing", c.sign), `</ds:X509Data>`, `<ds:X509Certificate>`+b64DER(c.sign2)+`</ds:X509Certificate></ds:X509Data>`, 1))
		}, "has 2 certificates"},
		{"certificate not base64", func(t *testing.T) []byte { return mutate(t, okta(t), "<ds:X509Certificate>", "<ds:X509Certificate>!!") }, "not base64"},
		{"certificate empty", func(t *testing.T) []byte {
			return withKeys(t, `<md:KeyDescriptor><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate/></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>`)
		}, "not base64"},
		{"certificate not DER", func(t *testing.T) []byte {
			return withKeys(t, `<md:KeyDescriptor><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>aGVsbG8=</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>`)
		}, "does not parse"},
		{"certificate with an element inside", func(t *testing.T) []byte {
			return mutate(t, okta(t), "</ds:X509Certificate>", "<x/></ds:X509Certificate>")
		}, "only base64 text"},
		{"megabyte-ish certificate", func(t *testing.T) []byte {
			return withKeys(t, `<md:KeyDescriptor><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>`+strings.Repeat("QUFB", 5000)+`</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>`)
		}, "longer than"},
		{"RSA-1024 certificate", func(t *testing.T) []byte { return withKeys(t, keyDescriptor("signing", valid(t, fakeRSA(t, 1024)))) }, "RSA key is 1024 bits"},
		{"Ed25519 certificate", func(t *testing.T) []byte { return withKeys(t, keyDescriptor("signing", valid(t, edPub))) }, "not allowed"},
		{"P-521 certificate", func(t *testing.T) []byte {
			return withKeys(t, keyDescriptor("signing", valid(t, ecKey(t, elliptic.P521()))))
		}, "P-256 or P-384"},
		{"only an expired certificate", func(t *testing.T) []byte { return withKeys(t, keyDescriptor("signing", expired)) }, "every signing certificate has expired"},
		{"notBefore 8 days ahead", func(t *testing.T) []byte {
			return withKeys(t, keyDescriptor("signing", certPEM(t, ecKey(t, elliptic.P256()), now.Add(8*24*time.Hour), now.Add(30*24*time.Hour))))
		}, "more than 7 days ahead"},
		{"notAfter 15 years ahead", func(t *testing.T) []byte {
			return withKeys(t, keyDescriptor("signing", certPEM(t, ecKey(t, elliptic.P256()), now.Add(-time.Hour), now.AddDate(15, 0, 0))))
		}, "more than 14 years ahead"},
		{"service provider metadata", func(t *testing.T) []byte {
			return bytes.ReplaceAll(okta(t), []byte("md:IDPSSODescriptor"), []byte("md:SPSSODescriptor"))
		}, "no IDPSSODescriptor"},
		{"SAML 1.1 only IDPSSODescriptor", func(t *testing.T) []byte {
			return mutate(t, okta(t), `protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"`, `protocolSupportEnumeration="urn:oasis:names:tc:SAML:1.1:protocol"`)
		}, "no IDPSSODescriptor"},
		{"protocol as a substring only", func(t *testing.T) []byte {
			return mutate(t, okta(t), `protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"`, `protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocolx"`)
		}, "no IDPSSODescriptor"},
		{"two SAML 2.0 IDPSSODescriptors", func(t *testing.T) []byte {
			o := okta(t)
			s := bytes.Index(o, []byte("<md:IDPSSODescriptor"))
			e := bytes.Index(o, []byte("</md:IDPSSODescriptor>")) + len("</md:IDPSSODescriptor>")
			return append(append(append([]byte{}, o[:e]...), o[s:e]...), o[e:]...)
		}, "more than one IDPSSODescriptor"},
		{"no entityID", func(t *testing.T) []byte {
			return mutate(t, okta(t), ` entityID="http://www.okta.com/exk1s3fedTEST0d7"`, "")
		}, "no entityID"},
		{"empty entityID", func(t *testing.T) []byte {
			return mutate(t, okta(t), `entityID="http://www.okta.com/exk1s3fedTEST0d7"`, `entityID=""`)
		}, "no entityID"},
		{"entityID with trailing space", func(t *testing.T) []byte {
			return mutate(t, okta(t), `exk1s3fedTEST0d7"><md:IDP`, `exk1s3fedTEST0d7 "><md:IDP`)
		}, "white space"},
		{"entityID with a control character", func(t *testing.T) []byte {
			return mutate(t, okta(t), `exk1s3fedTEST0d7"><md:IDP`, `exk1s3fed&#x7f;"><md:IDP`)
		}, "control characters"},
		{"entityID over 1024 bytes", func(t *testing.T) []byte {
			return mutate(t, okta(t), `exk1s3fedTEST0d7"><md:IDP`, strings.Repeat("x", 1100)+`"><md:IDP`)
		}, "at most 1024"},
		{"validUntil in the past", func(t *testing.T) []byte {
			return mutate(t, okta(t), `<md:EntityDescriptor `, `<md:EntityDescriptor validUntil="2026-03-04T05:06:06Z" `)
		}, "expired at 2026-03-04T05:06:06Z"},
		{"validUntil now", func(t *testing.T) []byte {
			return mutate(t, okta(t), `<md:EntityDescriptor `, `<md:EntityDescriptor validUntil="2026-03-04T05:06:07Z" `)
		}, "expired"},
		{"validUntil malformed", func(t *testing.T) []byte {
			return mutate(t, okta(t), `<md:EntityDescriptor `, `<md:EntityDescriptor validUntil="tomorrow" `)
		}, "not an xs:dateTime"},
		{"validUntil past on the IDPSSODescriptor", func(t *testing.T) []byte {
			return mutate(t, okta(t), `<md:IDPSSODescriptor `, `<md:IDPSSODescriptor validUntil="2020-01-01T00:00:00Z" `)
		}, "expired"},
		{"validUntil past on the EntitiesDescriptor", func(t *testing.T) []byte {
			return mutate(t, fixture(t, "keycloak.xml"), `<md:EntitiesDescriptor `, `<md:EntitiesDescriptor validUntil="2020-01-01T00:00:00Z" `)
		}, "expired"},
		{"root in no namespace", func(t *testing.T) []byte { return []byte(`<EntityDescriptor entityID="x"/>`) }, "root element must be md:EntityDescriptor"},
		{"root in another namespace", func(t *testing.T) []byte {
			return mutate(t, okta(t), `xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata"`, `xmlns:md="urn:evil"`)
		}, "root element must be md:EntityDescriptor"},
		{"a SAML Response instead", func(t *testing.T) []byte {
			return []byte(`<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol"/>`)
		}, "root element must be md:EntityDescriptor"},
		{"SSO Location relative", func(t *testing.T) []byte {
			return bytes.ReplaceAll(okta(t), []byte(`Location="https://dev-000000.okta.com/app/`), []byte(`Location="/app/`))
		}, "not an absolute http(s) URL"},
		{"SSO Location javascript", func(t *testing.T) []byte {
			return bytes.ReplaceAll(okta(t), []byte(`Location="https://dev-000000.okta.com/app/`), []byte(`Location="javascript:alert(1)//`))
		}, "not an absolute http(s) URL"},
		// Hostile XML: the same discipline as a SAML Response.
		{"DOCTYPE with an external entity", func(t *testing.T) []byte {
			return mutate(t, okta(t), `<md:EntityDescriptor`, `<!DOCTYPE md:EntityDescriptor [<!ENTITY x SYSTEM "file:///etc/passwd">]><md:EntityDescriptor`)
		}, "DOCTYPE"},
		{"billion laughs", func(t *testing.T) []byte {
			return []byte(`<!DOCTYPE a [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]><a>&c;</a>`)
		}, "invalid character entity"},
		{"DOCTYPE without entities", func(t *testing.T) []byte {
			return mutate(t, okta(t), `<md:EntityDescriptor`, `<!DOCTYPE md:EntityDescriptor><md:EntityDescriptor`)
		}, "DOCTYPE"},
		{"processing instruction", func(t *testing.T) []byte {
			return mutate(t, okta(t), `<md:EntityDescriptor`, `<?xml-stylesheet href="x"?><md:EntityDescriptor`)
		}, "processing instructions"},
		{"Latin-1 declaration", func(t *testing.T) []byte { return mutate(t, okta(t), `encoding="UTF-8"`, `encoding="ISO-8859-1"`) }, "UTF-8"},
		{"UTF-16 bytes", func(t *testing.T) []byte {
			var b []byte
			for _, r := range `<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata"/>` {
				b = append(b, byte(r), 0)
			}
			return append([]byte{0xff, 0xfe}, b...)
		}, "not valid UTF-8"},
		{"NUL byte", func(t *testing.T) []byte { return mutate(t, okta(t), "exk1s3fedTEST0d7\"", "exk1s3fed\x00TEST0d7\"") }, "control byte"},
		{"over the size cap", func(t *testing.T) []byte {
			return mutate(t, okta(t), `<md:NameIDFormat>`, "<!--"+strings.Repeat("x", federation.MaxMetadataBytes)+"--><md:NameIDFormat>")
		}, "more than the 524288 allowed"},
		{"nested too deep", func(t *testing.T) []byte { return mutate(t, okta(t), `<md:NameIDFormat>`, deep+`<md:NameIDFormat>`) }, "nested deeper than 32"},
		{"too many elements", func(t *testing.T) []byte {
			return mutate(t, okta(t), `<md:NameIDFormat>`, strings.Repeat("<a/>", 20001)+`<md:NameIDFormat>`)
		}, "more than 20000 elements"},
		{"x::Root", func(t *testing.T) []byte {
			return []byte(`<x::EntityDescriptor xmlns:x="urn:oasis:names:tc:SAML:2.0:metadata"/>`)
		}, "malformed XML"},
		{"non-ASCII element name", func(t *testing.T) []byte {
			return mutate(t, okta(t), `<md:NameIDFormat>`, `<é/><md:NameIDFormat>`)
		}, "invalid name"},
		{"undeclared prefix", func(t *testing.T) []byte { return mutate(t, okta(t), `<md:NameIDFormat>`, `<q:x/><md:NameIDFormat>`) }, "undeclared namespace prefix"},
		{"duplicate IDs", func(t *testing.T) []byte {
			return mutate(t, mutate(t, okta(t), `<md:EntityDescriptor `, `<md:EntityDescriptor ID="_a" `), `<md:IDPSSODescriptor `, `<md:IDPSSODescriptor ID="_a" `)
		}, "duplicate ID"},
		{"empty document", func(t *testing.T) []byte { return nil }, "empty metadata"},
		{"not XML", func(t *testing.T) []byte { return []byte("MIIC...") }, "does not start with '<'"},
		{"trailing garbage", func(t *testing.T) []byte { return append(okta(t), "junk"...) }, "text outside the root element"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := tc.doc(t)
			m, err := federation.ParseIdPMetadata(doc, now)
			expectMetaErr(t, m, err, tc.has)
			t.Logf("refused: %v", err)
		})
	}
}

// Accepted variations of real documents.
func TestParseIdPMetadataTolerated(t *testing.T) {
	c := metadataCerts(t)
	okta := fixture(t, "okta.xml")
	t.Run("BOM and leading white space", func(t *testing.T) {
		if _, err := federation.ParseIdPMetadata(append([]byte("\xef\xbb\xbf\n  "), okta...), now); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("POST only", func(t *testing.T) {
		doc := mutate(t, okta, `<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"`, `<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:SOAP"`)
		m, err := federation.ParseIdPMetadata(doc, now)
		if err != nil || m.SSOBinding != federation.BindingPOST {
			t.Fatalf("got %+v, %v", m, err)
		}
	})
	t.Run("no browser SSO binding", func(t *testing.T) {
		doc := bytes.ReplaceAll(okta, []byte(`urn:oasis:names:tc:SAML:2.0:bindings:HTTP-`), []byte(`urn:oasis:names:tc:SAML:2.0:bindings:SOAP-`))
		m, err := federation.ParseIdPMetadata(doc, now)
		if err != nil || m.SSOURL != "" || m.SSOBinding != "" {
			t.Fatalf("got %+v, %v", m, err)
		}
	})
	t.Run("validUntil in the future", func(t *testing.T) {
		if _, err := federation.ParseIdPMetadata(mutate(t, okta, `<md:EntityDescriptor `, `<md:EntityDescriptor validUntil="2026-03-05T00:00:00.000Z" `), now); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("an expired certificate beside a valid one is kept", func(t *testing.T) {
		expired := certPEM(t, ecKey(t, elliptic.P256()), now.Add(-48*time.Hour), now.Add(-time.Hour))
		m, err := federation.ParseIdPMetadata(withKeys(t, keyDescriptor("signing", expired), keyDescriptor("signing", c.sign)), now)
		if err != nil || len(m.Certificates) != 2 {
			t.Fatalf("got %+v, %v", m, err)
		}
	})
	t.Run("a certificate listed twice counts once", func(t *testing.T) {
		m, err := federation.ParseIdPMetadata(withKeys(t, keyDescriptor("signing", c.sign), keyDescriptor("", c.sign), keyDescriptor("signing", c.sign2),
			keyDescriptor("", valid(t, ecKey(t, elliptic.P384())))), now)
		if err != nil || len(m.Certificates) != 3 {
			t.Fatalf("got %+v, %v", m, err)
		}
	})
	t.Run("EntitiesDescriptor nesting one entity", func(t *testing.T) {
		kc := fixture(t, "keycloak.xml")
		kc = mutate(t, kc, `<md:EntityDescriptor `, `<md:EntitiesDescriptor><md:EntityDescriptor `)
		kc = mutate(t, kc, `</md:EntityDescriptor>`, `</md:EntityDescriptor></md:EntitiesDescriptor>`)
		if _, err := federation.ParseIdPMetadata(kc, now); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("the metadata Signature's certificate is not trusted", func(t *testing.T) {
		attacker := valid(t, ecKey(t, elliptic.P256()))
		entra := fixture(t, "entra.xml")
		i := bytes.Index(entra, []byte("<KeyInfo><X509Data><X509Certificate>"))
		j := i + bytes.Index(entra[i:], []byte("</X509Certificate>"))
		doc := append(append(append([]byte{}, entra[:i]...), "<KeyInfo><X509Data><X509Certificate>"+b64DER(attacker)...), entra[j:]...)
		m, err := federation.ParseIdPMetadata(doc, now)
		if err != nil {
			t.Fatal(err)
		}
		for _, got := range m.Certificates {
			if bytes.Equal(got.Raw, derOf(attacker)) {
				t.Fatal("the certificate in the metadata's own Signature became a trusted signing key")
			}
		}
		if !m.Signed || len(m.Certificates) != 2 {
			t.Fatalf("got %+v", m)
		}
	})
	t.Run("RoleDescriptor signing keys are not IdP signing keys", func(t *testing.T) {
		other := valid(t, ecKey(t, elliptic.P256()))
		adfs := bytes.ReplaceAll(fixture(t, "adfs.xml"), []byte(b64DER(c.enc)), []byte(b64DER(other)))
		m, err := federation.ParseIdPMetadata(adfs, now)
		if err != nil || len(m.Certificates) != 1 || !bytes.Equal(m.Certificates[0].Raw, derOf(c.sign)) {
			t.Fatalf("got %+v, %v", m, err)
		}
	})
}

// FuzzParseIdPMetadata: no panic; every refusal a *MetadataError; anything accepted has an
// entity ID and 1-3 signing certificates that pass the upload rules.
func FuzzParseIdPMetadata(f *testing.F) {
	for _, name := range []string{"okta.xml", "entra.xml", "adfs.xml", "keycloak.xml", "shibboleth.xml"} {
		f.Add(fixture(f, name))
	}
	f.Add([]byte(`<!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]><a>&x;</a>`))
	f.Add([]byte(`<md:EntitiesDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata"><md:EntityDescriptor entityID="a"/><md:EntityDescriptor entityID="b"/></md:EntitiesDescriptor>`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		m, err := federation.ParseIdPMetadata(doc, now)
		if err != nil {
			var me *federation.MetadataError
			if m != nil || !errors.As(err, &me) {
				t.Fatalf("bad refusal: %v, %v", m, err)
			}
			return
		}
		if m.EntityID == "" || len(m.Certificates) == 0 || len(m.Certificates) > federation.MaxCertificates {
			t.Fatalf("accepted without an entity ID or with %d certificates", len(m.Certificates))
		}
		if _, err := federation.ParseCertificates("certificates", m.CertificatePEMs(), now); err != nil {
			t.Fatalf("accepted certificates the upload rules refuse: %v", err)
		}
		for _, c := range m.Certificates {
			if _, err := x509.ParseCertificate(c.Raw); err != nil {
				t.Fatal(err)
			}
		}
	})
}
