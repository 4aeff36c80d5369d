package idp_test

// Interop tests for encrypted assertions: s3fed decrypts EncryptedAssertions made by
// independent XML Encryption implementations (xmlsec1; python3-xmlsec, the library under
// python3-saml; python3-cryptography for xmlenc11 rsa-oaep, which libxmlsec1 1.2 lacks), each
// allowed algorithm pair in each signing mode, refuses legacy algorithms unless the config opts
// in, and independent decrypters read what the test IdP encrypts.

import (
	"bytes"
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/s3fed/s3fed/internal/idp"
	"github.com/s3fed/s3fed/internal/saml"
)

func needPython3Crypto(t *testing.T) {
	needTool(t, "python3-xmlsec and python3-cryptography", pythonPath, "-c", "import onelogin.saml2.utils, lxml, xmlsec, cryptography")
}

// wrapAssertion puts the template's saml2:Assertion inside an empty saml2:EncryptedAssertion,
// where xmlsec1-encrypt.sh replaces it with the EncryptedData.
func wrapAssertion(t *testing.T, x []byte) []byte {
	t.Helper()
	const open, closeTag = "<saml2:Assertion ", "</saml2:Assertion>"
	if bytes.Count(x, []byte(open)) != 1 || bytes.Count(x, []byte(closeTag)) != 1 {
		t.Fatal("template has not exactly one saml2:Assertion")
	}
	x = bytes.Replace(x, []byte(open), []byte(`<saml2:EncryptedAssertion xmlns:saml2="urn:oasis:names:tc:SAML:2.0:assertion">`+open), 1)
	return bytes.Replace(x, []byte(closeTag), []byte(closeTag+"</saml2:EncryptedAssertion>"), 1)
}

// pipeline produces an encrypted Response with independent tools in the order IdPs use:
// sign the Assertion (if asked), encrypt it, sign the Response over the ciphertext (if asked).
type pipeline struct {
	name    string
	encrypt func(t *testing.T, sk spKey, kt, data string, in []byte) []byte
	sign    func(t *testing.T, kf keyFiles, mode idp.SignMode, in []byte) []byte
	// template adds xmlsec1's signature slots (python3-saml adds its own).
	slots bool
}

var xmlsec1Pipeline = pipeline{
	name: "xmlsec1",
	encrypt: func(t *testing.T, sk spKey, kt, data string, in []byte) []byte {
		out, err := run(t, nil, script("xmlsec1-encrypt.sh"), sk.certPath, kt, data, writeTemp(t, wrapAssertion(t, in)))
		if err != nil {
			t.Fatalf("xmlsec1 encrypt: %v", err)
		}
		return out
	},
	sign: func(t *testing.T, kf keyFiles, mode idp.SignMode, in []byte) []byte {
		return xmlsec1Sign(t, kf, in, mode)
	},
	slots: true,
}

var python3Pipeline = pipeline{
	name: "python3",
	encrypt: func(t *testing.T, sk spKey, kt, data string, in []byte) []byte {
		out, err := run(t, in, pythonPath, script("python3-encrypt.py"), "encrypt", "--cert", sk.certPath, "--key-transport", kt, "--data", data)
		if err != nil {
			t.Fatalf("python3 encrypt: %v", err)
		}
		return out
	},
	sign: func(t *testing.T, kf keyFiles, mode idp.SignMode, in []byte) []byte {
		out, err := run(t, in, pythonPath, script("python3-saml-sign.py"), "sign", "--mode", string(mode), "--key", kf.keyPath, "--cert", kf.certPath)
		if err != nil {
			t.Fatalf("python3-saml sign: %v", err)
		}
		return out
	},
}

// produce runs p for one signing mode.
func (p pipeline) produce(t *testing.T, kf keyFiles, sk spKey, issuer, kt, data string, m struct {
	name                idp.SignMode
	response, assertion bool
}, now time.Time) []byte {
	t.Helper()
	x := template(t, issuer, profile{c14n: excC14N, sig: kf.signatureMethodName, digest: digestSHA256}, p.slots && m.response, p.slots && m.assertion, now)
	if m.assertion {
		x = p.sign(t, kf, idp.SignAssertion, x)
	}
	x = p.encrypt(t, sk, kt, data, x)
	if bytes.Contains(x, []byte(principal)) {
		t.Fatal("the principal is still visible after encryption")
	}
	if m.response {
		x = p.sign(t, kf, idp.SignResponse, x)
	}
	return x
}

