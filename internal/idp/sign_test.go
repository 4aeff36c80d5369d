package idp

import (
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"
)

var (
	pairsOnce sync.Once
	pairs     map[KeyType]*KeyPair
)

// testPairs generates one RSA-2048 and one P-256 pair per test binary.
func testPairs(t *testing.T) map[KeyType]*KeyPair {
	t.Helper()
	pairsOnce.Do(func() {
		pairs = map[KeyType]*KeyPair{}
		for _, kt := range []KeyType{KeyRSA2048, KeyECDSAP256} {
			c, k, err := Keygen(KeygenOptions{KeyType: kt})
			if err != nil {
				panic(err)
			}
			kp, err := ParseKeyPair(c, k)
			if err != nil {
				panic(err)
			}
			pairs[kt] = kp
		}
	})
	return pairs
}

func baseOpts(kp *KeyPair) SignOptions {
	return SignOptions{KeyPair: kp, OrgID: "org1", Principal: "alice@example.com", Role: "reader", Now: func() time.Time { return time.Now() }}
}

// verifyGoxmldsig checks el's enveloped signature with goxmldsig, trusting
// only cert. goxmldsig v1.6.1 reads ECDSA signatures as ASN.1 DER, so r||s
// values are converted first (SignatureValue is outside SignedInfo).
func verifyGoxmldsig(t *testing.T, el *etree.Element, cert *x509.Certificate) error {
	t.Helper()
	el = el.Copy()
	if cert.PublicKeyAlgorithm == x509.ECDSA {
		for _, sv := range el.FindElements("./Signature/SignatureValue") {
			raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(sv.Text()))
			if err != nil {
				return err
			}
			h := len(raw) / 2
			der, err := asn1.Marshal(struct{ R, S *big.Int }{new(big.Int).SetBytes(raw[:h]), new(big.Int).SetBytes(raw[h:])})
			if err != nil {
				return err
			}
			sv.SetText(base64.StdEncoding.EncodeToString(der))
		}
	}
	ctx := dsig.NewDefaultValidationContext(&dsig.MemoryX509CertificateStore{Roots: []*x509.Certificate{cert}})
	_, err := ctx.Validate(el)
	return err
}

func parse(t *testing.T, x []byte) (resp, assertion *etree.Element) {
	t.Helper()
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(x); err != nil {
		t.Fatalf("output is not XML: %v", err)
	}
	resp = doc.Root()
	if resp == nil || resp.Tag != "Response" || resp.NamespaceURI() != NSProtocol {
		t.Fatalf("root is not a protocol Response")
	}
	assertion = resp.FindElement("./Assertion")
	if assertion == nil {
		t.Fatal("no Assertion")
	}
	return resp, assertion
}

// signaturePlacement reports whether el has a Signature and, if so, checks
// it is exactly one and sits right after Issuer.
func signaturePlacement(t *testing.T, el *etree.Element) bool {
	t.Helper()
	sigs := el.SelectElements("Signature")
	if len(sigs) == 0 {
		return false
	}
	if len(sigs) > 1 {
		t.Fatalf("%s has %d signatures", el.Tag, len(sigs))
	}
	kids := el.ChildElements()
	if kids[0].Tag != "Issuer" || kids[1].Tag != "Signature" {
		t.Fatalf("%s children start %s, %s; want Issuer, Signature", el.Tag, kids[0].Tag, kids[1].Tag)
	}
	if kids[1].NamespaceURI() != "http://www.w3.org/2000/09/xmldsig#" {
		t.Fatalf("Signature namespace %q", kids[1].NamespaceURI())
	}
	return true
}

