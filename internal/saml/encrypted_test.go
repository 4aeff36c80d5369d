package saml

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
)

// Every allowed algorithm pair, each signing mode and both EncryptedKey placements decrypt and
// give the same verified values as the plaintext Response.
func TestEncryptedAccepted(t *testing.T) {
	encKeys(t)
	transports := []struct {
		name             string
		alg, digest, mgf string
	}{
		{"rsa-oaep-mgf1p", AlgRSAOAEPMGF1P, "", ""},
		{"rsa-oaep-mgf1p sha1 digest named", AlgRSAOAEPMGF1P, algDigestSHA1, ""},
		{"rsa-oaep-mgf1p sha256 digest", AlgRSAOAEPMGF1P, algDigest256, ""},
		{"xmlenc11 rsa-oaep defaults", AlgRSAOAEP, "", ""},
		{"xmlenc11 rsa-oaep sha256 mgf1sha1", AlgRSAOAEP, algDigest256, algMGF1SHA1},
		{"xmlenc11 rsa-oaep sha256 mgf1sha256", AlgRSAOAEP, algDigest256, algMGF1SHA256},
		{"xmlenc11 rsa-oaep sha512 mgf1sha512", AlgRSAOAEP, algDigest512, algMGF1SHA512},
		{"xmlenc11 rsa-oaep sha384 mgf1sha224", AlgRSAOAEP, algDigest384, algMGF1SHA224},
	}
	for _, kt := range transports {
		for _, data := range []string{AlgAES128GCM, AlgAES256GCM} {
			t.Run(kt.name+" "+algName(data), func(t *testing.T) {
				o := encOpts{keyTransport: kt.alg, digest: kt.digest, mgf: kt.mgf, dataAlg: data}
				a := mustValidate(t, xmlOfEnc(t, resp{}, signBoth, o), encConfig(t))
				checkDecrypted(t, a, "key-1")
			})
		}
	}
	for _, tc := range []struct {
		name             string
		h                how
		o                encOpts
		ks               []*encKeyPair
		respSig, asrtSig bool
	}{
		{name: "assertion signed, response unsigned", h: signAsrtOnly, asrtSig: true},
		{name: "response signed over the ciphertext, assertion unsigned", h: signRespOnly, respSig: true},
		{name: "EncryptedKey beside EncryptedData", h: signBoth, o: encOpts{sibling: true}, respSig: true, asrtSig: true},
		{name: "EncryptedKey without KeyInfo", h: signBoth, o: encOpts{noKeyInfoX509: true}, respSig: true, asrtSig: true},
		{name: "OAEP label", h: signBoth, o: encOpts{oaepLabel: []byte("s3fed label")}, respSig: true, asrtSig: true},
		{name: "second of two keys", h: signBoth, o: encOpts{to: encKey2}, ks: []*encKeyPair{encKey, encKey2}, respSig: true, asrtSig: true},
		{name: "third key without KeyInfo: every key tried", h: signBoth, o: encOpts{to: enc4k, noKeyInfoX509: true}, ks: []*encKeyPair{encKey, encKey2, enc4k}, respSig: true, asrtSig: true},
		{name: "RSA-3072", h: signBoth, o: encOpts{to: enc3k}, ks: []*encKeyPair{enc3k}, respSig: true, asrtSig: true},
		{name: "RSA-4096", h: signBoth, o: encOpts{to: enc4k}, ks: []*encKeyPair{enc4k}, respSig: true, asrtSig: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := mustValidate(t, xmlOfEnc(t, resp{}, tc.h, tc.o), encConfig(t, tc.ks...))
			to := tc.o.to
			if to == nil {
				to = encKey
			}
			checkDecrypted(t, a, to.id)
			if a.ResponseSigned != tc.respSig || a.AssertionSigned != tc.asrtSig {
				t.Fatalf("signed flags response=%v assertion=%v", a.ResponseSigned, a.AssertionSigned)
			}
		})
	}
	// Encrypters that serialise the Assertion in place (libxmlsec through lxml does) leave out
	// declarations made on its ancestors; the plaintext is parsed in the EncryptedData's context.
	t.Run("plaintext borrowing the saml prefix, response signed", func(t *testing.T) {
		plain := func() []byte {
			_, _, a := (&resp{}).build()
			d := etree.NewDocument()
			d.SetRoot(a.Copy())
			return serialize(t, d)
		}()
		if bytes.Contains(plain, []byte(`xmlns:saml=`)) {
			t.Fatal("fixture declares saml itself")
		}
		checkDecrypted(t, mustValidate(t, xmlOfEnc(t, resp{}, signRespOnly, encOpts{plaintext: plain}), encConfig(t)), "key-1")
	})
	t.Run("plaintext borrowing the saml prefix, assertion signed, response unsigned", func(t *testing.T) {
		a := mustValidate(t, xmlOfEnc(t, resp{}, signNeither, encOpts{plaintext: contextDependentSigned(t)}), encConfig(t))
		checkDecrypted(t, a, "key-1")
		if !a.AssertionSigned || a.ResponseSigned {
			t.Fatal("signed flags")
		}
	})
	t.Run("plaintext still accepted when not required", func(t *testing.T) {
		a := mustValidate(t, xmlOf(t, resp{}, signBoth), encConfig(t))
		if a.Encrypted || a.DecryptionKeyID != "" {
			t.Fatal("plaintext reported as encrypted")
		}
	})
	t.Run("required and encrypted", func(t *testing.T) {
		cfg := encConfig(t)
		cfg.RequireEncryptedAssertions = true
		checkDecrypted(t, mustValidate(t, xmlOfEnc(t, resp{}, signBoth, encOpts{}), cfg), "key-1")
	})
	t.Run("report names the decrypt check", func(t *testing.T) {
		a, checks, err := ValidateWithReport(context.Background(), b64(xmlOfEnc(t, resp{}, signBoth, encOpts{})), encConfig(t), false)
		if err != nil || a == nil {
			t.Fatalf("refused: %v", err)
		}
		found := false
		for _, c := range checks {
			if c.Name == "decrypt" && c.Passed && strings.Contains(c.Detail, `"key-1"`) && strings.Contains(c.Detail, "aes256-gcm") {
				found = true
			}
		}
		if !found {
			t.Fatalf("no passed decrypt check naming the key and algorithm: %+v", checks)
		}
	})
}

