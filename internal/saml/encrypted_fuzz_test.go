package saml

import (
	"context"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"hash"
	"strings"
	"testing"
)

// fuzzValidateEncrypted validates x with cfg and checks the invariants every fuzz target shares:
// no panic (recovered or not), never an Assertion with an error, every refusal a coded *Error.
// It returns the Assertion when x was accepted.
func fuzzValidateEncrypted(t *testing.T, x []byte, cfg *Config) *Assertion {
	t.Helper()
	before := recoveredPanics.Load()
	a, err := ValidateXML(context.Background(), x, cfg)
	if recoveredPanics.Load() != before {
		t.Fatalf("validation panicked (recovered): %v", lastPanic.Load())
	}
	if err != nil {
		if a != nil {
			t.Fatal("Assertion returned with an error")
		}
		var e *Error
		if !errors.As(err, &e) || e.Code == "" {
			t.Fatalf("refusal is not a coded *saml.Error: %v", err)
		}
		return nil
	}
	if a == nil {
		t.Fatal("nil Assertion without error")
	}
	return a
}

func fuzzEncConfig(f *testing.F) *Config {
	cfg := encConfig(f, encKey, encKey2)
	cfg.AllowLegacyEncryption = true
	cfg.Replay = nopReplay{}
	return cfg
}

// FuzzDecrypt mutates whole encrypted Responses (every algorithm pair, both placements, signed
// and unsigned Responses): no panic, and whatever is accepted carries the seed's values.
func FuzzDecrypt(f *testing.F) {
	encKeys(f)
	for _, o := range []encOpts{
		{}, {sibling: true}, {dataAlg: AlgAES128GCM, keyTransport: AlgRSAOAEP, digest: algDigest256, mgf: algMGF1SHA256},
		{dataAlg: AlgAES128CBC}, {dataAlg: AlgTripleDESCBC, keyTransport: AlgRSA15}, {to: encKey2, noKeyInfoX509: true},
	} {
		f.Add(xmlOfEnc(f, resp{}, signBoth, o))
		f.Add(xmlOfEnc(f, resp{}, signAsrtOnly, o))
		f.Add(xmlOfEnc(f, resp{}, signRespOnly, o))
	}
	cfg := fuzzEncConfig(f)
	f.Fuzz(func(t *testing.T, x []byte) {
		if a := fuzzValidateEncrypted(t, x, cfg); a != nil {
			if a.NameID != "alice@example.com" || len(a.Attributes[tRole]) != 1 || a.Attributes[tRole][0] != "reader-role" {
				t.Fatalf("accepted altered content: %+v", a)
			}
		}
	})
}

// encTemplate is an unsigned Response whose EncryptedAssertion's algorithms and ciphertexts are
// filled in by FuzzDecryptCiphertext.
const encTemplate = `<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_r1" Version="2.0" IssueInstant="2026-06-30T21:06:40Z" Destination="http://127.0.0.1:9001/m2m-saml-acs">` +
	`<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>` +
	`<saml:EncryptedAssertion><xenc:EncryptedData xmlns:xenc="http://www.w3.org/2001/04/xmlenc#" Type="http://www.w3.org/2001/04/xmlenc#Element">` +
	`<xenc:EncryptionMethod Algorithm="DATAALG"/><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><xenc:EncryptedKey>` +
	`<xenc:EncryptionMethod Algorithm="KEYALG"/><xenc:CipherData><xenc:CipherValue>KEYCT</xenc:CipherValue></xenc:CipherData>` +
	`</xenc:EncryptedKey></ds:KeyInfo><xenc:CipherData><xenc:CipherValue>DATACT</xenc:CipherValue></xenc:CipherData></xenc:EncryptedData></saml:EncryptedAssertion></samlp:Response>`

var (
	fuzzDataAlgs = []string{AlgAES128GCM, AlgAES256GCM, AlgAES128CBC, AlgAES192CBC, AlgAES256CBC, AlgTripleDESCBC}
	fuzzKeyAlgs  = []string{AlgRSAOAEPMGF1P, AlgRSAOAEP, AlgRSA15}
)