func TestSignModes(t *testing.T) {
	for kt, kp := range testPairs(t) {
		wantMethod := dsig.RSASHA256SignatureMethod
		if kt == KeyECDSAP256 {
			wantMethod = dsig.ECDSASHA256SignatureMethod
		}
		for _, tt := range []struct {
			mode                    SignMode
			wantResp, wantAssertion bool
		}{
			{"", true, true},
			{SignBoth, true, true},
			{SignResponse, true, false},
			{SignAssertion, false, true},
			{SignNone, false, false},
		} {
			t.Run(string(kt)+"/"+string(tt.mode), func(t *testing.T) {
				o := baseOpts(kp)
				o.Sign = tt.mode
				x, err := Sign(o)
				if err != nil {
					t.Fatalf("Sign: %v", err)
				}
				resp, assertion := parse(t, x)
				for _, c := range []struct {
					el   *etree.Element
					want bool
				}{{resp, tt.wantResp}, {assertion, tt.wantAssertion}} {
					got := signaturePlacement(t, c.el)
					if got != c.want {
						t.Fatalf("%s signed = %v, want %v", c.el.Tag, got, c.want)
					}
					if !got {
						continue
					}
					si := c.el.FindElement("./Signature/SignedInfo")
					checks := map[string]string{
						"./CanonicalizationMethod":            dsig.CanonicalXML10ExclusiveAlgorithmId.String(),
						"./SignatureMethod":                   wantMethod,
						"./Reference/DigestMethod":            "http://www.w3.org/2001/04/xmlenc#sha256",
						"./Reference/Transforms/Transform[1]": dsig.EnvelopedSignatureAltorithmId.String(),
						"./Reference/Transforms/Transform[2]": dsig.CanonicalXML10ExclusiveAlgorithmId.String(),
					}
					for path, want := range checks {
						if e := si.FindElement(path); e == nil || e.SelectAttrValue("Algorithm", "") != want {
							t.Errorf("%s %s: want Algorithm %s", c.el.Tag, path, want)
						}
					}
					if n := len(si.FindElements("./Reference")); n != 1 {
						t.Errorf("%d References", n)
					}
					if uri := si.FindElement("./Reference").SelectAttrValue("URI", ""); uri != "#"+c.el.SelectAttrValue("ID", "") {
						t.Errorf("Reference URI %q does not name the parent", uri)
					}
					kic := c.el.FindElement("./Signature/KeyInfo/X509Data/X509Certificate")
					if kic == nil || kic.Text() != base64.StdEncoding.EncodeToString(kp.Cert.Raw) {
						t.Error("KeyInfo does not carry the signing certificate")
					}
					if err := verifyGoxmldsig(t, c.el, kp.Cert); err != nil {
						t.Errorf("%s signature does not verify: %v", c.el.Tag, err)
					}
				}
			})
		}
	}
}

// TestSignTamper shows the signatures cover what matters: a change to any
// signed value breaks verification.
func TestSignTamper(t *testing.T) {
	kp := testPairs(t)[KeyRSA2048]
	x, err := Sign(baseOpts(kp))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ name, from, to string }{
		{"role", ">reader<", ">admin_<"},
		{"nameid", ">alice@example.com</saml:NameID>", ">alicf@example.com</saml:NameID>"},
		{"audience", "/accounts/saml/org1/", "/accounts/saml/org2/"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(string(x), tt.from) {
				t.Fatalf("%q not in output", tt.from)
			}
			bad := []byte(strings.Replace(string(x), tt.from, tt.to, 1))
			resp, assertion := parse(t, bad)
			if err := verifyGoxmldsig(t, assertion, kp.Cert); err == nil {
				t.Error("tampered assertion still verifies")
			}
			if err := verifyGoxmldsig(t, resp, kp.Cert); err == nil {
				t.Error("tampered response still verifies")
			}
		})
	}
	other := testPairs(t)[KeyECDSAP256]
	resp, _ := parse(t, x)
	if err := verifyGoxmldsig(t, resp, other.Cert); err == nil {
		t.Error("verifies with an unrelated certificate")
	}
}

