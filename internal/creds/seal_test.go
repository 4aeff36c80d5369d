package creds_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/s3fed/s3fed/internal/creds"
)

func TestSealOpen(t *testing.T) {
	secret := []byte("-----BEGIN PRIVATE KEY----- the private key of a SAML config")
	aad := []byte("org/config/key-1")
	kr := ring(1, 1)
	sealed, err := kr.Seal("saml-encryption-key", secret, aad)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, secret[:16]) || bytes.Contains(sealed, key(1)) {
		t.Fatal("sealed value shows the plaintext or the master key")
	}
	if e, ok := creds.SealedEpoch(sealed); !ok || e != 1 {
		t.Fatalf("SealedEpoch = %d, %v", e, ok)
	}
	got, err := kr.Open("saml-encryption-key", sealed, aad)
	if err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("Open = %q, %v", got, err)
	}
	again, _ := kr.Seal("saml-encryption-key", secret, aad)
	if bytes.Equal(again, sealed) {
		t.Fatal("two seals of one value are identical (nonce reused)")
	}

	t.Run("master key rotation keeps old values readable and seals new ones under the new epoch", func(t *testing.T) {
		rotated := ring(2, 1, 2)
		if got, err := rotated.Open("saml-encryption-key", sealed, aad); err != nil || !bytes.Equal(got, secret) {
			t.Fatalf("old value after rotation: %v", err)
		}
		s2, err := rotated.Seal("saml-encryption-key", secret, aad)
		if err != nil {
			t.Fatal(err)
		}
		if e, _ := creds.SealedEpoch(s2); e != 2 {
			t.Fatalf("new value sealed under epoch %d", e)
		}
		if _, err := kr.Open("saml-encryption-key", s2, aad); !errors.Is(err, creds.ErrSealed) || !strings.Contains(err.Error(), "epoch 2") {
			t.Fatalf("a keyring without epoch 2 opened it or said why not unclearly: %v", err)
		}
	})

	for name, open := range map[string]func() ([]byte, error){
		"other purpose": func() ([]byte, error) { return kr.Open("oidc-client-secret", sealed, aad) },
		"other context": func() ([]byte, error) {
			return kr.Open("saml-encryption-key", sealed, []byte("org/other-config/key-1"))
		},
		"no context": func() ([]byte, error) { return kr.Open("saml-encryption-key", sealed, nil) },
		"other master key": func() ([]byte, error) {
			return (&creds.Keyring{Current: 1, Keys: map[uint16][]byte{1: key(9)}}).Open("saml-encryption-key", sealed, aad)
		},
		"epoch byte changed": func() ([]byte, error) {
			s := append([]byte{}, sealed...)
			s[2] = 2
			return ring(2, 1, 2).Open("saml-encryption-key", s, aad)
		},
		"version byte changed": func() ([]byte, error) {
			s := append([]byte{}, sealed...)
			s[0] = 2
			return kr.Open("saml-encryption-key", s, aad)
		},
		"empty purpose": func() ([]byte, error) { return kr.Open("", sealed, aad) },
		"nil keyring":   func() ([]byte, error) { return (*creds.Keyring)(nil).Open("saml-encryption-key", sealed, aad) },
	} {
		t.Run(name, func(t *testing.T) {
			if got, err := open(); err == nil || got != nil {
				t.Fatalf("opened: %q, %v", got, err)
			}
		})
	}
	t.Run("every byte flipped and every length", func(t *testing.T) {
		for i := range sealed {
			s := append([]byte{}, sealed...)
			s[i] ^= 0x01
			if _, err := kr.Open("saml-encryption-key", s, aad); !errors.Is(err, creds.ErrSealed) {
				t.Fatalf("byte %d flipped: %v", i, err)
			}
		}
		for n := 0; n < len(sealed); n++ {
			if _, err := kr.Open("saml-encryption-key", sealed[:n], aad); !errors.Is(err, creds.ErrSealed) {
				t.Fatalf("first %d bytes: %v", n, err)
			}
		}
	})
	t.Run("refuses to seal without a usable keyring or purpose", func(t *testing.T) {
		if _, err := (&creds.Keyring{}).Seal("p", secret, aad); err == nil {
			t.Fatal("sealed with an empty keyring")
		}
		if _, err := (&creds.Keyring{Current: 1, Keys: map[uint16][]byte{1: []byte("short")}}).Seal("p", secret, aad); err == nil {
			t.Fatal("sealed with a short master key")
		}
		if _, err := kr.Seal("", secret, aad); err == nil {
			t.Fatal("sealed without a purpose")
		}
	})
	t.Run("empty plaintext round-trips", func(t *testing.T) {
		s, err := kr.Seal("p", nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := kr.Open("p", s, nil); err != nil || len(got) != 0 {
			t.Fatalf("%q, %v", got, err)
		}
	})
}

// FuzzOpen: any bytes, no panic, every failure wraps ErrSealed, and only values this keyring
// sealed open (every one of which holds "secret"; fuzz workers seal their own, with other
// nonces, so the check is on the plaintext).
func FuzzOpen(f *testing.F) {
	kr := ring(1, 1)
	good, _ := kr.Seal("p", []byte("secret"), []byte("ctx"))
	f.Add(good)
	f.Add([]byte{1, 0, 1})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := kr.Open("p", b, []byte("ctx"))
		if err != nil {
			if got != nil || !errors.Is(err, creds.ErrSealed) {
				t.Fatalf("refusal %v with %q", err, got)
			}
			return
		}
		if string(got) != "secret" {
			t.Fatalf("forged value opened: %q", got)
		}
	})
}
