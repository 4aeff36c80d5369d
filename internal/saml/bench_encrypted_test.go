package saml

import (
	"context"
	"testing"
)

// BenchmarkValidateEncrypted is BenchmarkValidateResponse's Response (both signed, RSA-2048
// signatures) with the Assertion encrypted as IdPs do it: AES-256-GCM, the content key wrapped
// with RSA-OAEP to an RSA-2048 or RSA-4096 config key that the EncryptedKey's KeyInfo names. The
// difference to BenchmarkValidateResponse is the added cost of decryption per exchange.
func BenchmarkValidateEncrypted(b *testing.B) {
	encKeys(b)
	for _, tc := range []struct {
		name string
		key  *encKeyPair
	}{{"RSA-2048", encKey}, {"RSA-4096", enc4k}} {
		b.Run(tc.name, func(b *testing.B) {
			x := xmlOfEnc(b, resp{}, signBoth, encOpts{to: tc.key, dataAlg: AlgAES256GCM})
			in := b64(x)
			cfg := encConfig(b, tc.key)
			cfg.Replay = nopReplay{}
			ctx := context.Background()
			b.SetBytes(int64(len(x)))
			b.ReportAllocs()
			for b.Loop() {
				a, err := Validate(ctx, in, cfg)
				if err != nil {
					b.Fatal(err)
				}
				if !a.Encrypted {
					b.Fatal("not decrypted")
				}
			}
		})
	}
}
