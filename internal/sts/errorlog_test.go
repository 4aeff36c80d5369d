package sts_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awssts "github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/s3fed/s3fed/internal/jsonapi"
	"github.com/s3fed/s3fed/internal/store/teststore"
)

// syncLog is a log sink for the server goroutines.
type syncLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *syncLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *syncLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// errorLine returns the ERROR line of the log that carries request ID id.
func errorLine(t *testing.T, logs, id string) map[string]any {
	t.Helper()
	for _, l := range strings.Split(strings.TrimSpace(logs), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil && m["request_id"] == id && m["level"] == "ERROR" {
			return m
		}
	}
	t.Fatalf("no ERROR line with request ID %q in:\n%s", id, logs)
	return nil
}

// TestUnavailableLogsItsCause: when the replay cache cannot be consulted the
// exchange fails closed with 503 (JSON) / ServiceUnavailable (STS), and the
// log line of that answer carries the database's error and the request ID,
// while neither the answer nor the log carries the assertion.
func TestUnavailableLogsItsCause(t *testing.T) {
	e := newEnv(t, teststore.SQLite, true) // ClaimReplay fails with "database is locked"
	logs := &syncLog{}
	log := slog.New(slog.NewJSONHandler(logs, nil))
	e.svc.Log = log
	rt := jsonapi.NewRouter()
	e.svc.Register(rt)
	api := httptest.NewServer(jsonapi.Middleware(log, rt))
	defer api.Close()

	resp := e.sign(nil)
	body, _ := json.Marshal(map[string]any{"orgId": "acme", "configId": e.cfgID, "samlResponse": resp})
	r, err := http.Post(api.URL+"/v1/cwobject/temporary-credentials/saml", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != 503 {
		t.Fatalf("status %d, want 503", r.StatusCode)
	}
	line := errorLine(t, logs.String(), r.Header.Get("X-Request-Id"))
	if e, _ := line["err"].(string); !strings.Contains(e, "database is locked") {
		t.Errorf("503 line lacks the cause: %v", line)
	}

	// The STS query API on the S3 listener.
	t.Setenv("AWS_CA_BUNDLE", "")
	q := httptest.NewServer(e.svc.QueryHandler())
	defer q.Close()
	role, provider := "arn:aws:iam::acme:role/writer", "arn:aws:iam::acme:saml-provider/"+e.cfgID
	c := awssts.New(awssts.Options{Region: "us-east-1", BaseEndpoint: aws.String(q.URL), RetryMaxAttempts: 1})
	assertion := e.awsAssertion(role, provider)
	_, err = c.AssumeRoleWithSAML(context.Background(), &awssts.AssumeRoleWithSAMLInput{
		RoleArn: aws.String(role), PrincipalArn: aws.String(provider), SAMLAssertion: aws.String(assertion)})
	var reqID string
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		reqID = re.ServiceRequestID()
	}
	if err == nil || !strings.Contains(err.Error(), "ServiceUnavailable") || reqID == "" {
		t.Fatalf("STS with the replay cache down: %v (request ID %q)", err, reqID)
	}
	line = errorLine(t, logs.String(), reqID)
	if e, _ := line["err"].(string); !strings.Contains(e, "database is locked") {
		t.Errorf("STS 503 line lacks the cause: %v", line)
	}
	for _, secret := range []string{resp, assertion, resp[len(resp)/2 : len(resp)/2+40]} {
		if strings.Contains(logs.String(), secret) {
			t.Error("the log holds (part of) an assertion")
		}
	}
}
