package idp_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/s3fed/s3fed/internal/creds"
	"github.com/s3fed/s3fed/internal/federation"
	"github.com/s3fed/s3fed/internal/idp"
	"github.com/s3fed/s3fed/internal/saml"
)

// spKey is an s3fed config encryption key as the server makes it, with its files on disk for
// the independent tools.
type spKey struct {
	key               *federation.EncryptionKey
	certPath, keyPath string
}

var (
	spKeyOnce sync.Once
	spKeys    [2]spKey // [0] the config's key, [1] another SP's key
	spKeyErr  error
)

func spEncryptionKeys(t *testing.T) [2]spKey {
	t.Helper()
	interopKeys(t) // creates keysDir
	spKeyOnce.Do(func() {
		for i := range spKeys {
			k, err := federation.GenerateEncryptionKey(federation.KeySpecRSA2048, "s3fed interop-org/cfg/key", time.Now())
			if err != nil {
				spKeyErr = err
				return
			}
			der, err := x509.MarshalPKCS8PrivateKey(k.DecryptionKey("").Key)
			if err != nil {
				spKeyErr = err
				return
			}
			sk := spKey{key: k, certPath: filepath.Join(keysDir, "sp-enc-cert"+string(rune('0'+i))+".pem"), keyPath: filepath.Join(keysDir, "sp-enc-key"+string(rune('0'+i))+".pem")}
			if spKeyErr = os.WriteFile(sk.certPath, []byte(k.CertificatePEM()), 0o600); spKeyErr != nil {
				return
			}
			if spKeyErr = os.WriteFile(sk.keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); spKeyErr != nil {
				return
			}
			spKeys[i] = sk
		}
	})
	if spKeyErr != nil {
		t.Fatalf("encryption keys: %v", spKeyErr)
	}
	return spKeys
}

// encConfig is config() with the SP encryption key and, if legacy, the legacy opt-in.
func encConfig(kf keyFiles, issuer string, now time.Time, sk spKey, legacy bool) *saml.Config {
	c := config(kf, issuer, now)
	c.DecryptionKeys = []saml.DecryptionKey{sk.key.DecryptionKey("key-1")}
	c.AllowLegacyEncryption = legacy
	return c
}

func isLegacy(kt idp.KeyTransport, de idp.DataEncryption) bool {
	return kt == idp.KeyTransportRSA15 || !strings.HasSuffix(string(de), "-gcm")
}

// Every key transport and data encryption of the test IdP, in every signing mode, decrypts in
// the validator; legacy ones only with the opt-in.
func TestSignEncrypted(t *testing.T) {
	sk := spEncryptionKeys(t)[0]
	kf := interopKeys(t)[0]
	now := time.Now().UTC().Truncate(time.Millisecond)
	issuer := idp.DefaultIssuer(kf.pair.Cert)
	for _, kt := range idp.KeyTransports {
		for _, de := range idp.DataEncryptions {
			for _, m := range modes {
				t.Run(string(kt)+"/"+string(de)+"/"+string(m.name), func(t *testing.T) {
					x, err := idp.Sign(idp.SignOptions{KeyPair: kf.pair, OrgID: orgID, Principal: principal, Role: role, PublicURL: publicURL,
						Sign: m.name, Now: func() time.Time { return now }, EncryptTo: sk.key.Certificate, KeyTransport: kt, DataEncryption: de})
					if err != nil {
						t.Fatal(err)
					}
					if bytes.Contains(x, []byte(principal)) || bytes.Contains(x, []byte("<saml:Assertion")) {
						t.Fatal("the principal or the Assertion is visible in the encrypted Response")
					}
					legacy := isLegacy(kt, de)
					if legacy {
						a, err := saml.ValidateXML(context.Background(), x, encConfig(kf, issuer, now, sk, false))
						var se *saml.Error
						if a != nil || !errors.As(err, &se) || se.Code != saml.CodeInvalidResponse || !strings.Contains(err.Error(), "legacy") {
							t.Fatalf("legacy %s/%s without opt-in: %v", kt, de, err)
						}
					}
					a, err := saml.ValidateXML(context.Background(), x, encConfig(kf, issuer, now, sk, legacy))
					if err != nil {
						t.Fatalf("refused: %v", err)
					}
					if !a.Encrypted || a.DecryptionKeyID != "key-1" || a.NameID != principal || a.Attributes[idp.RoleAttribute][0] != role {
						t.Fatalf("decrypted values: %+v", a)
					}
					if a.ResponseSigned != m.response || a.AssertionSigned != m.assertion {
						t.Fatalf("signed flags %v %v", a.ResponseSigned, a.AssertionSigned)
					}
				})
			}
		}
	}
	t.Run("defaults are xmlenc11 rsa-oaep with SHA-256 and aes256-gcm", func(t *testing.T) {
		x, err := idp.Sign(idp.SignOptions{KeyPair: kf.pair, OrgID: orgID, Principal: principal, Role: role, PublicURL: publicURL, EncryptTo: sk.key.Certificate})
		if err != nil {
			t.Fatal(err)
		}
		for _, alg := range []string{"http://www.w3.org/2009/xmlenc11#rsa-oaep", "http://www.w3.org/2009/xmlenc11#mgf1sha256", "http://www.w3.org/2001/04/xmlenc#sha256", "http://www.w3.org/2009/xmlenc11#aes256-gcm"} {
			if !bytes.Contains(x, []byte(`Algorithm="`+alg+`"`)) {
				t.Fatalf("no %s", alg)
			}
		}
	})
	t.Run("unsigned and encrypted is refused (encryption is not authentication)", func(t *testing.T) {
		x, err := idp.Sign(idp.SignOptions{KeyPair: kf.pair, OrgID: orgID, Principal: principal, Role: role, PublicURL: publicURL,
			Sign: idp.SignNone, Now: func() time.Time { return now }, EncryptTo: sk.key.Certificate})
		if err != nil {
			t.Fatal(err)
		}
		a, err := saml.ValidateXML(context.Background(), x, encConfig(kf, issuer, now, sk, false))
		var se *saml.Error
		if a != nil || !errors.As(err, &se) || se.Code != saml.CodeInvalidSignature {
			t.Fatalf("got %v, %v", a, err)
		}
	})
	t.Run("encrypted to another SP's key", func(t *testing.T) {
		other := spEncryptionKeys(t)[1]
		x, err := idp.Sign(idp.SignOptions{KeyPair: kf.pair, OrgID: orgID, Principal: principal, Role: role, PublicURL: publicURL,
			Now: func() time.Time { return now }, EncryptTo: other.key.Certificate})
		if err != nil {
			t.Fatal(err)
		}
		a, err := saml.ValidateXML(context.Background(), x, encConfig(kf, issuer, now, sk, false))
		if a != nil || err == nil || !strings.Contains(err.Error(), "cannot be decrypted") {
			t.Fatalf("got %v, %v", a, err)
		}
	})
}