func checkDecrypted(t *testing.T, a *Assertion, keyID string) {
	t.Helper()
	if !a.Encrypted || a.DecryptionKeyID != keyID {
		t.Fatalf("Encrypted=%v DecryptionKeyID=%q; want true, %q", a.Encrypted, a.DecryptionKeyID, keyID)
	}
	if a.NameID != "alice@example.com" || len(a.Attributes[tRole]) != 1 || a.Attributes[tRole][0] != "reader-role" || a.Issuer != tEntityID {
		t.Fatalf("decrypted values: %+v", a)
	}
}

// Legacy algorithms are refused unless the config opts in, and then decrypt.
func TestEncryptedLegacyOptIn(t *testing.T) {
	encKeys(t)
	for _, o := range []encOpts{
		{keyTransport: AlgRSA15},
		{keyTransport: AlgRSA15, dataAlg: AlgAES128CBC},
		{dataAlg: AlgAES128CBC},
		{dataAlg: AlgAES192CBC},
		{dataAlg: AlgAES256CBC},
		{dataAlg: AlgTripleDESCBC},
		{keyTransport: AlgRSAOAEP, digest: algDigest256, mgf: algMGF1SHA256, dataAlg: AlgAES256CBC},
	} {
		name := algName(or(o.keyTransport, AlgRSAOAEPMGF1P)) + " " + algName(or(o.dataAlg, AlgAES256GCM))
		t.Run(name, func(t *testing.T) {
			x := xmlOfEnc(t, resp{}, signBoth, o)
			a, err := ValidateXML(context.Background(), x, encConfig(t))
			expectCode(t, a, err, CodeInvalidResponse)
			if !strings.Contains(err.Error(), "legacy algorithm this config does not allow") {
				t.Fatalf("refused for another reason: %v", err)
			}
			cfg := encConfig(t)
			cfg.AllowLegacyEncryption = true
			checkDecrypted(t, mustValidate(t, x, cfg), "key-1")
		})
	}
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// encNeg is one refusal of an encrypted Response.
type encNeg struct {
	name   string
	xml    func(t *testing.T) []byte
	cfg    func(c *Config)
	want   Code
	reason string
}

func runEncNeg(t *testing.T, cases []encNeg) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			x := tc.xml(t)
			cfg := encConfig(t)
			if tc.cfg != nil {
				tc.cfg(cfg)
			}
			a, err := ValidateXML(context.Background(), x, cfg)
			expectCode(t, a, err, tc.want)
			t.Logf("refused: %v", err)
			if tc.reason != "" && !strings.Contains(err.Error(), tc.reason) {
				t.Fatalf("refused for another reason: %v (want %q)", err, tc.reason)
			}
			if len(cfg.Replay.(*memReplay).seen) != 0 {
				t.Fatal("a refused response claimed a replay entry")
			}
		})
	}
}

func encXML(r resp, h how, o encOpts) func(t *testing.T) []byte {
	return func(t *testing.T) []byte { return xmlOfEnc(t, r, h, o) }
}

// encPlain is a Response (signed as h) whose EncryptedAssertion carries plaintext as is.
func encPlain(h how, o encOpts, plaintext func(t *testing.T) []byte) func(t *testing.T) []byte {
	return func(t *testing.T) []byte {
		o.plaintext = plaintext(t)
		return xmlOfEnc(t, resp{}, h, o)
	}
}

func legacy(c *Config) { c.AllowLegacyEncryption = true }

const undecryptableReason = "cannot be decrypted with this config's encryption keys"

