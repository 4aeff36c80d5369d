package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/s3fed/s3fed/internal/idp"
	"github.com/s3fed/s3fed/internal/store/teststore"
)

// raw sends body as it is (json.Marshal would turn invalid UTF-8 into
// U+FFFD before the server ever saw it) and returns status and answer.
func (in *instance) raw(method, path string, body []byte, token string) (int, map[string]any) {
	in.t.Helper()
	req, _ := http.NewRequest(method, in.api+path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := in.client.Do(req)
	if err != nil {
		in.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(data, &m)
	return resp.StatusCode, m
}

// TestInvalidUTF8RefusedEverywhere sends a raw 0xFF inside a JSON string to
// every entry point that stores text, on each store: each answers its
// documented 4xx and nothing changes. Before, a bucket policy passed
// json.Valid and the policy parser and was stored raw (PostgreSQL refused
// the write: 500), and every JSON body's bad bytes were stored as U+FFFD,
// text the client never sent (issue 9, defect 15).
func TestInvalidUTF8RefusedEverywhere(t *testing.T) {
	teststore.Each(t, testInvalidUTF8RefusedEverywhere)
}

func testInvalidUTF8RefusedEverywhere(t *testing.T, b teststore.Backend) {
	in := start(t, b, "", "")
	all := `{"version":"v1alpha1","name":"all","statements":[{"name":"all","effect":"Allow","actions":["*"],"resources":["*"],"principals":["*"]}]}`
	cfg := in.org("acme", all)
	c := in.as("acme", cfg, "alice@acme.test", "admin")
	ctx := context.Background()
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("utf8")}); err != nil {
		t.Fatal(err)
	}
	orgTok := in.call("POST", "/v1/admin/orgs/acme/tokens", map[string]any{"description": "org"}, 201)["token"].(string)
	snapshot := func() map[string]any {
		t.Helper()
		out := map[string]any{}
		for _, p := range []string{"/v1/admin/orgs", "/v1/admin/orgs/acme/tokens", "/v1/admin/orgs/acme/workload-federation",
			"/v1/admin/orgs/acme/access-policies", "/v1/admin/orgs/acme/access-keys"} {
			out[p] = in.call("GET", p, nil, 200)
		}
		_, err := c.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: aws.String("utf8")})
		out["bucket policy"] = code(err)
		return out
	}
	before := snapshot()
	samlResp, err := idp.SignBase64(idp.SignOptions{KeyPair: in.kp, OrgID: "acme", Principal: "bob@acme.test", Role: "admin", PublicURL: in.api})
	if err != nil {
		t.Fatal(err)
	}
	policyDoc := strings.Replace(all, `"name":"all","effect"`, "\"name\":\"a\xffb\",\"effect\"", 1)
	tests := []struct {
		name, method, path, body, token string
		status                          int
		code                            string
	}{
		{"org", "POST", "/v1/admin/orgs", "{\"id\":\"utf\",\"name\":\"\xff\"}", in.token, 400, "invalid_json"},
		{"token description", "POST", "/v1/admin/orgs/acme/tokens", "{\"description\":\"ci \xfe\"}", in.token, 400, "invalid_json"},
		{"SAML config", "POST", "/v1/admin/orgs/acme/workload-federation/saml",
			fmt.Sprintf("{\"name\":\"n\xc3\",\"idpEntityId\":\"urn:x\",\"x509Certificate\":%q}", in.cert), in.token, 400, "invalid_json"},
		{"config update", "PATCH", "/v1/admin/orgs/acme/workload-federation/" + cfg, "{\"name\":\"\xed\xa0\x80\"}", in.token, 400, "invalid_json"},
		{"access policy", "PUT", "/v1/admin/orgs/acme/access-policies/all", policyDoc, in.token, 400, "invalid_json"},
		{"CoreWeave access policy", "POST", "/v1/cwobject/access-policy", `{"policy":` + policyDoc + `}`, orgTok, 400, "invalid_json"},
		{"CoreWeave access policy, bad orgId", "POST", "/v1/cwobject/access-policy", "{\"orgId\":\"acme\xff\",\"policy\":" + all + `}`, in.token, 400, "invalid_json"},
		{"policy simulation", "POST", "/v1/admin/orgs/acme/access-policies:simulate",
			"{\"principalName\":\"saml/\xff\",\"role\":\"admin\",\"action\":\"s3:GetObject\",\"resource\":\"b/k\"}", in.token, 400, "invalid_json"},
		{"revoke by principal", "POST", "/v1/cwobject/revoke-access-key/principal", "{\"principalName\":\"saml/alice@acme.test\xff\"}", orgTok, 400, "invalid_json"},
		{"revoke a key", "POST", "/v1/cwobject/revoke-access-key/access-key", "{\"accessKey\":\"\xff\"}", orgTok, 400, "invalid_json"},
		{"exchange key tags", "POST", "/v1/cwobject/temporary-credentials/saml",
			fmt.Sprintf("{\"orgId\":\"acme\",\"configId\":%q,\"samlResponse\":%q,\"attributes\":{\"team\":\"\xff\"}}", cfg, samlResp), "", 400, "invalid_json"},
		{"config test", "POST", "/v1/admin/orgs/acme/workload-federation/" + cfg + ":test",
			fmt.Sprintf("{\"samlResponse\":\"%s\xff\"}", samlResp), in.token, 400, "invalid_json"},
	}
	for _, tc := range tests {
		status, body := in.raw(tc.method, tc.path, []byte(tc.body), tc.token)
		if status != tc.status || body["code"] != tc.code {
			t.Errorf("%s: %d %v, want %d %s", tc.name, status, body, tc.status, tc.code)
		}
	}

	// S3 PutBucketPolicy takes the document as the body.
	_, err = c.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String("utf8"), Policy: aws.String(
		"{\"Version\":\"2012-10-17\",\"Statement\":[{\"Sid\":\"\xff\",\"Effect\":\"Deny\",\"Principal\":\"*\",\"Action\":\"s3:GetObject\",\"Resource\":\"arn:aws:s3:::utf8/*\"}]}")})
	if code(err) != "MalformedPolicy" {
		t.Errorf("PutBucketPolicy with invalid UTF-8: %v, want MalformedPolicy", err)
	}

	after := snapshot()
	for k := range before {
		if !reflect.DeepEqual(before[k], after[k]) {
			t.Errorf("%s changed by refused requests", k)
		}
	}
	// The same requests with valid text go through (the refusals were about
	// the bytes, not the requests).
	in.call("POST", "/v1/admin/orgs/acme/tokens", map[string]any{"description": "ci é"}, 201)
	if _, err := c.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String("utf8"), Policy: aws.String(
		`{"Version":"2012-10-17","Statement":[{"Sid":"é","Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::utf8/*"}]}`)}); err != nil {
		t.Fatalf("PutBucketPolicy with valid text: %v", err)
	}
}
