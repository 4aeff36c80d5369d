package policy

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func TestParseDocumentAPIExample(t *testing.T) {
	// The example of API.md, verbatim.
	doc := mustParse(t, `{"version": "v1alpha1", "name": "give-saml-access",
 "statements": [{"name": "object-reader-allow", "effect": "Allow", "actions": ["s3:Get*", "s3:List*"],
                 "resources": ["test-bucket/*"], "principals": ["role/reader-role"]}]}`)
	want := &Document{Version: "v1alpha1", Name: "give-saml-access", Statements: []Statement{{
		Name: "object-reader-allow", Effect: Allow, Actions: []string{"s3:Get*", "s3:List*"},
		Resources: []string{"test-bucket/*"}, Principals: []string{"role/reader-role"},
	}}}
	if !reflect.DeepEqual(doc, want) {
		t.Fatalf("got %+v", doc)
	}
}

func TestMarshalRoundTrips(t *testing.T) {
	for _, fixture := range []string{"seed-policy.json", "seed-policy-adapted.json"} {
		doc := loadDoc(t, fixture)
		data, err := Marshal(doc)
		if err != nil {
			t.Fatal(err)
		}
		back, err := ParseDocument(data)
		if err != nil {
			t.Fatalf("%s: re-parse: %v\n%s", fixture, err, data)
		}
		if !reflect.DeepEqual(doc, back) {
			t.Fatalf("%s: round trip changed the document", fixture)
		}
	}
	// Characters HTML escaping would mangle survive readable.
	doc := mustParse(t, `{"version":"v1alpha1","name":"x","statements":[{"name":"a<b>&c","effect":"Deny","actions":["*"],"resources":["b/<&>"],"principals":["saml/a&b@example.com"]}]}`)
	data, err := Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), `"a<b>&c"`) {
		t.Fatalf("marshal escaped HTML: %s", data)
	}
	if back, err := ParseDocument(data); err != nil || !reflect.DeepEqual(doc, back) {
		t.Fatalf("round trip: %v", err)
	}
	if _, err := Marshal(&Document{Version: "v1alpha1", Name: "x"}); err == nil {
		t.Fatal("Marshal wrote an invalid document")
	}
}

// problemsOf parses js and returns its problems rendered as strings.
func problemsOf(t *testing.T, js string) []string {
	t.Helper()
	_, err := ParseDocument([]byte(js))
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("want *ValidationError, got %v", err)
	}
	var out []string
	for _, p := range ve.Problems {
		out = append(out, p.String())
	}
	return out
}