// FuzzDecryptCiphertext puts raw bytes of any length where the wrapped key and the ciphertext go,
// under every algorithm, so the key transport and block cipher code see short, empty, misaligned
// and oversized inputs directly: an error every time, never a panic, never an Assertion.
func FuzzDecryptCiphertext(f *testing.F) {
	encKeys(f)
	cek := make([]byte, 32)
	wk, _ := rsa.EncryptOAEP(sha1New(), rand.Reader, &encKey.key.PublicKey, cek, nil)
	f.Add(uint8(1), uint8(0), wk, make([]byte, 60))
	f.Add(uint8(4), uint8(2), make([]byte, 256), make([]byte, 33))
	f.Add(uint8(0), uint8(1), []byte{}, []byte{})
	f.Add(uint8(5), uint8(0), wk[:255], make([]byte, 8))
	cfg := fuzzEncConfig(f)
	f.Fuzz(func(t *testing.T, dataAlg, keyAlg uint8, keyCT, dataCT []byte) {
		x := strings.NewReplacer(
			"DATAALG", fuzzDataAlgs[int(dataAlg)%len(fuzzDataAlgs)],
			"KEYALG", fuzzKeyAlgs[int(keyAlg)%len(fuzzKeyAlgs)],
			"KEYCT", base64.StdEncoding.EncodeToString(keyCT),
			"DATACT", base64.StdEncoding.EncodeToString(dataCT),
		).Replace(encTemplate)
		if a := fuzzValidateEncrypted(t, []byte(x), cfg); a != nil {
			t.Fatalf("an unsigned Response with fuzzed ciphertext was accepted: %+v", a)
		}
	})
}

// FuzzDecryptedPlaintext encrypts fuzzed plaintext properly (AES-256-GCM, the content key
// wrapped to a config key) inside an unsigned Response, so every byte reaches the decrypted
// Assertion's pre-filter, signature and policy layers: no panic, and anything accepted carries
// the seed's signed values.
func FuzzDecryptedPlaintext(f *testing.F) {
	encKeys(f)
	f.Add(plainAssertion(f, resp{}, signBoth))
	f.Add(append([]byte(`<?xml version="1.0" encoding="UTF-8"?>`), plainAssertion(f, resp{}, signBoth)...))
	f.Add([]byte(`<!DOCTYPE a [<!ENTITY x "y">]><saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion">&x;</saml:Assertion>`))
	f.Add([]byte(`<saml:EncryptedAssertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"/>`))
	cek := make([]byte, 32)
	_, _ = rand.Read(cek)
	wk, err := rsa.EncryptOAEP(sha1New(), rand.Reader, &encKey.key.PublicKey, cek, nil)
	if err != nil {
		f.Fatal(err)
	}
	block, _ := aes.NewCipher(cek)
	gcm, _ := cipher.NewGCM(block)
	cfg := fuzzEncConfig(f)
	f.Fuzz(func(t *testing.T, plain []byte) {
		iv := make([]byte, 12)
		_, _ = rand.Read(iv)
		ct := gcm.Seal(iv, iv, plain, nil)
		x := strings.NewReplacer(
			"DATAALG", AlgAES256GCM, "KEYALG", AlgRSAOAEPMGF1P,
			"KEYCT", base64.StdEncoding.EncodeToString(wk), "DATACT", base64.StdEncoding.EncodeToString(ct),
		).Replace(encTemplate)
		if a := fuzzValidateEncrypted(t, []byte(x), cfg); a != nil {
			if a.NameID != "alice@example.com" || len(a.Attributes[tRole]) != 1 || a.Attributes[tRole][0] != "reader-role" || !a.AssertionSigned {
				t.Fatalf("accepted altered content: %+v", a)
			}
		}
	})
}

func sha1New() hash.Hash { return crypto.SHA1.New() }

// The fuzz template is a real Response: with a signed Assertion properly encrypted into it, it is
// accepted, so FuzzDecryptedPlaintext's inputs reach every layer.
func TestFuzzEncTemplateAccepted(t *testing.T) {
	encKeys(t)
	cek := make([]byte, 16)
	_, _ = rand.Read(cek)
	wk, err := rsa.EncryptOAEP(sha1New(), rand.Reader, &encKey.key.PublicKey, cek, nil)
	if err != nil {
		t.Fatal(err)
	}
	ct := encryptBytes(t, AlgAES128GCM, cek, plainAssertion(t, resp{}, signBoth))
	x := strings.NewReplacer("DATAALG", AlgAES128GCM, "KEYALG", AlgRSAOAEPMGF1P,
		"KEYCT", base64.StdEncoding.EncodeToString(wk), "DATACT", base64.StdEncoding.EncodeToString(ct)).Replace(encTemplate)
	checkDecrypted(t, mustValidate(t, []byte(x), encConfig(t)), "key-1")
}
