package server_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/s3fed/s3fed/internal/identity"
	"github.com/s3fed/s3fed/internal/store"
)

// linesWith returns the JSON log lines that carry request ID id.
func linesWith(logs, id string) []map[string]any {
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(logs), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil && m["request_id"] == id {
			out = append(out, m)
		}
	}
	return out
}

// causeLogged reports whether an ERROR line of request id carries cause.
func causeLogged(logs, id, cause string) bool {
	for _, m := range linesWith(logs, id) {
		if e, _ := m["err"].(string); m["level"] == "ERROR" && strings.Contains(e, cause) {
			return true
		}
	}
	return false
}

// TestServerErrorsLogCause: with the state store gone, every listener
// answers 5xx and each answer's log line carries the store's error and the
// request ID the client saw (JSON API, exchange, /readyz, S3).
func TestServerErrorsLogCause(t *testing.T) {
	t.Setenv("AWS_CA_BUNDLE", "")
	cfg, out, logs := testConfig(t, t.TempDir())
	r := start(t, cfg)
	tok := out.rootToken()
	api := "http://" + r.srv.APIAddr()
	// A well-formed key the credential cache has never seen: its lookup
	// must reach the store.
	_, cred, err := r.srv.Keys.Mint(identity.Identity{OrgID: "acme", PrincipalName: "saml/alice", Role: "r"}, nil, time.Hour, time.Now(), false)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.srv.Store.Close(); err != nil {
		t.Fatal(err)
	}
	const cause = "database is closed"

	for _, c := range []struct {
		name, method, path, body string
		auth                     bool
	}{
		{"admin", "GET", "/v1/admin/orgs", "", true},
		{"exchange", "POST", "/v1/cwobject/temporary-credentials/saml", `{"orgId":"acme","configId":"c","samlResponse":"x"}`, false},
		{"readyz", "GET", "/readyz", "", false},
	} {
		req, _ := http.NewRequest(c.method, api+c.path, strings.NewReader(c.body))
		req.Header.Set("Content-Type", "application/json")
		if c.auth {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		id := resp.Header.Get("X-Request-Id")
		if resp.StatusCode < 500 {
			t.Errorf("%s with the store closed: %d, want 5xx", c.name, resp.StatusCode)
			continue
		}
		if !causeLogged(logs.String(), id, cause) {
			t.Errorf("%s: %d logged without its cause %q: %v", c.name, resp.StatusCode, cause, linesWith(logs.String(), id))
		}
	}

	c := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String("http://" + r.srv.S3Addr()), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(cred.Key.ID, cred.Secret, ""), RetryMaxAttempts: 1})
	_, err = c.ListBuckets(t.Context(), &s3.ListBucketsInput{})
	var re *awshttp.ResponseError
	if !errors.As(err, &re) || re.HTTPStatusCode() < 500 {
		t.Fatalf("S3 with the store closed: %v", err)
	}
	if id := re.ServiceRequestID(); !causeLogged(logs.String(), id, cause) {
		t.Errorf("S3 %d logged without its cause: %v", re.HTTPStatusCode(), linesWith(logs.String(), id))
	}
}

// TestNotImplementedIsNotAnError: an S3 operation s3fed does not implement
// answers 501 NotImplemented; that is neither a server error (no ERROR log
// line, an INFO one saying what) nor a policy decision (audited with
// outcome "failure" and code NotImplemented, not "Deny").
func TestNotImplementedIsNotAnError(t *testing.T) {
	t.Setenv("AWS_CA_BUNDLE", "")
	cfg, out, logs := testConfig(t, t.TempDir())
	r := start(t, cfg)
	tok := out.rootToken()
	api := "http://" + r.srv.APIAddr()
	req, _ := http.NewRequest("POST", api+"/v1/admin/orgs", strings.NewReader(`{"id":"acme"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+tok)
	if resp, err := client.Do(req); err != nil || resp.StatusCode != 201 {
		t.Fatalf("create org: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	rec, cred, err := r.srv.Keys.Mint(identity.Identity{OrgID: "acme", ConfigID: "c", PrincipalName: "saml/alice", Role: "r"}, nil, time.Hour, time.Now(), false)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.srv.Store.Update(t.Context(), func(tx store.Tx) error { return tx.CreateAccessKey(t.Context(), rec) }); err != nil {
		t.Fatal(err)
	}
	c := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String("http://" + r.srv.S3Addr()), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(cred.Key.ID, cred.Secret, ""), RetryMaxAttempts: 1})
	_, err = c.GetBucketCors(t.Context(), &s3.GetBucketCorsInput{Bucket: aws.String("some-bucket")})
	var re *awshttp.ResponseError
	if !errors.As(err, &re) || re.HTTPStatusCode() != 501 {
		t.Fatalf("GetBucketCors: %v, want 501 NotImplemented", err)
	}
	id := re.ServiceRequestID()
	lines := linesWith(logs.String(), id)
	if len(lines) == 0 {
		t.Fatalf("the 501 is not logged at all:\n%s", logs)
	}
	for _, m := range lines {
		if m["level"] == "ERROR" {
			t.Errorf("501 logged as an error: %v", m)
		}
		if msg, _ := m["msg"].(string); !strings.Contains(msg, "not implemented") {
			t.Errorf("501 line %v does not say not implemented", m)
		}
	}

	st, body, _ := get(t, client, api+"/v1/admin/orgs/acme/audit?limit=10", tok)
	if st != 200 {
		t.Fatalf("audit: %d %v", st, body)
	}
	evs, _ := body["events"].([]any)
	found := false
	for _, e := range evs {
		ev, _ := e.(map[string]any)
		if ev["requestId"] != id {
			continue
		}
		found = true
		if ev["outcome"] != "failure" || ev["code"] != "NotImplemented" {
			t.Errorf("501 audited as outcome %v code %v, want failure / NotImplemented: %v", ev["outcome"], ev["code"], ev)
		}
	}
	if !found {
		t.Errorf("no audit event for request %s: %v", id, evs)
	}
}
