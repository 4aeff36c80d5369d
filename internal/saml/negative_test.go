package saml

import (
	"bytes"
	"compress/flate"
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"
)

// negCase is one refusal: build the XML, optionally adjust the config, expect a code, the check
// that fires and a fragment of its reason. A row that asserted the code alone could pass for the
// wrong reason (a fixture broken in some other way than the one it means to test), so every row
// names both the check (the stable name the :test report gives it, see report.fail) and a
// fragment of the refusal's text.
type negCase struct {
	name   string
	xml    func(t *testing.T) []byte
	cfg    func(c *Config)
	want   Code
	check  string // the failing check's name in the report: "prefilter", "signature.response", ...
	reason string // the refusal's text must contain it
}

// runNeg runs the cases: every one must be refused with its code by its check for its reason,
// return no Assertion, claim no replay entry and not panic (run recovers internally, but a panic
// in the test body would also fail the test).
func runNeg(t *testing.T, cases []negCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			x := tc.xml(t)
			cfg := testConfig(t)
			if tc.cfg != nil {
				tc.cfg(cfg)
			}
			// ValidateXML with the :test report on, to see which check refused.
			rep := report{enabled: true}
			a, err := run(context.Background(), "", x, cfg, &rep, false)
			expectCode(t, a, err, tc.want)
			t.Logf("refused: %v", err)
			if tc.check == "" || tc.reason == "" {
				t.Fatal("the case does not say which check must refuse it and why (check and reason)")
			}
			if got := failedCheck(rep.checks); got != tc.check {
				t.Errorf("refused by check %q, want %q: %v", got, tc.check, err)
			}
			if !strings.Contains(err.Error(), tc.reason) {
				t.Errorf("refused for another reason: %v (want %q)", err, tc.reason)
			}
			if len(cfg.Replay.(*memReplay).seen) != 0 {
				t.Fatal("a refused response claimed a replay entry")
			}
		})
	}
}

// failedCheck is the name of the report's failed check ("" when none failed).
func failedCheck(checks []Check) string {
	for _, c := range checks {
		if !c.Passed {
			return c.Name
		}
	}
	return ""
}

// edit returns the XML of r signed as h, then post-processed by f on the parsed document.
func edit(r resp, h how, f func(t *testing.T, d *etree.Document)) func(t *testing.T) []byte {
	return func(t *testing.T) []byte {
		d := parseDoc(t, xmlOf(t, r, h))
		f(t, d)
		return serialize(t, d)
	}
}

func signed(r resp, h how) func(t *testing.T) []byte {
	return func(t *testing.T) []byte { return xmlOf(t, r, h) }
}

func replaceOnce(old, new string, f func(t *testing.T) []byte) func(t *testing.T) []byte {
	return func(t *testing.T) []byte {
		b := f(t)
		if !bytes.Contains(b, []byte(old)) {
			t.Fatalf("fixture does not contain %q", old)
		}
		return bytes.Replace(b, []byte(old), []byte(new), 1)
	}
}

func raw(s string) func(t *testing.T) []byte {
	return func(t *testing.T) []byte { return []byte(s) }
}

func respEl(d *etree.Document) *etree.Element { return d.Root() }
func asrtEl(d *etree.Document) *etree.Element { return child(d.Root(), "Assertion") }
func sigOf(el *etree.Element) *etree.Element  { return child(el, "Signature") }

// goxmldsigAccepts proves that a negative fixture is cryptographically valid for goxmldsig on its
// own, so that its refusal is the signature profile's doing and not an accident of the builder.
func goxmldsigAccepts(t *testing.T, xml []byte, assertion bool) {
	t.Helper()
	d := parseDoc(t, xml)
	el := d.Root()
	if assertion {
		var err error
		if el, err = detach(asrtEl(d)); err != nil {
			t.Fatal(err)
		}
	}
	vc := dsig.NewDefaultValidationContext(&dsig.MemoryX509CertificateStore{Roots: []*x509.Certificate{keyIdP.cert}})
	vc.Clock = dsig.NewFakeClockAt(tNow)
	if _, err := vc.Validate(el); err != nil {
		t.Fatalf("fixture is not even valid for goxmldsig: %v", err)
	}
}

