package sigv4

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// credCase is one request against a credential the source answers with.
type credCase struct {
	name    string
	req     func(t *testing.T) *http.Request
	cred    Credential // what the source answers for every access key id
	code    string     // "" = accepted
	message string     // the S3 message must contain it
	cause   string     // the internal cause (Error.Err) must contain it: which check refused
	is      error      // the cause must wrap it
}

func runCredCases(t *testing.T, cases []credCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var asked []string
			v := testVerifier()
			v.Source = CredentialSourceFunc(func(_ context.Context, id string) (Credential, error) {
				asked = append(asked, id)
				return tc.cred, nil
			})
			res, err := v.Verify(tc.req(t))
			wantCode(t, err, tc.code)
			if len(asked) != 1 {
				t.Fatalf("source asked %d times (%v), want once", len(asked), asked)
			}
			if tc.code == "" {
				if res.Credential.AccessKeyID != tc.cred.AccessKeyID {
					t.Fatalf("verified as %q", res.Credential.AccessKeyID)
				}
				return
			}
			var e *Error
			errors.As(err, &e)
			if !strings.Contains(e.Message, tc.message) {
				t.Errorf("message %q does not contain %q", e.Message, tc.message)
			}
			if e.Err == nil || !strings.Contains(e.Err.Error(), tc.cause) {
				t.Errorf("cause %v does not say %q: another check refused", e.Err, tc.cause)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("%v does not wrap %v", err, tc.is)
			}
		})
	}
}

// TestCredentialExpiryBoundary checks a key used exactly at its expiry is refused and one
// nanosecond before is accepted, signed in the header and presigned, and that the refusal is
// the verifier's own expiry check (issue 9 defect 18).
func TestCredentialExpiryBoundary(t *testing.T) {
	header := func(t *testing.T) *http.Request { return signSpec{}.build(t) }
	presigned := func(t *testing.T) *http.Request { return presignSpec{}.build(t) }
	key := func(expiry time.Time) Credential {
		return Credential{AccessKeyID: testAK, SecretKey: testSK, Expiry: expiry, Identity: testIdentity}
	}
	const expired = "the provided token has expired"
	var cases []credCase
	for _, how := range []struct {
		name string
		req  func(t *testing.T) *http.Request
	}{{"header", header}, {"presigned", presigned}} {
		cases = append(cases,
			credCase{name: how.name + "/one nanosecond before expiry", req: how.req, cred: key(testNow.Add(time.Nanosecond))},
			credCase{name: how.name + "/exactly at expiry", req: how.req, cred: key(testNow), code: CodeExpiredToken, message: expired, cause: "expired at 2026-11-22T06:00:00Z", is: ErrExpiredCredential},
			credCase{name: how.name + "/one nanosecond after expiry", req: how.req, cred: key(testNow.Add(-time.Nanosecond)), code: CodeExpiredToken, message: expired, cause: "expired at 2026-11-22T05:59:59.999999999Z", is: ErrExpiredCredential},
			credCase{name: how.name + "/an hour after expiry", req: how.req, cred: key(testNow.Add(-time.Hour)), code: CodeExpiredToken, message: expired, cause: "expired at 2026-11-22T05:00:00Z", is: ErrExpiredCredential},
			credCase{name: how.name + "/no expiry", req: how.req, cred: key(time.Time{})},
		)
	}
	runCredCases(t, cases)
}

// TestAccessKeyIDMismatch checks that a credential the source returns for another access key
// id than the one in the request's credential scope is refused (a source keyed
// case-insensitively, or a cache entry filed under the wrong id, must not let one key sign as
// another), and that the key id a presigned URL names is the one whose secret must have
// signed it (issue 9 defect 18).
func TestAccessKeyIDMismatch(t *testing.T) {
	other := Credential{AccessKeyID: "AKIDOTHERKEY000001", SecretKey: testSK, Identity: testIdentity}
	lower := Credential{AccessKeyID: strings.ToLower(testAK), SecretKey: testSK, Identity: testIdentity}
	const unknown = "the AWS access key id you provided does not exist in our records"
	const mismatch = "the credential source answered with another access key id"
	runCredCases(t, []credCase{
		{name: "header: source answers for another key", req: func(t *testing.T) *http.Request { return signSpec{}.build(t) },
			cred: other, code: CodeInvalidAccessKeyID, message: unknown, cause: mismatch, is: ErrUnknownAccessKey},
		{name: "header: source answers for the key in another case", req: func(t *testing.T) *http.Request { return signSpec{}.build(t) },
			cred: lower, code: CodeInvalidAccessKeyID, message: unknown, cause: mismatch, is: ErrUnknownAccessKey},
		{name: "presigned: source answers for another key", req: func(t *testing.T) *http.Request { return presignSpec{}.build(t) },
			cred: other, code: CodeInvalidAccessKeyID, message: unknown, cause: mismatch, is: ErrUnknownAccessKey},
		{name: "header: a credential without an id is taken as the one asked for", req: func(t *testing.T) *http.Request { return signSpec{}.build(t) },
			cred: Credential{SecretKey: testSK, Identity: testIdentity}},
	})

	// X-Amz-Credential names the key: swapping in another key's id (whose secret differs)
	// breaks the signature, even though the access key id is not itself in the string to sign.
	v := testVerifier()
	secrets := map[string]string{testAK: testSK, "AKIDSECONDKEY00001": "another/secret"}
	v.Source = CredentialSourceFunc(func(_ context.Context, id string) (Credential, error) {
		sk, ok := secrets[id]
		if !ok {
			return Credential{}, fmt.Errorf("lookup %s: %w", id, ErrUnknownAccessKey)
		}
		return Credential{AccessKeyID: id, SecretKey: sk, Identity: testIdentity}, nil
	})
	r := presignSpec{}.build(t)
	if _, err := v.Verify(r); err != nil {
		t.Fatalf("unchanged presigned URL: %v", err)
	}
	r = presignSpec{}.build(t)
	r.URL.RawQuery = strings.Replace(r.URL.RawQuery, "X-Amz-Credential="+testAK, "X-Amz-Credential=AKIDSECONDKEY00001", 1)
	_, err := v.Verify(r)
	wantCode(t, err, CodeSignatureDoesNotMatch)

	// A presigned URL of one key with an Authorization header of another: refused as two
	// mechanisms before either key is looked up.
	r = presignSpec{}.build(t)
	h := signSpec{creds: aws.Credentials{AccessKeyID: "AKIDSECONDKEY00001", SecretAccessKey: "another/secret"}}.build(t)
	r.Header.Set("Authorization", h.Header.Get("Authorization"))
	_, err = v.Verify(r)
	wantCode(t, err, CodeInvalidRequest)
	var e *Error
	if errors.As(err, &e); !strings.Contains(e.Message, "only one auth mechanism allowed") {
		t.Fatalf("refused for another reason: %v", err)
	}
}