// TestValidationListsEveryProblem: one document with many mistakes yields all
// of them at once, each with statement, field and reason.
func TestValidationListsEveryProblem(t *testing.T) {
	js := `{"version":"v1","name":"Bad_Name","statements":[
	 {"name":"","effect":"Allow","actions":["s3:GetObject"],"resources":["b/*"],"principals":["*"]},
	 {"name":"dup","effect":"allow","actions":[],"resources":["b/"],"principals":["role/"]},
	 {"name":"dup","effect":"Deny","actions":["GetObject","iam:PassRole","s3:Get-Object","s3:"],"resources":["arn:aws:s3:::b","/k","B/k",""],"principals":["role/a*","attribute/k","attribute/bad key/v","attribute/k/","user/x","saml/","Role/x",""]},
	 {"name":"types","effect":1,"actions":"s3:GetObject","resources":[1],"principals":null,"extra":true}
	],"kind":"Policy"}`
	got := problemsOf(t, js)
	want := []string{
		`kind: unknown field (a document has "version", "name" and "statements")`,
		`version: unknown version "v1" (want "v1alpha1")`,
		`name: "Bad_Name" is not a valid name: use 1-63 lowercase letters, digits and '-', starting with a letter or digit`,
		`statement "statements[0]", name: required: every statement needs a name unique within its document`,
		`statement "dup", effect: must be "Allow" or "Deny" (case-sensitive), got "allow"`,
		`statement "dup", actions: empty: at least one entry is required`,
		`statement "dup", resources[0]: "b/" has an empty key pattern: use "b/*" for every object or "b" for the bucket itself`,
		`statement "dup", principals[0]: "role/" has an empty role name`,
		`statement "dup", name: duplicate statement name (statements[1] and statements[2])`,
		`statement "dup", actions[0]: "GetObject" is not an action: use "*", "s3:NAME" or "cwobject:NAME" (wildcards * and ? allowed in NAME)`,
		`statement "dup", actions[1]: "iam:PassRole" has unknown service prefix "iam": use "s3:" or "cwobject:"`,
		`statement "dup", actions[2]: "s3:Get-Object": action names are letters and digits (with wildcards * and ?)`,
		`statement "dup", actions[3]: "s3:" has no action name after the colon`,
		`statement "dup", resources[0]: "arn:aws:s3:::b": org policies name resources as "BUCKET" or "BUCKET/KEY-PATTERN", not ARNs`,
		`statement "dup", resources[1]: "/k" has an empty bucket name: use "BUCKET/KEY-PATTERN" (the bucket may be a wildcard)`,
		`statement "dup", resources[2]: "B/k": bucket names are lowercase letters, digits, '.', '-' and '_' (with wildcards * and ?)`,
		`statement "dup", resources[3]: empty resource: use "*", "BUCKET" or "BUCKET/KEY-PATTERN"`,
		`statement "dup", principals[0]: "role/a*": no wildcards inside a principal ("*" alone means every principal of the org)`,
		`statement "dup", principals[1]: "attribute/k": use "attribute/KEY/VALUE"`,
		`statement "dup", principals[2]: "attribute/bad key/v": attribute key "bad key" must match [A-Za-z0-9_.-]+`,
		`statement "dup", principals[3]: "attribute/k/" has an empty attribute value`,
		`statement "dup", principals[4]: "user/x" has unknown principal kind "user": use "*", "role/NAME", "group/NAME", "attribute/KEY/VALUE" or a principal name such as "saml/alice@example.com"`,
		`statement "dup", principals[5]: "saml/" has an empty subject`,
		`statement "dup", principals[6]: "Role/x" has unknown principal kind "Role": use "*", "role/NAME", "group/NAME", "attribute/KEY/VALUE" or a principal name such as "saml/alice@example.com"`,
		`statement "dup", principals[7]: empty principal: use "*", "role/NAME", "group/NAME", "attribute/KEY/VALUE" or a principal name such as "saml/alice@example.com"`,
		`statement "types", effect: must be a string, got a number`,
		`statement "types", actions: must be an array of strings, got a string`,
		`statement "types", resources[0]: must be a string, got a number`,
		`statement "types", principals: must be an array of strings, got null`,
		`statement "types", extra: unknown field (a statement has "name", "effect", "actions", "resources" and "principals")`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("problems:\n%s\n\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	_, err := ParseDocument([]byte(js))
	msg := err.Error()
	if !strings.HasPrefix(msg, fmt.Sprintf("invalid access policy (%d problems): kind: unknown field", len(want))) {
		t.Fatalf("Error() = %q", msg)
	}
}

func TestValidationCases(t *testing.T) {
	stmt := func(fields string) string {
		return `{"version":"v1alpha1","name":"p","statements":[{` + fields + `}]}`
	}
	const base = `"name":"s","effect":"Allow","actions":["s3:GetObject"],"resources":["b/*"]`
	cases := []struct {
		name, js, want string
	}{
		{"missing version", `{"name":"p","statements":[{` + base + `,"principals":["*"]}]}`, `version: required (want "v1alpha1")`},
		{"version wrong case", `{"Version":"v1alpha1","name":"p","statements":[]}`, `Version: unknown field`},
		{"field case exact", stmt(base + `,"Principals":["*"]`), `statement "s", Principals: unknown field`},
		{"duplicate field", stmt(base + `,"principals":["*"],"principals":["role/x"]`), `statement "s", principals: field appears more than once`},
		{"duplicate top field", `{"version":"v1alpha1","version":"v1alpha1","name":"p","statements":[{` + base + `,"principals":["*"]}]}`, `version: field appears more than once`},
		{"missing name", `{"version":"v1alpha1","statements":[{` + base + `,"principals":["*"]}]}`, `name: required`},
		{"long name", `{"version":"v1alpha1","name":"` + strings.Repeat("a", 64) + `","statements":[{` + base + `,"principals":["*"]}]}`, `is not a valid name`},
		{"name starts with dash", `{"version":"v1alpha1","name":"-a","statements":[{` + base + `,"principals":["*"]}]}`, `is not a valid name`},
		{"no statements", `{"version":"v1alpha1","name":"p","statements":[]}`, `statements: empty: a document needs at least one statement`},
		{"statements not array", `{"version":"v1alpha1","name":"p","statements":{}}`, `statements: must be an array of statements, got an object`},
		{"statement not object", `{"version":"v1alpha1","name":"p","statements":["x"]}`, `statement "statements[0]": statement must be a JSON object, got a string`},
		{"missing principals", stmt(base), `statement "s", principals: empty: at least one entry is required`},
		{"missing effect", stmt(`"name":"s","actions":["*"],"resources":["*"],"principals":["*"]`), `statement "s", effect: required: "Allow" or "Deny"`},
		{"DENY upper", stmt(`"name":"s","effect":"DENY","actions":["*"],"resources":["*"],"principals":["*"]`), `must be "Allow" or "Deny" (case-sensitive), got "DENY"`},
		{"control char in name", stmt(`"name":"a\nb","effect":"Allow","actions":["*"],"resources":["*"],"principals":["*"]`), `name: contains control characters`},
		{"long statement name", stmt(`"name":"` + strings.Repeat("n", MaxStatementNameBytes+1) + `","effect":"Allow","actions":["*"],"resources":["*"],"principals":["*"]`), `name: longer than 128 bytes`},
		{"long action", stmt(`"name":"s","effect":"Allow","actions":["s3:` + strings.Repeat("A", MaxActionBytes) + `"],"resources":["*"],"principals":["*"]`), `actions[0]: longer than 128 bytes`},
		{"long bucket", stmt(`"name":"s","effect":"Allow","actions":["*"],"resources":["` + strings.Repeat("b", 64) + `"],"principals":["*"]`), `bucket name longer than 63 characters`},
		{"long resource", stmt(`"name":"s","effect":"Allow","actions":["*"],"resources":["b/` + strings.Repeat("k", MaxResourceBytes) + `"],"principals":["*"]`), `resources[0]: longer than 1088 bytes`},
		{"long principal name", stmt(base + `,"principals":["saml/` + strings.Repeat("a", MaxPrincipalNameBytes) + `"]`), `principal names are at most 256 bytes`},
		{"long principal", stmt(base + `,"principals":["group/` + strings.Repeat("a", MaxPrincipalBytes) + `"]`), `principals[0]: longer than 1024 bytes`},
		{"principal with question mark", stmt(base + `,"principals":["saml/a?b"]`), `no wildcards inside a principal`},
		{"wildcard principal name", stmt(base + `,"principals":["oidc/*"]`), `no wildcards inside a principal`},
		{"control char in resource", stmt(`"name":"s","effect":"Allow","actions":["*"],"resources":["b/a\u0000"],"principals":["*"]`), `contains control characters`},
		{"control char in principal", stmt(base + `,"principals":["saml/a\tb"]`), `"saml/a\tb": byte 6: U+0009 CHARACTER TABULATION, a control character`},
		{"bidi control in principal", stmt(base + `,"principals":["role/nimda\u202e"]`), `principals[0]: "role/nimda\u202e": byte 10: U+202E RIGHT-TO-LEFT OVERRIDE`},
		{"invisible character in group", stmt(base + `,"principals":["group/\ufeffops"]`), `byte 6: U+FEFF ZERO WIDTH NO-BREAK SPACE`},
		{"too many items", stmt(`"name":"s","effect":"Allow","actions":[` + strings.Repeat(`"*",`, MaxListItems) + `"*"],"resources":["*"],"principals":["*"]`), `actions: 257 entries, more than the limit of 256`},
		{"document not object", `[1]`, `document must be a JSON object, got an array`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := strings.Join(problemsOf(t, c.js), "\n")
			if !strings.Contains(got, c.want) {
				t.Fatalf("problems:\n%s\nwant one containing %q", got, c.want)
			}
		})
	}
}

func TestValidPrincipalsAndResources(t *testing.T) {
	for _, p := range []string{"*", "role/reader-role", "group/eng", "group//keycloak/path", "attribute/dept/eng", "attribute/a.b_c-D9/x/y/z",
		"saml/alice@example.com", "oidc/1234-abcd", "saml/" + strings.Repeat("a", MaxPrincipalNameBytes-5)} {
		if r := checkPrincipal(p); r != "" {
			t.Errorf("principal %q refused: %s", p, r)
		}
	}
	for _, r := range []string{"*", "**", "b", "b/k", "b/*", "*/k", "b?/k*", "test-bucket/a/b/c", "my.bucket_1/k k", "b/ünïcode*"} {
		if p := checkResource(r); p != "" {
			t.Errorf("resource %q refused: %s", r, p)
		}
	}
	for _, a := range []string{"*", "s3:*", "S3:GetObject", "s3:Get*", "s3:?etObject", "cwobject:CreateAccessKey", "CWObject:*"} {
		if p := checkAction(a); p != "" {
			t.Errorf("action %q refused: %s", a, p)
		}
	}
}

func TestParseDocumentJSONErrors(t *testing.T) {
	for _, in := range []string{``, `{`, `{"version":}`, `{} {}`, `{"a":1} x`, `nul`} {
		_, err := ParseDocument([]byte(in))
		if !errors.Is(err, ErrInvalidJSON) {
			t.Errorf("%q: want ErrInvalidJSON, got %v", in, err)
		}
	}
	big := make([]byte, MaxDocumentBytes+1)
	_, err := ParseDocument(big)
	var ve *ValidationError
	if !errors.As(err, &ve) || !strings.Contains(err.Error(), "more than the limit") {
		t.Fatalf("oversized document: %v", err)
	}
	var many strings.Builder
	many.WriteString(`{"version":"v1alpha1","name":"p","statements":[`)
	for i := range MaxStatements + 1 {
		if i > 0 {
			many.WriteString(",")
		}
		fmt.Fprintf(&many, `{"name":"s%d","effect":"Allow","actions":["*"],"resources":["*"],"principals":["*"]}`, i)
	}
	many.WriteString("]}")
	if got := problemsOf(t, many.String()); len(got) != 1 || !strings.Contains(got[0], "1001 statements, more than the limit of 1000") {
		t.Fatalf("too many statements: %v", got)
	}
}

func TestValidateNil(t *testing.T) {
	var d *Document
	if err := d.Validate(); err == nil {
		t.Fatal("nil document valid")
	}
}
