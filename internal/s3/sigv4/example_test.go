package sigv4_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/s3fed/s3fed/internal/identity"
	"github.com/s3fed/s3fed/internal/s3/sigv4"
)

// A handler verifies the request, then reads the payload only through Result.Body and
// commits only when that reader ends with io.EOF.
func ExampleVerifier_Verify() {
	now := time.Date(2026, 11, 22, 6, 0, 0, 0, time.UTC)
	v := &sigv4.Verifier{
		Region:  "us-east-1",
		Service: "s3",
		Now:     func() time.Time { return now },
		Source: sigv4.CredentialSourceFunc(func(_ context.Context, id string) (sigv4.Credential, error) {
			if id != "AKIDEXAMPLE" {
				return sigv4.Credential{}, sigv4.ErrUnknownAccessKey
			}
			return sigv4.Credential{AccessKeyID: id, SecretKey: "secret",
				Identity: identity.Identity{OrgID: "org1", PrincipalName: "saml/alice@example.com"}}, nil
		}),
	}

	// A client signs a PUT (here with aws-sdk-go-v2's signer).
	body := "hello"
	r := httptest.NewRequest("PUT", "/bucket/greeting.txt", strings.NewReader(body))
	r.Header.Set("X-Amz-Content-Sha256", "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824")
	_ = v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "secret"},
		r, r.Header.Get("X-Amz-Content-Sha256"), "s3", "us-east-1", now, func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })

	res, err := v.Verify(r)
	if err != nil {
		var e *sigv4.Error
		errors.As(err, &e)
		fmt.Println(e.Status, e.Code)
		return
	}
	data, err := io.ReadAll(res.Body) // an *sigv4.Error here means: do not commit
	fmt.Println(res.Credential.Identity.PrincipalName, string(data), err)
	// Output: saml/alice@example.com hello <nil>
}
