package policy

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

func mustBucketPolicy(t *testing.T, js, bucket string) *BucketPolicy {
	t.Helper()
	bp, err := ParseBucketPolicy([]byte(js), bucket)
	if err != nil {
		t.Fatalf("parse bucket policy: %v\n%s", err, js)
	}
	return bp
}

func TestParseBucketPolicyForms(t *testing.T) {
	// A single statement object (not an array), string Action/Resource and
	// every accepted principal form.
	bp := mustBucketPolicy(t, `{"Version":"2012-10-17","Id":"p1","Statement":{"Sid":"s","Effect":"Allow",
	  "Principal":{"AWS":["*","role/r","saml/alice@example.com","oidc/sub-1","arn:aws:iam::org-b:root",
	    "arn:aws:iam::org-b:role/reader","arn:aws:iam::org-b:user/saml/bob@example.com"]},
	  "Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*",
	  "Condition":{"StringEquals":{"cw:PrincipalOrgID":"org-b","AWS:USERNAME":["saml/bob@example.com"]},
	    "StringLike":{"s3:prefix":"home/*","s3fed:PrincipalOrgID":"org-*"},"StringNotEquals":{"aws:username":"saml/eve"},
	    "IpAddress":{"aws:SourceIp":["10.0.0.0/8","2001:db8::/32","192.0.2.1"]},"NotIpAddress":{"aws:SourceIp":"10.9.0.0/16"},
	    "Bool":{"aws:SecureTransport":[true,"false"]}}}}`, "b")
	if bp.Len() != 1 || bp.ID != "p1" || bp.Bucket != "b" {
		t.Fatalf("got %+v", bp)
	}
	if _, err := ParseBucketPolicy([]byte(`{}`), ""); err == nil {
		t.Fatal("empty bucket name accepted")
	}
}