func TestNegativeSignature(t *testing.T) {
	keys(t)
	flip := func(sig *etree.Element) {
		sv := child(sig, "SignatureValue")
		b, _ := base64.StdEncoding.DecodeString(stripSpace(sv.Text()))
		b[10] ^= 1
		sv.SetText(base64.StdEncoding.EncodeToString(b))
	}
	evilModulus := func(ki *etree.Element) {
		k := keyEvil.key.Public().(*rsa.PublicKey)
		kv := ki.CreateElement("ds:KeyValue").CreateElement("ds:RSAKeyValue")
		kv.CreateElement("ds:Modulus").SetText(base64.StdEncoding.EncodeToString(k.N.Bytes()))
		kv.CreateElement("ds:Exponent").SetText(base64.StdEncoding.EncodeToString(big.NewInt(int64(k.E)).Bytes()))
	}
	sha1Sig := &signOpts{sigMethod: "http://www.w3.org/2000/09/xmldsig#rsa-sha1", sigHash: crypto.SHA1}
	sha1Dig := &signOpts{digestMethod: "http://www.w3.org/2000/09/xmldsig#sha1", digestHash: crypto.SHA1}
	c14n10 := &signOpts{siC14N: dsig.MakeC14N10RecCanonicalizer()}
	c14n11 := &signOpts{siC14N: dsig.MakeC14N11Canonicalizer()}
	excComments := &signOpts{siC14N: dsig.MakeC14N10ExclusiveWithCommentsCanonicalizerWithPrefixList("")}
	refC14n10 := &signOpts{refC14N: dsig.MakeC14N10RecCanonicalizer()}
	refExcComments := &signOpts{refC14N: dsig.MakeC14N10ExclusiveWithCommentsCanonicalizerWithPrefixList("")}
	commentInDigest := &signOpts{after: func(sig *etree.Element) {
		dv := child(child(child(sig, "SignedInfo"), "Reference"), "DigestValue")
		txt := dv.Text()
		dv.SetText(txt[:10])
		dv.CreateComment("x")
		dv.CreateText(txt[10:])
	}}

	// Prove the "valid but forbidden" fixtures really verify under goxmldsig alone.
	for name, o := range map[string]*signOpts{"sha1 sig": sha1Sig, "sha1 digest": sha1Dig, "c14n10": c14n10, "c14n11": c14n11, "exc comments": excComments, "ref c14n10": refC14n10, "comment in digest": commentInDigest} {
		t.Run("goxmldsig accepts "+name, func(t *testing.T) { goxmldsigAccepts(t, xmlOf(t, resp{}, how{resp: o}), false) })
	}

	runNeg(t, []negCase{
		{name: "no signature", xml: signed(resp{}, signNeither), want: CodeInvalidSignature, check: "signature", reason: "neither the Response nor the Assertion is signed"},
		{name: "response signature broken, assertion fine", xml: signed(resp{}, how{resp: &signOpts{after: flip}, asrt: &signOpts{}}), want: CodeInvalidSignature, check: "signature.response", reason: "Response signature does not verify with the trusted certificate(s)"},
		{name: "assertion signature broken, response fine", xml: signed(resp{}, how{resp: &signOpts{}, asrt: &signOpts{after: flip}}), want: CodeInvalidSignature, check: "signature.assertion", reason: "Assertion signature does not verify with the trusted certificate(s)"},
		{name: "assertion edited after signing (assertion-only)", xml: replaceOnce("reader-role", "admin-role", signed(resp{}, signAsrtOnly)), want: CodeInvalidSignature, check: "signature.assertion", reason: "Assertion signature does not verify with the trusted certificate(s)"},
		{name: "assertion edited after signing (both)", xml: replaceOnce("reader-role", "admin-role", signed(resp{}, signBoth)), want: CodeInvalidSignature, check: "signature.response", reason: "Response signature does not verify with the trusted certificate(s)"},
		{name: "nameid edited after signing (response-only)", xml: replaceOnce(">alice@example.com<", ">mallory@example.com<", signed(resp{}, signRespOnly)), want: CodeInvalidSignature, check: "signature.response", reason: "Response signature does not verify with the trusted certificate(s)"},
		{name: "attacker key, its cert in KeyInfo (response)", xml: signed(resp{}, how{resp: &signOpts{key: keyEvil}}), want: CodeUntrustedKey, check: "signature.response", reason: "Response is signed with a key that is not among the config's trusted certificates"},
		{name: "attacker key, its cert in KeyInfo (assertion)", xml: signed(resp{}, how{asrt: &signOpts{key: keyEvil}}), want: CodeUntrustedKey, check: "signature.assertion", reason: "Assertion is signed with a key that is not among the config's trusted certificates"},
		{name: "attacker RSAKeyValue in KeyInfo", xml: signed(resp{}, how{asrt: &signOpts{key: keyEvil, keyInfo: evilModulus}}), want: CodeUntrustedKey, check: "signature.assertion", reason: "Assertion is signed with a key that is not among the config's trusted certificates"},
		{name: "pinned cert shown, other key used", xml: signed(resp{}, how{resp: &signOpts{key: keyEvil, keyInfoCert: keyIdP.cert}}), want: CodeInvalidSignature, check: "signature.response", reason: "Response signature does not verify with the trusted certificate(s)"},
		{name: "attacker key without KeyInfo", xml: signed(resp{}, how{resp: &signOpts{key: keyEvil, noKeyInfo: true}}), want: CodeInvalidSignature, check: "signature.response", reason: "Response signature does not verify with the trusted certificate(s)"},
		{name: "SHA-1 signature method", xml: signed(resp{}, how{resp: sha1Sig}), want: CodeInvalidSignature, check: "signature.response", reason: `SignatureMethod "http://www.w3.org/2000/09/xmldsig#rsa-sha1" is not allowed (RSA or ECDSA with SHA-256/384/512 only)`},
		{name: "SHA-1 digest", xml: signed(resp{}, how{asrt: sha1Dig}), want: CodeInvalidSignature, check: "signature.assertion", reason: `DigestMethod "http://www.w3.org/2000/09/xmldsig#sha1" is not allowed (SHA-256/384/512 only)`},
		{name: "HMAC signature method", xml: signed(resp{}, how{resp: &signOpts{sigMethod: "http://www.w3.org/2000/09/xmldsig#hmac-sha1"}}), want: CodeInvalidSignature, check: "signature.response", reason: `SignatureMethod "http://www.w3.org/2000/09/xmldsig#hmac-sha1" is not allowed (RSA or ECDSA with SHA-256/384/512 only)`},
		{name: "HMAC-SHA256 signature method", xml: signed(resp{}, how{asrt: &signOpts{sigMethod: "http://www.w3.org/2001/04/xmldsig-more#hmac-sha256"}}), want: CodeInvalidSignature, check: "signature.assertion", reason: `SignatureMethod "http://www.w3.org/2001/04/xmldsig-more#hmac-sha256" is not allowed (RSA or ECDSA with SHA-256/384/512 only)`},
		{name: "c14n 1.0 SignedInfo", xml: signed(resp{}, how{resp: c14n10}), want: CodeInvalidSignature, check: "signature.response", reason: `CanonicalizationMethod must be exclusive c14n without comments, got "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"`},
		{name: "c14n 1.1 SignedInfo", xml: signed(resp{}, how{resp: c14n11}), want: CodeInvalidSignature, check: "signature.response", reason: `CanonicalizationMethod must be exclusive c14n without comments, got "http://www.w3.org/2006/12/xml-c14n11"`},
		{name: "exc-c14n WithComments SignedInfo", xml: signed(resp{}, how{resp: excComments}), want: CodeInvalidSignature, check: "signature.response", reason: `CanonicalizationMethod must be exclusive c14n without comments, got "http://www.w3.org/2001/10/xml-exc-c14n#WithComments"`},
		{name: "c14n 1.0 reference transform", xml: signed(resp{}, how{resp: refC14n10}), want: CodeInvalidSignature, check: "signature.response", reason: `second Transform must be exclusive c14n without comments, got "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"`},
		{name: "exc-c14n WithComments reference transform", xml: signed(resp{}, how{asrt: refExcComments}), want: CodeInvalidSignature, check: "signature.assertion", reason: `second Transform must be exclusive c14n without comments, got "http://www.w3.org/2001/10/xml-exc-c14n#WithComments"`},
		{name: "XPath transform", xml: signed(resp{}, how{resp: &signOpts{transforms: []string{algEnveloped, "http://www.w3.org/TR/1999/REC-xpath-19991116", algExcC14N}}}), want: CodeInvalidSignature, check: "signature.response", reason: "Transforms must be exactly enveloped-signature then exclusive c14n"},
		{name: "XSLT transform", xml: signed(resp{}, how{resp: &signOpts{transforms: []string{algEnveloped, "http://www.w3.org/TR/1999/REC-xslt-19991116"}}}), want: CodeInvalidSignature, check: "signature.response", reason: `second Transform must be exclusive c14n without comments, got "http://www.w3.org/TR/1999/REC-xslt-19991116"`},
		{name: "base64 transform", xml: signed(resp{}, how{asrt: &signOpts{transforms: []string{"http://www.w3.org/2000/09/xmldsig#base64", algExcC14N}}}), want: CodeInvalidSignature, check: "signature.assertion", reason: `first Transform must be enveloped-signature, got "http://www.w3.org/2000/09/xmldsig#base64"`},
		{name: "only exc-c14n transform (no enveloped)", xml: signed(resp{}, how{asrt: &signOpts{transforms: []string{algExcC14N}}}), want: CodeInvalidSignature, check: "signature.assertion", reason: "Transforms must be exactly enveloped-signature then exclusive c14n"},
		{name: "transforms reversed", xml: signed(resp{}, how{asrt: &signOpts{transforms: []string{algExcC14N, algEnveloped}}}), want: CodeInvalidSignature, check: "signature.assertion", reason: `first Transform must be enveloped-signature, got "http://www.w3.org/2001/10/xml-exc-c14n#"`},
		{name: "two References", xml: signed(resp{}, how{resp: &signOpts{extraRefs: 1}}), want: CodeInvalidSignature, check: "signature.response", reason: "ds:SignedInfo must contain exactly CanonicalizationMethod, SignatureMethod, Reference"},
		{name: "URI empty", xml: signed(resp{}, how{resp: &signOpts{refURI: strp("")}}), want: CodeInvalidSignature, check: "signature.response", reason: `Reference URI must be "#" + the ID of the signed Response`},
		{name: "URI to another element", xml: func(t *testing.T) []byte {
			r := resp{assertionID: "_theassertion"}
			return xmlOf(t, r, how{resp: &signOpts{refURI: strp("#_theassertion")}})
		}, want: CodeInvalidSignature, check: "signature.response", reason: `Reference URI must be "#" + the ID of the signed Response`},
		{name: "two Signatures on the Response", xml: edit(resp{}, signRespOnly, func(t *testing.T, d *etree.Document) {
			s := sigOf(respEl(d))
			respEl(d).InsertChildAt(s.Index()+1, s.Copy())
		}), want: CodeInvalidSignature, check: "structure", reason: "Response has more than one Signature"},
		{name: "two Signatures on the Assertion", xml: edit(resp{}, signAsrtOnly, func(t *testing.T, d *etree.Document) {
			s := sigOf(asrtEl(d))
			asrtEl(d).InsertChildAt(s.Index()+1, s.Copy())
		}), want: CodeInvalidSignature, check: "structure", reason: "Assertion has more than one Signature"},
		{name: "two SignedInfo", xml: signed(resp{}, how{resp: &signOpts{after: func(sig *etree.Element) {
			si := child(sig, "SignedInfo")
			sig.InsertChildAt(si.Index()+1, si.Copy())
		}}}), want: CodeInvalidSignature, check: "signature.response", reason: "ds:Signature must contain SignedInfo, SignatureValue and optionally KeyInfo"},
		{name: "two SignatureValue", xml: signed(resp{}, how{asrt: &signOpts{after: func(sig *etree.Element) {
			sv := child(sig, "SignatureValue")
			sig.InsertChildAt(sv.Index()+1, sv.Copy())
		}}}), want: CodeInvalidSignature, check: "signature.assertion", reason: "ds:Signature must contain SignedInfo, SignatureValue and optionally KeyInfo"},
		{name: "Object inside Signature", xml: signed(resp{}, how{asrt: &signOpts{after: func(sig *etree.Element) {
			sig.CreateElement("ds:Object").SetText("x")
		}}}), want: CodeInvalidSignature, check: "signature.assertion", reason: "ds:Signature must contain SignedInfo, SignatureValue and optionally KeyInfo"},
		{name: "Signature not a direct child (in Extensions)", xml: edit(resp{}, signRespOnly, func(t *testing.T, d *etree.Document) {
			r := respEl(d)
			s := sigOf(r)
			r.RemoveChild(s)
			ext := etree.NewElement("samlp:Extensions")
			ext.AddChild(s)
			r.InsertChildAt(child(r, "Status").Index(), ext)
		}), want: CodeInvalidSignature, check: "prefilter", reason: "ds:Signature inside Extensions is not allowed; only a direct child of Response or Assertion is accepted"},
		{name: "Signature not a direct child (in Subject)", xml: edit(resp{}, signAsrtOnly, func(t *testing.T, d *etree.Document) {
			a := asrtEl(d)
			s := sigOf(a)
			a.RemoveChild(s)
			child(a, "Subject").AddChild(s)
		}), want: CodeInvalidSignature, check: "prefilter", reason: "ds:Signature inside Subject is not allowed; only a direct child of Response or Assertion is accepted"},
		{name: "comment inside DigestValue", xml: signed(resp{}, how{resp: commentInDigest}), want: CodeInvalidSignature, check: "signature.response", reason: "ds:DigestValue must contain only text"},
		{name: "comment inside SignatureValue", xml: signed(resp{}, how{asrt: &signOpts{after: func(sig *etree.Element) {
			sv := child(sig, "SignatureValue")
			txt := sv.Text()
			sv.SetText(txt[:8])
			sv.CreateComment("x")
			sv.CreateText(txt[8:])
		}}}), want: CodeInvalidSignature, check: "signature.assertion", reason: "ds:SignatureValue must contain only text"},
		{name: "DigestValue wrong length", xml: signed(resp{}, how{resp: &signOpts{after: func(sig *etree.Element) {
			child(child(child(sig, "SignedInfo"), "Reference"), "DigestValue").SetText("AAAA")
		}}}), want: CodeInvalidSignature, check: "signature.response", reason: "DigestValue is not a base64 32-byte digest"},
		{name: "HMACOutputLength child", xml: signed(resp{}, how{resp: &signOpts{editSignedInfo: func(si *etree.Element) {
			child(si, "SignatureMethod").CreateElement("ds:HMACOutputLength").SetText("0")
		}}}), want: CodeInvalidSignature, check: "signature.response", reason: "SignatureMethod must be empty (no HMACOutputLength or parameters)"},
		{name: "Signature in foreign namespace is not a signature", xml: edit(resp{}, signRespOnly, func(t *testing.T, d *etree.Document) {
			s := sigOf(respEl(d))
			s.RemoveAttr("xmlns:ds")
			s.CreateAttr("xmlns:ds", "urn:evil")
		}), want: CodeInvalidResponse, check: "structure", reason: `unexpected element "ds:Signature" in Response`},
	})
}

