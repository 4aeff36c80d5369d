package server

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/s3fed/s3fed/internal/creds"
	"github.com/s3fed/s3fed/internal/identity"
	"github.com/s3fed/s3fed/internal/policy"
	"github.com/s3fed/s3fed/internal/s3"
	"github.com/s3fed/s3fed/internal/s3/sigv4"
	"github.com/s3fed/s3fed/internal/store"
)

func TestAuthorizerEdges(t *testing.T) {
	doc, err := policy.ParseDocument([]byte(`{"version":"v1alpha1","name":"p","statements":[
	  {"name":"all","effect":"Allow","actions":["*"],"resources":["*"],"principals":["role/admin"]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	set := &policy.Set{}
	if _, err := set.Replace("acme", []*policy.Document{doc}); err != nil {
		t.Fatal(err)
	}
	a := &authorizer{set: set}
	admin := identity.Identity{OrgID: "acme", PrincipalName: "saml/a", Role: "admin"}
	deny := []byte(`{"Version":"2012-10-17","Statement":[{"Sid":"NoPuts","Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::b/*"}]}`)
	tests := []struct {
		name    string
		req     s3.AuthzRequest
		allowed bool
	}{
		{"missing bucket: the caller's org decides", s3.AuthzRequest{Identity: admin, Action: "s3:CreateBucket", Resource: "b", Bucket: "b"}, true},
		{"owner's bucket, no policy", s3.AuthzRequest{Identity: admin, Action: "s3:PutObject", Resource: "b/k", Bucket: "b", BucketOwnerOrg: "acme"}, true},
		{"bucket Deny applies to the owner", s3.AuthzRequest{Identity: admin, Action: "s3:PutObject", Resource: "b/k", Bucket: "b", BucketOwnerOrg: "acme", BucketPolicy: deny}, false},
		{"same bucket, other action", s3.AuthzRequest{Identity: admin, Action: "s3:GetObject", Resource: "b/k", Bucket: "b", BucketOwnerOrg: "acme", BucketPolicy: deny}, true},
		{"unparsable stored policy denies", s3.AuthzRequest{Identity: admin, Action: "s3:GetObject", Resource: "b/k", Bucket: "b", BucketOwnerOrg: "acme", BucketPolicy: []byte(`{`)}, false},
		{"but never locks owners out of the policy", s3.AuthzRequest{Identity: admin, Action: "s3:PutBucketPolicy", Resource: "b", Bucket: "b", BucketOwnerOrg: "acme", BucketPolicy: []byte(`{`)}, true},
		{"another org's bucket without a grant", s3.AuthzRequest{Identity: admin, Action: "s3:GetObject", Resource: "b/k", Bucket: "b", BucketOwnerOrg: "other"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := a.Authorize(context.Background(), tc.req); got.Allowed != tc.allowed {
				t.Fatalf("allowed=%v (%s), want %v", got.Allowed, got.Reason, tc.allowed)
			}
		})
	}
	// A changed policy is re-parsed, not served from the cache.
	r := s3.AuthzRequest{Identity: admin, Action: "s3:PutObject", Resource: "b/k", Bucket: "b", BucketOwnerOrg: "acme", BucketPolicy: deny}
	if a.Authorize(context.Background(), r).Allowed {
		t.Fatal("deny not applied")
	}
	r.BucketPolicy = []byte(`{"Version":"2012-10-17","Statement":[{"Sid":"NoGets","Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}`)
	if !a.Authorize(context.Background(), r).Allowed {
		t.Fatal("stale cached bucket policy used after a change")
	}
}

type fakeClaims map[string]store.AccessKey

func (f fakeClaims) GetAccessKey(_ context.Context, id string) (store.AccessKey, error) {
	if k, ok := f[id]; ok {
		return k, nil
	}
	return store.AccessKey{}, store.ErrNotFound
}

func TestCredSourceErrors(t *testing.T) {
	kr := &creds.Keyring{Current: 1, Keys: map[uint16][]byte{1: make([]byte, 32)}}
	now := time.Unix(1_000_000, 0)
	live, expired, revoked := kr.NewAccessKeyID(), kr.NewAccessKeyID(), kr.NewAccessKeyID()
	src := credSource{&creds.Cache{Keys: kr, Now: func() time.Time { return now }, Source: fakeClaims{
		live:    {ID: live, OrgID: "acme", Role: "r", Expiry: now.Add(time.Hour), HasToken: true},
		expired: {ID: expired, OrgID: "acme", Expiry: now.Add(-time.Second)},
		revoked: {ID: revoked, OrgID: "acme", Expiry: now.Add(time.Hour), Revoked: true},
	}}}
	c, err := src.Credential(context.Background(), live)
	secret, _ := kr.Secret(live)
	token, _ := kr.SessionToken(live)
	if err != nil || c.SecretKey != secret || c.SessionToken != token || c.Identity.Role != "r" {
		t.Fatalf("live key: %+v %v", c, err)
	}
	for id, want := range map[string]error{expired: sigv4.ErrExpiredCredential, revoked: sigv4.ErrUnknownAccessKey,
		kr.NewAccessKeyID(): sigv4.ErrUnknownAccessKey, "AKIAIOSFODNN7EXAMPLE": sigv4.ErrUnknownAccessKey} {
		if _, err := src.Credential(context.Background(), id); !errors.Is(err, want) {
			t.Errorf("%s: got %v, want %v", id, err, want)
		}
	}
}