func TestSignContent(t *testing.T) {
	kp := testPairs(t)[KeyECDSAP256]
	now := time.Date(2026, 5, 6, 7, 8, 9, 123456789, time.UTC)
	clk := func() time.Time { return now }
	const nowS = "2026-05-06T07:08:09.123Z"

	tests := []struct {
		name  string
		mod   func(*SignOptions)
		check map[string]string // path (with @attr) -> want; "" means absent
		attrs map[string][]string
	}{
		{
			name: "defaults",
			mod:  func(*SignOptions) {},
			check: map[string]string{
				"@ID":                             "",
				"@Version":                        "2.0",
				"@IssueInstant":                   nowS,
				"@Destination":                    "http://127.0.0.1:9001/m2m-saml-acs",
				"Issuer":                          DefaultCommonName,
				"Issuer@Format":                   "urn:oasis:names:tc:SAML:2.0:nameid-format:entity",
				"Status/StatusCode@Value":         "urn:oasis:names:tc:SAML:2.0:status:Success",
				"Assertion@Version":               "2.0",
				"Assertion@IssueInstant":          nowS,
				"Assertion/Issuer":                DefaultCommonName,
				"Assertion/Subject/NameID":        "alice@example.com",
				"Assertion/Subject/NameID@Format": NameIDFormatEmail,
				"Assertion/Subject/SubjectConfirmation@Method":                               "urn:oasis:names:tc:SAML:2.0:cm:bearer",
				"Assertion/Subject/SubjectConfirmation/SubjectConfirmationData@Recipient":    "http://127.0.0.1:9001/m2m-saml-acs",
				"Assertion/Subject/SubjectConfirmation/SubjectConfirmationData@NotOnOrAfter": "2026-05-06T07:13:09.123Z",
				"Assertion/Conditions@NotBefore":                                             nowS,
				"Assertion/Conditions@NotOnOrAfter":                                          "2026-05-06T07:13:09.123Z",
				"Assertion/Conditions/AudienceRestriction/Audience":                          "http://127.0.0.1:9001/accounts/saml/org1/metadata/",
				"Assertion/AuthnStatement@AuthnInstant":                                      nowS,
				"Assertion/AuthnStatement@SessionNotOnOrAfter":                               "",
			},
			attrs: map[string][]string{RoleAttribute: {"reader"}, PrincipalNameAttribute: {"alice@example.com"}},
		},
		{
			name: "public url and overrides",
			mod: func(o *SignOptions) {
				o.PublicURL = "https://s3fed.example.com/"
				o.Issuer = "https://idp.example.com/entity"
				o.NameID = "uid-42"
				o.NameIDFormat = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"
				o.TTL = time.Hour
				o.SessionTTL = 2 * time.Hour
				o.ResponseID = "R1"
				o.AssertionID = "A1"
				o.SessionIndex = "S1"
			},
			check: map[string]string{
				"@ID":                             "R1",
				"@Destination":                    "https://s3fed.example.com/m2m-saml-acs",
				"Issuer":                          "https://idp.example.com/entity",
				"Assertion@ID":                    "A1",
				"Assertion/Issuer":                "https://idp.example.com/entity",
				"Assertion/Subject/NameID":        "uid-42",
				"Assertion/Subject/NameID@Format": "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
				"Assertion/Subject/SubjectConfirmation/SubjectConfirmationData@Recipient": "https://s3fed.example.com/m2m-saml-acs",
				"Assertion/Conditions@NotOnOrAfter":                                       "2026-05-06T08:08:09.123Z",
				"Assertion/Conditions/AudienceRestriction/Audience":                       "https://s3fed.example.com/accounts/saml/org1/metadata/",
				"Assertion/AuthnStatement@SessionIndex":                                   "S1",
				"Assertion/AuthnStatement@SessionNotOnOrAfter":                            "2026-05-06T09:08:09.123Z",
			},
			attrs: map[string][]string{RoleAttribute: {"reader"}, PrincipalNameAttribute: {"alice@example.com"}},
		},
		{
			name: "explicit audience destination recipient, no org",
			mod: func(o *SignOptions) {
				o.OrgID = ""
				o.Audience = "urn:aud"
				o.Destination = "https://d/acs"
				o.Recipient = "https://r/acs"
			},
			check: map[string]string{
				"@Destination": "https://d/acs",
				"Assertion/Subject/SubjectConfirmation/SubjectConfirmationData@Recipient": "https://r/acs",
				"Assertion/Conditions/AudienceRestriction/Audience":                       "urn:aud",
			},
			attrs: map[string][]string{RoleAttribute: {"reader"}, PrincipalNameAttribute: {"alice@example.com"}},
		},
		{
			name: "extra attributes, multi-valued role, no principal attribute",
			mod: func(o *SignOptions) {
				o.Attributes = map[string][]string{
					"zeta":                 {"z"},
					"alpha":                {"a1", "a2"},
					"empty":                {},
					RoleAttribute:          {"r1", "r2"},
					PrincipalNameAttribute: nil,
				}
			},
			attrs: map[string][]string{RoleAttribute: {"r1", "r2"}, "alpha": {"a1", "a2"}, "zeta": {"z"}},
		},
		{
			name:  "no role",
			mod:   func(o *SignOptions) { o.Role = "" },
			attrs: map[string][]string{PrincipalNameAttribute: {"alice@example.com"}},
		},
		{
			name: "no attributes at all",
			mod: func(o *SignOptions) {
				o.Role = ""
				o.Attributes = map[string][]string{PrincipalNameAttribute: {}}
			},
			check: map[string]string{"Assertion/AttributeStatement": ""},
			attrs: map[string][]string{},
		},
		{
			name: "xml-special characters survive",
			mod: func(o *SignOptions) {
				o.Principal = `a&b<c>"d'@x` + "\r\n"
				o.Role = "role\twith\ttabs"
				o.Attributes = map[string][]string{"name\twith\r\nbreaks": {"v\r"}}
			},
			check: map[string]string{"Assertion/Subject/NameID": `a&b<c>"d'@x` + "\r\n"},
			attrs: map[string][]string{RoleAttribute: {"role\twith\ttabs"}, PrincipalNameAttribute: {`a&b<c>"d'@x` + "\r\n"}, "name\twith\r\nbreaks": {"v\r"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := baseOpts(kp)
			o.Now = clk
			tt.mod(&o)
			x, err := Sign(o)
			if err != nil {
				t.Fatalf("Sign: %v", err)
			}
			resp, assertion := parse(t, x)
			for path, want := range tt.check {
				el, attr, _ := strings.Cut(path, "@")
				e := resp
				if el != "" {
					e = resp.FindElement("./" + el)
				}
				var got string
				var present bool
				if e != nil {
					if attr == "" {
						got, present = e.Text(), true
					} else if a := e.SelectAttr(attr); a != nil {
						got, present = a.Value, true
					}
				}
				switch {
				case path == "@ID" && want == "":
					if !strings.HasPrefix(got, "_") || len(got) != 41 {
						t.Errorf("random ID %q not _ + 40 hex", got)
					}
				case want == "" && present:
					t.Errorf("%s present (%q), want absent", path, got)
				case want != "" && got != want:
					t.Errorf("%s = %q, want %q", path, got, want)
				}
			}
			got := map[string][]string{}
			var order []string
			for _, a := range assertion.FindElements("./AttributeStatement/Attribute") {
				name := a.SelectAttrValue("Name", "")
				order = append(order, name)
				for _, v := range a.SelectElements("AttributeValue") {
					got[name] = append(got[name], v.Text())
				}
			}
			if len(got) != len(tt.attrs) {
				t.Errorf("attributes %v, want %v", got, tt.attrs)
			}
			for k, want := range tt.attrs {
				if strings.Join(got[k], "\x00") != strings.Join(want, "\x00") {
					t.Errorf("attribute %s = %q, want %q", k, got[k], want)
				}
			}
			for i := 1; i < len(order); i++ {
				fixed := func(n string) bool { return n == RoleAttribute || n == PrincipalNameAttribute }
				if !fixed(order[i]) && !fixed(order[i-1]) && order[i] < order[i-1] {
					t.Errorf("extra attributes not in name order: %v", order)
				}
			}
			if err := verifyGoxmldsig(t, resp, kp.Cert); err != nil {
				t.Errorf("response signature: %v", err)
			}
			if err := verifyGoxmldsig(t, assertion, kp.Cert); err != nil {
				t.Errorf("assertion signature: %v", err)
			}
		})
	}
}

func TestSignRandomIDsDiffer(t *testing.T) {
	kp := testPairs(t)[KeyECDSAP256]
	seen := map[string]bool{}
	for range 3 {
		x, err := Sign(baseOpts(kp))
		if err != nil {
			t.Fatal(err)
		}
		resp, a := parse(t, x)
		for _, id := range []string{resp.SelectAttrValue("ID", ""), a.SelectAttrValue("ID", ""), a.FindElement("./AuthnStatement").SelectAttrValue("SessionIndex", "")} {
			if seen[id] {
				t.Fatalf("ID %q repeated", id)
			}
			seen[id] = true
		}
	}
}

func TestSignErrors(t *testing.T) {
	kp := testPairs(t)[KeyECDSAP256]
	many := map[string][]string{}
	for i := range MaxAttributes + 1 {
		many[strings.Repeat("a", i+1)] = []string{"v"}
	}
	tests := []struct {
		name string
		mod  func(*SignOptions)
		want string
	}{
		{"no key pair", func(o *SignOptions) { o.KeyPair = nil }, "key pair"},
		{"key pair without key", func(o *SignOptions) { o.KeyPair = &KeyPair{Cert: kp.Cert} }, "key pair"},
		{"no principal", func(o *SignOptions) { o.Principal = "" }, "principal is required"},
		{"no org", func(o *SignOptions) { o.OrgID = "" }, "org is required"},
		{"org with slash", func(o *SignOptions) { o.OrgID = "a/b" }, "URL path segment"},
		{"org with space", func(o *SignOptions) { o.OrgID = "a b" }, "URL path segment"},
		{"org too long", func(o *SignOptions) { o.OrgID = strings.Repeat("o", 257) }, "at most 256"},
		{"bad mode", func(o *SignOptions) { o.Sign = "Both" }, "unknown sign mode"},
		{"negative ttl", func(o *SignOptions) { o.TTL = -time.Second }, "ttl"},
		{"ttl over max", func(o *SignOptions) { o.TTL = MaxTTL + time.Second }, "at most 24h"},
		{"session ttl over max", func(o *SignOptions) { o.SessionTTL = MaxSessionTTL + time.Second }, "session ttl"},
		{"negative session ttl", func(o *SignOptions) { o.SessionTTL = -1 }, "session ttl"},
		{"too many attributes", func(o *SignOptions) { o.Attributes = many }, "at most 256"},
		{"too many values", func(o *SignOptions) { o.Attributes = map[string][]string{"x": make([]string, MaxAttributeValues+1)} }, "values, at most"},
		{"empty attribute name", func(o *SignOptions) { o.Attributes = map[string][]string{"": {"v"}} }, "empty name"},
		{"value too long", func(o *SignOptions) { o.Attributes = map[string][]string{"x": {strings.Repeat("v", MaxValueBytes+1)}} }, "at most 16384"},
		{"principal too long", func(o *SignOptions) { o.Principal = strings.Repeat("p", MaxValueBytes+1) }, "principal"},
		{"nul in principal", func(o *SignOptions) { o.Principal = "a\x00b" }, "XML 1.0 cannot represent"},
		{"control char in role", func(o *SignOptions) { o.Role = "a\x1bb" }, "role"},
		{"bad utf8 in issuer", func(o *SignOptions) { o.Issuer = "\xffidp" }, "UTF-8"},
		{"U+FFFE in attribute name", func(o *SignOptions) { o.Attributes = map[string][]string{"a\uFFFE": {"v"}} }, "cannot represent"},
		{"bad response id", func(o *SignOptions) { o.ResponseID = "1abc" }, "must start with"},
		{"bad assertion id", func(o *SignOptions) { o.AssertionID = "_a b" }, "may contain only"},
		{"bad session index", func(o *SignOptions) { o.SessionIndex = "x:y" }, "session index"},
		{"id too long", func(o *SignOptions) { o.AssertionID = "_" + strings.Repeat("a", 256) }, "at most 256"},
		{"equal ids", func(o *SignOptions) { o.ResponseID, o.AssertionID = "_same", "_same" }, "must differ"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := baseOpts(kp)
			tt.mod(&o)
			x, err := Sign(o)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err %v, want one containing %q", err, tt.want)
			}
			if x != nil {
				t.Error("output returned with an error")
			}
		})
	}
}

