package oidc_test

import (
	"context"
	"testing"

	"github.com/s3fed/s3fed/internal/oidc"
)

// BenchmarkVerify is the per-exchange cost of token verification with an
// uploaded JWK Set (discovery adds nothing while its cache is warm).
func BenchmarkVerify(b *testing.B) {
	k := keys(b)
	for _, tc := range []struct {
		name string
		o    func() string
	}{
		{"RS256", func() string { return sign(b, opts(k.rsa)) }},
		{"ES256", func() string { return sign(b, opts(k.ec256)) }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			cfg := config(b)
			token := tc.o()
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := oidc.Verify(ctx, token, cfg); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