func TestBucketPolicyValidation(t *testing.T) {
	wrap := func(stmt string) string { return `{"Version":"2012-10-17","Statement":[` + stmt + `]}` }
	const ok = `"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"`
	cases := []struct{ name, js, want string }{
		{"no version", `{"Statement":[{` + ok + `}]}`, `Version: required (want "2012-10-17")`},
		{"old version", `{"Version":"2008-10-17","Statement":[{` + ok + `}]}`, `Version: unsupported version "2008-10-17"`},
		{"no statement", `{"Version":"2012-10-17"}`, `Statement: required`},
		{"empty statements", `{"Version":"2012-10-17","Statement":[]}`, `Statement: empty`},
		{"statement string", `{"Version":"2012-10-17","Statement":"x"}`, `Statement: must be a statement object or an array of them, got a string`},
		{"unknown top field", `{"Version":"2012-10-17","Statement":[{` + ok + `}],"Foo":1}`, `Foo: unknown field`},
		{"lowercase field", wrap(`{"effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}`), `statement "Statement[0]", effect: unknown field`},
		{"missing effect", wrap(`{"Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}`), `statement "Statement[0]", Effect: required`},
		{"missing principal", wrap(`{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}`), `Principal: required`},
		{"bad effect", wrap(`{"Sid":"x","Effect":"allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}`), `statement "x", Effect: must be "Allow" or "Deny" (case-sensitive), got "allow"`},
		{"duplicate sid", wrap(`{"Sid":"x",` + ok + `},{"Sid":"x",` + ok + `}`), `statement "x", Sid: duplicate Sid (Statement[0] and Statement[1])`},
		{"principal string", wrap(`{"Effect":"Allow","Principal":"role/r","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}`), `must be "*" or {"AWS": ...}, got "role/r"`},
		{"federated principal", wrap(`{"Effect":"Allow","Principal":{"Federated":"x"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}`), `Principal.Federated: unsupported principal type`},
		{"group principal", wrap(`{"Effect":"Allow","Principal":{"AWS":"group/g"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}`), `bucket policies do not accept group principals`},
		{"wildcard principal", wrap(`{"Effect":"Allow","Principal":{"AWS":"saml/*"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}`), `no wildcards inside a principal`},
		{"bad arn", wrap(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::org-b:group/x"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}`), `unsupported ARN`},
		{"arn without org", wrap(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam:::root"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}`), `malformed ARN`},
		{"user arn with RLO", wrap(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::o:user/saml/alice\u202Exyz"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}`), `"saml/alice\u202exyz": byte 10: U+202E RIGHT-TO-LEFT OVERRIDE`},
		{"role with zero-width space", wrap(`{"Effect":"Allow","Principal":{"AWS":"role/\u200Badmin"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}`), `byte 5: U+200B ZERO WIDTH SPACE`},
		{"user arn not a principal name", wrap(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::o:user/alice"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}`), `a user ARN names a principal name`},
		{"cwobject action", wrap(`{"Effect":"Allow","Principal":"*","Action":"cwobject:X","Resource":"arn:aws:s3:::b/*"}`), `bucket policies grant S3 actions only`},
		{"bad action", wrap(`{"Effect":"Allow","Principal":"*","Action":["s3:GetObject","GetObject"],"Resource":"arn:aws:s3:::b/*"}`), `Action[1]: "GetObject" is not an action`},
		{"other bucket", wrap(`{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::other/*"}`), `a bucket policy may only name its own bucket "b"`},
		{"wildcard bucket", wrap(`{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::*"}`), `may only name its own bucket`},
		{"not an arn", wrap(`{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"b/*"}`), `use "arn:aws:s3:::b" or "arn:aws:s3:::b/KEY-PATTERN"`},
		{"empty key", wrap(`{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/"}`), `empty key pattern`},
		{"NotAction", wrap(`{"Effect":"Deny","Principal":"*","NotAction":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}`), `NotAction: not supported`},
		{"unknown operator", wrap(`{` + ok + `,"Condition":{"StringEqualsIgnoreCase":{"aws:username":"x"}}}`), `Condition.StringEqualsIgnoreCase: unsupported condition operator`},
		{"IfExists operator", wrap(`{` + ok + `,"Condition":{"StringEqualsIfExists":{"aws:username":"x"}}}`), `unsupported condition operator`},
		{"unknown key", wrap(`{` + ok + `,"Condition":{"StringEquals":{"aws:Referer":"x"}}}`), `Condition.StringEquals.aws:Referer: unsupported condition key`},
		{"ip on string key", wrap(`{` + ok + `,"Condition":{"IpAddress":{"aws:username":"10.0.0.1"}}}`), `IpAddress applies only to aws:SourceIp`},
		{"bad cidr", wrap(`{` + ok + `,"Condition":{"NotIpAddress":{"aws:SourceIp":"10.0.0.0/33"}}}`), `"10.0.0.0/33" is not an IP address or CIDR range`},
		{"string op on ip", wrap(`{` + ok + `,"Condition":{"StringEquals":{"aws:SourceIp":"10.0.0.1"}}}`), `compare aws:SourceIp with IpAddress or NotIpAddress`},
		{"bool on other key", wrap(`{` + ok + `,"Condition":{"Bool":{"s3:prefix":"true"}}}`), `Bool applies only to aws:SecureTransport`},
		{"bool value", wrap(`{` + ok + `,"Condition":{"Bool":{"aws:SecureTransport":"yes"}}}`), `"yes" is not true or false`},
		{"empty values", wrap(`{` + ok + `,"Condition":{"StringEquals":{"aws:username":[]}}}`), `needs 1 to 64 values`},
		{"number value", wrap(`{` + ok + `,"Condition":{"StringEquals":{"aws:username":1}}}`), `must be a string, a boolean or an array of them`},
		{"empty operator", wrap(`{` + ok + `,"Condition":{"StringEquals":{}}}`), `empty: name at least one condition key`},
		{"condition not object", wrap(`{` + ok + `,"Condition":[]}`), `Condition: must be a JSON object, got an array`},
		{"not an object", `[]`, `policy must be a JSON object, got an array`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseBucketPolicy([]byte(c.js), "b")
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("want *ValidationError, got %v", err)
			}
			if !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "invalid bucket policy") {
				t.Fatalf("error %q\nwant it to contain %q", err, c.want)
			}
		})
	}
	// Every problem at once.
	_, err := ParseBucketPolicy([]byte(wrap(`{"Effect":"allow","Principal":{"AWS":"x"},"Action":"GetObject","Resource":"arn:aws:s3:::c/*","Condition":{"Foo":{}}}`)), "b")
	var ve *ValidationError
	if !errors.As(err, &ve) || len(ve.Problems) != 5 {
		t.Fatalf("want 5 problems, got %v", err)
	}
	if _, err := ParseBucketPolicy([]byte(`{"Version":`), "b"); !errors.Is(err, ErrInvalidJSON) {
		t.Fatalf("malformed JSON: %v", err)
	}
	if _, err := ParseBucketPolicy(make([]byte, MaxBucketPolicyBytes+1), "b"); err == nil || !strings.Contains(err.Error(), "more than the limit") {
		t.Fatalf("oversized: %v", err)
	}
}

func TestBucketPolicyConditions(t *testing.T) {
	const owner = "org-a"
	stmt := func(cond string) string {
		return `{"Version":"2012-10-17","Statement":[{"Sid":"c","Effect":"Allow","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::b","arn:aws:s3:::b/*"],"Condition":` + cond + `}]}`
	}
	ip := netip.MustParseAddr
	get := Request{OrgID: owner, PrincipalName: "saml/alice@example.com", Role: "r", Action: "s3:GetObject", Resource: "b/k"}
	list := get
	list.Action, list.Resource = "s3:ListBucket", "b"
	versions := list
	versions.Action = "s3:ListBucketVersions"
	cases := []struct {
		name string
		cond string
		req  Request
		ctx  BucketContext
		want bool
	}{
		{"ip in range", `{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}`, get, BucketContext{SourceIP: ip("10.1.2.3")}, true},
		{"ip out of range", `{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}`, get, BucketContext{SourceIP: ip("11.1.2.3")}, false},
		{"ip mapped v4", `{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}`, get, BucketContext{SourceIP: ip("::ffff:10.1.2.3")}, true},
		{"ip any of values", `{"IpAddress":{"aws:SourceIp":["192.0.2.0/24","2001:db8::/32"]}}`, get, BucketContext{SourceIP: ip("2001:db8::1")}, true},
		{"single ip", `{"IpAddress":{"aws:SourceIp":"192.0.2.7"}}`, get, BucketContext{SourceIP: ip("192.0.2.7")}, true},
		{"ip unknown", `{"IpAddress":{"aws:SourceIp":"0.0.0.0/0"}}`, get, BucketContext{}, false},
		{"not ip in range", `{"NotIpAddress":{"aws:SourceIp":"10.0.0.0/8"}}`, get, BucketContext{SourceIP: ip("10.1.2.3")}, false},
		{"not ip outside", `{"NotIpAddress":{"aws:SourceIp":"10.0.0.0/8"}}`, get, BucketContext{SourceIP: ip("11.1.2.3")}, true},
		{"not ip unknown", `{"NotIpAddress":{"aws:SourceIp":"10.0.0.0/8"}}`, get, BucketContext{}, true},
		{"tls required, tls", `{"Bool":{"aws:SecureTransport":"true"}}`, get, BucketContext{SecureTransport: true}, true},
		{"tls required, plain", `{"Bool":{"aws:SecureTransport":true}}`, get, BucketContext{}, false},
		{"plain required", `{"Bool":{"aws:SecureTransport":"False"}}`, get, BucketContext{}, true},
		{"prefix equals", `{"StringEquals":{"s3:prefix":"home/"}}`, list, BucketContext{Prefix: "home/"}, true},
		{"prefix like", `{"StringLike":{"s3:prefix":["home/*","pub"]}}`, list, BucketContext{Prefix: "home/alice/"}, true},
		{"prefix like no", `{"StringLike":{"s3:prefix":"home/*"}}`, list, BucketContext{Prefix: "etc/"}, false},
		{"prefix on ListBucketVersions", `{"StringLike":{"s3:prefix":"home/*"}}`, versions, BucketContext{Prefix: "home/alice/"}, true},
		{"prefix on ListBucketVersions no", `{"StringLike":{"s3:prefix":"home/*"}}`, versions, BucketContext{Prefix: "etc/"}, false},
		{"prefix absent on GetObject", `{"StringLike":{"s3:prefix":"*"}}`, get, BucketContext{Prefix: "x"}, false},
		{"prefix not equals absent", `{"StringNotEquals":{"s3:prefix":"secret/"}}`, get, BucketContext{}, true},
		{"prefix not equals", `{"StringNotEquals":{"s3:prefix":["secret/","x"]}}`, list, BucketContext{Prefix: "secret/"}, false},
		{"org equals", `{"StringEquals":{"cw:PrincipalOrgID":"org-a"}}`, get, BucketContext{}, true},
		{"org alias", `{"StringEquals":{"s3fed:PrincipalOrgID":"org-a"}}`, get, BucketContext{}, true},
		{"org key case-insensitive", `{"StringEquals":{"CW:principalorgid":"org-a"}}`, get, BucketContext{}, true},
		{"org value case-sensitive", `{"StringEquals":{"cw:PrincipalOrgID":"ORG-A"}}`, get, BucketContext{}, false},
		{"username", `{"StringEquals":{"aws:username":"saml/alice@example.com"}}`, get, BucketContext{}, true},
		{"username like", `{"StringLike":{"aws:username":"saml/*@example.com"}}`, get, BucketContext{}, true},
		{"username not equals", `{"StringNotEquals":{"aws:username":"saml/alice@example.com"}}`, get, BucketContext{}, false},
		{"all conditions AND", `{"StringEquals":{"aws:username":"saml/alice@example.com"},"Bool":{"aws:SecureTransport":"true"}}`, get, BucketContext{}, false},
		{"all keys AND", `{"StringEquals":{"aws:username":"saml/alice@example.com","cw:PrincipalOrgID":"x"}}`, get, BucketContext{}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			bp := mustBucketPolicy(t, stmt(c.cond), "b")
			d := bp.Evaluate(c.req, c.ctx, owner)
			if got := d.Effect == Allow; got != c.want {
				t.Fatalf("allowed = %v (%+v), want %v", got, d, c.want)
			}
			if c.want && (d.Statement != StatementRef{Bucket: "b", Statement: "c", Effect: Allow}) {
				t.Fatalf("statement = %+v", d.Statement)
			}
		})
	}
}

func TestBucketPolicyEvaluation(t *testing.T) {
	bp := mustBucketPolicy(t, `{"Version":"2012-10-17","Statement":[
	  {"Effect":"Allow","Principal":{"AWS":"role/reader"},"Action":"s3:Get*","Resource":"arn:aws:s3:::b/*"},
	  {"Sid":"no-delete","Effect":"Deny","Principal":"*","Action":"s3:DeleteObject","Resource":"arn:aws:s3:::b/keep/*"},
	  {"Sid":"second-allow","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}`, "b")
	cases := []struct {
		name string
		req  Request
		eff  Effect
		stmt string
	}{
		{"first allow wins", Request{OrgID: "a", Role: "reader", Action: "s3:GetObject", Resource: "b/k"}, Allow, "Statement[0]"},
		{"unqualified role is owner's", Request{OrgID: "x", Role: "reader", Action: "s3:GetObjectTagging", Resource: "b/k"}, "", ""},
		{"deny", Request{OrgID: "a", Action: "s3:DeleteObject", Resource: "b/keep/k"}, Deny, "no-delete"},
		{"silent", Request{OrgID: "a", Action: "s3:PutObject", Resource: "b/k"}, "", ""},
		{"bucket-level not covered by b/*", Request{OrgID: "a", Role: "reader", Action: "s3:GetBucketLocation", Resource: "b"}, "", ""},
		{"global never", Request{OrgID: "a", Role: "reader", Action: "s3:GetObject", Resource: "*"}, "", ""},
		{"action case", Request{OrgID: "a", Action: "S3:DELETEOBJECT", Resource: "b/keep/x"}, Deny, "no-delete"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := bp.Evaluate(c.req, BucketContext{}, "a")
			if d.Effect != c.eff || d.Statement.Statement != c.stmt || d.Reason == "" {
				t.Fatalf("got %+v, want %q by %q", d, c.eff, c.stmt)
			}
		})
	}
	var nilPolicy *BucketPolicy
	if d := nilPolicy.Evaluate(Request{OrgID: "a"}, BucketContext{}, "a"); d.Effect != "" || nilPolicy.Len() != 0 {
		t.Fatalf("nil policy: %+v", d)
	}
}

func TestBucketPolicyIsPublic(t *testing.T) {
	wrap := func(stmt string) string { return `{"Version":"2012-10-17","Statement":[` + stmt + `]}` }
	const res = `"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"`
	cases := []struct {
		name, stmt string
		public     bool
	}{
		{"anyone", `{"Effect":"Allow","Principal":"*",` + res + `}`, true},
		{"anyone in AWS form", `{"Effect":"Allow","Principal":{"AWS":"*"},` + res + `}`, true},
		{"deny anyone", `{"Effect":"Deny","Principal":"*",` + res + `}`, false},
		{"another org", `{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::s3tenant1:root"},` + res + `}`, false},
		{"a role of the owner", `{"Effect":"Allow","Principal":{"AWS":"role/reader"},` + res + `}`, false},
		{"anyone of one org", `{"Effect":"Allow","Principal":"*",` + res + `,"Condition":{"StringEquals":{"cw:PrincipalOrgID":"org-b"}}}`, false},
		{"anyone of orgs like", `{"Effect":"Allow","Principal":"*",` + res + `,"Condition":{"StringLike":{"cw:PrincipalOrgID":"org-*"}}}`, true},
		{"anyone but one org", `{"Effect":"Allow","Principal":"*",` + res + `,"Condition":{"StringNotEquals":{"cw:PrincipalOrgID":"org-b"}}}`, true},
		{"anyone from a network", `{"Effect":"Allow","Principal":"*",` + res + `,"Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/32"}}}`, false},
		{"anyone from anywhere", `{"Effect":"Allow","Principal":"*",` + res + `,"Condition":{"IpAddress":{"aws:SourceIp":["10.0.0.0/8","0.0.0.0/0"]}}}`, true},
		{"anyone over TLS", `{"Effect":"Allow","Principal":"*",` + res + `,"Condition":{"Bool":{"aws:SecureTransport":true}}}`, true},
		{"one public statement of two", `{"Effect":"Allow","Principal":{"AWS":"role/r"},` + res + `},{"Effect":"Allow","Principal":"*",` + res + `}`, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := mustBucketPolicy(t, wrap(tc.stmt), "b").IsPublic(); got != tc.public {
				t.Errorf("IsPublic = %v, want %v", got, tc.public)
			}
		})
	}
	var none *BucketPolicy
	if none.IsPublic() {
		t.Error("no policy is public")
	}
}