func TestSignLimitsAccepted(t *testing.T) {
	kp := testPairs(t)[KeyECDSAP256]
	many := map[string][]string{}
	for i := range MaxAttributes {
		many[strings.Repeat("a", i+1)] = []string{"v"}
	}
	for _, tt := range []struct {
		name string
		mod  func(*SignOptions)
	}{
		{"max ttl", func(o *SignOptions) { o.TTL = MaxTTL }},
		{"max session ttl", func(o *SignOptions) { o.SessionTTL = MaxSessionTTL }},
		{"max attributes", func(o *SignOptions) { o.Attributes = many }},
		{"max values", func(o *SignOptions) { o.Attributes = map[string][]string{"x": make([]string, MaxAttributeValues)} }},
		{"max value bytes", func(o *SignOptions) { o.Principal = strings.Repeat("p", MaxValueBytes) }},
		{"astral plane principal", func(o *SignOptions) { o.Principal = "𝔞lice@example.com" }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o := baseOpts(kp)
			tt.mod(&o)
			x, err := Sign(o)
			if err != nil {
				t.Fatalf("Sign: %v", err)
			}
			resp, _ := parse(t, x)
			if err := verifyGoxmldsig(t, resp, kp.Cert); err != nil {
				t.Fatalf("signature: %v", err)
			}
		})
	}
}

func TestBase64AndDeclaration(t *testing.T) {
	kp := testPairs(t)[KeyECDSAP256]
	o := baseOpts(kp)
	o.XMLDeclaration = true
	o.ResponseID, o.AssertionID, o.SessionIndex = "_r", "_a", "_s"
	b64, err := SignBase64(o)
	if err != nil {
		t.Fatal(err)
	}
	if strings.ContainsAny(b64, "\r\n") {
		t.Error("base64 has line breaks")
	}
	x, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		t.Fatalf("not standard base64: %v", err)
	}
	if !strings.HasPrefix(string(x), `<?xml version="1.0" encoding="UTF-8"?>`+"\n<samlp:Response ") &&
		!strings.HasPrefix(string(x), `<?xml version="1.0" encoding="UTF-8"?><samlp:Response `) {
		t.Errorf("no XML declaration: %.80s", x)
	}
	if Base64([]byte("<a/>")) != "PGEvPg==" {
		t.Error("Base64 is not padded standard encoding")
	}
	if _, err := SignBase64(SignOptions{}); err == nil {
		t.Error("SignBase64 with no options succeeded")
	}
}
