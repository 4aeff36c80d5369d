package server_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/s3fed/s3fed/internal/idp"
	"github.com/s3fed/s3fed/internal/store/teststore"
)

// TestS3CompatOnEveryStore runs, through a real server with keys from a
// real SAML exchange and the real policy engine, what issue 18 added on the
// state side: Block Public Access kept per bucket (and across a restart),
// a public bucket policy refused while it is on, GetBucketPolicyStatus, a
// browser POST upload signed with the exchanged key, and an owner's GET in
// a deleted bucket answered NoSuchBucket.
func TestS3CompatOnEveryStore(t *testing.T) { teststore.Each(t, testS3CompatOnEveryStore) }

func testS3CompatOnEveryStore(t *testing.T, b teststore.Backend) {
	t.Setenv("AWS_CA_BUNDLE", "")
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "data")
	dbURL := b.DatabaseURL(t)
	cfg, out, _ := testConfig(t, dir)
	cfg.DatabaseURL = dbURL
	r := start(t, cfg)
	root := out.rootToken()
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
	// The writer may do anything to its bucket's objects and the bucket.
	call("PUT", "/v1/admin/orgs/acme/access-policies/writers", map[string]any{"version": "v1alpha1", "name": "writers",
		"statements": []any{map[string]any{"name": "w", "effect": "Allow", "actions": []string{"s3:*"}, "resources": []string{"*"}, "principals": []string{"role/writer"}}}}, 201)
	resp, err := idp.SignBase64(idp.SignOptions{KeyPair: kp, OrgID: "acme", Principal: "alice@acme.test", Role: "writer", PublicURL: api})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", api+"/v1/cwobject/temporary-credentials/saml",
		strings.NewReader(fmt.Sprintf(`{"orgId":"acme","configId":%q,"samlResponse":%q}`, cfgID, resp)))
	req.Header.Set("Content-Type", "application/json")
	hr, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(hr.Body)
	hr.Body.Close()
	var k struct{ AccessKeyID, SecretKey string }
	if hr.StatusCode != 200 || json.Unmarshal(raw, &k) != nil {
		t.Fatalf("exchange: %d %s", hr.StatusCode, raw)
	}
	s3url := "http://" + r.srv.S3Addr()
	newClient := func() *s3.Client {
		return s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(s3url), UsePathStyle: true,
			Credentials: credentials.NewStaticCredentialsProvider(k.AccessKeyID, k.SecretKey, "")})
	}
	c := newClient()
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("compat")}); err != nil {
		t.Fatal(err)
	}

	// Block Public Access: on for a new bucket; a public policy refused.
	pab, err := c.GetPublicAccessBlock(ctx, &s3.GetPublicAccessBlockInput{Bucket: aws.String("compat")})
	if err != nil || !aws.ToBool(pab.PublicAccessBlockConfiguration.BlockPublicPolicy) || !aws.ToBool(pab.PublicAccessBlockConfiguration.RestrictPublicBuckets) {
		t.Fatalf("new bucket's public access block: %+v %v", pab, err)
	}
	public := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::compat/*"}]}`
	if _, err := c.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String("compat"), Policy: aws.String(public)}); s3Code(err) != "AccessDenied" {
		t.Fatalf("public policy while blocked: %v", err)
	}
	if _, err := c.PutPublicAccessBlock(ctx, &s3.PutPublicAccessBlockInput{Bucket: aws.String("compat"),
		PublicAccessBlockConfiguration: &types.PublicAccessBlockConfiguration{BlockPublicAcls: aws.Bool(true), IgnorePublicAcls: aws.Bool(true),
			BlockPublicPolicy: aws.Bool(false), RestrictPublicBuckets: aws.Bool(true)}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String("compat"), Policy: aws.String(public)}); err != nil {
		t.Fatalf("public policy, BlockPublicPolicy off: %v", err)
	}
	st, err := c.GetBucketPolicyStatus(ctx, &s3.GetBucketPolicyStatusInput{Bucket: aws.String("compat")})
	if err != nil || !aws.ToBool(st.PolicyStatus.IsPublic) {
		t.Fatalf("policy status: %+v %v", st, err)
	}

	// A browser upload with a POST policy signed by the exchanged key.
	now := time.Now().UTC()
	date := now.Format("20060102")
	credScope := k.AccessKeyID + "/" + date + "/us-east-1/s3/aws4_request"
	polDoc, _ := json.Marshal(map[string]any{"expiration": now.Add(time.Hour).Format(time.RFC3339), "conditions": []any{
		map[string]string{"bucket": "compat"}, []any{"starts-with", "$key", "in/"},
		map[string]string{"x-amz-algorithm": "AWS4-HMAC-SHA256"}, map[string]string{"x-amz-credential": credScope},
		map[string]string{"x-amz-date": now.Format("20060102T150405Z")}}})
	pol := base64.StdEncoding.EncodeToString(polDoc)
	key := []byte("AWS4" + k.SecretKey)
	for _, s := range []string{date, "us-east-1", "s3", "aws4_request"} {
		m := hmac.New(sha256.New, key)
		m.Write([]byte(s))
		key = m.Sum(nil)
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(pol))
	var form bytes.Buffer
	mw := multipart.NewWriter(&form)
	for _, f := range [][2]string{{"key", "in/form.txt"}, {"policy", pol}, {"x-amz-algorithm", "AWS4-HMAC-SHA256"},
		{"x-amz-credential", credScope}, {"x-amz-date", now.Format("20060102T150405Z")}, {"x-amz-signature", hex.EncodeToString(m.Sum(nil))}} {
		_ = mw.WriteField(f[0], f[1])
	}
	fw, _ := mw.CreateFormFile("file", "form.txt")
	_, _ = fw.Write([]byte("posted"))
	_ = mw.Close()
	preq, _ := http.NewRequest("POST", s3url+"/compat", &form)
	preq.Header.Set("Content-Type", mw.FormDataContentType())
	presp, err := client.Do(preq)
	if err != nil {
		t.Fatal(err)
	}
	praw, _ := io.ReadAll(presp.Body)
	presp.Body.Close()
	if presp.StatusCode != 204 {
		t.Fatalf("POST upload: %d %s", presp.StatusCode, praw)
	}
	obj, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("compat"), Key: aws.String("in/form.txt")})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(obj.Body)
	obj.Body.Close()
	if string(body) != "posted" {
		t.Fatalf("posted object %q", body)
	}

	// The configuration survives a restart (it is state, not cache).
	r.stop()
	cfg2, _, _ := testConfig(t, dir)
	cfg2.DatabaseURL = dbURL
	r = start(t, cfg2)
	s3url = "http://" + r.srv.S3Addr()
	c = newClient()
	pab, err = c.GetPublicAccessBlock(ctx, &s3.GetPublicAccessBlockInput{Bucket: aws.String("compat")})
	if err != nil || aws.ToBool(pab.PublicAccessBlockConfiguration.BlockPublicPolicy) || !aws.ToBool(pab.PublicAccessBlockConfiguration.BlockPublicAcls) {
		t.Fatalf("public access block after restart: %+v %v", pab, err)
	}

	// An owner reading in a bucket it deleted gets NoSuchBucket, not
	// AccessDenied.
	if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("compat"), Key: aws.String("in/form.txt")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("compat")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("compat"), Key: aws.String("in/form.txt")}); s3Code(err) != "NoSuchBucket" {
		t.Fatalf("GET in a deleted bucket: %v", err)
	}
}