// xswCase builds one of SAML Raider's eight XML Signature Wrapping permutations by hand, each with
// the evil copy claiming the admin role.
func TestNegativeWrapping(t *testing.T) {
	keys(t)
	evilize := func(el *etree.Element, newID string) *etree.Element {
		c := el.Copy()
		if s := sigOf(c); s != nil {
			c.RemoveChild(s)
		}
		if newID != "" {
			c.RemoveAttr("ID")
			c.CreateAttr("ID", newID)
		}
		if c.Tag == "Assertion" {
			setRole(c, "admin")
		} else if a := child(c, "Assertion"); a != nil {
			setRole(a, "admin")
		}
		return c
	}
	xsw := map[string]func(t *testing.T, d *etree.Document){
		// XSW1: evil unsigned Response at the root, the original signed one appended inside its
		// Signature (the signature still references the original).
		"XSW1": func(t *testing.T, d *etree.Document) {
			orig := respEl(d)
			evil := evilize(orig, "_evilresp")
			evil.InsertChildAt(child(evil, "Issuer").Index()+1, sigOf(orig).Copy())
			sigOf(evil).AddChild(orig.Copy())
			d.SetRoot(evil)
		},
		// XSW2: as XSW1 but the original is placed before the Signature (detached style).
		"XSW2": func(t *testing.T, d *etree.Document) {
			orig := respEl(d)
			evil := evilize(orig, "_evilresp")
			at := child(evil, "Issuer").Index() + 1
			evil.InsertChildAt(at, sigOf(orig).Copy())
			evil.InsertChildAt(at, orig.Copy())
			d.SetRoot(evil)
		},
		// XSW3: evil unsigned Assertion before the signed original.
		"XSW3": func(t *testing.T, d *etree.Document) {
			a := asrtEl(d)
			respEl(d).InsertChildAt(a.Index(), evilize(a, "_evilasrt"))
		},
		// XSW4: evil Assertion wraps the signed original.
		"XSW4": func(t *testing.T, d *etree.Document) {
			a := asrtEl(d)
			evil := evilize(a, "_evilasrt")
			evil.AddChild(a.Copy())
			respEl(d).InsertChildAt(a.Index(), evil)
			respEl(d).RemoveChild(a)
		},
		// XSW5: signed Assertion edited (keeps its signature), unsigned original copy at the end.
		"XSW5": func(t *testing.T, d *etree.Document) {
			a := asrtEl(d)
			cp := a.Copy()
			cp.RemoveChild(sigOf(cp))
			setRole(a, "admin")
			respEl(d).AddChild(cp)
		},
		// XSW6: signed Assertion edited, original copy (signature removed) inside its Signature.
		"XSW6": func(t *testing.T, d *etree.Document) {
			a := asrtEl(d)
			cp := a.Copy()
			cp.RemoveChild(sigOf(cp))
			setRole(a, "admin")
			sigOf(a).AddChild(cp)
		},
		// XSW7: Extensions holding the signed original, evil unsigned copy in its place.
		"XSW7": func(t *testing.T, d *etree.Document) {
			r, a := respEl(d), asrtEl(d)
			ext := etree.NewElement("samlp:Extensions")
			ext.AddChild(a.Copy())
			r.InsertChildAt(child(r, "Status").Index(), ext)
			r.InsertChildAt(a.Index(), evilize(a, ""))
			r.RemoveChild(a)
		},
		// XSW8: ds:Object inside the evil Assertion's Signature holding the unsigned original.
		"XSW8": func(t *testing.T, d *etree.Document) {
			a := asrtEl(d)
			cp := a.Copy()
			cp.RemoveChild(sigOf(cp))
			setRole(a, "admin")
			sigOf(a).CreateElement("ds:Object").AddChild(cp)
		},
	}
	// Each wrapping is refused by the prefilter, before any signature is looked at, and for the
	// structural reason its shape gives (XSW5, 6 and 8 copy the signed Assertion, so its ID
	// appears twice).
	why := map[string]string{
		"XSW1": "nested Response elements are not allowed",
		"XSW2": "nested Response elements are not allowed",
		"XSW3": "Response must contain exactly one Assertion or EncryptedAssertion, found 2",
		"XSW4": "Assertion inside Assertion is not allowed",
		"XSW5": "duplicate ID",
		"XSW6": "duplicate ID",
		"XSW7": "Assertion inside Extensions is not allowed",
		"XSW8": "duplicate ID",
	}
	var cases []negCase
	for _, name := range []string{"XSW1", "XSW2", "XSW3", "XSW4", "XSW5", "XSW6", "XSW7", "XSW8"} {
		h := signAsrtOnly
		if name == "XSW1" || name == "XSW2" {
			h = signRespOnly
		}
		cases = append(cases, negCase{name: name, xml: edit(resp{}, h, xsw[name]), want: CodeInvalidResponse, check: "prefilter", reason: why[name]})
		// And the same attack against a Response where both are signed.
		cases = append(cases, negCase{name: name + " both signed", xml: edit(resp{}, signBoth, xsw[name]), want: CodeInvalidResponse, check: "prefilter", reason: why[name]})
	}
	hidden := func(where string) func(t *testing.T, d *etree.Document) {
		return func(t *testing.T, d *etree.Document) {
			r, a := respEl(d), asrtEl(d)
			evil := evilize(a, "_evilasrt")
			signedCopy := a.Copy()
			signedCopy.RemoveAttr("xmlns:xs")
			switch where {
			case "Advice":
				adv := etree.NewElement("saml:Advice")
				adv.AddChild(signedCopy)
				evil.AddChild(adv)
			case "Extensions":
				ext := etree.NewElement("samlp:Extensions")
				ext.AddChild(signedCopy)
				r.InsertChildAt(child(r, "Status").Index(), ext)
			case "StatusDetail":
				sd := child(r, "Status").CreateElement("samlp:StatusDetail")
				sd.AddChild(signedCopy)
			}
			r.InsertChildAt(a.Index(), evil)
			r.RemoveChild(a)
		}
	}
	cases = append(cases,
		negCase{name: "CVE-2022-41912 signed then unsigned assertion", xml: edit(resp{}, signAsrtOnly, func(t *testing.T, d *etree.Document) {
			respEl(d).AddChild(evilize(asrtEl(d), "_evilasrt"))
		}), want: CodeInvalidResponse, check: "prefilter", reason: "Response must contain exactly one Assertion or EncryptedAssertion, found 2"},
		negCase{name: "CVE-2022-41912 unsigned then signed assertion", xml: edit(resp{}, signAsrtOnly, func(t *testing.T, d *etree.Document) {
			a := asrtEl(d)
			respEl(d).InsertChildAt(a.Index(), evilize(a, "_evilasrt"))
		}), want: CodeInvalidResponse, check: "prefilter", reason: "Response must contain exactly one Assertion or EncryptedAssertion, found 2"},
		negCase{name: "signed Response, Assertion signed by untrusted key", xml: signed(resp{}, how{resp: &signOpts{}, asrt: &signOpts{key: keyEvil}}), want: CodeUntrustedKey, check: "signature.assertion", reason: "Assertion is signed with a key that is not among the config's trusted certificates"},
		negCase{name: "duplicate IDs (Response and Assertion)", xml: signed(resp{respID: "_same", assertionID: "_same"}, signAsrtOnly), want: CodeInvalidResponse, check: "prefilter", reason: `duplicate ID "_same" (IDs must be unique in the document)`},
		negCase{name: "duplicate IDs (evil element elsewhere)", xml: edit(resp{assertionID: "_dup"}, signAsrtOnly, func(t *testing.T, d *etree.Document) {
			ext := etree.NewElement("samlp:Extensions")
			ext.CreateElement("x:Foo").CreateAttr("ID", "_dup")
			ext.CreateAttr("xmlns:x", "urn:x")
			r := respEl(d)
			r.InsertChildAt(child(r, "Status").Index(), ext)
		}), want: CodeInvalidResponse, check: "prefilter", reason: `duplicate ID "_dup" (IDs must be unique in the document)`},
		negCase{name: "prefixed ID attribute", xml: edit(resp{}, signAsrtOnly, func(t *testing.T, d *etree.Document) {
			asrtEl(d).CreateAttr("xmlns:x", "urn:x")
			asrtEl(d).CreateAttr("x:ID", "_other")
		}), want: CodeInvalidResponse, check: "prefilter", reason: `namespaced ID attribute "x:ID" is not allowed`},
		negCase{name: "CVE-2024-45409 signed assertion hidden in Advice", xml: edit(resp{}, signAsrtOnly, hidden("Advice")), want: CodeInvalidResponse, check: "prefilter", reason: "Assertion inside Advice is not allowed; only a direct child of Response is accepted"},
		negCase{name: "CVE-2024-45409 signed assertion hidden in Extensions", xml: edit(resp{}, signAsrtOnly, hidden("Extensions")), want: CodeInvalidResponse, check: "prefilter", reason: "Assertion inside Extensions is not allowed; only a direct child of Response is accepted"},
		negCase{name: "CVE-2024-45409 signed assertion hidden in StatusDetail", xml: edit(resp{}, signAsrtOnly, hidden("StatusDetail")), want: CodeInvalidResponse, check: "prefilter", reason: "Assertion inside StatusDetail is not allowed; only a direct child of Response is accepted"},
	)
	runNeg(t, cases)
}