// flipCipherValue changes one bit of the data ciphertext (the last CipherValue: the
// EncryptedData's own, after the EncryptedKey's), keeping valid base64.
func flipCipherValue(t *testing.T, x []byte) []byte {
	t.Helper()
	re := regexp.MustCompile(`<(?:[A-Za-z0-9_]+:)?CipherValue>`)
	locs := re.FindAllIndex(x, -1)
	if len(locs) < 2 {
		t.Fatal("fewer than two CipherValues")
	}
	i := locs[len(locs)-1][1] + 40
	out := bytes.Clone(x)
	if out[i] == 'A' {
		out[i] = 'B'
	} else {
		out[i] = 'A'
	}
	return out
}

func expectRefused(t *testing.T, x []byte, c *saml.Config, code saml.Code, has string) {
	t.Helper()
	a, err := saml.ValidateXML(context.Background(), x, c)
	var se *saml.Error
	if a != nil || !errors.As(err, &se) || se.Code != code || !strings.Contains(err.Error(), has) {
		t.Fatalf("got %v, %v; want %s containing %q", a != nil, err, code, has)
	}
}

func checkDecrypted(t *testing.T, x []byte, c *saml.Config, issuer string, wantResp, wantAssertion bool) {
	t.Helper()
	a, err := saml.ValidateXML(context.Background(), x, c)
	if err != nil {
		t.Fatalf("refused an independently encrypted Response: %v", err)
	}
	if !a.Encrypted || a.NameID != principal || a.Attributes[idp.RoleAttribute][0] != role || a.Issuer != issuer {
		t.Fatalf("decrypted values: %+v", a)
	}
	if a.ResponseSigned != wantResp || a.AssertionSigned != wantAssertion {
		t.Fatalf("signed flags response=%v assertion=%v, want %v %v", a.ResponseSigned, a.AssertionSigned, wantResp, wantAssertion)
	}
}

// interopEncrypted runs the allowed pairs in every mode and the legacy pairs with and without
// the opt-in, through pipeline p.
func interopEncrypted(t *testing.T, p pipeline, allowed, legacy [][2]string) {
	sk := spEncryptionKeys(t)[0]
	kf := interopKeys(t)[0]
	now := time.Now().UTC().Truncate(time.Second)
	issuer := "https://idp.example.com/" + p.name
	for _, pair := range allowed {
		for _, m := range modes {
			t.Run(pair[0]+"/"+pair[1]+"/"+string(m.name), func(t *testing.T) {
				x := p.produce(t, kf, sk, issuer, pair[0], pair[1], m, now)
				checkDecrypted(t, x, encConfig(kf, issuer, now, sk, false), issuer, m.response, m.assertion)
				bad := flipCipherValue(t, x)
				if m.response {
					expectRefused(t, bad, encConfig(kf, issuer, now, sk, false), saml.CodeInvalidSignature, "Response signature")
				} else {
					expectRefused(t, bad, encConfig(kf, issuer, now, sk, false), saml.CodeInvalidResponse, "cannot be decrypted")
				}
				other := spEncryptionKeys(t)[1]
				expectRefused(t, x, encConfig(kf, issuer, now, other, false), saml.CodeInvalidResponse, "cannot be decrypted")
			})
		}
	}
	for _, pair := range legacy {
		t.Run("legacy "+pair[0]+"/"+pair[1], func(t *testing.T) {
			m := modes[1] // assertion signed, Response unsigned
			x := p.produce(t, kf, sk, issuer, pair[0], pair[1], m, now)
			expectRefused(t, x, encConfig(kf, issuer, now, sk, false), saml.CodeInvalidResponse, "legacy algorithm")
			checkDecrypted(t, x, encConfig(kf, issuer, now, sk, true), issuer, false, true)
			expectRefused(t, flipCipherValue(t, x), encConfig(kf, issuer, now, sk, true), saml.CodeInvalidResponse, "cannot be decrypted")
		})
	}
}

