package sts

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/s3fed/s3fed/internal/saml"
	"github.com/s3fed/s3fed/internal/store/teststore"
)

// TestReplayCacheKeys checks the replay claim on every store: the key is
// scoped by kind and org, no choice of issuer or ID makes two claims one key,
// and an assertion valid past what the store can keep is still claimed
// once.
func TestReplayCacheKeys(t *testing.T) {
	teststore.Each(t, func(t *testing.T, b teststore.Backend) {
		ctx := context.Background()
		st := b.Open(t)
		now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
		cache := func(kind, org string) replayCache {
			return replayCache{s: st, now: func() time.Time { return now }, kind: kind, orgID: org}
		}
		until := now.Add(time.Hour)
		claims := []struct {
			c          replayCache
			issuer, id string
		}{
			{cache("saml", "acme"), "https://idp", "_a1"},
			{cache("saml", "other"), "https://idp", "_a1"}, // same IdP and ID, another org
			{cache("oidc", "acme"), "https://idp", "_a1"},  // same org, another kind
			{cache("saml", "acme"), "a\x00b", "c"},         // separators cannot merge parts
			{cache("saml", "acme"), "a", "b\x00c"},
			{cache("saml", "acme"), "a\x00", "b\x00c"},
			{cache("saml", "acme\x00saml"), "a", "b"},
			{cache("saml", "acme"), "\x00saml\x00a", "b"},
			{cache("saml", ""), "", ""},
			{cache("saml", "acme"), "https://idp", "_far"}, // NotOnOrAfter in 9999
		}
		for i, c := range claims {
			u := until
			if c.id == "_far" {
				u = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)
			}
			if err := c.c.Claim(ctx, c.issuer, c.id, u); err != nil {
				t.Fatalf("claim %d (%s/%q/%q/%q): %v", i, c.c.kind, c.c.orgID, c.issuer, c.id, err)
			}
		}
		for i, c := range claims {
			if err := c.c.Claim(ctx, c.issuer, c.id, until); !errors.Is(err, saml.ErrReplayed) {
				t.Fatalf("second claim %d (%s/%q/%q/%q): %v, want ErrReplayed", i, c.c.kind, c.c.orgID, c.issuer, c.id, err)
			}
		}
		// The far claim still holds long after the others expired.
		now = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
		if err := cache("saml", "acme").Claim(ctx, "https://idp", "_far", until); !errors.Is(err, saml.ErrReplayed) {
			t.Fatalf("far claim in 2200: %v", err)
		}
		if err := cache("saml", "acme").Claim(ctx, "https://idp", "_a1", now.Add(time.Hour)); err != nil {
			t.Fatalf("expired claim: %v", err)
		}
	})
}