// The whole key life cycle the server will run: generate, seal with the master key, store,
// open, decrypt what the IdP encrypted to the certificate.
func TestSignEncryptedSealedKey(t *testing.T) {
	kf := interopKeys(t)[0]
	now := time.Now().UTC().Truncate(time.Millisecond)
	kr := &creds.Keyring{Current: 1, Keys: map[uint16][]byte{1: creds.NewMasterKey()}}
	k, err := federation.GenerateEncryptionKey(federation.KeySpecRSA3072, "s3fed org/cfg/k", now)
	if err != nil {
		t.Fatal(err)
	}
	ctx := federation.EncryptionKeyContext(orgID, "cfg", "k")
	sealed, err := k.Seal(kr, ctx)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := k.CertificatePEM()
	k = nil // from here on only what a store would hold
	opened, err := federation.OpenEncryptionKey(kr, federation.KeySpecRSA3072, certPEM, sealed, ctx)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode([]byte(certPEM))
	cert, _ := x509.ParseCertificate(block.Bytes)
	x, err := idp.Sign(idp.SignOptions{KeyPair: kf.pair, OrgID: orgID, Principal: principal, Role: role, PublicURL: publicURL,
		Now: func() time.Time { return now }, EncryptTo: cert})
	if err != nil {
		t.Fatal(err)
	}
	c := config(kf, idp.DefaultIssuer(kf.pair.Cert), now)
	c.DecryptionKeys = []saml.DecryptionKey{opened.DecryptionKey("k")}
	c.RequireEncryptedAssertions = true
	a, err := saml.ValidateXML(context.Background(), x, c)
	if err != nil || a.DecryptionKeyID != "k" {
		t.Fatalf("got %+v, %v", a, err)
	}
}

func TestSignEncryptOptionErrors(t *testing.T) {
	kf := interopKeys(t)[0]
	sk := spEncryptionKeys(t)[0]
	ecCert := func() *x509.Certificate {
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ec"}, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
		der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.Public(), k)
		c, _ := x509.ParseCertificate(der)
		return c
	}()
	small := func() *x509.Certificate {
		k, _ := rsa.GenerateKey(rand.Reader, 1024)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "small"}, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
		der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.Public(), k)
		c, _ := x509.ParseCertificate(der)
		return c
	}()
	base := func() idp.SignOptions {
		return idp.SignOptions{KeyPair: kf.pair, OrgID: orgID, Principal: principal, Role: role}
	}
	for name, tc := range map[string]struct {
		edit func(o *idp.SignOptions)
		has  string
	}{
		"EC certificate":               {func(o *idp.SignOptions) { o.EncryptTo = ecCert }, "needs RSA"},
		"RSA-1024 certificate":         {func(o *idp.SignOptions) { o.EncryptTo = small }, "RSA-1024"},
		"key transport without a cert": {func(o *idp.SignOptions) { o.KeyTransport = idp.KeyTransportRSAOAEP }, "need a certificate"},
		"data encryption without cert": {func(o *idp.SignOptions) { o.DataEncryption = idp.DataAES128GCM }, "need a certificate"},
		"unknown key transport":        {func(o *idp.SignOptions) { o.EncryptTo = sk.key.Certificate; o.KeyTransport = "rsa-oaep-md5" }, "unknown key transport"},
		"unknown data encryption":      {func(o *idp.SignOptions) { o.EncryptTo = sk.key.Certificate; o.DataEncryption = "aes192-gcm" }, "unknown data encryption"},
	} {
		t.Run(name, func(t *testing.T) {
			o := base()
			tc.edit(&o)
			if x, err := idp.Sign(o); err == nil || x != nil || !strings.Contains(err.Error(), tc.has) {
				t.Fatalf("got %d bytes, %v; want an error containing %q", len(x), err, tc.has)
			}
		})
	}
}
