package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/s3fed/s3fed/internal/idp"
	"github.com/s3fed/s3fed/internal/store/teststore"
)

// TestServeOnEveryStore runs the whole path a user takes through one
// server, on each state store: admin set-up, a SAML exchange, S3 with the
// keys, revocation, the audit log, then a restart on the same data dir and
// database that must keep everything (state that lives in PostgreSQL, not
// in the data dir, included).
func TestServeOnEveryStore(t *testing.T) { teststore.Each(t, testServeOnEveryStore) }

func testServeOnEveryStore(t *testing.T, b teststore.Backend) {
	t.Setenv("AWS_CA_BUNDLE", "")
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "data")
	dbURL := b.DatabaseURL(t)
	cfg, out, _ := testConfig(t, dir)
	cfg.DatabaseURL = dbURL
	r := start(t, cfg)
	root := out.rootToken()
	if root == "" {
		t.Fatalf("no root token banner:\n%s", out)
	}
	api := "http://" + r.srv.APIAddr()
	call := func(method, path string, body any, want int) map[string]any {
		t.Helper()
		data, _ := json.Marshal(body)
		req, _ := http.NewRequest(method, api+path, bytes.NewReader(data))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+root)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		var m map[string]any
		_ = json.Unmarshal(raw, &m)
		if resp.StatusCode != want {
			t.Fatalf("%s %s: %d %s, want %d", method, path, resp.StatusCode, raw, want)
		}
		return m
	}
	certPEM, keyPEM, err := idp.Keygen(idp.KeygenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	kp, err := idp.ParseKeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	call("POST", "/v1/admin/orgs", map[string]any{"id": "acme"}, 201)
	cfgID := call("POST", "/v1/admin/orgs/acme/workload-federation/saml",
		map[string]any{"name": "idp", "idpEntityId": idp.DefaultCommonName, "x509Certificate": string(certPEM)}, 201)["configId"].(string)
	call("PUT", "/v1/admin/orgs/acme/access-policies/all", map[string]any{"version": "v1alpha1", "name": "all",
		"statements": []any{map[string]any{"name": "all", "effect": "Allow", "actions": []string{"*"}, "resources": []string{"*"}, "principals": []string{"*"}}}}, 201)
	type keys struct{ AccessKeyID, SecretKey string }
	s3c := func(k keys) *s3.Client {
		return s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String("http://" + r.srv.S3Addr()), UsePathStyle: true,
			Credentials: credentials.NewStaticCredentialsProvider(k.AccessKeyID, k.SecretKey, "")})
	}
	exchange := func(publicURL string) keys {
		t.Helper()
		resp, err := idp.SignBase64(idp.SignOptions{KeyPair: kp, OrgID: "acme", Principal: "alice@acme.test", Role: "writer", PublicURL: publicURL})
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest("POST", publicURL+"/v1/cwobject/temporary-credentials/saml",
			strings.NewReader(fmt.Sprintf(`{"orgId":"acme","configId":%q,"samlResponse":%q}`, cfgID, resp)))
		req.Header.Set("Content-Type", "application/json")
		hr, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer hr.Body.Close()
		raw, _ := io.ReadAll(hr.Body)
		var k keys
		if hr.StatusCode != 200 || json.Unmarshal(raw, &k) != nil {
			t.Fatalf("exchange: %d %s", hr.StatusCode, raw)
		}
		return k
	}
	getK := func(c *s3.Client) error {
		_, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("state"), Key: aws.String("k")})
		return err
	}
	c := s3c(exchange(api))
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("state")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("state"), Key: aws.String("k"), Body: strings.NewReader("kept")}); err != nil {
		t.Fatal(err)
	}
	revoked := exchange(api)
	if err := getK(s3c(revoked)); err != nil {
		t.Fatal(err)
	}
	call("POST", "/v1/cwobject/revoke-access-key/principal", map[string]any{"principalName": "saml/alice@acme.test", "orgId": "acme"}, 200)
	if err := getK(s3c(revoked)); s3Code(err) != "InvalidAccessKeyId" {
		t.Fatalf("revoked key: %v, want InvalidAccessKeyId", err)
	}
	audit := call("GET", "/v1/admin/orgs/acme/audit?limit=1000", nil, 200)
	if !strings.Contains(fmt.Sprint(audit["events"]), "s3:PutObject") {
		t.Fatalf("audit lacks the S3 write: %v", audit)
	}
	r.stop()

	cfg2, out2, _ := testConfig(t, dir)
	cfg2.DatabaseURL = dbURL
	r = start(t, cfg2)
	if out2.rootToken() != "" {
		t.Fatalf("restart printed a new root token:\n%s", out2)
	}
	api = "http://" + r.srv.APIAddr()
	if got := call("GET", "/v1/admin/orgs/acme", nil, 200); got["id"] != "acme" {
		t.Fatalf("org after restart: %v", got)
	}
	c = s3c(exchange(api))
	obj, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("state"), Key: aws.String("k")})
	if err != nil {
		t.Fatalf("object after restart: %v", err)
	}
	body, _ := io.ReadAll(obj.Body)
	obj.Body.Close()
	if string(body) != "kept" {
		t.Fatalf("object after restart: %q", body)
	}
	if err := getK(s3c(revoked)); s3Code(err) != "InvalidAccessKeyId" {
		t.Fatalf("revoked key after restart: %v, want InvalidAccessKeyId", err)
	}
}

func s3Code(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	if err != nil {
		return err.Error()
	}
	return ""
}
