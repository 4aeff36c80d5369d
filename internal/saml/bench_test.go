package saml

import (
	"context"
	"testing"
	"time"
)

// nopReplay accepts every claim, so one Response can be validated repeatedly in a benchmark.
type nopReplay struct{}

func (nopReplay) Claim(context.Context, string, string, time.Time) error { return nil }

// BenchmarkValidateResponse validates a seed-shaped Response (both Response and Assertion
// signed, exc-c14n, RSA-2048/SHA-256) from base64, as the exchange endpoint does.
func BenchmarkValidateResponse(b *testing.B) {
	keys(b)
	x := xmlOf(b, resp{}, signBoth)
	in := b64(x)
	cfg := testConfig(b)
	cfg.Replay = nopReplay{}
	ctx := context.Background()
	b.SetBytes(int64(len(x)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Validate(ctx, in, cfg); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkValidateAssertionSigned is the one-signature shape (Okta's default).
func BenchmarkValidateAssertionSigned(b *testing.B) {
	keys(b)
	in := b64(xmlOf(b, resp{}, signAsrtOnly))
	cfg := testConfig(b)
	cfg.Replay = nopReplay{}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Validate(ctx, in, cfg); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPrefilter isolates layer 1.
func BenchmarkPrefilter(b *testing.B) {
	keys(b)
	x := xmlOf(b, resp{}, signBoth)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := prefilter(x); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkValidateMaxSize is a both-signed Response just under the 256 KiB cap: the per-request
// memory bound that matters for parallel maximum-size requests.
func BenchmarkValidateMaxSize(b *testing.B) {
	keys(b)
	x := maxSizeResponse(b)
	in := b64(x)
	cfg := testConfig(b)
	cfg.Replay = nopReplay{}
	ctx := context.Background()
	b.SetBytes(int64(len(x)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Validate(ctx, in, cfg); err != nil {
			b.Fatal(err)
		}
	}
}
