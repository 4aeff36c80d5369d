package mapping

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/s3fed/s3fed/internal/identity"
)

const oidcIssuer = "https://token.actions.githubusercontent.com"

func oidcIn(claims map[string]any) Input {
	sub, _ := claims["sub"].(string)
	iss, ok := claims["iss"].(string)
	if !ok {
		iss = oidcIssuer
	}
	return Input{Provider: identity.ProviderOIDC, Issuer: iss, Subject: sub, Claims: claims}
}

func samlIn(nameID string, attrs map[string][]string) Input {
	return Input{Provider: identity.ProviderSAML, Issuer: "https://idp.example.com", Subject: nameID, Attributes: attrs}
}

func mustCompile(t *testing.T, spec Spec) *Rules {
	t.Helper()
	r, err := Compile(spec)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return r
}

func ptr[T any](v T) *T { return &v }

// TestCELExamples runs GCP's documented mappings and conditions (workforce
// and workload identity federation, pasted unchanged) and CoreWeave-style
// role mappings.
func TestCELExamples(t *testing.T) {
	gh := map[string]any{
		"iss": oidcIssuer, "sub": "repo:acme/app:ref:refs/heads/main", "aud": "https://github.com/acme",
		"actor": "octocat", "repository": "acme/app", "repository_owner": "acme", "ref": "refs/heads/main",
		"groups": []any{"admins", "data-eng"}, "costcenter": "42", "email": "alice@example.com",
		"kubernetes.io": map[string]any{"namespace": "data", "serviceaccount": map[string]any{"name": "ingest"}},
	}
	tests := []struct {
		name      string
		spec      Spec
		in        Input
		subject   string
		role      string
		groups    []string
		attrs     map[string][]string
		condition *bool
	}{
		{
			name: "GCP OIDC example",
			spec: Spec{AttributeMapping: map[string]string{
				"google.subject": "assertion.sub", "google.groups": "assertion.groups", "attribute.costcenter": "assertion.costcenter",
			}},
			in: oidcIn(gh), subject: "repo:acme/app:ref:refs/heads/main", role: oidcIssuer + ":repo:acme/app:ref:refs/heads/main",
			groups: []string{"admins", "data-eng"}, attrs: map[string][]string{"costcenter": {"42"}},
		},
		{
			name: "GCP GitHub Actions provider with condition",
			spec: Spec{AttributeMapping: map[string]string{
				"google.subject": "assertion.sub", "attribute.actor": "assertion.actor", "attribute.aud": "assertion.aud",
				"attribute.repository": "assertion.repository", "attribute.repository_owner": "assertion.repository_owner",
			}, AttributeCondition: `attribute.repository_owner=="acme"`},
			in: oidcIn(gh), subject: "repo:acme/app:ref:refs/heads/main", role: oidcIssuer + ":repo:acme/app:ref:refs/heads/main",
			attrs:     map[string][]string{"actor": {"octocat"}, "aud": {"https://github.com/acme"}, "repository": {"acme/app"}, "repository_owner": {"acme"}},
			condition: ptr(true),
		},
		{
			name: "GCP condition on google.groups",
			spec: Spec{AttributeMapping: map[string]string{"google.subject": "assertion.sub", "google.groups": "assertion.groups"},
				AttributeCondition: "'admins' in google.groups"},
			in: oidcIn(gh), subject: gh["sub"].(string), role: oidcIssuer + ":" + gh["sub"].(string),
			groups: []string{"admins", "data-eng"}, condition: ptr(true),
		},
		{
			name: "condition on the assertion, false",
			spec: Spec{AttributeMapping: map[string]string{"google.subject": "assertion.sub"},
				AttributeCondition: "'auditors' in assertion.groups"},
			in: oidcIn(gh), subject: gh["sub"].(string), role: oidcIssuer + ":" + gh["sub"].(string), condition: ptr(false),
		},
		{
			name: "condition without a mapping keeps the defaults",
			spec: Spec{AttributeCondition: `assertion.repository_owner == "acme" && assertion.ref.startsWith("refs/heads/")`},
			in:   oidcIn(gh), subject: gh["sub"].(string), role: oidcIssuer + ":" + gh["sub"].(string),
			attrs: defaultAttributes(oidcIn(gh)), condition: ptr(true),
		},
		{
			name: "role and subject from claims, Kubernetes shape",
			spec: Spec{AttributeMapping: map[string]string{
				"subject": "assertion['kubernetes.io'].namespace + '/' + assertion['kubernetes.io'].serviceaccount.name",
				"role":    "'ns-' + assertion['kubernetes.io'].namespace",
				"groups":  "assertion.groups.filter(g, g.startsWith('data-'))",
			}},
			in: oidcIn(gh), subject: "data/ingest", role: "ns-data", groups: []string{"data-eng"},
		},
		{
			name: "string extension functions",
			spec: Spec{AttributeMapping: map[string]string{
				"subject":          "assertion.email.split('@')[0]",
				"attribute.domain": "assertion.email.substring(assertion.email.indexOf('@') + 1)",
				"attribute.team":   "assertion.groups.map(g, g.upperAscii())",
			}},
			in: oidcIn(gh), subject: "alice", role: oidcIssuer + ":" + gh["sub"].(string),
			attrs: map[string][]string{"domain": {"example.com"}, "team": {"ADMINS", "DATA-ENG"}},
		},
		{
			name: "number claim converted",
			spec: Spec{AttributeMapping: map[string]string{"subject": "assertion.sub", "attribute.n": "string(int(assertion.n))"}},
			in:   oidcIn(map[string]any{"sub": "s", "n": float64(42)}), subject: "s", role: oidcIssuer + ":s",
			attrs: map[string][]string{"n": {"42"}},
		},
		{
			name: "GCP SAML example",
			spec: Spec{AttributeMapping: map[string]string{
				"google.subject": "assertion.subject", "google.groups": "assertion.attributes.groups",
				"role": "assertion.attributes.role[0]", "attribute.department": "assertion.attributes.department",
			}},
			in: samlIn("alice@example.com", map[string][]string{
				"groups": {"admins", "eng"}, "role": {"reader"}, "department": {"research"},
			}),
			subject: "alice@example.com", role: "reader", groups: []string{"admins", "eng"},
			attrs: map[string][]string{"department": {"research"}},
		},
		{
			name: "SAML attribute by URI, role left to the default",
			spec: Spec{AttributeMapping: map[string]string{
				"google.subject":       "assertion.attributes['https://example.com/upn'][0]",
				"attribute.costcenter": "assertion.attributes['https://example.com/costcenter']",
			}, AttributeCondition: "'research' in assertion.attributes['https://example.com/dept']"},
			in: samlIn("n", map[string][]string{
				"https://example.com/upn": {"bob@corp"}, "https://example.com/costcenter": {"42", "43"},
				"https://example.com/dept": {"research"}, CoreWeaveRoleAttribute: {"writer"},
			}),
			subject: "bob@corp", role: "writer", attrs: map[string][]string{"costcenter": {"42", "43"}}, condition: ptr(true),
		},
		{
			name: "condition sees every mapped value",
			spec: Spec{AttributeMapping: map[string]string{"subject": "assertion.sub", "role": "'r'", "groups": "assertion.groups", "attribute.cc": "assertion.costcenter", "attribute.l": "['a','b']"},
				AttributeCondition: "subject == 'repo:acme/app:ref:refs/heads/main' && role == 'r' && 'data-eng' in groups && attribute.cc == '42' && 'b' in attribute.l && google.subject == subject && google.groups == groups"},
			in: oidcIn(gh), subject: gh["sub"].(string), role: "r", groups: []string{"admins", "data-eng"},
			attrs: map[string][]string{"cc": {"42"}, "l": {"a", "b"}}, condition: ptr(true),
		},
		{
			name: "groups deduplicated, empty values dropped",
			spec: Spec{AttributeMapping: map[string]string{"subject": "'s'", "groups": "['a', '', 'b', 'a']", "attribute.e": "''", "attribute.x": "['', 'y', 'y']"}},
			in:   oidcIn(map[string]any{"sub": "t"}), subject: "s", role: oidcIssuer + ":t", groups: []string{"a", "b"},
			attrs: map[string][]string{"x": {"y"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := mustCompile(t, tc.spec)
			res, err := r.Evaluate(context.Background(), tc.in, org, cfg)
			if err != nil {
				t.Fatalf("Evaluate: %v", err)
			}
			id := res.Identity
			want := identity.Identity{OrgID: org, ConfigID: cfg, Provider: tc.in.Provider, Subject: tc.subject,
				PrincipalName: string(tc.in.Provider) + "/" + tc.subject, Role: tc.role, Groups: tc.groups, Attributes: tc.attrs}
			if !reflect.DeepEqual(id, want) {
				t.Errorf("identity\n got %+v\nwant %+v", id, want)
			}
			if (res.Condition == nil) != (tc.condition == nil) || (res.Condition != nil && *res.Condition != *tc.condition) {
				t.Errorf("condition %v, want %v", res.Condition, tc.condition)
			}
			applied, err := r.Apply(context.Background(), tc.in, org, cfg)
			if tc.condition != nil && !*tc.condition {
				wantErr(t, err, CodeConditionNotMet, "attributeCondition is false")
				if !reflect.DeepEqual(applied, identity.Identity{}) {
					t.Errorf("an identity came back with the refusal: %+v", applied)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(applied, want) {
				t.Errorf("Apply = %+v, %v", applied, err)
			}
		})
	}
}

func TestCELNilRulesAreTheDefault(t *testing.T) {
	r, err := Compile(Spec{AttributeMapping: map[string]string{}})
	if r != nil || err != nil {
		t.Fatalf("empty spec: %v, %v", r, err)
	}
	in := oidcIn(map[string]any{"sub": "svc", CoreWeaveRoleClaim: "reader"})
	got, err := r.Apply(context.Background(), in, org, cfg)
	want, _ := Default(in, org, cfg)
	if err != nil || !reflect.DeepEqual(got, want) || got.Role != "reader" {
		t.Errorf("nil rules: %+v, %v", got, err)
	}
}

func TestCELCompileErrors(t *testing.T) {
	long := func(n int) string { return "'" + strings.Repeat("a", n-2) + "'" }
	many := map[string]string{"subject": "assertion.sub"}
	for i := range MaxAttributeTargets + 1 {
		many["attribute.a"+strings.Repeat("b", i)] = "'x'"
	}
	big := map[string]string{"subject": "assertion.sub"}
	for i := range 5 {
		big["attribute.x"+strings.Repeat("y", i)] = long(MaxExpressionBytes - 2)
	}
	nested := "assertion.groups.exists(g, assertion.other.exists(h, h == g))"
	tests := []struct {
		name string
		spec Spec
		want string // in the message
	}{
		{"unknown target", Spec{AttributeMapping: map[string]string{"subject": "assertion.sub", "google.display_name": "assertion.name"}}, `unknown target "google.display_name"`},
		{"attribute name uppercase", Spec{AttributeMapping: map[string]string{"subject": "assertion.sub", "attribute.Dept": "'x'"}}, `unknown target "attribute.Dept"`},
		{"attribute name starting with a digit", Spec{AttributeMapping: map[string]string{"subject": "assertion.sub", "attribute.1x": "'x'"}}, "unknown target"},
		{"attribute name 101 characters", Spec{AttributeMapping: map[string]string{"subject": "assertion.sub", "attribute.a" + strings.Repeat("b", 100): "'x'"}}, "unknown target"},
		{"attribute name empty", Spec{AttributeMapping: map[string]string{"subject": "assertion.sub", "attribute.": "'x'"}}, "unknown target"},
		{"alias and target together", Spec{AttributeMapping: map[string]string{"subject": "assertion.sub", "google.subject": "assertion.sub"}}, "both map subject"},
		{"no subject", Spec{AttributeMapping: map[string]string{"groups": "assertion.groups"}}, "must map subject"},
		{"syntax error", Spec{AttributeMapping: map[string]string{"subject": "assertion.sub +"}}, `attributeMapping["subject"]: ERROR: <input>:1:`},
		{"undeclared reference", Spec{AttributeMapping: map[string]string{"subject": "google.subject"}}, `attributeMapping["subject"]: ERROR: <input>:1:1: undeclared reference to 'google'`},
		{"unknown function", Spec{AttributeMapping: map[string]string{"subject": "assertion.sub.frobnicate()"}}, "undeclared reference to 'frobnicate'"},
		{"subject yields a bool", Spec{AttributeMapping: map[string]string{"subject": "assertion.sub == 'x'"}}, `attributeMapping["subject"] must yield a string, it yields bool`},
		{"role yields an int", Spec{AttributeMapping: map[string]string{"subject": "assertion.sub", "role": "1 + 1"}}, `attributeMapping["role"] must yield a string, it yields int`},
		{"groups yields a string", Spec{AttributeMapping: map[string]string{"subject": "assertion.sub", "google.groups": "'admins'"}}, `attributeMapping["google.groups"] must yield a list of strings, it yields string`},
		{"groups yields a list of ints", Spec{AttributeMapping: map[string]string{"subject": "assertion.sub", "groups": "[1, 2]"}}, "must yield a list of strings, it yields list(int)"},
		{"attribute yields a map", Spec{AttributeMapping: map[string]string{"subject": "assertion.sub", "attribute.x": "{'a': 'b'}"}}, "must yield a string or a list of strings"},
		{"condition yields a string", Spec{AttributeCondition: "'true'"}, "attributeCondition must yield a bool, it yields string"},
		{"condition syntax", Spec{AttributeCondition: "assertion.sub =="}, "attributeCondition: ERROR"},
		{"empty expression", Spec{AttributeMapping: map[string]string{"subject": "  "}}, `attributeMapping["subject"] is empty`},
		{"expression over 2048 bytes", Spec{AttributeMapping: map[string]string{"subject": long(MaxExpressionBytes + 1)}}, "is 2049 bytes, at most 2048"},
		{"condition over 4096 bytes", Spec{AttributeCondition: long(MaxConditionBytes+1) + " == ''"}, "attributeCondition is"},
		{"mapping over 8192 bytes", Spec{AttributeMapping: big}, "attributeMapping is"},
		{"too many attribute targets", Spec{AttributeMapping: many}, "51 attribute targets, at most 50"},
		{"nested loop mapping", Spec{AttributeMapping: map[string]string{"subject": "assertion.sub", "groups": "assertion.groups.filter(g, assertion.other.exists(h, h == g))"}}, `attributeMapping["groups"] is too expensive`},
		{"nested loop condition", Spec{AttributeCondition: nested}, "attributeCondition is too expensive"},
		{"quadratic string building", Spec{AttributeMapping: map[string]string{"subject": "assertion.groups.map(g, assertion.groups.join(g)).join(',')"}}, "too expensive"},
		{"together too expensive", Spec{AttributeMapping: map[string]string{
			"subject":     "assertion.sub",
			"attribute.a": "assertion.groups.map(g, g.lowerAscii() + g.upperAscii())",
			"attribute.b": "assertion.groups.map(g, g.lowerAscii() + g.upperAscii())",
			"attribute.c": "assertion.groups.map(g, g.lowerAscii() + g.upperAscii())",
			"attribute.d": "assertion.groups.map(g, g.lowerAscii() + g.upperAscii())",
		}}, "together are too expensive"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Compile(tc.spec)
			if r != nil {
				t.Errorf("rules returned with an error")
			}
			wantErr(t, err, CodeInvalidArgument, tc.want)
		})
	}
}

// TestCELLimitsAccepted: every byte limit is inclusive.
func TestCELLimitsAccepted(t *testing.T) {
	lit := func(n int) string { return "'" + strings.Repeat("a", n-2) + "'" }
	if _, err := Compile(Spec{AttributeMapping: map[string]string{"subject": lit(MaxExpressionBytes)}}); err != nil {
		t.Errorf("expression of exactly %d bytes: %v", MaxExpressionBytes, err)
	}
	cond := lit(MaxConditionBytes-6) + " == ''"
	if _, err := Compile(Spec{AttributeCondition: cond}); err != nil || len(cond) != MaxConditionBytes {
		t.Errorf("condition of exactly %d bytes (%d): %v", MaxConditionBytes, len(cond), err)
	}
	m := map[string]string{"subject": lit(MaxExpressionBytes - len("subject"))}
	total := MaxExpressionBytes
	for i := 0; total < MaxMappingBytes; i++ {
		name := "attribute.a" + strings.Repeat("b", i)
		n := min(MaxExpressionBytes, MaxMappingBytes-total-len(name))
		m[name] = lit(n)
		total += len(name) + n
	}
	if _, err := Compile(Spec{AttributeMapping: m}); err != nil || total != MaxMappingBytes {
		t.Errorf("mapping of exactly %d bytes (%d): %v", MaxMappingBytes, total, err)
	}
	many := map[string]string{"subject": "assertion.sub"}
	for i := range MaxAttributeTargets {
		many["attribute.a"+strings.Repeat("b", i)] = "'x'"
	}
	if _, err := Compile(Spec{AttributeMapping: many}); err != nil {
		t.Errorf("%d attribute targets: %v", MaxAttributeTargets, err)
	}
	name := "attribute.a" + strings.Repeat("b", 99)
	if _, err := Compile(Spec{AttributeMapping: map[string]string{"subject": "assertion.sub", name: "'x'"}}); err != nil {
		t.Errorf("attribute name of 100 characters: %v", err)
	}
	// A single loop over a list is within the cost limit.
	for _, src := range []string{"assertion.groups.filter(g, g.startsWith('team-'))", "assertion.groups.map(g, 'x-' + g)", "assertion.groups.map(g, g.lowerAscii())"} {
		r, err := Compile(Spec{AttributeMapping: map[string]string{"subject": "assertion.sub", "groups": src}})
		if err != nil {
			t.Errorf("%s: %v", src, err)
			continue
		}
		if c := r.Costs()[`attributeMapping["groups"]`]; c == 0 || c > MaxCost {
			t.Errorf("%s: estimated cost %d", src, c)
		}
	}
}

func TestCELRuntimeErrors(t *testing.T) {
	manyGroups := make([]any, MaxGroups+1)
	for i := range manyGroups {
		manyGroups[i] = "g" + strings.Repeat("x", i)
	}
	tests := []struct {
		name   string
		spec   Spec
		claims map[string]any
		want   string
	}{
		{"missing claim", Spec{AttributeMapping: map[string]string{"subject": "assertion.email"}}, map[string]any{"sub": "s"},
			`attributeMapping["subject"]: evaluation failed: no such key: email`},
		{"missing claim in an attribute", Spec{AttributeMapping: map[string]string{"subject": "assertion.sub", "attribute.cc": "assertion.costcenter"}}, map[string]any{"sub": "s"},
			`attributeMapping["attribute.cc"]: evaluation failed`},
		{"subject yields a list", Spec{AttributeMapping: map[string]string{"subject": "assertion.groups"}}, map[string]any{"sub": "s", "groups": []any{"a"}},
			`attributeMapping["subject"] must yield a string, it yielded list`},
		{"subject yields a number", Spec{AttributeMapping: map[string]string{"subject": "assertion.n"}}, map[string]any{"n": float64(1)},
			`must yield a string, it yielded double`},
		{"subject empty", Spec{AttributeMapping: map[string]string{"subject": "assertion.e"}}, map[string]any{"e": ""},
			`attributeMapping["subject"] yielded an empty string`},
		{"subject with a control character", Spec{AttributeMapping: map[string]string{"subject": "assertion.s"}}, map[string]any{"s": "a\nb"},
			`control character`},
		{"principal too long", Spec{AttributeMapping: map[string]string{"subject": "assertion.s"}}, map[string]any{"s": strings.Repeat("x", MaxPrincipalNameBytes)},
			`at most 256 allowed`},
		{"role empty", Spec{AttributeMapping: map[string]string{"subject": "'s'", "role": "assertion.r"}}, map[string]any{"r": ""},
			`attributeMapping["role"] yielded an empty string`},
		{"role too long", Spec{AttributeMapping: map[string]string{"subject": "'s'", "role": "assertion.r"}}, map[string]any{"r": strings.Repeat("r", MaxRoleBytes+1)},
			`attributeMapping["role"]: role is 257 bytes`},
		{"role with DEL", Spec{AttributeMapping: map[string]string{"subject": "'s'", "role": "assertion.r"}}, map[string]any{"r": "a\x7f"},
			`control character`},
		{"role with a bidi override", Spec{AttributeMapping: map[string]string{"subject": "'s'", "role": "assertion.r"}}, map[string]any{"r": "nimda\u202e"},
			`byte 5: U+202E RIGHT-TO-LEFT OVERRIDE`},
		{"group with a zero-width space", Spec{AttributeMapping: map[string]string{"subject": "'s'", "groups": "assertion.g"}}, map[string]any{"g": []any{"ok", "adm\u200bins"}},
			`byte 3: U+200B ZERO WIDTH SPACE`},
		{"subject with a line separator", Spec{AttributeMapping: map[string]string{"subject": "assertion.s"}}, map[string]any{"s": "bob\u2028admin"},
			`byte 3: U+2028 LINE SEPARATOR`},
		{"groups not a list", Spec{AttributeMapping: map[string]string{"subject": "'s'", "groups": "assertion.g"}}, map[string]any{"g": "admins"},
			`attributeMapping["groups"] must yield a list of strings, it yielded string`},
		{"groups null", Spec{AttributeMapping: map[string]string{"subject": "'s'", "groups": "assertion.g"}}, map[string]any{"g": nil},
			`it yielded null_type`},
		{"group not a string", Spec{AttributeMapping: map[string]string{"subject": "'s'", "groups": "assertion.g"}}, map[string]any{"g": []any{"a", float64(1)}},
			`value 1 is double, not a string`},
		{"more than 100 groups", Spec{AttributeMapping: map[string]string{"subject": "'s'", "groups": "assertion.g"}}, map[string]any{"g": manyGroups},
			`yielded 101 values, at most 100`},
		{"group too long", Spec{AttributeMapping: map[string]string{"subject": "'s'", "groups": "assertion.g"}}, map[string]any{"g": []any{strings.Repeat("g", MaxGroupBytes+1)}},
			`is 257 bytes`},
		{"attribute a map", Spec{AttributeMapping: map[string]string{"subject": "'s'", "attribute.x": "assertion.m"}}, map[string]any{"m": map[string]any{}},
			`must yield a string or a list of strings, it yielded map`},
		{"attribute with too many values", Spec{AttributeMapping: map[string]string{"subject": "'s'", "attribute.x": "assertion.g"}}, map[string]any{"g": manyGroups[:MaxAttributeValues+1]},
			`yielded 51 values, at most 50`},
		{"index out of range", Spec{AttributeMapping: map[string]string{"subject": "assertion.g[3]"}}, map[string]any{"g": []any{"a"}},
			`attributeMapping["subject"]: evaluation failed: index out of bounds: 3`},
		{"division by zero", Spec{AttributeMapping: map[string]string{"subject": "string(1 / int(assertion.z))"}}, map[string]any{"z": float64(0)},
			`division by zero`},
		{"condition errors", Spec{AttributeCondition: "assertion.missing == 'x'"}, map[string]any{"sub": "s"},
			`attributeCondition: evaluation failed: no such key: missing`},
		{"condition yields a string at run time", Spec{AttributeCondition: "assertion.sub"}, map[string]any{"sub": "s"},
			`attributeCondition must yield a bool, it yielded string`},
		{"claim list over MaxInputMembers", Spec{AttributeMapping: map[string]string{"subject": "'s'"}}, map[string]any{"g": make([]any, MaxInputMembers+1)},
			`a list or object in claim "g" has 513 members; a config with CEL rules accepts at most 512`},
		{"nested object over MaxInputMembers", Spec{AttributeCondition: "true"}, map[string]any{"k": map[string]any{"l": []any{manyMembers(MaxInputMembers + 1)}}},
			`claim "k" has 513 members`},
		{"default role still applies and can fail", Spec{AttributeMapping: map[string]string{"subject": "'s'"}}, map[string]any{CoreWeaveRoleClaim: float64(3)},
			`claim https://coreweave.com/claims/role must be a string`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := mustCompile(t, tc.spec)
			res, err := r.Evaluate(context.Background(), oidcIn(tc.claims), org, cfg)
			wantErr(t, err, CodeConditionNotMet, tc.want)
			if !reflect.DeepEqual(res, Result{}) {
				t.Errorf("a result came back with the error: %+v", res)
			}
			_, err = r.Apply(context.Background(), oidcIn(tc.claims), org, cfg)
			wantErr(t, err, CodeConditionNotMet, tc.want)
		})
	}
}

// TestCELDeadline: evaluation stops at the exchange's deadline, checked
// inside comprehensions, and the refusal names the target.
func TestCELDeadline(t *testing.T) {
	defer func(d time.Duration) { evalTimeout = d }(evalTimeout)
	evalTimeout = -1 // already past: the first interrupt check stops the loop
	r := mustCompile(t, Spec{AttributeMapping: map[string]string{"subject": "'s'", "groups": "assertion.g.filter(g, g.startsWith('b'))"}})
	g := make([]any, MaxInputMembers)
	for i := range g {
		g[i] = "aaaa"
	}
	_, err := r.Apply(context.Background(), oidcIn(map[string]any{"g": g}), org, cfg)
	wantErr(t, err, CodeConditionNotMet, `attributeMapping["groups"]: evaluation stopped: the mapping and condition may take at most 100ms per exchange`)

	// A caller that gives up stops evaluation too.
	evalTimeout = MaxEvalTime
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = r.Apply(ctx, oidcIn(map[string]any{"g": g}), org, cfg)
	wantErr(t, err, CodeConditionNotMet, `attributeMapping["groups"]: evaluation cancelled`)

	// Without a loop there is nothing to interrupt: a short mapping is not
	// refused for want of time.
	evalTimeout = -1
	r = mustCompile(t, Spec{AttributeMapping: map[string]string{"subject": "assertion.sub"}})
	if _, err := r.Apply(context.Background(), oidcIn(map[string]any{"sub": "s"}), org, cfg); err != nil {
		t.Errorf("loop-free mapping: %v", err)
	}
}

func manyMembers(n int) map[string]any {
	m := map[string]any{}
	for i := range n {
		m[strings.Repeat("k", i+1)] = i
	}
	return m
}

// TestCELInputMembersAccepted: lists and SAML attributes of exactly
// MaxInputMembers members are accepted.
func TestCELInputMembersAccepted(t *testing.T) {
	r := mustCompile(t, Spec{AttributeMapping: map[string]string{"subject": "'s'", "groups": "assertion.g.filter(g, g == 'x')"}})
	g := make([]any, MaxInputMembers)
	for i := range g {
		g[i] = "y"
	}
	g[7] = "x"
	id, err := r.Apply(context.Background(), oidcIn(map[string]any{"g": g}), org, cfg)
	if err != nil || len(id.Groups) != 1 {
		t.Fatalf("%d members: %+v, %v", MaxInputMembers, id, err)
	}
	vs := make([]string, MaxInputMembers)
	r = mustCompile(t, Spec{AttributeMapping: map[string]string{"subject": "assertion.subject", "role": "'r'"}})
	if _, err := r.Apply(context.Background(), samlIn("n", map[string][]string{"a": vs}), org, cfg); err != nil {
		t.Fatalf("SAML attribute with %d values: %v", MaxInputMembers, err)
	}
	_, err = r.Apply(context.Background(), samlIn("n", map[string][]string{"a": append(vs, "")}), org, cfg)
	wantErr(t, err, CodeConditionNotMet, `attribute "a" has 513 members`)
}
