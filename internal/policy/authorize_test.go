package policy

import (
	"net/netip"
	"strings"
	"testing"
)

func TestAuthorizeLayering(t *testing.T) {
	compile := func(org, js string) *Engine {
		e, err := Compile(org, []*Document{mustParse(t, js)})
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	engines := map[string]*Engine{
		"org-a": compile("org-a", `{"version":"v1alpha1","name":"a","statements":[
		  {"name":"admin","effect":"Allow","actions":["*"],"resources":["*"],"principals":["role/a-admin"]},
		  {"name":"reader","effect":"Allow","actions":["s3:Get*","s3:List*"],"resources":["shared","shared/*"],"principals":["role/a-reader"]}]}`),
		"org-b": compile("org-b", `{"version":"v1alpha1","name":"b","statements":[
		  {"name":"b-read","effect":"Allow","actions":["s3:GetObject","s3:ListBucket","s3:GetBucketPolicy","s3:PutBucketPolicy"],"resources":["shared","shared/*"],"principals":["role/b-reader"]}]}`),
		"org-c": compile("org-c", `{"version":"v1alpha1","name":"c","statements":[
		  {"name":"c-read","effect":"Allow","actions":["s3:GetObject"],"resources":["shared/*"],"principals":["role/c-reader"]}]}`),
	}
	shared := mustBucketPolicy(t, `{"Version":"2012-10-17","Statement":[
	  {"Sid":"grant-org-b","Effect":"Allow","Principal":"*","Action":["s3:GetObject","s3:ListBucket"],
	   "Resource":["arn:aws:s3:::shared","arn:aws:s3:::shared/*"],"Condition":{"StringEquals":{"cw:PrincipalOrgID":"org-b"}}},
	  {"Sid":"grant-c-reader","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::org-c:role/c-reader"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::shared/public/*"},
	  {"Sid":"open-no-org","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::shared/open/*"},
	  {"Sid":"negated-org","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::shared/neg/*","Condition":{"StringNotEquals":{"cw:PrincipalOrgID":"org-z"}}},
	  {"Sid":"lock","Effect":"Deny","Principal":"*","Action":"s3:DeleteObject","Resource":"arn:aws:s3:::shared/locked/*"},
	  {"Sid":"internal-only","Effect":"Deny","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::shared","arn:aws:s3:::shared/*"],
	   "Condition":{"NotIpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}]}`, "shared")
	internal := BucketContext{SourceIP: netip.MustParseAddr("10.0.0.5"), SecureTransport: true}
	external := BucketContext{SourceIP: netip.MustParseAddr("203.0.113.9")}

	type row struct {
		name          string
		org, role     string
		action, res   string
		bucket        *BucketPolicy
		owner         string
		ctx           BucketContext
		want          Effect
		stmts         []string // "policy/statement" or "bucket:sid"
		reasonContain string
	}
	rows := []row{
		{"owner allowed by org", "org-a", "a-admin", "s3:GetObject", "shared/k", shared, "org-a", internal, Allow, []string{"a/admin"}, ""},
		{"owner bucket deny rejects", "org-a", "a-admin", "s3:DeleteObject", "shared/locked/x", shared, "org-a", internal, Deny, []string{"bucket:lock"}, "bucket policy"},
		{"owner bucket condition deny", "org-a", "a-admin", "s3:GetObject", "shared/k", shared, "org-a", external, Deny, []string{"bucket:internal-only"}, ""},
		{"owner silence leaves org decision", "org-a", "a-reader", "s3:ListBucket", "shared", shared, "org-a", internal, Allow, []string{"a/reader"}, ""},
		{"owner bucket allow never widens", "org-a", "a-reader", "s3:PutObject", "shared/open/x", shared, "org-a", internal, Deny, nil, "implicitly"},
		{"owner PutBucketPolicy by org alone despite deny", "org-a", "a-admin", "s3:PutBucketPolicy", "shared", shared, "org-a", external, Allow, []string{"a/admin"}, ""},
		{"owner GetBucketPolicy by org alone", "org-a", "a-reader", "s3:GetBucketPolicy", "shared", shared, "org-a", external, Allow, []string{"a/reader"}, ""},
		{"owner PutBucketPolicy needs org allow", "org-a", "a-reader", "s3:PutBucketPolicy", "shared", shared, "org-a", internal, Deny, nil, "implicitly"},
		{"owner no bucket policy", "org-a", "a-admin", "s3:DeleteBucketPolicy", "shared", nil, "org-a", internal, Allow, []string{"a/admin"}, ""},
		{"owner global action", "org-a", "a-admin", "s3:ListAllMyBuckets", "*", nil, "", internal, Allow, []string{"a/admin"}, ""},
		{"unknown owner fails closed", "org-a", "a-admin", "s3:GetObject", "shared/k", shared, "", internal, Deny, nil, "unknown"},
		{"foreign org granted by org condition", "org-b", "b-reader", "s3:GetObject", "shared/k", shared, "org-a", internal, Allow, []string{"b/b-read", "bucket:grant-org-b"}, "allowed by statement \"b-read\""},
		{"foreign org list", "org-b", "b-reader", "s3:ListBucket", "shared", shared, "org-a", internal, Allow, []string{"b/b-read", "bucket:grant-org-b"}, ""},
		{"foreign own org must allow", "org-b", "b-none", "s3:GetObject", "shared/k", shared, "org-a", internal, Deny, nil, "implicitly"},
		{"foreign action not granted by bucket", "org-b", "b-reader", "s3:PutObject", "shared/k", shared, "org-a", internal, Deny, nil, "implicitly"},
		{"foreign bucket deny", "org-b", "b-reader", "s3:GetObject", "shared/k", shared, "org-a", external, Deny, []string{"bucket:internal-only"}, ""},
		{"foreign never gets GetBucketPolicy", "org-b", "b-reader", "s3:GetBucketPolicy", "shared", shared, "org-a", internal, Deny, nil, "only the organization owning the bucket"},
		{"foreign never gets PutBucketPolicy", "org-b", "b-reader", "s3:PutBucketPolicy", "shared", shared, "org-a", internal, Deny, nil, "only the organization owning the bucket"},
		{"foreign named by ARN", "org-c", "c-reader", "s3:GetObject", "shared/public/x", shared, "org-a", internal, Allow, []string{"c/c-read", "bucket:grant-c-reader"}, ""},
		{"foreign not named", "org-c", "c-reader", "s3:GetObject", "shared/k", shared, "org-a", internal, Deny, nil, "does not grant"},
		{"foreign star without org grant", "org-c", "c-reader", "s3:GetObject", "shared/open/x", shared, "org-a", internal, Deny, nil, "does not grant"},
		{"foreign negated org condition is no grant", "org-c", "c-reader", "s3:GetObject", "shared/neg/x", shared, "org-a", internal, Deny, nil, "does not grant"},
		{"owner negated org condition", "org-a", "a-reader", "s3:GetObject", "shared/neg/x", shared, "org-a", internal, Allow, []string{"a/reader"}, ""},
		{"foreign no bucket policy", "org-b", "b-reader", "s3:GetObject", "shared/k", nil, "org-a", internal, Deny, nil, "has no bucket policy"},
	}
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			req := Request{OrgID: r.org, PrincipalName: "saml/u@example.com", Role: r.role, Action: r.action, Resource: r.res}
			d := Authorize(engines[r.org], r.bucket, r.owner, req, r.ctx)
			if d.Effect != r.want {
				t.Fatalf("decision = %s (%s), want %s", d.Effect, d.Reason, r.want)
			}
			var got []string
			for _, s := range d.Statements {
				if s.Bucket != "" {
					got = append(got, "bucket:"+s.Statement)
				} else {
					got = append(got, s.Policy+"/"+s.Statement)
				}
			}
			if strings.Join(got, ",") != strings.Join(r.stmts, ",") {
				t.Fatalf("statements = %v, want %v (%s)", got, r.stmts, d.Reason)
			}
			if d.Implicit != (r.want == Deny && len(r.stmts) == 0) {
				t.Fatalf("implicit = %v", d.Implicit)
			}
			if !strings.Contains(d.Reason, r.reasonContain) {
				t.Fatalf("reason %q lacks %q", d.Reason, r.reasonContain)
			}
		})
	}

	t.Run("another org's engine never matches", func(t *testing.T) {
		req := Request{OrgID: "org-b", Role: "a-admin", Action: "s3:GetObject", Resource: "shared/k"}
		if d := Authorize(engines["org-a"], shared, "org-a", req, internal); d.Allowed() {
			t.Fatalf("org-a's policies allowed an org-b caller: %+v", d)
		}
		if d := Authorize(nil, shared, "org-a", req, internal); d.Allowed() {
			t.Fatalf("no engine allowed: %+v", d)
		}
	})
}

func TestIsBucketPolicyAction(t *testing.T) {
	for a, want := range map[string]bool{"s3:PutBucketPolicy": true, "S3:getbucketpolicy": true, "s3:DeleteBucketPolicy": true,
		"s3:GetBucketPolicyStatus": false, "s3:PutObject": false, "": false} {
		if got := IsBucketPolicyAction(a); got != want {
			t.Errorf("IsBucketPolicyAction(%q) = %v", a, got)
		}
	}
}