func TestInteropXmlsec1EncryptedAccepted(t *testing.T) {
	needXmlsec1(t)
	interopEncrypted(t, xmlsec1Pipeline,
		[][2]string{{"rsa-oaep-mgf1p", "aes128-gcm"}, {"rsa-oaep-mgf1p", "aes256-gcm"}},
		[][2]string{{"rsa-1_5", "aes256-gcm"}, {"rsa-oaep-mgf1p", "aes128-cbc"}, {"rsa-oaep-mgf1p", "aes192-cbc"},
			{"rsa-oaep-mgf1p", "aes256-cbc"}, {"rsa-oaep-mgf1p", "tripledes-cbc"}, {"rsa-1_5", "aes128-cbc"}})
}

func TestInteropPython3EncryptedAccepted(t *testing.T) {
	needPython3Crypto(t)
	interopEncrypted(t, python3Pipeline,
		[][2]string{
			{"rsa-oaep-mgf1p", "aes128-gcm"}, {"rsa-oaep-mgf1p", "aes256-gcm"}, // python3-xmlsec
			{"rsa-oaep", "aes128-gcm"}, {"rsa-oaep", "aes256-gcm"}, // xmlenc11, SHA-1 and MGF1-SHA-1 by default
			{"rsa-oaep-sha256-mgf1sha1", "aes256-gcm"}, {"rsa-oaep-sha256-mgf1sha256", "aes128-gcm"},
			{"rsa-oaep-sha256-mgf1sha256", "aes256-gcm"},
		},
		[][2]string{{"rsa-1_5", "aes128-gcm"}, {"rsa-oaep-mgf1p", "aes128-cbc"}, {"rsa-oaep-mgf1p", "tripledes-cbc"}})
}

// TestInteropOurEncryptionDecryptsIndependently: xmlsec1 and python3-saml
// (OneLogin_Saml2_Utils.decrypt_element; python3-cryptography for xmlenc11 rsa-oaep) decrypt
// what idp.Sign encrypts, and the plaintext is the signed Assertion.
func TestInteropOurEncryptionDecryptsIndependently(t *testing.T) {
	needXmlsec1(t)
	needPython3Crypto(t)
	sks := spEncryptionKeys(t)
	sk := sks[0]
	kf := interopKeys(t)[0]
	now := time.Now().UTC().Truncate(time.Millisecond)
	for _, kt := range idp.KeyTransports {
		for _, de := range idp.DataEncryptions {
			t.Run(string(kt)+"/"+string(de), func(t *testing.T) {
				x, err := idp.Sign(idp.SignOptions{KeyPair: kf.pair, OrgID: orgID, Principal: principal, Role: role, PublicURL: publicURL,
					Sign: idp.SignBoth, Now: func() time.Time { return now }, EncryptTo: sk.key.Certificate, KeyTransport: kt, DataEncryption: de})
				if err != nil {
					t.Fatal(err)
				}
				check := func(who string, plain []byte) {
					t.Helper()
					if !bytes.Contains(plain, []byte(">"+principal+"<")) || !bytes.Contains(plain, []byte(":Assertion")) || !bytes.Contains(plain, []byte("SignatureValue")) {
						t.Fatalf("%s decrypted something else: %.300s", who, plain)
					}
				}
				py, err := run(t, x, pythonPath, script("python3-encrypt.py"), "decrypt", "--key", sk.keyPath)
				if err != nil {
					t.Fatalf("python3 decrypt: %v", err)
				}
				check("python3", py)
				if _, err := run(t, x, pythonPath, script("python3-encrypt.py"), "decrypt", "--key", sks[1].keyPath); err == nil {
					t.Fatal("python3 decrypted with another key")
				}
				if kt == idp.KeyTransportRSAOAEP {
					return // libxmlsec1 1.2 has no xmlenc11 rsa-oaep
				}
				doc := writeTemp(t, x)
				out, err := run(t, nil, "xmlsec1", "--decrypt", "--privkey-pem", sk.keyPath, "--enabled-key-data", "enc-key,rsa,aes,des,key-name", doc)
				if err != nil {
					t.Fatalf("xmlsec1 decrypt: %v", err)
				}
				check("xmlsec1", out)
				if _, err := run(t, nil, "xmlsec1", "--decrypt", "--privkey-pem", sks[1].keyPath, "--enabled-key-data", "enc-key,rsa,aes,des,key-name", doc); err == nil {
					t.Fatal("xmlsec1 decrypted with another key")
				}
			})
		}
	}
}
