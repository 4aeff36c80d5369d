// Package e2e holds end-to-end tests that run a whole s3fed (in process, or
// the built binary) and drive it only through its public surfaces: the JSON
// API, the exchange, and real S3 clients.
package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/s3fed/s3fed/internal/idp"
	"github.com/s3fed/s3fed/internal/server"
	"github.com/s3fed/s3fed/internal/store/teststore"
)

// instance is one in-process s3fed with its root token.
type instance struct {
	t      *testing.T
	srv    *server.Server
	api    string
	s3     string
	token  string
	kp     *idp.KeyPair
	cert   string
	https  bool
	client *http.Client
}

const rootToken = "s3fed_e2e-root-token-for-tests"

// start runs an in-process s3fed keeping its state on backend b.
func start(t *testing.T, b teststore.Backend, tlsCert, tlsKey string) *instance {
	t.Helper()
	t.Setenv("AWS_CA_BUNDLE", "")
	cfg := server.Defaults()
	cfg.DataDir = t.TempDir()
	cfg.DatabaseURL = b.DatabaseURL(t)
	cfg.APIAddr, cfg.S3Addr = "127.0.0.1:0", "127.0.0.1:0"
	cfg.RootToken = rootToken
	cfg.TLSCert, cfg.TLSKey = tlsCert, tlsKey
	cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg.Out = io.Discard
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := server.New(ctx, cfg)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	scheme := "http"
	client := http.DefaultClient
	if tlsCert != "" {
		scheme = "https"
		client = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	}
	kp, cert := testIdP(t)
	return &instance{t: t, srv: srv, api: scheme + "://" + srv.APIAddr(), s3: scheme + "://" + srv.S3Addr(), token: rootToken,
		kp: kp, cert: cert, https: tlsCert != "", client: client}
}

// call sends a JSON API request with the root token and decodes the answer.
func (in *instance) call(method, path string, body any, want int) map[string]any {
	in.t.Helper()
	var rd io.Reader
	if body != nil {
		data, _ := json.Marshal(body)
		rd = bytes.NewReader(data)
	}
	req, _ := http.NewRequest(method, in.api+path, rd)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+in.token)
	resp, err := in.client.Do(req)
	if err != nil {
		in.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	raw, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(raw, &out)
	if resp.StatusCode != want {
		in.t.Fatalf("%s %s: %d %s, want %d", method, path, resp.StatusCode, raw, want)
	}
	return out
}

// org creates an org with a SAML config trusting the instance's test IdP and
// the given access policy; it returns the config ID.
func (in *instance) org(id, policyJSON string) string {
	in.t.Helper()
	in.call("POST", "/v1/admin/orgs", map[string]any{"id": id}, 201)
	cfg := in.call("POST", "/v1/admin/orgs/"+id+"/workload-federation/saml",
		map[string]any{"name": "e2e", "idpEntityId": idp.DefaultCommonName, "x509Certificate": in.cert}, 201)
	if policyJSON != "" {
		var doc map[string]any
		if err := json.Unmarshal([]byte(policyJSON), &doc); err != nil {
			in.t.Fatal(err)
		}
		in.call("PUT", "/v1/admin/orgs/"+id+"/access-policies/"+doc["name"].(string), doc, 201)
	}
	return cfg["configId"].(string)
}

// keys exchanges a freshly signed SAML Response for S3 keys.
func (in *instance) keys(org, config, principal, role string) (string, string) {
	in.t.Helper()
	resp, err := idp.SignBase64(idp.SignOptions{KeyPair: in.kp, OrgID: org, Principal: principal, Role: role, PublicURL: in.api})
	if err != nil {
		in.t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", in.api+"/v1/cwobject/temporary-credentials/saml",
		strings.NewReader(fmt.Sprintf(`{"orgId":%q,"configId":%q,"samlResponse":%q}`, org, config, resp)))
	req.Header.Set("Content-Type", "application/json")
	r, err := in.client.Do(req)
	if err != nil {
		in.t.Fatal(err)
	}
	defer r.Body.Close()
	var out struct{ AccessKeyID, SecretKey string }
	raw, _ := io.ReadAll(r.Body)
	if r.StatusCode != 200 || json.Unmarshal(raw, &out) != nil {
		in.t.Fatalf("exchange: %d %s", r.StatusCode, raw)
	}
	return out.AccessKeyID, out.SecretKey
}

// s3Client is an AWS SDK client with the given keys.
func (in *instance) s3Client(ak, sk string) *s3.Client {
	return s3.New(s3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(in.s3),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(ak, sk, ""),
		HTTPClient:   in.client,
	})
}

// as returns an S3 client for a principal in a role, via a real exchange.
func (in *instance) as(org, config, principal, role string) *s3.Client {
	ak, sk := in.keys(org, config, principal, role)
	return in.s3Client(ak, sk)
}

// code is the S3 error code of err, or "" for success.
func code(err error) string {
	if err == nil {
		return ""
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return err.Error()
}

// httpClient is a plain client with its own connection pool.
func httpClient() *http.Client { return &http.Client{Transport: &http.Transport{}} }

// testIdP makes a test IdP key pair and returns it with its certificate PEM.
func testIdP(t *testing.T) (*idp.KeyPair, string) {
	t.Helper()
	certPEM, keyPEM, err := idp.Keygen(idp.KeygenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	kp, err := idp.ParseKeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return kp, string(certPEM)
}
