package policy_test

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/s3fed/s3fed/internal/policy"
)

// An org's documents are parsed, compiled once into an Engine, and every S3
// request is then decided against it.
func Example() {
	doc, err := policy.ParseDocument([]byte(`{"version": "v1alpha1", "name": "give-saml-access",
	 "statements": [
	  {"name": "object-reader-allow", "effect": "Allow", "actions": ["s3:Get*", "s3:List*"],
	   "resources": ["test-bucket", "test-bucket/*"], "principals": ["role/reader-role"]},
	  {"name": "object-reader-deny", "effect": "Deny", "actions": ["s3:GetBucketPolicy"],
	   "resources": ["test-bucket"], "principals": ["role/reader-role"]}]}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	engine, err := policy.Compile("abc123", []*policy.Document{doc})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, req := range []policy.Request{
		{OrgID: "abc123", PrincipalName: "saml/alice@example.com", Role: "reader-role", Action: "s3:GetObject", Resource: "test-bucket/report.csv"},
		{OrgID: "abc123", PrincipalName: "saml/alice@example.com", Role: "reader-role", Action: "s3:GetBucketPolicy", Resource: "test-bucket"},
		{OrgID: "abc123", PrincipalName: "saml/alice@example.com", Role: "reader-role", Action: "s3:PutObject", Resource: "test-bucket/x"},
	} {
		d := engine.Decide(req)
		fmt.Printf("%s %s: %s\n", req.Action, d.Effect, d.Reason)
	}
	// Output:
	// s3:GetObject Allow: allowed by statement "object-reader-allow" of access policy "give-saml-access"
	// s3:GetBucketPolicy Deny: explicitly denied by statement "object-reader-deny" of access policy "give-saml-access"
	// s3:PutObject Deny: implicitly denied: no statement of the organization's access policies allows this action on this resource
}

// A refused document lists every problem at once.
func ExampleParseDocument_invalid() {
	_, err := policy.ParseDocument([]byte(`{"version": "v1alpha1", "name": "p",
	 "statements": [{"name": "s", "effect": "allow", "actions": ["GetObject"],
	                 "resources": ["b/*"], "principals": ["role/*"]}]}`))
	var ve *policy.ValidationError
	if errors.As(err, &ve) {
		for _, p := range ve.Problems {
			fmt.Println(p)
		}
	}
	// Output:
	// statement "s", effect: must be "Allow" or "Deny" (case-sensitive), got "allow"
	// statement "s", actions[0]: "GetObject" is not an action: use "*", "s3:NAME" or "cwobject:NAME" (wildcards * and ? allowed in NAME)
	// statement "s", principals[0]: "role/*": no wildcards inside a principal ("*" alone means every principal of the org)
}

// A bucket policy lets another org read a bucket, and only within what that
// org's own policies allow.
func ExampleAuthorize() {
	partnerDoc, _ := policy.ParseDocument([]byte(`{"version": "v1alpha1", "name": "partner-read",
	 "statements": [{"name": "read-shared", "effect": "Allow", "actions": ["s3:GetObject"],
	                 "resources": ["shared/*"], "principals": ["*"]}]}`))
	partner, _ := policy.Compile("org-b", []*policy.Document{partnerDoc})
	bucket, err := policy.ParseBucketPolicy([]byte(`{"Version": "2012-10-17", "Statement": [
	  {"Sid": "grant-org-b", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
	   "Resource": "arn:aws:s3:::shared/*", "Condition": {"StringEquals": {"cw:PrincipalOrgID": "org-b"}}}]}`), "shared")
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := policy.BucketContext{SourceIP: netip.MustParseAddr("192.0.2.10"), SecureTransport: true}
	req := policy.Request{OrgID: "org-b", PrincipalName: "oidc/ci-job", Action: "s3:GetObject", Resource: "shared/data.bin"}
	fmt.Println(policy.Authorize(partner, bucket, "org-a", req, ctx).Effect)
	req.Action = "s3:PutObject"
	fmt.Println(policy.Authorize(partner, bucket, "org-a", req, ctx).Effect)
	// Output:
	// Allow
	// Deny
}