// The encryption part of SAML-THREATS.md's negative suite.
func TestEncryptedNegative(t *testing.T) {
	encKeys(t)
	signedAsrt := func(t *testing.T) []byte { return plainAssertion(t, resp{}, signBoth) }
	flipLast := func(b []byte) []byte { b[len(b)-1] ^= 1; return b }
	runEncNeg(t, []encNeg{
		// Injection and authentication.
		{name: "encrypted assertion injected after a signed plaintext one", xml: func(t *testing.T) []byte {
			doc, re, a := (&resp{}).build()
			sign(t, a, signOpts{})
			re.AddChild(buildEncryptedAssertion(t, plainAssertion(t, resp{}, signNeither), encOpts{}))
			sign(t, re, signOpts{})
			return serialize(t, doc)
		}, want: CodeInvalidResponse, reason: "exactly one Assertion or EncryptedAssertion"},
		{name: "encrypted assertion injected before a signed plaintext one (response unsigned)", xml: func(t *testing.T) []byte {
			doc, re, a := (&resp{}).build()
			sign(t, a, signOpts{})
			re.InsertChildAt(a.Index(), buildEncryptedAssertion(t, plainAssertion(t, resp{}, signNeither), encOpts{}))
			return serialize(t, doc)
		}, want: CodeInvalidResponse, reason: "exactly one Assertion or EncryptedAssertion"},
		{name: "CVE-2024-4985: unsigned Response, attacker-encrypted unsigned Assertion", xml: encXML(resp{}, signNeither, encOpts{}),
			want: CodeInvalidSignature, reason: "encryption is not authentication"},
		{name: "unsigned Response, encrypted Assertion signed by an attacker key", xml: encXML(resp{}, how{asrt: &signOpts{key: keyEvil}}, encOpts{}),
			want: CodeUntrustedKey},
		{name: "signed Response, encrypted Assertion signed by an attacker key", xml: encXML(resp{}, how{resp: &signOpts{}, asrt: &signOpts{key: keyEvil}}, encOpts{}),
			want: CodeUntrustedKey},
		{name: "signed Response, ciphertext swapped after signing", xml: func(t *testing.T) []byte {
			d := parseDoc(t, xmlOfEnc(t, resp{}, signRespOnly, encOpts{}))
			ea := child(d.Root(), "EncryptedAssertion")
			evil := buildEncryptedAssertion(t, plainAssertion(t, resp{nameID: "admin@example.com"}, signNeither), encOpts{})
			d.Root().InsertChildAt(ea.Index(), evil)
			d.Root().RemoveChild(ea)
			return serialize(t, d)
		}, want: CodeInvalidSignature},
		{name: "signed Response, one CipherValue byte changed after signing", xml: func(t *testing.T) []byte {
			x := xmlOfEnc(t, resp{}, signRespOnly, encOpts{sibling: true})
			i := bytes.Index(x, []byte("<xenc:CipherValue>")) + len("<xenc:CipherValue>") + 10
			if x[i] == 'A' {
				x[i] = 'B'
			} else {
				x[i] = 'A'
			}
			return x
		}, want: CodeInvalidSignature},
		{name: "plaintext refused when encryption is required", xml: signed(resp{}, signBoth),
			cfg: func(c *Config) { c.RequireEncryptedAssertions = true }, want: CodeInvalidResponse, reason: "requires encrypted assertions"},
		{name: "no encryption keys in the config", xml: encXML(resp{}, signBoth, encOpts{}),
			cfg: func(c *Config) { c.DecryptionKeys = nil }, want: CodeInvalidResponse, reason: "no encryption keys"},

		// Keys.
		{name: "key transport to a deleted key", xml: encXML(resp{}, signBoth, encOpts{to: encKey2}), want: CodeInvalidResponse, reason: undecryptableReason},
		{name: "key transport to an attacker key naming our certificate", xml: encXML(resp{}, signBoth, encOpts{
			to: encKey2, edit: func(ea *etree.Element) {
				c := ea.FindElement(".//X509Certificate")
				c.SetText(b64(encKey.cert.Raw))
			}}), want: CodeInvalidResponse, reason: undecryptableReason},
		{name: "wrapped key of a wrong length for the data algorithm", xml: encXML(resp{}, signBoth, encOpts{cek: make([]byte, 16)}),
			want: CodeInvalidResponse, reason: undecryptableReason},
		{name: "wrong OAEP label", xml: encXML(resp{}, signBoth, encOpts{oaepLabel: []byte("x"), edit: func(ea *etree.Element) {
			ea.FindElement(".//OAEPparams").SetText(b64([]byte("y")))
		}}), want: CodeInvalidResponse, reason: undecryptableReason},
		{name: "wrong OAEP digest", xml: encXML(resp{}, signBoth, encOpts{keyTransport: AlgRSAOAEP, digest: algDigest256, edit: func(ea *etree.Element) {
			ea.FindElement(".//DigestMethod").CreateAttr("Algorithm", algDigest512)
		}}), want: CodeInvalidResponse, reason: undecryptableReason},
		{name: "wrong MGF", xml: encXML(resp{}, signBoth, encOpts{keyTransport: AlgRSAOAEP, digest: algDigest256, mgf: algMGF1SHA256, edit: func(ea *etree.Element) {
			ea.FindElement(".//MGF").CreateAttr("Algorithm", algMGF1SHA1)
		}}), want: CodeInvalidResponse, reason: undecryptableReason},

		// Ciphertext lengths and tampering (never a panic).
		{name: "data CipherValue empty", xml: encXML(resp{}, signBoth, encOpts{cipherEdit: func([]byte) []byte { return nil }}), want: CodeInvalidResponse, reason: "CipherValue is empty"},
		{name: "data CipherValue one byte", xml: encXML(resp{}, signBoth, encOpts{cipherEdit: func(b []byte) []byte { return b[:1] }}), want: CodeInvalidResponse, reason: undecryptableReason},
		{name: "data CipherValue IV only (short)", xml: encXML(resp{}, signBoth, encOpts{cipherEdit: func(b []byte) []byte { return b[:11] }}), want: CodeInvalidResponse, reason: undecryptableReason},
		{name: "data CipherValue IV and tag only", xml: encXML(resp{}, signBoth, encOpts{cipherEdit: func(b []byte) []byte { return b[:28] }}), want: CodeInvalidResponse, reason: undecryptableReason},
		{name: "data CipherValue truncated by one byte", xml: encXML(resp{}, signBoth, encOpts{cipherEdit: func(b []byte) []byte { return b[:len(b)-1] }}), want: CodeInvalidResponse, reason: undecryptableReason},
		{name: "data CipherValue with a byte appended", xml: encXML(resp{}, signBoth, encOpts{cipherEdit: func(b []byte) []byte { return append(b, 0) }}), want: CodeInvalidResponse, reason: undecryptableReason},
		{name: "GCM tag flipped", xml: encXML(resp{}, signBoth, encOpts{cipherEdit: flipLast}), want: CodeInvalidResponse, reason: undecryptableReason},
		{name: "GCM IV flipped", xml: encXML(resp{}, signBoth, encOpts{cipherEdit: func(b []byte) []byte { b[0] ^= 0x80; return b }}), want: CodeInvalidResponse, reason: undecryptableReason},
		{name: "GCM ciphertext byte flipped", xml: encXML(resp{}, signBoth, encOpts{cipherEdit: func(b []byte) []byte { b[20] ^= 1; return b }}), want: CodeInvalidResponse, reason: undecryptableReason},
		{name: "CBC ciphertext not a block multiple (opted in)", xml: encXML(resp{}, signBoth, encOpts{dataAlg: AlgAES256CBC, cipherEdit: func(b []byte) []byte { return b[:len(b)-3] }}), cfg: legacy, want: CodeInvalidResponse, reason: undecryptableReason},
		{name: "CBC ciphertext IV only (opted in)", xml: encXML(resp{}, signBoth, encOpts{dataAlg: AlgAES256CBC, cipherEdit: func(b []byte) []byte { return b[:16] }}), cfg: legacy, want: CodeInvalidResponse, reason: undecryptableReason},
		{name: "3DES ciphertext odd length (opted in)", xml: encXML(resp{}, signBoth, encOpts{dataAlg: AlgTripleDESCBC, cipherEdit: func(b []byte) []byte { return b[:13] }}), cfg: legacy, want: CodeInvalidResponse, reason: undecryptableReason},
		{name: "wrapped key empty", xml: encXML(resp{}, signBoth, encOpts{keyEdit: func([]byte) []byte { return nil }}), want: CodeInvalidResponse, reason: "CipherValue is empty"},
		{name: "wrapped key truncated", xml: encXML(resp{}, signBoth, encOpts{keyEdit: func(b []byte) []byte { return b[:len(b)-1] }}), want: CodeInvalidResponse, reason: undecryptableReason},
		{name: "wrapped key one byte", xml: encXML(resp{}, signBoth, encOpts{keyEdit: func(b []byte) []byte { return b[:1] }}), want: CodeInvalidResponse, reason: undecryptableReason},
		{name: "wrapped key flipped", xml: encXML(resp{}, signBoth, encOpts{keyEdit: flipLast}), want: CodeInvalidResponse, reason: undecryptableReason},
		{name: "wrapped key all 0xff", xml: encXML(resp{}, signBoth, encOpts{keyEdit: func(b []byte) []byte { return bytes.Repeat([]byte{0xff}, len(b)) }}), want: CodeInvalidResponse, reason: undecryptableReason},
		{name: "data CipherValue of 180 KiB, tag flipped", xml: encPlain(signRespOnly, encOpts{cipherEdit: flipLast}, func(t *testing.T) []byte {
			return bytes.Replace(signedAsrt(t), []byte("<saml:Subject>"), []byte("<saml:Subject><!--"+strings.Repeat("x", 180<<10)+"-->"), 1)
		}), want: CodeInvalidResponse, reason: undecryptableReason},
		{name: "wrapped key megabyte-ish", xml: encXML(resp{}, signBoth, encOpts{keyEdit: func(b []byte) []byte { return make([]byte, 64<<10) }}), want: CodeInvalidResponse, reason: "longer than any accepted RSA key"},
		{name: "CipherValue not base64", xml: encXML(resp{}, signBoth, encOpts{edit: func(ea *etree.Element) {
			ea.FindElement("./EncryptedData/CipherData/CipherValue").SetText("!!!!")
		}}), want: CodeInvalidResponse, reason: "not base64"},
		{name: "comment inside CipherValue", xml: encXML(resp{}, signBoth, encOpts{edit: func(ea *etree.Element) {
			ea.FindElement("./EncryptedData/CipherData/CipherValue").CreateComment("x")
		}}), want: CodeInvalidResponse, reason: "only text"},

		// Algorithms.
		{name: "algorithm flipped GCM to CBC on a real EncryptedKey", xml: encXML(resp{}, signBoth, encOpts{edit: func(ea *etree.Element) {
			ea.FindElement("./EncryptedData/EncryptionMethod").CreateAttr("Algorithm", AlgAES256CBC)
		}}), want: CodeInvalidResponse, reason: "legacy algorithm"},
		{name: "algorithm flipped GCM to CBC on a real EncryptedKey (opted in)", xml: encXML(resp{}, signBoth, encOpts{edit: func(ea *etree.Element) {
			ea.FindElement("./EncryptedData/EncryptionMethod").CreateAttr("Algorithm", AlgAES256CBC)
		}}), cfg: legacy, want: CodeInvalidResponse, reason: undecryptableReason},
		{name: "rsa-1_5 refused by default", xml: encXML(resp{}, signBoth, encOpts{keyTransport: AlgRSA15}), want: CodeInvalidResponse, reason: "rsa-1_5 is a legacy algorithm"},
		{name: "CBC refused by default", xml: encXML(resp{}, signBoth, encOpts{dataAlg: AlgAES128CBC}), want: CodeInvalidResponse, reason: "legacy algorithm"},
		{name: "3DES refused by default", xml: encXML(resp{}, signBoth, encOpts{dataAlg: AlgTripleDESCBC}), want: CodeInvalidResponse, reason: "legacy algorithm"},
		{name: "aes192-gcm not in the allow-list", xml: encXML(resp{}, signBoth, encOpts{dataAlg: NSXMLEnc11 + "aes192-gcm"}), want: CodeInvalidResponse, reason: "not accepted"},
		{name: "key wrap instead of key transport", xml: encXML(resp{}, signBoth, encOpts{edit: func(ea *etree.Element) {
			ea.FindElement(".//EncryptedKey/EncryptionMethod").CreateAttr("Algorithm", NSXMLEnc+"kw-aes256")
		}}), want: CodeInvalidResponse, reason: "key transport"},
		{name: "MD5 OAEP digest", xml: encXML(resp{}, signBoth, encOpts{digest: "http://www.w3.org/2001/04/xmldsig-more#md5"}), want: CodeInvalidResponse, reason: "DigestMethod"},
		{name: "MGF on rsa-oaep-mgf1p", xml: encXML(resp{}, signBoth, encOpts{mgf: algMGF1SHA256}), want: CodeInvalidResponse, reason: "MGF1-SHA-1"},
		{name: "unknown MGF", xml: encXML(resp{}, signBoth, encOpts{keyTransport: AlgRSAOAEP, mgf: NSXMLEnc11 + "mgf1md5"}), want: CodeInvalidResponse, reason: "MGF"},
		{name: "two DigestMethods", xml: encXML(resp{}, signBoth, encOpts{digest: algDigest256, edit: func(ea *etree.Element) {
			em := ea.FindElement(".//EncryptedKey/EncryptionMethod")
			em.AddChild(em.SelectElement("DigestMethod").Copy())
		}}), want: CodeInvalidResponse, reason: "unexpected"},
		{name: "KeySize in the data EncryptionMethod", xml: encXML(resp{}, signBoth, encOpts{edit: func(ea *etree.Element) {
			ea.FindElement("./EncryptedData/EncryptionMethod").CreateElement("xenc:KeySize").SetText("256")
		}}), want: CodeInvalidResponse, reason: "must be empty"},
		{name: "Type Content", xml: encXML(resp{}, signBoth, encOpts{edit: func(ea *etree.Element) {
			ea.SelectElement("EncryptedData").CreateAttr("Type", NSXMLEnc+"Content")
		}}), want: CodeInvalidResponse, reason: "Type"},
		{name: "EncryptionProperties", xml: encXML(resp{}, signBoth, encOpts{edit: func(ea *etree.Element) {
			ea.SelectElement("EncryptedData").CreateElement("xenc:EncryptionProperties")
		}}), want: CodeInvalidResponse, reason: "EncryptionProperties"},
		{name: "no EncryptionMethod", xml: encXML(resp{}, signBoth, encOpts{edit: func(ea *etree.Element) {
			ed := ea.SelectElement("EncryptedData")
			ed.RemoveChild(ed.SelectElement("EncryptionMethod"))
		}}), want: CodeInvalidResponse, reason: "EncryptionMethod"},
		{name: "no EncryptedKey", xml: encXML(resp{}, signBoth, encOpts{edit: func(ea *etree.Element) {
			ed := ea.SelectElement("EncryptedData")
			ed.RemoveChild(ed.SelectElement("KeyInfo"))
		}}), want: CodeInvalidResponse, reason: "no xenc:EncryptedKey"},
		{name: "four EncryptedKeys", xml: encXML(resp{}, signBoth, encOpts{sibling: true, edit: func(ea *etree.Element) {
			ek := ea.SelectElement("EncryptedKey")
			for i := 0; i < 3; i++ {
				ea.AddChild(ek.Copy())
			}
		}}), want: CodeInvalidResponse, reason: "more than 3 EncryptedKeys"},
		{name: "EncryptedKey wrapped in an EncryptedKey", xml: encXML(resp{}, signBoth, encOpts{edit: func(ea *etree.Element) {
			ek := ea.FindElement(".//EncryptedKey")
			ek.SelectElement("KeyInfo").AddChild(ek.Copy())
		}}), want: CodeInvalidResponse, reason: "wrapped in another"},
		{name: "unexpected child of EncryptedAssertion", xml: encXML(resp{}, signBoth, encOpts{edit: func(ea *etree.Element) {
			ea.CreateElement("saml:Issuer").SetText("x")
		}}), want: CodeInvalidResponse, reason: "unexpected"},
		{name: "X509Data in the EncryptedData KeyInfo", xml: encXML(resp{}, signBoth, encOpts{edit: func(ea *etree.Element) {
			ea.FindElement("./EncryptedData/KeyInfo").CreateElement("ds:X509Data")
		}}), want: CodeInvalidResponse, reason: "not accepted"},

		// Nothing is fetched or dereferenced.
		{name: "CipherReference", xml: encXML(resp{}, signBoth, encOpts{edit: func(ea *etree.Element) {
			cd := ea.FindElement("./EncryptedData/CipherData")
			cd.RemoveChild(cd.SelectElement("CipherValue"))
			cd.CreateElement("xenc:CipherReference").CreateAttr("URI", "http://attacker.example/ct")
		}}), want: CodeInvalidResponse, reason: "CipherReference"},
		{name: "CipherReference in the EncryptedKey", xml: encXML(resp{}, signBoth, encOpts{edit: func(ea *etree.Element) {
			cd := ea.FindElement(".//EncryptedKey/CipherData")
			cd.RemoveChild(cd.SelectElement("CipherValue"))
			cd.CreateElement("xenc:CipherReference").CreateAttr("URI", "file:///etc/passwd")
		}}), want: CodeInvalidResponse, reason: "CipherReference"},
		{name: "RetrievalMethod to a sibling EncryptedKey (Shibboleth peer placement)", xml: encXML(resp{}, signBoth, encOpts{sibling: true, edit: func(ea *etree.Element) {
			ed := ea.SelectElement("EncryptedData")
			ki := etree.NewElement("ds:KeyInfo")
			ki.CreateAttr("xmlns:ds", NSDSig)
			rm := ki.CreateElement("ds:RetrievalMethod")
			rm.CreateAttr("Type", NSXMLEnc+"EncryptedKey")
			rm.CreateAttr("URI", "#ek")
			ed.InsertChildAt(ed.SelectElement("CipherData").Index(), ki)
		}}), want: CodeInvalidResponse, reason: "RetrievalMethod"},
		{name: "RetrievalMethod in the EncryptedKey KeyInfo", xml: encXML(resp{}, signBoth, encOpts{edit: func(ea *etree.Element) {
			rm := ea.FindElement(".//EncryptedKey/KeyInfo").CreateElement("ds:RetrievalMethod")
			rm.CreateAttr("URI", "http://attacker.example/key")
		}}), want: CodeInvalidResponse, reason: "RetrievalMethod"},
		{name: "AgreementMethod", xml: encXML(resp{}, signBoth, encOpts{edit: func(ea *etree.Element) {
			ki := ea.FindElement("./EncryptedData/KeyInfo")
			ki.InsertChildAt(0, etree.NewElement("xenc:AgreementMethod"))
		}}), want: CodeInvalidResponse, reason: "AgreementMethod"},

		// The decrypted bytes are hostile input.
		{name: "decrypted DOCTYPE", xml: encPlain(signRespOnly, encOpts{}, func(t *testing.T) []byte {
			return append([]byte(`<!DOCTYPE a [<!ENTITY x "y">]>`), signedAsrt(t)...)
		}), want: CodeInvalidResponse, reason: "DOCTYPE"},
		{name: "decrypted billion laughs", xml: encPlain(signRespOnly, encOpts{}, func(t *testing.T) []byte {
			return []byte(`<!DOCTYPE a [<!ENTITY a "aaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]><saml:Assertion xmlns:saml="` + NSAssertion + `">&b;</saml:Assertion>`)
		}), want: CodeInvalidResponse},
		{name: "decrypted two Assertions", xml: encPlain(signRespOnly, encOpts{}, func(t *testing.T) []byte {
			a := signedAsrt(t)
			return append(a, plainAssertion(t, resp{nameID: "admin@example.com"}, signBoth)...)
		}), want: CodeInvalidResponse, reason: "more than one root"},
		{name: "decrypted not XML", xml: encPlain(signRespOnly, encOpts{}, func(t *testing.T) []byte { return []byte("hello, world") }), want: CodeInvalidResponse, reason: "does not start with '<'"},
		{name: "decrypted empty", xml: encPlain(signRespOnly, encOpts{}, func(t *testing.T) []byte { return []byte{} }), want: CodeInvalidResponse, reason: "empty"},
		{name: "decrypted binary", xml: encPlain(signRespOnly, encOpts{}, func(t *testing.T) []byte { return []byte{'<', 0, 0xff, 0xfe} }), want: CodeInvalidResponse},
		{name: "decrypted latin-1 declaration", xml: encPlain(signRespOnly, encOpts{}, func(t *testing.T) []byte {
			return append([]byte(`<?xml version="1.0" encoding="ISO-8859-1"?>`), signedAsrt(t)...)
		}), want: CodeInvalidResponse, reason: "UTF-8"},
		{name: "decrypted processing instruction", xml: encPlain(signRespOnly, encOpts{}, func(t *testing.T) []byte {
			return append([]byte(`<?evil x?>`), signedAsrt(t)...)
		}), want: CodeInvalidResponse, reason: "processing instructions"},
		{name: "decrypted Response", xml: encPlain(signRespOnly, encOpts{}, func(t *testing.T) []byte { return xmlOf(t, resp{}, signBoth) }), want: CodeInvalidResponse, reason: "must be one saml:Assertion"},
		{name: "decrypted nested EncryptedAssertion", xml: encPlain(signRespOnly, encOpts{}, func(t *testing.T) []byte {
			ea := buildEncryptedAssertion(t, signedAsrt(t), encOpts{})
			ea.CreateAttr("xmlns:saml", NSAssertion)
			d := etree.NewDocument()
			d.SetRoot(ea)
			return serialize(t, d)
		}), want: CodeInvalidResponse, reason: "must be one saml:Assertion"},
		{name: "decrypted Assertion holding an EncryptedAssertion", xml: encPlain(signRespOnly, encOpts{}, func(t *testing.T) []byte {
			return bytes.Replace(signedAsrt(t), []byte("<saml:Subject>"), []byte("<saml:EncryptedAssertion/><saml:Subject>"), 1)
		}), want: CodeInvalidResponse, reason: "inside a decrypted Assertion"},
		{name: "decrypted Assertion holding a second Assertion in Advice", xml: encPlain(signRespOnly, encOpts{}, func(t *testing.T) []byte {
			inner := plainAssertion(t, resp{nameID: "admin@example.com"}, signBoth)
			return bytes.Replace(signedAsrt(t), []byte("<saml:Subject>"), append(append([]byte("<saml:Advice>"), inner...), "</saml:Advice><saml:Subject>"...), 1)
		}), want: CodeInvalidResponse, reason: "inside a decrypted Assertion"},
		{name: "decrypted Signature below the Assertion", xml: encPlain(signRespOnly, encOpts{}, func(t *testing.T) []byte {
			return bytes.Replace(signedAsrt(t), []byte("<saml:Subject>"), []byte(`<saml:Subject><ds:Signature xmlns:ds="`+NSDSig+`"/>`), 1)
		}), want: CodeInvalidSignature, reason: "ds:Signature inside Subject"},
		{name: "decrypted prefix bound nowhere", xml: encPlain(signRespOnly, encOpts{}, func(t *testing.T) []byte {
			return bytes.Replace(signedAsrt(t), []byte("<saml:Subject>"), []byte(`<saml:Subject q:x="1">`), 1)
		}), want: CodeInvalidResponse, reason: "undeclared namespace prefix"},
		{name: "unsigned Response rebinding the prefix a signed plaintext borrows", xml: func(t *testing.T) []byte {
			plain := contextDependentSigned(t)
			d := parseDoc(t, xmlOfEnc(t, resp{}, signNeither, encOpts{plaintext: plain}))
			ea := child(d.Root(), "EncryptedAssertion")
			ea.Space = "p"
			ea.CreateAttr("xmlns:p", NSAssertion)
			ea.CreateAttr("xmlns:saml", "urn:evil")
			return serialize(t, d)
		}, want: CodeInvalidResponse, reason: "must be one saml:Assertion"},
		{name: "decrypted Assertion reusing the Response ID", xml: func(t *testing.T) []byte {
			return xmlOfEnc(t, resp{respID: "_same"}, signRespOnly, encOpts{plaintext: plainAssertion(t, resp{assertionID: "_same"}, signBoth)})
		}, want: CodeInvalidResponse, reason: "repeats an ID"},
		{name: "decrypted Assertion with duplicate IDs", xml: encPlain(signRespOnly, encOpts{}, func(t *testing.T) []byte {
			return bytes.Replace(signedAsrt(t), []byte("<saml:Subject>"), []byte(`<saml:Subject ID="_dup"><saml:X ID="_dup"/>`), 1)
		}), want: CodeInvalidResponse, reason: "duplicate ID"},
		{name: "decrypted trailing garbage", xml: encPlain(signRespOnly, encOpts{}, func(t *testing.T) []byte { return append(signedAsrt(t), "junk"...) }), want: CodeInvalidResponse},
		{name: "decrypted Assertion edited after signing (response unsigned)", xml: encPlain(signNeither, encOpts{}, func(t *testing.T) []byte {
			return bytes.Replace(signedAsrt(t), []byte("reader-role"), []byte("admin-role"), 1)
		}), want: CodeInvalidSignature},
		{name: "decrypted payload with DOCTYPE under CBC (opted in): uniform", xml: encPlain(signRespOnly, encOpts{dataAlg: AlgAES128CBC}, func(t *testing.T) []byte {
			return append([]byte(`<!DOCTYPE a>`), signedAsrt(t)...)
		}), cfg: legacy, want: CodeInvalidResponse, reason: undecryptableReason},
		{name: "decrypted two Assertions under CBC (opted in): uniform", xml: encPlain(signRespOnly, encOpts{dataAlg: AlgAES256CBC}, func(t *testing.T) []byte {
			return append(signedAsrt(t), signedAsrt(t)...)
		}), cfg: legacy, want: CodeInvalidResponse, reason: undecryptableReason},
		{name: "decrypted not XML under CBC (opted in): uniform", xml: encPlain(signRespOnly, encOpts{dataAlg: AlgTripleDESCBC}, func(t *testing.T) []byte { return []byte("plain text") }),
			cfg: legacy, want: CodeInvalidResponse, reason: undecryptableReason},

		// Outer placement.
		{name: "EncryptedAssertion nested in an EncryptedAssertion", xml: encXML(resp{}, signBoth, encOpts{edit: func(ea *etree.Element) {
			ea.AddChild(ea.Copy())
		}}), want: CodeInvalidResponse, reason: "EncryptedAssertion inside EncryptedAssertion"},
		{name: "EncryptedAssertion in Extensions", xml: func(t *testing.T) []byte {
			doc, re, a := (&resp{}).build()
			sign(t, a, signOpts{})
			ext := etree.NewElement("samlp:Extensions")
			ext.AddChild(buildEncryptedAssertion(t, plainAssertion(t, resp{}, signBoth), encOpts{}))
			re.InsertChildAt(child(re, "Status").Index(), ext)
			return serialize(t, doc)
		}, want: CodeInvalidResponse, reason: "EncryptedAssertion inside Extensions"},
		{name: "Signature inside the EncryptedAssertion", xml: encXML(resp{}, signBoth, encOpts{edit: func(ea *etree.Element) {
			s := ea.CreateElement("ds:Signature")
			s.CreateAttr("xmlns:ds", NSDSig)
		}}), want: CodeInvalidSignature},

		// The policy layer runs on the decrypted Assertion.
		{name: "decrypted Assertion for another audience", xml: encXML(resp{audiences: [][]string{{"https://other.example/"}}}, signBoth, encOpts{}), want: CodeAudience},
		{name: "decrypted Assertion expired", xml: encXML(resp{notBefore: tNow.Add(-9 * time.Minute), notOnOrAfter: tNow.Add(-2 * time.Minute)}, signBoth, encOpts{}), want: CodeExpired},
		{name: "decrypted Assertion from another issuer", xml: encXML(resp{assertionIssuer: "https://evil.example/"}, signBoth, encOpts{}), want: CodeIssuer},
		{name: "decrypted Assertion with a wrong Recipient", xml: encXML(resp{recipient: "https://evil.example/acs"}, signBoth, encOpts{}), want: CodeRecipient},
	})
}