func TestNegativeXML(t *testing.T) {
	keys(t)
	good := func(t *testing.T) []byte { return xmlOf(t, resp{}, signBoth) }
	afterDecl := func(insert string) func(t *testing.T) []byte {
		return func(t *testing.T) []byte {
			b := good(t)
			i := bytes.Index(b, []byte("?>")) + 2
			return append(append(append([]byte{}, b[:i]...), insert...), b[i:]...)
		}
	}
	runNeg(t, []negCase{
		{name: "DOCTYPE", xml: afterDecl(`<!DOCTYPE Response>`), want: CodeInvalidResponse, check: "prefilter", reason: "DOCTYPE, ENTITY and other <! directives are not allowed"},
		{name: "billion laughs", xml: afterDecl(`<!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>`), want: CodeInvalidResponse, check: "prefilter", reason: "DOCTYPE, ENTITY and other <! directives are not allowed"},
		{name: "external entity file:", xml: raw(`<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol">&x;</samlp:Response>`), want: CodeInvalidResponse, check: "prefilter", reason: "malformed XML: XML syntax error"},
		{name: "external entity http:", xml: raw(`<!DOCTYPE r [<!ENTITY x SYSTEM "http://169.254.169.254/">]><samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol">&x;</samlp:Response>`), want: CodeInvalidResponse, check: "prefilter", reason: "malformed XML: XML syntax error"},
		{name: "undeclared entity reference", xml: replaceOnce(">alice@example.com<", ">&x;<", good), want: CodeInvalidResponse, check: "prefilter", reason: "malformed XML: XML syntax error"},
		{name: "processing instruction", xml: afterDecl(`<?xml-stylesheet href="x"?>`), want: CodeInvalidResponse, check: "prefilter", reason: "processing instructions are not allowed"},
		{name: "ISO-8859-1 declaration", xml: replaceOnce(`encoding="UTF-8"`, `encoding="ISO-8859-1"`, good), want: CodeInvalidResponse, check: "prefilter", reason: `malformed XML: xml: opening charset "ISO-8859-1": encoding "ISO-8859-1" is not UTF-8`},
		{name: "UTF-16 declaration", xml: replaceOnce(`encoding="UTF-8"`, `encoding="UTF-16"`, good), want: CodeInvalidResponse, check: "prefilter", reason: `malformed XML: xml: opening charset "UTF-16": encoding "UTF-16" is not UTF-8`},
		{name: "XML 1.1 declaration", xml: replaceOnce(`version="1.0"`, `version="1.1"`, good), want: CodeInvalidResponse, check: "prefilter", reason: `malformed XML: xml: unsupported version "1.1"; only version 1.0 is supported`},
		{name: "invalid UTF-8", xml: replaceOnce(">alice@example.com<", ">alice\xff@example.com<", good), want: CodeInvalidResponse, check: "prefilter", reason: "SAML XML is not valid UTF-8"},
		{name: "x::Root", xml: raw(`<x::Response xmlns:x="urn:oasis:names:tc:SAML:2.0:protocol"></x::Response>`), want: CodeInvalidResponse, check: "prefilter", reason: "malformed XML: XML syntax error"},
		{name: "a:b:c element", xml: replaceOnce("<saml:Subject>", "<saml:Subject><a:b:c xmlns:a=\"urn:a\"/>", good), want: CodeInvalidResponse, check: "prefilter", reason: "malformed XML: XML syntax error"},
		{name: "colon attribute name", xml: replaceOnce(`<saml:Subject>`, `<saml:Subject x::y="1">`, good), want: CodeInvalidResponse, check: "prefilter", reason: "malformed XML: XML syntax error"},
		{name: "undeclared prefix", xml: replaceOnce(`<saml:Subject>`, `<saml:Subject q:y="1">`, good), want: CodeInvalidResponse, check: "prefilter", reason: `undeclared namespace prefix "q"`},
		{name: "duplicate attribute", xml: replaceOnce(`<saml:Subject>`, `<saml:Subject a="1" a="2">`, good), want: CodeInvalidResponse, check: "prefilter", reason: `duplicate attribute "a"`},
		{name: "saml prefix bound elsewhere (response signed)", xml: replaceOnce(`xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"`, `xmlns:saml="urn:evil"`, signed(resp{}, signRespOnly)), want: CodeInvalidResponse, check: "prefilter", reason: "Response must contain exactly one Assertion or EncryptedAssertion, found 0"},
		// With both signed, the Assertion's Signature now sits in a foreign element: refused as such.
		{name: "saml prefix bound elsewhere (both signed)", xml: replaceOnce(`xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"`, `xmlns:saml="urn:evil"`, good), want: CodeInvalidSignature, check: "prefilter", reason: "ds:Signature inside Assertion is not allowed; only a direct child of Response or Assertion is accepted"},
		{name: "saml prefix rebound on the Assertion", xml: edit(resp{}, signRespOnly, func(t *testing.T, d *etree.Document) {
			asrtEl(d).CreateAttr("xmlns:saml", "urn:evil")
		}), want: CodeInvalidResponse, check: "prefilter", reason: "Response must contain exactly one Assertion or EncryptedAssertion, found 0"},
		{name: "foreign-namespace NameID", xml: signed(resp{edit: func(r, a *etree.Element) {
			n := child(child(a, "Subject"), "NameID")
			n.Space = "evil"
			n.CreateAttr("xmlns:evil", "urn:evil")
		}}, signBoth), want: CodeInvalidResponse, check: "subject.nameid", reason: `unexpected "evil:NameID" in Subject (exactly one saml:NameID and SubjectConfirmations)`},
		{name: "foreign-namespace NameID beside the real one", xml: signed(resp{edit: func(r, a *etree.Element) {
			s := child(a, "Subject")
			e := etree.NewElement("evil:NameID")
			e.CreateAttr("xmlns:evil", "urn:evil")
			e.SetText("admin@example.com")
			s.InsertChildAt(0, e)
		}}, signBoth), want: CodeInvalidResponse, check: "subject.nameid", reason: `unexpected "evil:NameID" in Subject (exactly one saml:NameID and SubjectConfirmations)`},
		{name: "two roots", xml: func(t *testing.T) []byte {
			b := good(t)
			return append(b, b[bytes.Index(b, []byte("<samlp:Response")):]...)
		}, want: CodeInvalidResponse, check: "prefilter", reason: "more than one root element, or bytes after the root"},
		{name: "trailing bytes", xml: func(t *testing.T) []byte { return append(good(t), "garbage"...) }, want: CodeInvalidResponse, check: "prefilter", reason: "text outside the root element"},
		{name: "trailing comment", xml: func(t *testing.T) []byte { return append(good(t), "<!-- x -->"...) }, want: CodeInvalidResponse, check: "prefilter", reason: "content outside the root element"},
		{name: "NUL byte", xml: replaceOnce(">alice@example.com<", ">alice\x00@example.com<", good), want: CodeInvalidResponse, check: "prefilter", reason: "control byte 0x00"},
		{name: "NUL char reference", xml: replaceOnce(">alice@example.com<", ">alice&#0;@example.com<", good), want: CodeInvalidResponse, check: "prefilter", reason: "malformed XML: XML syntax error"},
		{name: "root is not Response", xml: raw(`<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"/>`), want: CodeInvalidResponse, check: "prefilter", reason: "root element must be a samlp:Response in urn:oasis:names:tc:SAML:2.0:protocol"},
		{name: "Response in the wrong namespace", xml: replaceOnce(`xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol"`, `xmlns:samlp="urn:oasis:names:tc:SAML:1.0:protocol"`, good), want: CodeInvalidResponse, check: "prefilter", reason: "root element must be a samlp:Response in urn:oasis:names:tc:SAML:2.0:protocol"},
		{name: "unclosed root", xml: func(t *testing.T) []byte { b := good(t); return b[:len(b)-20] }, want: CodeInvalidResponse, check: "prefilter", reason: "malformed XML: XML syntax error"},
		{name: "empty", xml: raw(""), want: CodeInvalidResponse, check: "prefilter", reason: "empty SAML XML"},
		{name: "encrypted assertion", xml: edit(resp{}, signRespOnly, func(t *testing.T, d *etree.Document) {
			r := respEl(d)
			a := asrtEl(d)
			r.InsertChildAt(a.Index(), etree.NewElement("saml:EncryptedAssertion"))
			r.RemoveChild(a)
		}), want: CodeInvalidResponse, check: "encryption", reason: "this config has no encryption keys, so it cannot accept an EncryptedAssertion"},
	})

	// Base64 layer (through Validate).
	goodB64 := b64(xmlOf(t, resp{}, signBoth))
	var deflated bytes.Buffer
	fw, _ := flate.NewWriter(&deflated, flate.DefaultCompression)
	_, _ = fw.Write(xmlOf(t, resp{}, signBoth))
	_ = fw.Close()
	const notStrict = "not strict standard base64"
	for _, tc := range []struct{ name, in, reason string }{
		{"deflated body", base64.StdEncoding.EncodeToString(deflated.Bytes()), "SAML XML is not valid UTF-8"}, // HTTP-Redirect encoding is not accepted
		{"bad base64", goodB64[:len(goodB64)-3] + "!!=", notStrict},
		{"URL alphabet", strings.NewReplacer("+", "-", "/", "_").Replace(goodB64) + func() string {
			if strings.ContainsAny(goodB64, "+/") {
				return ""
			}
			return "-"
		}(), notStrict},
		{"spaces inside", goodB64[:40] + " " + goodB64[40:], notStrict},
		{"missing padding", strings.TrimRight(b64([]byte("<a>x</a>xx")), "="), notStrict},
		{"empty", "", "empty SAMLResponse"},
		{"over the encoded cap", strings.Repeat("A", MaxEncodedSize+4), "bytes of base64, more than the 368640 allowed"},
		{"over the decoded cap", b64(bytes.Repeat([]byte(" "), MaxDecodedSize+1)), "decoded SAML XML is 262145 bytes, more than the 262144 allowed"},
	} {
		t.Run("base64 "+tc.name, func(t *testing.T) {
			a, err := Validate(context.Background(), tc.in, testConfig(t))
			expectCode(t, a, err, CodeInvalidResponse)
			if !strings.Contains(err.Error(), tc.reason) {
				t.Fatalf("refused for another reason: %v (want %q)", err, tc.reason)
			}
		})
	}
	t.Run("base64 CRLF line breaks accepted", func(t *testing.T) {
		var b strings.Builder
		for s := goodB64; len(s) > 0; {
			n := min(64, len(s))
			b.WriteString(s[:n] + "\r\n")
			s = s[n:]
		}
		if _, err := Validate(context.Background(), b.String(), testConfig(t)); err != nil {
			t.Fatal(err)
		}
	})
}

func TestCommentsKeepFullValues(t *testing.T) {
	keys(t)
	for _, h := range []how{signBoth, signAsrtOnly, signRespOnly} {
		x := xmlOf(t, resp{edit: func(r, a *etree.Element) {
			s := child(child(a, "Subject"), "NameID")
			s.SetText("alice@corp")
			s.CreateComment("")
			s.CreateText(".evil")
			setRole(a, "reader")
			for _, at := range child(a, "AttributeStatement").ChildElements() {
				if n, _ := attr(at, "Name"); n == tRole {
					v := at.ChildElements()[0]
					v.CreateComment("")
					v.CreateText("-admin")
					v.CreateCharData("<x>") // CDATA-free text with escaped markup
				}
			}
		}}, h)
		a := mustValidate(t, x, testConfig(t))
		if a.NameID != "alice@corp.evil" {
			t.Fatalf("NameID = %q", a.NameID)
		}
		if got := a.Attributes[tRole]; len(got) != 1 || got[0] != "reader-admin<x>" {
			t.Fatalf("Role = %q", got)
		}
	}
}

