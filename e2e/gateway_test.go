package e2e

import (
	"bytes"
	"context"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/s3fed/s3fed/internal/store/teststore"
)

func seedPolicy(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../internal/policy/testdata/seed-policy-adapted.json")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestSeedPolicyThroughS3 runs every row of POLICY-EXAMPLES.md's adapted
// table as a real S3 call with keys from a real SAML exchange.
func TestSeedPolicyThroughS3(t *testing.T) { teststore.Each(t, testSeedPolicyThroughS3) }

func testSeedPolicyThroughS3(t *testing.T, b teststore.Backend) {
	in := start(t, b, "", "")
	cfg := in.org("acme", seedPolicy(t))
	ctx := context.Background()
	admin := in.as("acme", cfg, "root@acme.test", "admin-role")
	reader := in.as("acme", cfg, "rita@acme.test", "reader-role")
	writer := in.as("acme", cfg, "walt@acme.test", "writer-role")

	for _, b := range []string{"test-bucket", "other-bucket"} {
		if _, err := admin.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b)}); err != nil {
			t.Fatalf("admin creates %s: %v", b, err)
		}
	}
	put := func(c *s3.Client, b, k string) error {
		_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(b), Key: aws.String(k), Body: strings.NewReader("data")})
		return err
	}
	if err := put(admin, "other-bucket", "k"); err != nil {
		t.Fatal(err)
	}
	// Not public ("*" would be refused while the bucket's Block Public
	// Access is on, as it is for every new bucket).
	bucketPolicy := `{"Version":"2012-10-17","Statement":[{"Sid":"Readers","Effect":"Allow","Principal":{"AWS":"role/reader-role"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::test-bucket/*"}]}`

	rows := []struct {
		row       string
		call      func() error
		code      string // "" for allowed
		statement string // named in the AccessDenied message
	}{
		{"writer s3:PutObject test-bucket/k Allow", func() error { return put(writer, "test-bucket", "k") }, "", ""},
		{"reader s3:ListBucket test-bucket Allow", func() error {
			_, err := reader.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("test-bucket")})
			return err
		}, "", ""},
		{"reader s3:GetObject test-bucket/k Allow", func() error {
			out, err := reader.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("test-bucket"), Key: aws.String("k")})
			if err == nil {
				b, _ := io.ReadAll(out.Body)
				out.Body.Close()
				if string(b) != "data" {
					t.Errorf("read %q", b)
				}
			}
			return err
		}, "", ""},
		{"reader s3:GetBucketPolicy Deny", func() error {
			_, err := reader.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: aws.String("test-bucket")})
			return err
		}, "AccessDenied", "object-reader-deny"},
		{"reader s3:ListBucketMultipartUploads Deny", func() error {
			_, err := reader.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String("test-bucket")})
			return err
		}, "AccessDenied", "object-reader-deny"},
		{"reader s3:PutObject Deny (implicit)", func() error { return put(reader, "test-bucket", "r") }, "AccessDenied", ""},
		{"writer s3:PutBucketPolicy Deny", func() error {
			_, err := writer.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String("test-bucket"), Policy: aws.String(bucketPolicy)})
			return err
		}, "AccessDenied", "object-writer-deny"},
		{"admin s3:PutBucketPolicy Allow", func() error {
			_, err := admin.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String("test-bucket"), Policy: aws.String(bucketPolicy)})
			return err
		}, "", ""},
		{"writer s3:GetBucketPolicy Allow", func() error {
			out, err := writer.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: aws.String("test-bucket")})
			if err == nil && !strings.Contains(aws.ToString(out.Policy), "Readers") {
				t.Errorf("policy %q", aws.ToString(out.Policy))
			}
			return err
		}, "", ""},
		{"writer s3:DeleteObject other-bucket/k Deny (implicit)", func() error {
			_, err := writer.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("other-bucket"), Key: aws.String("k")})
			return err
		}, "AccessDenied", ""},
		{"writer s3:DeleteObject test-bucket/k Allow", func() error {
			_, err := writer.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("test-bucket"), Key: aws.String("k")})
			return err
		}, "", ""},
		{"reader s3:ListAllMyBuckets Deny (implicit)", func() error {
			_, err := reader.ListBuckets(ctx, &s3.ListBucketsInput{})
			return err
		}, "AccessDenied", ""},
		{"admin s3:DeleteBucket test-bucket Allow", func() error {
			_, err := admin.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("test-bucket")})
			return err
		}, "", ""},
	}
	for _, r := range rows {
		err := r.call()
		if got := code(err); got != r.code {
			t.Fatalf("%s: got %q (%v), want %q", r.row, got, err, r.code)
		}
		if r.statement != "" && !strings.Contains(err.Error(), r.statement) {
			t.Fatalf("%s: AccessDenied does not name %s: %v", r.row, r.statement, err)
		}
	}
	// Every decision is in the audit log with its deciding statement.
	evs := in.call("GET", "/v1/admin/orgs/acme/audit?limit=1000", nil, 200)["events"].([]any)
	found := false
	for _, e := range evs {
		ev := e.(map[string]any)
		if ev["kind"] == "s3" && ev["action"] == "s3:PutBucketPolicy" && ev["outcome"] == "Deny" {
			d, _ := ev["details"].(map[string]any)
			found = strings.Contains(d["statement"].(string), "object-writer-deny") && ev["principalName"] == "saml/walt@acme.test"
		}
	}
	if !found {
		t.Fatal("the writer's denied PutBucketPolicy is not audited with its statement")
	}
}

