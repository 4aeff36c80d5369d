package sts_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssts "github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/s3fed/s3fed/internal/creds"
	"github.com/s3fed/s3fed/internal/idp"
	"github.com/s3fed/s3fed/internal/store/teststore"
)

const (
	awsRoleAttr    = "https://aws.amazon.com/SAML/Attributes/Role"
	awsSessionAttr = "https://aws.amazon.com/SAML/Attributes/RoleSessionName"
)

func (e *env) stsClient(t *testing.T) *awssts.Client {
	t.Helper()
	t.Setenv("AWS_CA_BUNDLE", "")
	srv := httptest.NewServer(e.svc.QueryHandler())
	t.Cleanup(srv.Close)
	return awssts.New(awssts.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL)})
}

func (e *env) awsAssertion(role, provider string) string {
	return e.sign(func(o *idp.SignOptions) {
		o.Attributes = map[string][]string{
			awsRoleAttr:    {role + "," + provider},
			awsSessionAttr: {"alice-session"},
		}
	})
}

// TestAssumeRoleWithSAML drives the STS query API with the real AWS SDK
// client, as `aws sts assume-role-with-saml` does.
func TestAssumeRoleWithSAML(t *testing.T) { teststore.Each(t, testAssumeRoleWithSAML) }

func testAssumeRoleWithSAML(t *testing.T, b teststore.Backend) {
	e := newEnv(t, b, false)
	c := e.stsClient(t)
	role, provider := "arn:aws:iam::acme:role/writer", "arn:aws:iam::acme:saml-provider/"+e.cfgID
	out, err := c.AssumeRoleWithSAML(context.Background(), &awssts.AssumeRoleWithSAMLInput{
		RoleArn: aws.String(role), PrincipalArn: aws.String(provider), SAMLAssertion: aws.String(e.awsAssertion(role, provider)),
		DurationSeconds: aws.Int32(900)})
	if err != nil {
		t.Fatal(err)
	}
	cr := out.Credentials
	if !creds.WellFormed(aws.ToString(cr.AccessKeyId)) || aws.ToString(cr.SessionToken) == "" {
		t.Fatalf("credentials: %+v", cr)
	}
	want, _ := e.keys.Secret(aws.ToString(cr.AccessKeyId))
	if aws.ToString(cr.SecretAccessKey) != want {
		t.Fatal("secret is not the derived one")
	}
	if !cr.Expiration.Equal(e.now.Add(900 * time.Second)) {
		t.Fatalf("expiration %v", cr.Expiration)
	}
	if arn := aws.ToString(out.AssumedRoleUser.Arn); arn != "arn:aws:sts::acme:assumed-role/writer/alice-session" {
		t.Fatalf("assumed role ARN %q", arn)
	}
	k, err := e.st.GetAccessKey(context.Background(), aws.ToString(cr.AccessKeyId))
	if err != nil || k.Role != "writer" || !k.HasToken {
		t.Fatalf("stored key: %+v %v", k, err)
	}
}

func TestAssumeRoleWithSAMLErrors(t *testing.T) { teststore.Each(t, testAssumeRoleWithSAMLErrors) }

func testAssumeRoleWithSAMLErrors(t *testing.T, b teststore.Backend) {
	e := newEnv(t, b, false)
	c := e.stsClient(t)
	role, provider := "arn:aws:iam::acme:role/writer", "arn:aws:iam::acme:saml-provider/"+e.cfgID
	tests := []struct {
		name string
		in   awssts.AssumeRoleWithSAMLInput
		code string
	}{
		{"role not in assertion", awssts.AssumeRoleWithSAMLInput{RoleArn: aws.String("arn:aws:iam::acme:role/admin"), PrincipalArn: aws.String(provider),
			SAMLAssertion: aws.String(e.awsAssertion(role, provider))}, "IDPRejectedClaim"},
		{"tampered", awssts.AssumeRoleWithSAMLInput{RoleArn: aws.String(role), PrincipalArn: aws.String(provider),
			SAMLAssertion: aws.String(strings.Replace(e.awsAssertion(role, provider), "P", "Q", 1))}, "InvalidIdentityToken"},
		{"expired", awssts.AssumeRoleWithSAMLInput{RoleArn: aws.String(role), PrincipalArn: aws.String(provider),
			SAMLAssertion: aws.String(e.sign(func(o *idp.SignOptions) {
				o.Now = func() time.Time { return e.now.Add(-time.Hour) }
				o.Attributes = map[string][]string{awsRoleAttr: {role + "," + provider}, awsSessionAttr: {"s1"}}
			}))}, "ExpiredTokenException"},
		{"provider of another org", awssts.AssumeRoleWithSAMLInput{RoleArn: aws.String(role), PrincipalArn: aws.String("arn:aws:iam::other:saml-provider/" + e.otherCfg),
			SAMLAssertion: aws.String(e.awsAssertion(role, provider))}, "ValidationError"},
		{"duration too short", awssts.AssumeRoleWithSAMLInput{RoleArn: aws.String(role), PrincipalArn: aws.String(provider),
			SAMLAssertion: aws.String(e.awsAssertion(role, provider)), DurationSeconds: aws.Int32(60)}, "ValidationError"},
		{"session policy refused", awssts.AssumeRoleWithSAMLInput{RoleArn: aws.String(role), PrincipalArn: aws.String(provider),
			SAMLAssertion: aws.String(e.awsAssertion(role, provider)), Policy: aws.String(`{"Version":"2012-10-17","Statement":[]}`)}, "ValidationError"},
		{"bad role ARN", awssts.AssumeRoleWithSAMLInput{RoleArn: aws.String("arn:aws:iam::acme:user/x"), PrincipalArn: aws.String(provider),
			SAMLAssertion: aws.String(e.awsAssertion(role, provider))}, "ValidationError"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := e.keyCount()
			_, err := c.AssumeRoleWithSAML(context.Background(), &tc.in)
			var ae smithy.APIError
			if !errors.As(err, &ae) || ae.ErrorCode() != tc.code {
				t.Fatalf("got %v, want %s", err, tc.code)
			}
			if e.keyCount() != before {
				t.Fatal("a credential was minted")
			}
		})
	}
}