// A re-used encrypted Assertion, and the same signed Assertion re-encrypted, are replays.
func TestEncryptedReplay(t *testing.T) {
	encKeys(t)
	cfg := encConfig(t)
	a := plainAssertion(t, resp{assertionID: "_replayed"}, signBoth)
	x := xmlOfEnc(t, resp{}, signAsrtOnly, encOpts{plaintext: a})
	mustValidate(t, x, cfg)
	got, err := ValidateXML(context.Background(), x, cfg)
	expectCode(t, got, err, CodeReplayed)
	x2 := xmlOfEnc(t, resp{}, signAsrtOnly, encOpts{plaintext: a, keyTransport: AlgRSAOAEP})
	got, err = ValidateXML(context.Background(), x2, cfg)
	expectCode(t, got, err, CodeReplayed)
}

// With legacy encryption opted in, a CBC padding oracle and a Bleichenbacher oracle find
// nothing: every variant of the last ciphertext block and of the wrapped key gives the very same
// error text.
func TestEncryptedUniformErrors(t *testing.T) {
	encKeys(t)
	cfg := encConfig(t)
	cfg.AllowLegacyEncryption = true
	ctx := context.Background()
	collect := func(t *testing.T, variants [][]byte) map[string]int {
		t.Helper()
		seen := map[string]int{}
		for _, x := range variants {
			a, err := ValidateXML(ctx, x, cfg)
			if a != nil || err == nil {
				continue // the unmodified variant decrypts
			}
			seen[err.Error()]++
		}
		return seen
	}
	t.Run("CBC: 256 last-byte variants", func(t *testing.T) {
		// Change the byte of the second-to-last block that XORs into the padding length byte.
		var variants [][]byte
		for i := 0; i < 256; i++ {
			variants = append(variants, xmlOfEnc(t, resp{}, signRespOnly, encOpts{dataAlg: AlgAES128CBC, cipherEdit: func(b []byte) []byte {
				b[len(b)-17] ^= byte(i)
				return b
			}}))
		}
		seen := collect(t, variants)
		if len(seen) != 1 {
			t.Fatalf("%d distinct errors over 256 padding probes: %v", len(seen), seen)
		}
		for e, n := range seen {
			if !strings.Contains(e, undecryptableReason) || n < 255 {
				t.Fatalf("%d x %q", n, e)
			}
		}
	})
	t.Run("rsa-1_5: 256 wrapped-key variants", func(t *testing.T) {
		var variants [][]byte
		for i := 0; i < 256; i++ {
			variants = append(variants, xmlOfEnc(t, resp{}, signRespOnly, encOpts{keyTransport: AlgRSA15, dataAlg: AlgAES128CBC, keyEdit: func(b []byte) []byte {
				if i == 0 {
					return b
				}
				b[len(b)-1-i%8] ^= byte(i)
				return b
			}}))
		}
		// Also raw values: PKCS#1 v1.5 conforming garbage and non-conforming garbage.
		for _, cek := range [][]byte{make([]byte, 16), make([]byte, 8), make([]byte, 32), {}} {
			k, err := rsa.EncryptPKCS1v15(rand.Reader, &encKey.key.PublicKey, cek)
			if err != nil {
				t.Fatal(err)
			}
			variants = append(variants, xmlOfEnc(t, resp{}, signRespOnly, encOpts{keyTransport: AlgRSA15, dataAlg: AlgAES128CBC, keyEdit: func([]byte) []byte { return k }}))
		}
		seen := collect(t, variants)
		if len(seen) != 1 {
			t.Fatalf("%d distinct errors over wrapped-key probes: %v", len(seen), seen)
		}
	})
	t.Run("every failure kind says the same", func(t *testing.T) {
		kinds := [][]byte{
			xmlOfEnc(t, resp{}, signRespOnly, encOpts{dataAlg: AlgAES256CBC, to: encKey2}),                                               // wrong key
			xmlOfEnc(t, resp{}, signRespOnly, encOpts{dataAlg: AlgAES256CBC, cipherEdit: func(b []byte) []byte { return b[:len(b)-5] }}), // misaligned
			xmlOfEnc(t, resp{}, signRespOnly, encOpts{dataAlg: AlgAES256CBC, plaintext: []byte("<x")}),                                   // parse error
			xmlOfEnc(t, resp{}, signRespOnly, encOpts{dataAlg: AlgAES256CBC, plaintext: []byte(`<!DOCTYPE x><x/>`)}),                     // DOCTYPE
			xmlOfEnc(t, resp{}, signRespOnly, encOpts{cipherEdit: func(b []byte) []byte { b[len(b)-1] ^= 1; return b }}),                 // GCM tag
			xmlOfEnc(t, resp{}, signRespOnly, encOpts{keyTransport: AlgRSA15, keyEdit: func(b []byte) []byte { b[9] ^= 1; return b }}),   // rsa-1_5 + GCM
		}
		seen := collect(t, kinds)
		if len(seen) != 1 {
			t.Fatalf("%d distinct errors: %v", len(seen), seen)
		}
	})
}