// TestCrossOrgAccess: another org sees nothing unless a bucket policy grants
// its org, and then only what its own policies allow too.
func TestCrossOrgAccess(t *testing.T) { teststore.Each(t, testCrossOrgAccess) }

func testCrossOrgAccess(t *testing.T, b teststore.Backend) {
	in := start(t, b, "", "")
	all := `{"version":"v1alpha1","name":"all","statements":[{"name":"all","effect":"Allow","actions":["*"],"resources":["*"],"principals":["*"]}]}`
	acmeCfg := in.org("acme", all)
	betaCfg := in.org("beta", all)
	ctx := context.Background()
	acme := in.as("acme", acmeCfg, "a@acme.test", "admin")
	beta := in.as("beta", betaCfg, "b@beta.test", "admin")
	if _, err := acme.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("shared")}); err != nil {
		t.Fatal(err)
	}
	if _, err := acme.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("shared"), Key: aws.String("k"), Body: bytes.NewReader([]byte("x"))}); err != nil {
		t.Fatal(err)
	}
	get := func() error {
		out, err := beta.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("shared"), Key: aws.String("k")})
		if err == nil {
			out.Body.Close()
		}
		return err
	}
	if c := code(get()); c != "AccessDenied" {
		t.Fatalf("beta reads acme's bucket without a grant: %q", c)
	}
	lb, err := beta.ListBuckets(ctx, &s3.ListBucketsInput{})
	if err != nil || len(lb.Buckets) != 0 {
		t.Fatalf("beta lists acme's buckets: %v %v", lb, err)
	}
	grant := `{"Version":"2012-10-17","Statement":[{"Sid":"BetaReads","Effect":"Allow","Principal":"*","Action":"s3:GetObject",
	  "Resource":"arn:aws:s3:::shared/*","Condition":{"StringEquals":{"cw:PrincipalOrgID":"beta"}}}]}`
	if _, err := beta.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String("shared"), Policy: aws.String(grant)}); code(err) != "AccessDenied" {
		t.Fatalf("beta set acme's bucket policy: %v", err)
	}
	if _, err := acme.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String("shared"), Policy: aws.String(grant)}); err != nil {
		t.Fatal(err)
	}
	if err := get(); err != nil {
		t.Fatalf("beta cannot read after the grant: %v", err)
	}
	if _, err := beta.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("shared"), Key: aws.String("w"), Body: bytes.NewReader([]byte("x"))}); code(err) != "AccessDenied" {
		t.Fatalf("beta writes beyond the grant: %v", err)
	}
	// Beta's own org policies must allow too: with none, the grant is not enough.
	in.call("DELETE", "/v1/admin/orgs/beta/access-policies/all", nil, 200)
	if c := code(get()); c != "AccessDenied" {
		t.Fatalf("grant honoured although beta's own policies deny: %q", c)
	}
}

