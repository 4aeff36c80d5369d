package s3_test

import (
	"context"
	"log"
	"net/http"

	"github.com/s3fed/s3fed/internal/s3"
	"github.com/s3fed/s3fed/internal/s3/sigv4"
	"github.com/s3fed/s3fed/internal/storage/fs"
)

// allowOwners is a stand-in Authorizer: callers may act on their own org's
// buckets only. The server wires the policy engine here instead.
type allowOwners struct{}

func (allowOwners) Authorize(_ context.Context, req s3.AuthzRequest) s3.AuthzDecision {
	ok := req.BucketOwnerOrg == "" || req.BucketOwnerOrg == req.Identity.OrgID
	return s3.AuthzDecision{Allowed: ok}
}

// Example shows how the server package wires the front door: the SigV4
// verifier authenticates, the policy engine authorises, the state store owns
// buckets, and the fs store holds the bytes.
func Example() {
	var (
		creds   sigv4.CredentialSource // internal/creds, cached
		buckets s3.Buckets             // internal/store
	)
	store, err := fs.Open("/var/lib/s3fed/objects", fs.Options{})
	if err != nil {
		log.Fatal(err)
	}
	front, err := s3.New(s3.Config{
		Authenticator: &sigv4.Verifier{Region: "us-east-1", Service: "s3", Source: creds},
		Authorizer:    allowOwners{},
		Buckets:       buckets,
		Backend:       store,
		Domain:        "s3.example.com", // bucket.s3.example.com works too
	})
	if err != nil {
		log.Fatal(err)
	}
	log.Fatal(http.ListenAndServe("127.0.0.1:9000", front))
}