// Config rules for encryption keys, and no private key in any formatted form of a Config.
func TestEncryptedConfig(t *testing.T) {
	encKeys(t)
	x := xmlOfEnc(t, resp{}, signBoth, encOpts{})
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	for name, f := range map[string]func(c *Config){
		"four keys":                func(c *Config) { c.DecryptionKeys = append(c.DecryptionKeys, encKey2.dk(), enc3k.dk(), enc4k.dk()) },
		"nil key":                  func(c *Config) { c.DecryptionKeys[0].Key = nil },
		"empty key":                func(c *Config) { c.DecryptionKeys[0].Key = &rsa.PrivateKey{} },
		"RSA-1024 key":             func(c *Config) { c.DecryptionKeys[0].Key = small },
		"required without any key": func(c *Config) { c.DecryptionKeys = nil; c.RequireEncryptedAssertions = true },
	} {
		t.Run(name, func(t *testing.T) {
			cfg := encConfig(t)
			f(cfg)
			a, err := ValidateXML(context.Background(), x, cfg)
			if a != nil || !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("got %v, %v; want ErrInvalidConfig", a, err)
			}
		})
	}
	t.Run("formatting never shows a private key", func(t *testing.T) {
		cfg := encConfig(t, encKey, encKey2)
		d := encKey.key.D.String()
		p := encKey.key.Primes[0].String()
		for _, s := range []string{
			fmt.Sprintf("%v", cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg), fmt.Sprintf("%s", cfg.DecryptionKeys),
			fmt.Sprintf("%v", *cfg), fmt.Sprintf("%+v", *cfg), fmt.Sprintf("%d", cfg.DecryptionKeys[0]), fmt.Sprint(cfg.DecryptionKeys[0]),
		} {
			if strings.Contains(s, d) || strings.Contains(s, p) || strings.Contains(s, fmt.Sprintf("%x", encKey.key.D.Bytes()[:8])) {
				t.Fatalf("formatted config shows the private key: %.200s", s)
			}
			if !strings.Contains(s, "key-1") {
				t.Fatalf("formatted config does not name the key: %.200s", s)
			}
		}
	})
}

// contextDependentSigned is a signed Assertion serialised without the xmlns:saml declaration
// it relies on (made on the Response around it), as an in-place encrypter writes it.
func contextDependentSigned(t *testing.T) []byte {
	t.Helper()
	_, _, a := (&resp{}).build()
	sign(t, a, signOpts{})
	d := etree.NewDocument()
	d.SetRoot(a.Copy())
	out := serialize(t, d)
	if bytes.Contains(out, []byte(`xmlns:saml=`)) {
		t.Fatal("fixture declares saml itself")
	}
	return out
}
