package policy

import (
	"fmt"
	"math/rand/v2"
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

// TestAuthorizeInvariants checks API.md's layering rules on random org
// policies, bucket policies and requests: the bucket layer never widens an
// org decision, a foreign caller needs an explicit bucket Allow, a bucket
// Deny always wins outside the bucket-policy actions, and those actions are
// the owner org's alone.
func TestAuthorizeInvariants(t *testing.T) {
	r := rand.New(rand.NewPCG(99, 1))
	orgs := []string{"org-a", "org-b", "org-c"}
	principals := []string{`"*"`, `{"AWS":"role/r0"}`, `{"AWS":["saml/a@example.com","arn:aws:iam::org-b:root"]}`,
		`{"AWS":"arn:aws:iam::org-b:role/r1"}`, `{"AWS":"arn:aws:iam::org-c:user/oidc/b"}`}
	actions := []string{`"s3:*"`, `"s3:Get*"`, `["s3:GetObject","s3:ListBucket"]`, `"s3:PutBucketPolicy"`, `"*"`}
	resources := []string{`"arn:aws:s3:::b0"`, `"arn:aws:s3:::b0/*"`, `["arn:aws:s3:::b0","arn:aws:s3:::b0/a*"]`}
	conditions := []string{``, `,"Condition":{"StringEquals":{"cw:PrincipalOrgID":"org-b"}}`,
		`,"Condition":{"StringLike":{"aws:username":"saml/*"}}`, `,"Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}`,
		`,"Condition":{"Bool":{"aws:SecureTransport":"true"}}`}
	reqActions := []string{"s3:GetObject", "s3:ListBucket", "s3:PutObject", "s3:PutBucketPolicy", "s3:GetBucketPolicy", "s3:ListAllMyBuckets"}
	reqResources := []string{"b0", "b0/a1", "b0/x", "*"}
	checked := map[string]int{}
	for set := range 300 {
		engines := map[string]*Engine{}
		for _, org := range orgs {
			e, err := Compile(org, randomDocs(r, 6))
			if err != nil {
				t.Fatal(err)
			}
			engines[org] = e
		}
		var stmts []string
		for i := range 1 + r.IntN(4) {
			eff := "Allow"
			if r.IntN(3) == 0 {
				eff = "Deny"
			}
			stmts = append(stmts, fmt.Sprintf(`{"Sid":"s%d","Effect":%q,"Principal":%s,"Action":%s,"Resource":%s%s}`,
				i, eff, pick(r, principals), pick(r, actions), pick(r, resources), pick(r, conditions)))
		}
		bp := mustBucketPolicy(t, `{"Version":"2012-10-17","Statement":[`+strings.Join(stmts, ",")+`]}`, "b0")
		for range 100 {
			req := randomRequest(r)
			req.OrgID = pick(r, orgs)
			req.Action, req.Resource = pick(r, reqActions), pick(r, reqResources)
			ctx := BucketContext{SecureTransport: r.IntN(2) == 0}
			if r.IntN(2) == 0 {
				ctx.SourceIP = netip.MustParseAddr("10.1.2.3")
			}
			bucket := bp
			if r.IntN(5) == 0 {
				bucket = nil
			}
			d := Authorize(engines[req.OrgID], bucket, "org-a", req, ctx)
			od := engines[req.OrgID].Decide(req)
			bd := bucket.Evaluate(req, ctx, "org-a")
			foreign := req.OrgID != "org-a"
			global := req.Resource == "*"
			fail := func(rule string) {
				t.Fatalf("set %d: %s violated: req %+v bucket policy %v\n got %+v\n org %+v\n bucket %+v", set, rule, req, stmts, d, od, bd)
			}
			if d.Allowed() && !od.Allowed() {
				fail("bucket layer never widens the org decision")
			}
			if global && d.Effect != od.Effect {
				fail("global requests are decided by org policies")
			}
			if global {
				checked["global"]++
				continue
			}
			if IsBucketPolicyAction(req.Action) {
				if foreign && d.Allowed() {
					fail("bucket-policy actions are never granted to another org")
				}
				if !foreign && d.Effect != od.Effect {
					fail("bucket-policy actions are decided by the owner's org policies alone")
				}
				checked["policy-action"]++
				continue
			}
			if bd.Effect == Deny && d.Allowed() {
				fail("a bucket Deny rejects")
			}
			if foreign && d.Allowed() && bd.Effect != Allow {
				fail("another org needs an explicit bucket Allow")
			}
			if !foreign && od.Allowed() && bd.Effect != Deny && !d.Allowed() {
				fail("for the owner org silence or Allow leaves the org decision")
			}
			if foreign && od.Allowed() && bd.Effect == Allow && !d.Allowed() {
				fail("an explicit grant plus the caller's own org allow admits another org")
			}
			if d.Allowed() {
				checked[fmt.Sprint("allowed foreign=", foreign)]++
			} else {
				checked[fmt.Sprint("denied foreign=", foreign)]++
			}
		}
	}
	t.Logf("cases: %v", checked)
	for _, k := range []string{"global", "policy-action", "allowed foreign=true", "allowed foreign=false", "denied foreign=true", "denied foreign=false"} {
		if checked[k] < 50 {
			t.Errorf("only %d cases of %q: generator too narrow (%v)", checked[k], k, checked)
		}
	}
}