// TestBucketPolicyDenyAppliesToOwner: a bucket-policy Deny on insecure
// transport rejects the owning org's plain-HTTP requests, and never locks the
// owners out of the bucket policy itself.
func TestBucketPolicyDenyAppliesToOwner(t *testing.T) {
	teststore.Each(t, testBucketPolicyDenyAppliesToOwner)
}

func testBucketPolicyDenyAppliesToOwner(t *testing.T, b teststore.Backend) {
	in := start(t, b, "", "")
	all := `{"version":"v1alpha1","name":"all","statements":[{"name":"all","effect":"Allow","actions":["*"],"resources":["*"],"principals":["*"]}]}`
	cfg := in.org("acme", all)
	ctx := context.Background()
	c := in.as("acme", cfg, "a@acme.test", "admin")
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("secure")}); err != nil {
		t.Fatal(err)
	}
	deny := `{"Version":"2012-10-17","Statement":[{"Sid":"TLSOnly","Effect":"Deny","Principal":"*","Action":"s3:*",
	  "Resource":["arn:aws:s3:::secure","arn:aws:s3:::secure/*"],"Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}`
	if _, err := c.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String("secure"), Policy: aws.String(deny)}); err != nil {
		t.Fatal(err)
	}
	_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("secure"), Key: aws.String("k"), Body: strings.NewReader("x")})
	if code(err) != "AccessDenied" || !strings.Contains(err.Error(), "TLSOnly") {
		t.Fatalf("plain-HTTP PUT despite TLS-only bucket policy: %v", err)
	}
	if _, err := c.DeleteBucketPolicy(ctx, &s3.DeleteBucketPolicyInput{Bucket: aws.String("secure")}); err != nil {
		t.Fatalf("owner locked out of its bucket policy: %v", err)
	}
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("secure"), Key: aws.String("k"), Body: strings.NewReader("x")}); err != nil {
		t.Fatal(err)
	}
}

// TestRevokedKeyFailsAtOnce: a revoked key fails at once with
// InvalidAccessKeyId.
func TestRevokedKeyFailsAtOnce(t *testing.T) { teststore.Each(t, testRevokedKeyFailsAtOnce) }

func testRevokedKeyFailsAtOnce(t *testing.T, b teststore.Backend) {
	in := start(t, b, "", "")
	all := `{"version":"v1alpha1","name":"all","statements":[{"name":"all","effect":"Allow","actions":["*"],"resources":["*"],"principals":["*"]}]}`
	cfg := in.org("acme", all)
	ctx := context.Background()
	ak, sk := in.keys("acme", cfg, "a@acme.test", "admin")
	c := in.s3Client(ak, sk)
	if _, err := c.ListBuckets(ctx, &s3.ListBucketsInput{}); err != nil {
		t.Fatal(err)
	}
	// An answered request is in the audit log as soon as the log is read.
	evs := in.call("GET", "/v1/admin/orgs/acme/audit?limit=1", nil, 200)["events"].([]any)
	if ev := evs[0].(map[string]any); ev["action"] != "s3:ListAllMyBuckets" || ev["accessKeyId"] != ak {
		t.Fatalf("newest audit event is not the ListBuckets just answered: %v", ev)
	}
	in.call("POST", "/v1/cwobject/revoke-access-key/access-key", map[string]any{"orgId": "acme", "accessKey": ak}, 200)
	if _, err := c.ListBuckets(ctx, &s3.ListBucketsInput{}); code(err) != "InvalidAccessKeyId" {
		t.Fatalf("revoked key: %v", err)
	}
}