func TestNegativeConditionsAndTime(t *testing.T) {
	keys(t)
	skew0 := func(c *Config) { c.Skew = 0 }
	runNeg(t, []negCase{
		{name: "expired", xml: signed(resp{notBefore: tNow.Add(-9 * time.Minute), notOnOrAfter: tNow.Add(-2 * time.Minute), scdNotOnOrAfter: tNow.Add(time.Minute)}, signBoth), want: CodeExpired, check: "conditions.window", reason: "assertion expired at"},
		{name: "expired within skew is still expired at skew 0", xml: signed(resp{notBefore: tNow.Add(-time.Minute), notOnOrAfter: tNow.Add(-time.Second)}, signBoth), cfg: skew0, want: CodeExpired, check: "conditions.window", reason: "assertion expired at"},
		{name: "not yet valid", xml: signed(resp{notBefore: tNow.Add(2 * time.Minute)}, signBoth), want: CodeNotYetValid, check: "conditions.window", reason: "assertion is not valid before"},
		{name: "boundary now == NotOnOrAfter rejects", xml: signed(resp{notBefore: tNow.Add(-time.Minute), notOnOrAfter: tNow}, signBoth), cfg: skew0, want: CodeExpired, check: "conditions.window", reason: "assertion expired at"},
		{name: "boundary now == NotBefore - 1ns rejects", xml: signed(resp{notBefore: tNow.Add(time.Millisecond), ts: func(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000000Z") }}, signBoth), cfg: skew0, want: CodeNotYetValid, check: "conditions.window", reason: "assertion is not valid before"},
		{name: "bearer data expired", xml: signed(resp{scdNotOnOrAfter: tNow.Add(-2 * time.Minute)}, signBoth), want: CodeExpired, check: "subject.bearer", reason: "bearer SubjectConfirmationData expired at"},
		{name: "bearer data boundary", xml: signed(resp{scdNotOnOrAfter: tNow}, signBoth), cfg: skew0, want: CodeExpired, check: "subject.bearer", reason: "bearer SubjectConfirmationData expired at"},
		{name: "bearer data missing NotOnOrAfter", xml: signed(resp{noSCDNotOnOrAfter: true}, signBoth), want: CodeInvalidResponse, check: "subject.bearer", reason: "bearer SubjectConfirmationData has no NotOnOrAfter"},
		{name: "stale IssueInstant", xml: signed(resp{issueInstant: tNow.Add(-11 * time.Minute)}, signBoth), want: CodeExpired, check: "response.issueinstant", reason: "Response IssueInstant"},
		{name: "future IssueInstant", xml: signed(resp{issueInstant: tNow.Add(2 * time.Minute)}, signBoth), want: CodeNotYetValid, check: "response.issueinstant", reason: "Response IssueInstant"},
		{name: "unknown Condition", xml: signed(resp{edit: func(r, a *etree.Element) {
			c := child(a, "Conditions").CreateElement("saml:Condition")
			c.CreateAttr("xmlns:xsi", "http://www.w3.org/2001/XMLSchema-instance")
			c.CreateAttr("xsi:type", "x:Custom")
		}}, signBoth), want: CodeInvalidResponse, check: "conditions.unknown", reason: `unknown Condition "saml:Condition"`},
		{name: "foreign Condition", xml: signed(resp{edit: func(r, a *etree.Element) {
			e := child(a, "Conditions").CreateElement("x:DelegationRestriction")
			e.CreateAttr("xmlns:x", "urn:oasis:names:tc:SAML:2.0:conditions:delegation")
		}}, signBoth), want: CodeInvalidResponse, check: "conditions.unknown", reason: `unknown Condition "x:DelegationRestriction"`},
		{name: "two OneTimeUse", xml: signed(resp{edit: func(r, a *etree.Element) {
			child(a, "Conditions").CreateElement("saml:OneTimeUse")
			child(a, "Conditions").CreateElement("saml:OneTimeUse")
		}}, signBoth), want: CodeInvalidResponse, check: "conditions.unknown", reason: "OneTimeUse and ProxyRestriction may appear at most once"},
		{name: "missing Conditions", xml: signed(resp{edit: func(r, a *etree.Element) { a.RemoveChild(child(a, "Conditions")) }}, signBoth), want: CodeInvalidResponse, check: "structure", reason: "Assertion has no Conditions"},
		{name: "missing Conditions NotOnOrAfter", xml: signed(resp{edit: func(r, a *etree.Element) { child(a, "Conditions").RemoveAttr("NotOnOrAfter") }}, signBoth), want: CodeInvalidResponse, check: "conditions.window", reason: "Conditions has no NotOnOrAfter"},
		{name: "NotBefore after NotOnOrAfter", xml: signed(resp{notBefore: tNow.Add(time.Minute), notOnOrAfter: tNow.Add(30 * time.Second)}, signBoth), want: CodeInvalidResponse, check: "conditions.window", reason: "Conditions NotBefore is not before NotOnOrAfter"},
		{name: "malformed timestamp", xml: signed(resp{ts: func(t time.Time) string { return t.Format("2006-01-02 15:04:05") }}, signBoth), want: CodeInvalidResponse, check: "response.issueinstant", reason: "Response IssueInstant is not an xs:dateTime in UTC"},
		{name: "timestamp without zone", xml: signed(resp{ts: func(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05") }}, signBoth), want: CodeInvalidResponse, check: "response.issueinstant", reason: "Response IssueInstant is not an xs:dateTime in UTC"},
		{name: "non-UTC offset", xml: signed(resp{ts: func(t time.Time) string { return t.In(time.FixedZone("x", 2*3600)).Format(time.RFC3339) }}, signBoth), want: CodeInvalidResponse, check: "response.issueinstant", reason: "Response IssueInstant is not an xs:dateTime in UTC"},
		{name: "impossible date", xml: signed(resp{edit: func(r, a *etree.Element) {
			child(a, "Conditions").RemoveAttr("NotOnOrAfter")
			child(a, "Conditions").CreateAttr("NotOnOrAfter", "2026-02-30T10:00:00Z")
		}}, signBoth), want: CodeInvalidResponse, check: "conditions.window", reason: "Conditions NotOnOrAfter is not an xs:dateTime in UTC"},
		// Issue 9 defect 18: the bearer SubjectConfirmationData's NotBefore and empty windows.
		{name: "bearer data NotBefore in the future", xml: signed(resp{scdNotBefore: tNow.Add(2 * time.Minute)}, signBoth), want: CodeNotYetValid, check: "subject.bearer", reason: "bearer SubjectConfirmationData not valid before"},
		{name: "bearer data boundary now == NotBefore - 1ms rejects", xml: signed(resp{scdNotBefore: tNow.Add(time.Millisecond), ts: func(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000000Z") }}, signBoth), cfg: skew0, want: CodeNotYetValid, check: "subject.bearer", reason: "bearer SubjectConfirmationData not valid before"},
		{name: "bearer data NotBefore malformed", xml: signed(resp{edit: func(r, a *etree.Element) {
			child(child(child(a, "Subject"), "SubjectConfirmation"), "SubjectConfirmationData").CreateAttr("NotBefore", "yesterday")
		}}, signBoth), want: CodeInvalidResponse, check: "subject.bearer", reason: "SubjectConfirmationData NotBefore is not an xs:dateTime in UTC"},
		{name: "bearer data NotBefore == NotOnOrAfter (empty window, within skew)", xml: signed(resp{scdNotBefore: tNow.Add(30 * time.Second), scdNotOnOrAfter: tNow.Add(30 * time.Second)}, signBoth), want: CodeInvalidResponse, check: "subject.bearer", reason: "SubjectConfirmationData NotBefore is not before NotOnOrAfter"},
		{name: "bearer data NotBefore after NotOnOrAfter (within skew)", xml: signed(resp{scdNotBefore: tNow.Add(40 * time.Second), scdNotOnOrAfter: tNow.Add(20 * time.Second)}, signBoth), want: CodeInvalidResponse, check: "subject.bearer", reason: "SubjectConfirmationData NotBefore is not before NotOnOrAfter"},
		{name: "Conditions NotBefore == NotOnOrAfter (empty window, within skew)", xml: signed(resp{notBefore: tNow.Add(30 * time.Second), notOnOrAfter: tNow.Add(30 * time.Second)}, signBoth), want: CodeInvalidResponse, check: "conditions.window", reason: "Conditions NotBefore is not before NotOnOrAfter"},
		{name: "SessionNotOnOrAfter passed", xml: signed(resp{sessionNotOnOrAfter: tNow.Add(-time.Second)}, signBoth), want: CodeExpired, check: "assertion.authnstatement", reason: "the IdP session ended at"},
	})
	t.Run("fractional seconds and +00:00 are fine", func(t *testing.T) {
		for _, f := range []func(time.Time) string{
			func(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05") + ".123456789Z" },
			func(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05") + "+00:00" },
			func(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05") + ".5-00:00" },
			func(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") },
		} {
			mustValidate(t, xmlOf(t, resp{ts: f}, signBoth), testConfig(t))
		}
	})
	t.Run("boundaries at skew 0 that pass", func(t *testing.T) {
		cfg := testConfig(t)
		cfg.Skew = 0
		mustValidate(t, xmlOf(t, resp{notBefore: tNow, notOnOrAfter: tNow.Add(time.Millisecond), scdNotBefore: tNow, scdNotOnOrAfter: tNow.Add(time.Millisecond), issueInstant: tNow}, signBoth), cfg)
	})
	t.Run("skew tolerates slightly expired", func(t *testing.T) {
		mustValidate(t, xmlOf(t, resp{notBefore: tNow.Add(-5 * time.Minute), notOnOrAfter: tNow.Add(-30 * time.Second), scdNotOnOrAfter: tNow.Add(-30 * time.Second)}, signBoth), testConfig(t))
	})
	t.Run("skew tolerates slightly early", func(t *testing.T) {
		mustValidate(t, xmlOf(t, resp{notBefore: tNow.Add(30 * time.Second), scdNotBefore: tNow.Add(30 * time.Second), issueInstant: tNow.Add(30 * time.Second)}, signBoth), testConfig(t))
	})
	t.Run("OneTimeUse and ProxyRestriction tolerated", func(t *testing.T) {
		mustValidate(t, xmlOf(t, resp{edit: func(r, a *etree.Element) {
			child(a, "Conditions").CreateElement("saml:OneTimeUse")
			child(a, "Conditions").CreateElement("saml:ProxyRestriction").CreateAttr("Count", "0")
		}}, signBoth), testConfig(t))
	})
}

func TestNegativeAudienceDestinationRecipient(t *testing.T) {
	keys(t)
	runNeg(t, []negCase{
		{name: "no AudienceRestriction", xml: signed(resp{audiences: [][]string{}}, signBoth), want: CodeAudience, check: "conditions.audience", reason: "Conditions has no AudienceRestriction"},
		{name: "wrong audience", xml: signed(resp{audiences: [][]string{{"http://127.0.0.1:9001/accounts/saml/other/metadata/"}}}, signBoth), want: CodeAudience, check: "conditions.audience", reason: `an AudienceRestriction does not name this service's audience "http://127.0.0.1:9001/accounts/saml/abc123/metadata/"`},
		{name: "two restrictions, one wrong", xml: signed(resp{audiences: [][]string{{tAudience}, {"urn:other"}}}, signBoth), want: CodeAudience, check: "conditions.audience", reason: `an AudienceRestriction does not name this service's audience "http://127.0.0.1:9001/accounts/saml/abc123/metadata/"`},
		{name: "empty AudienceRestriction", xml: signed(resp{audiences: [][]string{{}}}, signBoth), want: CodeAudience, check: "conditions.audience", reason: `an AudienceRestriction does not name this service's audience "http://127.0.0.1:9001/accounts/saml/abc123/metadata/"`},
		{name: "audience with trailing space", xml: signed(resp{audiences: [][]string{{tAudience + " "}}}, signBoth), want: CodeAudience, check: "conditions.audience", reason: `an AudienceRestriction does not name this service's audience "http://127.0.0.1:9001/accounts/saml/abc123/metadata/"`},
		{name: "Destination missing", xml: signed(resp{noDestination: true}, signBoth), want: CodeDestination, check: "response.destination", reason: `Response has no Destination; it must be "http://127.0.0.1:9001/m2m-saml-acs"`},
		{name: "Destination missing (assertion-only signed)", xml: signed(resp{noDestination: true}, signAsrtOnly), want: CodeDestination, check: "response.destination", reason: `Response has no Destination; it must be "http://127.0.0.1:9001/m2m-saml-acs"`},
		{name: "Destination trailing slash", xml: signed(resp{destination: tACS + "/"}, signBoth), want: CodeDestination, check: "response.destination", reason: `Response Destination "http://127.0.0.1:9001/m2m-saml-acs/" is not this service's ACS URL "http://127.0.0.1:9001/m2m-saml-acs"`},
		{name: "Destination case", xml: signed(resp{destination: strings.ToUpper(tACS)}, signBoth), want: CodeDestination, check: "response.destination", reason: `Response Destination "HTTP://127.0.0.1:9001/M2M-SAML-ACS" is not this service's ACS URL "http://127.0.0.1:9001/m2m-saml-acs"`},
		{name: "Destination port", xml: signed(resp{destination: strings.Replace(tACS, ":9001", ":9002", 1)}, signBoth), want: CodeDestination, check: "response.destination", reason: `Response Destination "http://127.0.0.1:9002/m2m-saml-acs" is not this service's ACS URL "http://127.0.0.1:9001/m2m-saml-acs"`},
		{name: "Destination encoding", xml: signed(resp{destination: strings.Replace(tACS, "m2m-saml", "m2m%2Dsaml", 1)}, signBoth), want: CodeDestination, check: "response.destination", reason: `Response Destination "http://127.0.0.1:9001/m2m%2Dsaml-acs" is not this service's ACS URL "http://127.0.0.1:9001/m2m-saml-acs"`},
		{name: "Destination wrong on unsigned Response", xml: signed(resp{destination: "https://evil.example/acs"}, signAsrtOnly), want: CodeDestination, check: "response.destination", reason: `Response Destination "https://evil.example/acs" is not this service's ACS URL "http://127.0.0.1:9001/m2m-saml-acs"`},
		{name: "Recipient wrong", xml: signed(resp{recipient: "https://evil.example/acs"}, signBoth), want: CodeRecipient, check: "subject.recipient", reason: `SubjectConfirmationData Recipient "https://evil.example/acs" is not this service's ACS URL "http://127.0.0.1:9001/m2m-saml-acs"`},
		{name: "Recipient missing", xml: signed(resp{noRecipient: true}, signBoth), want: CodeRecipient, check: "subject.recipient", reason: `SubjectConfirmationData has no Recipient; it must be "http://127.0.0.1:9001/m2m-saml-acs"`},
		{name: "second SubjectConfirmation with wrong Recipient", xml: signed(resp{edit: func(r, a *etree.Element) {
			s := child(a, "Subject")
			sc := child(s, "SubjectConfirmation").Copy()
			child(sc, "SubjectConfirmationData").RemoveAttr("Recipient")
			child(sc, "SubjectConfirmationData").CreateAttr("Recipient", "https://evil/")
			s.AddChild(sc)
		}}, signBoth), want: CodeRecipient, check: "subject.recipient", reason: `SubjectConfirmationData Recipient "https://evil/" is not this service's ACS URL "http://127.0.0.1:9001/m2m-saml-acs"`},
		{name: "holder-of-key confirmation", xml: signed(resp{edit: func(r, a *etree.Element) {
			sc := child(child(a, "Subject"), "SubjectConfirmation")
			sc.RemoveAttr("Method")
			sc.CreateAttr("Method", "urn:oasis:names:tc:SAML:2.0:cm:holder-of-key")
		}}, signBoth), want: CodeInvalidResponse, check: "subject.bearer", reason: `SubjectConfirmation Method "urn:oasis:names:tc:SAML:2.0:cm:holder-of-key" is not bearer`},
		{name: "no SubjectConfirmation", xml: signed(resp{edit: func(r, a *etree.Element) {
			s := child(a, "Subject")
			s.RemoveChild(child(s, "SubjectConfirmation"))
		}}, signBoth), want: CodeInvalidResponse, check: "subject.bearer", reason: "Subject has no bearer SubjectConfirmation"},
		{name: "InResponseTo on Response", xml: signed(resp{edit: func(r, a *etree.Element) { r.CreateAttr("InResponseTo", "_req1") }}, signBoth), want: CodeInvalidResponse, check: "response.inresponseto", reason: "Response has InResponseTo, but s3fed never sends AuthnRequests (IdP-initiated only)"},
		{name: "InResponseTo on SubjectConfirmationData", xml: signed(resp{edit: func(r, a *etree.Element) {
			child(child(child(a, "Subject"), "SubjectConfirmation"), "SubjectConfirmationData").CreateAttr("InResponseTo", "_req1")
		}}, signBoth), want: CodeInvalidResponse, check: "subject.bearer", reason: "SubjectConfirmationData has InResponseTo, but s3fed never sends AuthnRequests"},
		{name: "Status not Success", xml: signed(resp{status: "urn:oasis:names:tc:SAML:2.0:status:Requester"}, signBoth), want: CodeInvalidResponse, check: "response.status", reason: `Response Status is "urn:oasis:names:tc:SAML:2.0:status:Requester", not Success`},
		{name: "Status not Success (assertion-only signed)", xml: signed(resp{status: "urn:oasis:names:tc:SAML:2.0:status:Responder"}, signAsrtOnly), want: CodeInvalidResponse, check: "response.status", reason: `Response Status is "urn:oasis:names:tc:SAML:2.0:status:Responder", not Success`},
		{name: "Version 1.1", xml: signed(resp{version: "1.1"}, signBoth), want: CodeInvalidResponse, check: "response.version", reason: `Response Version must be 2.0, got "1.1"`},
		{name: "Response Version 2.1 (assertion-only signed)", xml: signed(resp{edit: func(r, a *etree.Element) {
			r.RemoveAttr("Version")
			r.CreateAttr("Version", "2.1")
		}}, signAsrtOnly), want: CodeInvalidResponse, check: "response.version", reason: `Response Version must be 2.0, got "2.1"`},
	})
}

func TestNegativeIssuerAndKeys(t *testing.T) {
	keys(t)
	orgB := func(c *Config) {
		c.Audience = "http://127.0.0.1:9001/accounts/saml/orgB/metadata/"
	}
	runNeg(t, []negCase{
		{name: "Response Issuer differs", xml: signed(resp{respIssuer: "https://evil.example/"}, signBoth), want: CodeIssuer, check: "response.issuer", reason: `Response Issuer "https://evil.example/" is not the config's IdP entity ID "https://idp.example.com/saml/metadata"`},
		{name: "Response Issuer differs (assertion-only signed)", xml: signed(resp{respIssuer: "https://evil.example/"}, signAsrtOnly), want: CodeIssuer, check: "response.issuer", reason: `Response Issuer "https://evil.example/" is not the config's IdP entity ID "https://idp.example.com/saml/metadata"`},
		{name: "Assertion Issuer differs", xml: signed(resp{assertionIssuer: "https://evil.example/"}, signBoth), want: CodeIssuer, check: "assertion.issuer", reason: `Assertion Issuer "https://evil.example/" is not the config's IdP entity ID "https://idp.example.com/saml/metadata"`},
		{name: "Assertion Issuer missing", xml: signed(resp{edit: func(r, a *etree.Element) { a.RemoveChild(child(a, "Issuer")) }}, signRespOnly), want: CodeIssuer, check: "structure", reason: "Assertion has no Issuer"},
		{name: "Issuer with wrong Format", xml: signed(resp{edit: func(r, a *etree.Element) {
			i := child(a, "Issuer")
			i.RemoveAttr("Format")
			i.CreateAttr("Format", "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress")
		}}, signBoth), want: CodeIssuer, check: "assertion.issuer", reason: "Assertion Issuer Format must be the entity format"},
		{name: "assertion for org A presented to org B", xml: signed(resp{}, signBoth), cfg: orgB, want: CodeAudience, check: "conditions.audience", reason: `an AudienceRestriction does not name this service's audience "http://127.0.0.1:9001/accounts/saml/orgB/metadata/"`},
		{name: "org B's IdP key presented to org A", xml: signed(resp{}, how{resp: &signOpts{key: keyIdP2}, asrt: &signOpts{key: keyIdP2}}), want: CodeUntrustedKey, check: "signature.response", reason: "Response is signed with a key that is not among the config's trusted certificates"},
		{name: "rotation: old cert removed", xml: signed(resp{}, signBoth), cfg: func(c *Config) { c.Certificates = []*x509.Certificate{keyIdP2.cert} }, want: CodeUntrustedKey, check: "signature.response", reason: "Response is signed with a key that is not among the config's trusted certificates"},
		{name: "rotation: old cert removed, no KeyInfo", xml: signed(resp{}, how{resp: &signOpts{noKeyInfo: true}}), cfg: func(c *Config) { c.Certificates = []*x509.Certificate{keyIdP2.cert} }, want: CodeInvalidSignature, check: "signature.response", reason: "Response signature does not verify with the trusted certificate(s)"},
		{name: "expired pinned cert", xml: signed(resp{}, how{resp: &signOpts{key: keyOld}, asrt: &signOpts{key: keyOld}}), cfg: func(c *Config) { c.Certificates = []*x509.Certificate{keyOld.cert} }, want: CodeUntrustedKey, check: "signature.response", reason: "Response signature: no trusted certificate of the right key type is currently valid"},
		{name: "expired pinned cert beside a valid one", xml: signed(resp{}, how{resp: &signOpts{key: keyOld}}), cfg: func(c *Config) { c.Certificates = []*x509.Certificate{keyOld.cert, keyIdP.cert} }, want: CodeUntrustedKey, check: "signature.response", reason: "Response is signed with a key that is not among the config's trusted certificates"},
		{name: "RSA method with only an ECDSA cert", xml: signed(resp{}, signBoth), cfg: func(c *Config) { c.Certificates = []*x509.Certificate{keyEC.cert} }, want: CodeUntrustedKey, check: "signature.response", reason: "Response signature: no trusted certificate of the right key type is currently valid"},
	})
	t.Run("rotation: both certs pass both keys", func(t *testing.T) {
		cfg := testConfig(t)
		cfg.Certificates = []*x509.Certificate{keyIdP.cert, keyIdP2.cert}
		mustValidate(t, xmlOf(t, resp{}, signBoth), cfg)
		mustValidate(t, xmlOf(t, resp{}, how{resp: &signOpts{key: keyIdP2}, asrt: &signOpts{key: keyIdP2}}), cfg)
		a := mustValidate(t, xmlOf(t, resp{}, how{resp: &signOpts{key: keyIdP2, noKeyInfo: true}, asrt: &signOpts{key: keyIdP, noKeyInfo: true}}), cfg)
		if !a.ResponseCertificate.Equal(keyIdP2.cert) || !a.AssertionCertificate.Equal(keyIdP.cert) {
			t.Fatal("wrong certificates reported")
		}
	})
}

func TestAttributesAndNameID(t *testing.T) {
	keys(t)
	t.Run("duplicated and multi-valued Role are all reported", func(t *testing.T) {
		a := mustValidate(t, xmlOf(t, resp{attrs: []attrKV{{tRole, []string{"a"}}, {tRole, []string{"b", "c"}}, {"empty", nil}}}, signBoth), testConfig(t))
		if got := a.Attributes[tRole]; len(got) != 3 || got[0] != "a" || got[2] != "c" {
			t.Fatalf("Role = %q", got)
		}
		if v, ok := a.Attributes["empty"]; !ok || len(v) != 0 {
			t.Fatalf("empty attribute = %q, %v", v, ok)
		}
	})
	runNeg(t, []negCase{
		{name: "empty NameID", xml: signed(resp{edit: func(r, a *etree.Element) { child(child(a, "Subject"), "NameID").SetText("") }}, signBoth), want: CodeInvalidResponse, check: "subject.nameid", reason: "NameID is empty"},
		{name: "over-long NameID", xml: signed(resp{nameID: strings.Repeat("a", MaxNameIDLength+1)}, signBoth), want: CodeInvalidResponse, check: "subject.nameid", reason: "NameID is longer than 256 bytes"},
		{name: "control character NameID", xml: signed(resp{nameID: "alice\u0085@example.com"}, signBoth), want: CodeInvalidResponse, check: "subject.nameid", reason: "NameID contains control characters"},
		{name: "control character at the start of the NameID", xml: signed(resp{nameID: "\u0085alice@example.com"}, signBoth), want: CodeInvalidResponse, check: "subject.nameid", reason: "NameID contains control characters"},
		{name: "DEL at the start of the NameID", xml: signed(resp{nameID: "\x7falice@example.com"}, signAsrtOnly), want: CodeInvalidResponse, check: "subject.nameid", reason: "NameID contains control characters"},
		{name: "control character at the end of the NameID", xml: signed(resp{nameID: "alice@example.com\u009f"}, signBoth), want: CodeInvalidResponse, check: "subject.nameid", reason: "NameID contains control characters"},
		{name: "newline NameID", xml: signed(resp{nameID: "alice\n@example.com"}, signBoth), want: CodeInvalidResponse, check: "subject.nameid", reason: "NameID contains control characters"},
		{name: "tab NameID", xml: signed(resp{nameID: "alice\t@example.com"}, signRespOnly), want: CodeInvalidResponse, check: "subject.nameid", reason: "NameID contains control characters"},
		{name: "DEL NameID", xml: signed(resp{nameID: "alice\x7f@example.com"}, signAsrtOnly), want: CodeInvalidResponse, check: "subject.nameid", reason: "NameID contains control characters"},
		{name: "NameID with child element", xml: signed(resp{edit: func(r, a *etree.Element) { child(child(a, "Subject"), "NameID").CreateElement("saml:Foo") }}, signBoth), want: CodeInvalidResponse, check: "subject.nameid", reason: "NameID must contain only text"},
		{name: "EncryptedID instead of NameID", xml: signed(resp{edit: func(r, a *etree.Element) {
			s := child(a, "Subject")
			s.RemoveChild(child(s, "NameID"))
			s.InsertChildAt(0, etree.NewElement("saml:EncryptedID"))
		}}, signBoth), want: CodeInvalidResponse, check: "subject.nameid", reason: `unexpected "saml:EncryptedID" in Subject (exactly one saml:NameID and SubjectConfirmations)`},
		{name: "Attribute without Name", xml: signed(resp{edit: func(r, a *etree.Element) {
			child(a, "AttributeStatement").CreateElement("saml:Attribute")
		}}, signBoth), want: CodeInvalidResponse, check: "assertion.attributes", reason: "Attribute without a Name"},
		{name: "EncryptedAttribute", xml: signed(resp{edit: func(r, a *etree.Element) {
			child(a, "AttributeStatement").CreateElement("saml:EncryptedAttribute")
		}}, signBoth), want: CodeInvalidResponse, check: "assertion.attributes", reason: `unsupported "saml:EncryptedAttribute" in AttributeStatement`},
		{name: "Advice in Assertion", xml: signed(resp{edit: func(r, a *etree.Element) {
			a.InsertChildAt(child(a, "AuthnStatement").Index(), etree.NewElement("saml:Advice"))
		}}, signBoth), want: CodeInvalidResponse, check: "structure", reason: `element "saml:Advice" is not accepted in an Assertion`},
		{name: "AuthzDecisionStatement", xml: signed(resp{edit: func(r, a *etree.Element) { a.CreateElement("saml:AuthzDecisionStatement") }}, signBoth), want: CodeInvalidResponse, check: "structure", reason: `element "saml:AuthzDecisionStatement" is not accepted in an Assertion`},
	})
	t.Run("NameID of exactly 256 bytes is fine", func(t *testing.T) {
		n := strings.Repeat("é", 128)
		a := mustValidate(t, xmlOf(t, resp{nameID: n}, signBoth), testConfig(t))
		if a.NameID != n {
			t.Fatal("NameID changed")
		}
	})
}

func TestReplay(t *testing.T) {
	keys(t)
	ctx := context.Background()
	t.Run("same Response twice", func(t *testing.T) {
		cfg := testConfig(t)
		x := xmlOf(t, resp{}, signBoth)
		mustValidate(t, x, cfg)
		a, err := ValidateXML(ctx, x, cfg)
		expectCode(t, a, err, CodeReplayed)
		if !errors.Is(err, ErrReplayed) {
			t.Fatal("ErrReplayed not wrapped")
		}
	})
	t.Run("same signed Assertion re-wrapped in a new Response", func(t *testing.T) {
		cfg := testConfig(t)
		x := xmlOf(t, resp{}, signAsrtOnly)
		mustValidate(t, x, cfg)
		d := parseDoc(t, x)
		d.Root().RemoveAttr("ID")
		d.Root().CreateAttr("ID", "_brandnew")
		a, err := ValidateXML(ctx, serialize(t, d), cfg)
		expectCode(t, a, err, CodeReplayed)
	})
	t.Run("replay cache down fails closed", func(t *testing.T) {
		cfg := testConfig(t)
		cfg.Replay.(*memReplay).err = errors.New("connection refused")
		a, err := ValidateXML(ctx, xmlOf(t, resp{}, signBoth), cfg)
		if a != nil || !errors.Is(err, ErrReplayCacheUnavailable) {
			t.Fatalf("got %v, %v", a, err)
		}
	})
	t.Run("nil replay cache is a config error", func(t *testing.T) {
		cfg := testConfig(t)
		cfg.Replay = nil
		a, err := ValidateXML(ctx, xmlOf(t, resp{}, signBoth), cfg)
		if a != nil || !errors.Is(err, ErrInvalidConfig) {
			t.Fatalf("got %v, %v", a, err)
		}
	})
	t.Run("replay kept until the later NotOnOrAfter plus skew", func(t *testing.T) {
		cfg := testConfig(t)
		a := mustValidate(t, xmlOf(t, resp{notOnOrAfter: tNow.Add(time.Minute), scdNotOnOrAfter: tNow.Add(3 * time.Minute)}, signBoth), cfg)
		want := tNow.Add(3*time.Minute + cfg.Skew)
		if got := cfg.Replay.(*memReplay).seen[tEntityID+"\x00"+a.ID]; !got.Equal(want) {
			t.Fatalf("until = %s, want %s", got, want)
		}
	})
}

func TestConfigErrors(t *testing.T) {
	keys(t)
	x := xmlOf(t, resp{}, signBoth)
	for name, f := range map[string]func(c *Config){
		"skew too large":  func(c *Config) { c.Skew = 181 * time.Second },
		"negative skew":   func(c *Config) { c.Skew = -time.Second },
		"no certificates": func(c *Config) { c.Certificates = nil },
		"four certs": func(c *Config) {
			c.Certificates = []*x509.Certificate{keyIdP.cert, keyIdP.cert, keyIdP.cert, keyIdP.cert}
		},
		"nil cert":     func(c *Config) { c.Certificates = []*x509.Certificate{nil} },
		"no entity ID": func(c *Config) { c.IdPEntityID = "" },
		"no ACS URL":   func(c *Config) { c.ACSURL = "" },
		"no audience":  func(c *Config) { c.Audience = "" },
	} {
		t.Run(name, func(t *testing.T) {
			cfg := testConfig(t)
			f(cfg)
			a, err := ValidateXML(context.Background(), x, cfg)
			if a != nil || !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("got %v, %v", a, err)
			}
		})
	}
	a, err := ValidateXML(context.Background(), x, nil)
	if a != nil || !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("nil config: %v, %v", a, err)
	}
}

var (
	bigKeyOnce sync.Once
	bigKey     *testKey
)

// loadBigKey reads the committed 16,384-bit attacker key (generating one takes about a minute).
func loadBigKey(t *testing.T) *testKey {
	bigKeyOnce.Do(func() {
		kb, err := os.ReadFile("testdata/rsa16384-attacker.key.pem")
		if err != nil {
			t.Fatal(err)
		}
		cb, err := os.ReadFile("testdata/rsa16384-attacker.cert.pem")
		if err != nil {
			t.Fatal(err)
		}
		kblock, _ := pem.Decode(kb)
		cblock, _ := pem.Decode(cb)
		k, err := x509.ParsePKCS8PrivateKey(kblock.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		c, err := x509.ParseCertificate(cblock.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		bigKey = &testKey{key: k.(*rsa.PrivateKey), cert: c}
	})
	if bigKey == nil {
		t.Fatal("16384-bit key fixture not loaded")
	}
	return bigKey
}

var (
	big16384Once sync.Once
	big16384XML  []byte
)

// big16384 is a Response signed by the 16,384-bit key (signing takes about a second: once).
func big16384(t *testing.T) []byte {
	big16384Once.Do(func() { big16384XML = xmlOf(t, resp{}, how{resp: &signOpts{key: loadBigKey(t)}}) })
	return big16384XML
}

func TestNegativeDoS(t *testing.T) {
	keys(t)
	nest := func(n int) func(t *testing.T) []byte {
		return func(t *testing.T) []byte {
			return []byte(`<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol">` + strings.Repeat("<a>", n) + strings.Repeat("</a>", n) + `</samlp:Response>`)
		}
	}
	many := func(n int) func(t *testing.T) []byte {
		return func(t *testing.T) []byte {
			return []byte(`<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol">` + strings.Repeat("<a/>", n) + `</samlp:Response>`)
		}
	}
	attrs := func(n int) func(t *testing.T) []byte {
		return func(t *testing.T) []byte {
			var b strings.Builder
			b.WriteString(`<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol"><a`)
			for i := range n {
				b.WriteString(" a" + big.NewInt(int64(i)).String() + `=""`)
			}
			b.WriteString(`/></samlp:Response>`)
			return []byte(b.String())
		}
	}
	// nsdecls spreads n namespace declarations over elements, per at most per element.
	nsdecls := func(n, per int) func(t *testing.T) []byte {
		return func(t *testing.T) []byte {
			var b strings.Builder
			b.WriteString(`<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol">`)
			for i := 0; i < n; i += per {
				b.WriteString(`<a`)
				for j := i; j < min(n, i+per); j++ {
					b.WriteString(` xmlns:p` + strconv.Itoa(j) + `="urn:x"`)
				}
				b.WriteString(`/>`)
			}
			b.WriteString(`</samlp:Response>`)
			return []byte(b.String())
		}
	}
	// attrsSpread spreads n attributes over elements of per attributes each.
	attrsSpread := func(n, per int) func(t *testing.T) []byte {
		return func(t *testing.T) []byte {
			var b strings.Builder
			b.WriteString(`<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol">`)
			for i := 0; i < n; i += per {
				b.WriteString(`<a`)
				for j := i; j < min(n, i+per); j++ {
					b.WriteString(` a` + strconv.Itoa(j) + `=""`)
				}
				b.WriteString(`/>`)
			}
			b.WriteString(`</samlp:Response>`)
			return []byte(b.String())
		}
	}
	bigSigValue := func(n int) *signOpts {
		return &signOpts{after: func(sig *etree.Element) {
			child(sig, "SignatureValue").SetText(strings.Repeat("QUFB", n/4))
		}}
	}
	bigCert := func(n int) *signOpts {
		return &signOpts{keyInfo: func(ki *etree.Element) {
			ki.CreateElement("ds:X509Data").CreateElement("ds:X509Certificate").SetText(strings.Repeat("QUFB", n/4))
		}}
	}
	runNeg(t, []negCase{
		{name: "depth 5000", xml: nest(5000), want: CodeInvalidResponse, check: "prefilter", reason: "elements nested deeper than 48"},
		{name: "depth just over the limit", xml: nest(MaxDepth), want: CodeInvalidResponse, check: "prefilter", reason: "elements nested deeper than 48"},
		{name: "100k elements", xml: many(100000), want: CodeInvalidResponse, check: "prefilter", reason: "bytes, more than the 262144 allowed"},
		{name: "elements just over the limit", xml: many(MaxElements), want: CodeInvalidResponse, check: "prefilter", reason: "more than 1000 elements"},
		{name: "10k attributes", xml: attrs(10000), want: CodeInvalidResponse, check: "prefilter", reason: "an element has more than 32 attributes"},
		{name: "attributes just over the per-element limit", xml: attrs(MaxAttributesPerElement + 1), want: CodeInvalidResponse, check: "prefilter", reason: "an element has more than 32 attributes"},
		{name: "namespace declarations over the document limit", xml: nsdecls(MaxNamespaceDecls+1, MaxNamespaceDeclsPerElement), want: CodeInvalidResponse, check: "prefilter", reason: "more than 4096 namespace declarations"},
		{name: "attributes over the document limit", xml: attrsSpread(MaxAttributes+1, MaxAttributesPerElement-2), want: CodeInvalidResponse, check: "prefilter", reason: "more than 8192 attributes"},
		{name: "namespace declarations over the per-element limit", xml: func(t *testing.T) []byte {
			var b strings.Builder
			b.WriteString(`<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol"><a`)
			for i := range MaxNamespaceDeclsPerElement + 1 {
				b.WriteString(` xmlns:p` + big.NewInt(int64(i)).String() + `="urn:x"`)
			}
			b.WriteString(`/></samlp:Response>`)
			return []byte(b.String())
		}, want: CodeInvalidResponse, check: "prefilter", reason: "an element declares more than 16 namespaces"},
		{name: "over-long name", xml: raw(`<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol"><` + strings.Repeat("a", MaxNameLength+1) + `/></samlp:Response>`), want: CodeInvalidResponse, check: "prefilter", reason: "invalid name"},
		{name: "10k References", xml: signed(resp{}, how{resp: &signOpts{after: func(sig *etree.Element) {
			si := child(sig, "SignedInfo")
			for range 10000 {
				si.CreateElement("ds:Reference").CreateAttr("URI", "#x")
			}
		}}}), want: CodeInvalidResponse, check: "prefilter", reason: "more than 1000 elements"},
		{name: "500 References (within the element limit)", xml: signed(resp{}, how{resp: &signOpts{after: func(sig *etree.Element) {
			si := child(sig, "SignedInfo")
			for range 500 {
				si.CreateElement("ds:Reference").CreateAttr("URI", "#x")
			}
		}}}), want: CodeInvalidSignature, check: "signature.response", reason: "ds:SignedInfo must contain exactly CanonicalizationMethod, SignatureMethod, Reference"},
		{name: "100 References (within size limits)", xml: signed(resp{}, how{resp: &signOpts{extraRefs: 99}}), want: CodeInvalidSignature, check: "signature.response", reason: "ds:SignedInfo must contain exactly CanonicalizationMethod, SignatureMethod, Reference"},
		{name: "megabyte SignatureValue", xml: signed(resp{}, how{resp: bigSigValue(1 << 20)}), want: CodeInvalidResponse, check: "prefilter", reason: "bytes, more than the 262144 allowed"},
		{name: "200 KB SignatureValue within the document cap", xml: signed(resp{}, how{resp: bigSigValue(200 << 10)}), want: CodeInvalidSignature, check: "signature.response", reason: "SignatureValue is empty or longer than 2048 characters"},
		{name: "megabyte KeyInfo certificate", xml: signed(resp{}, how{asrt: bigCert(1 << 20)}), want: CodeInvalidResponse, check: "prefilter", reason: "bytes, more than the 262144 allowed"},
		{name: "200 KB KeyInfo certificate within the document cap", xml: signed(resp{}, how{asrt: bigCert(200 << 10)}), want: CodeUntrustedKey, check: "signature.assertion", reason: "KeyInfo certificate longer than 16384 characters"},
		// A 16,384-bit signature (2,732 base64 characters) is refused by the SignatureValue cap
		// before any key is looked at or any RSA operation runs.
		{name: "16384-bit RSA key in KeyInfo", xml: big16384, want: CodeInvalidSignature, check: "signature.response", reason: "SignatureValue is empty or longer than 2048 characters"},
		{name: "16384-bit RSA cert in the config", xml: big16384, cfg: func(c *Config) { c.Certificates = []*x509.Certificate{loadBigKey(t).cert} }, want: CodeInvalidSignature, check: "signature.response", reason: "SignatureValue is empty or longer than 2048 characters"},
	})
	t.Run("16384-bit RSA cert in the config is skipped", func(t *testing.T) {
		if got := usableCerts([]*x509.Certificate{loadBigKey(t).cert, keyIdP.cert}, algRSASHA256, tNow); len(got) != 1 || got[0] != keyIdP.cert {
			t.Fatalf("usable = %v", got)
		}
	})
	t.Run("body over the cap is rejected before decoding", func(t *testing.T) {
		huge := strings.Repeat("!", MaxEncodedSize+1) // not even base64: the size check comes first
		a, err := Validate(context.Background(), huge, testConfig(t))
		expectCode(t, a, err, CodeInvalidResponse)
		if !strings.Contains(err.Error(), "more than") {
			t.Fatalf("refused for the wrong reason: %v", err)
		}
	})
}

func TestNegativeSignatureIDs(t *testing.T) {
	keys(t)
	runNeg(t, []negCase{
		{name: "signed Response without ID, Reference URI=#", xml: func(t *testing.T) []byte {
			r := resp{edit: func(r, a *etree.Element) { r.RemoveAttr("ID") }}
			return xmlOf(t, r, how{resp: &signOpts{refURI: strp("#")}})
		}, want: CodeInvalidSignature, check: "signature.response", reason: "signed Response has no valid ID attribute for the Reference to name"},
		{name: "signed Assertion with an ID that is not an NCName", xml: signed(resp{assertionID: "1bad"}, signAsrtOnly), want: CodeInvalidSignature, check: "signature.assertion", reason: "signed Assertion has no valid ID attribute for the Reference to name"},
		{name: "signed Assertion with an over-long ID", xml: signed(resp{assertionID: "_" + strings.Repeat("a", 300)}, signAsrtOnly), want: CodeInvalidSignature, check: "signature.assertion", reason: "signed Assertion has no valid ID attribute for the Reference to name"},
	})
}
