package mapping

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"unicode/utf8"

	"github.com/s3fed/s3fed/internal/identity"
)

// fuzzSpecs are mappings that exercise every target kind and the
// condition; the fuzzer varies the claims they read and, in
// FuzzCompileEvaluate, the expressions themselves.
var fuzzSpecs = []Spec{
	{AttributeMapping: map[string]string{"google.subject": "assertion.sub", "google.groups": "assertion.groups", "attribute.costcenter": "assertion.costcenter"}},
	{AttributeMapping: map[string]string{"subject": "assertion.sub", "role": "assertion.role", "attribute.x": "assertion.x"}, AttributeCondition: "'admins' in groups || assertion.sub.startsWith('a')"},
	{AttributeMapping: map[string]string{"subject": "assertion.sub + '@' + string(assertion.n)", "groups": "assertion.groups.filter(g, g.size() > 1)"}},
	{AttributeCondition: "has(assertion.groups) && assertion.groups.exists(g, g == 'x')"},
}

// checkOutcome asserts what every evaluation must satisfy: a refusal is a
// *Error condition_not_met with a valid UTF-8 message and no result; an
// identity honours API.md's limits and character rules.
func checkOutcome(t *testing.T, res Result, err error) {
	t.Helper()
	if err != nil {
		var me *Error
		if !errors.As(err, &me) || me.Code != CodeConditionNotMet || !utf8.ValidString(me.Message) {
			t.Fatalf("unexpected error %#v", err)
		}
		return
	}
	id := res.Identity
	if id.Subject == "" || id.Role == "" || len(id.PrincipalName) > MaxPrincipalNameBytes || len(id.Role) > MaxRoleBytes || len(id.Groups) > MaxGroups {
		t.Fatalf("identity outside the limits: %+v", id)
	}
	names := append([]string{id.PrincipalName, id.Role}, id.Groups...)
	for _, vs := range id.Attributes {
		names = append(names, vs...)
	}
	for _, n := range names {
		if err := identity.CheckName(n); err != nil {
			t.Fatalf("name %+q breaks the character rule (%v) in %+v", n, err, id)
		}
	}
}

// FuzzRulesEvaluate: for any JSON claims, compiled mappings either map or
// refuse with condition_not_met; they never panic or break the identity
// rules.
func FuzzRulesEvaluate(f *testing.F) {
	f.Add(`{"sub":"alice","groups":["admins","x"],"costcenter":"42","role":"r","x":["a","b"],"n":1}`)
	f.Add(`{"sub":"","groups":"admins","costcenter":42}`)
	f.Add(`{"sub":"a\u0000b","groups":[1,null,{}],"role":"` + "\xff" + `"}`)
	f.Add(`{"sub":"bob","groups":[],"n":1e308,"x":[["nested"]]}`)
	f.Add(`{}`)
	rules := make([]*Rules, len(fuzzSpecs))
	for i, s := range fuzzSpecs {
		r, err := Compile(s)
		if err != nil {
			f.Fatal(err)
		}
		rules[i] = r
	}
	f.Fuzz(func(t *testing.T, claimsJSON string) {
		var claims map[string]any
		if json.Unmarshal([]byte(claimsJSON), &claims) != nil {
			return
		}
		sub, _ := claims["sub"].(string)
		in := Input{Provider: identity.ProviderOIDC, Issuer: "https://idp.example", Subject: sub, Claims: claims}
		for _, r := range rules {
			res, err := r.Evaluate(context.Background(), in, "o", "c")
			checkOutcome(t, res, err)
		}
	})
}

// FuzzCompileEvaluate: any expression text either compiles (and then
// evaluates or refuses cleanly) or is refused at compile time with
// invalid_argument.
func FuzzCompileEvaluate(f *testing.F) {
	f.Add("assertion.sub", "'admins' in google.groups")
	f.Add("assertion.groups.map(g, g.lowerAscii())[0]", "attribute.x == 'y'")
	f.Add("assertion.email.split('@')[1]", "size(groups) > 0")
	f.Add("string(1/0)", "1 == 1")
	f.Add("assertion['a'][0]", "")
	f.Fuzz(func(t *testing.T, subjectExpr, cond string) {
		r, err := Compile(Spec{AttributeMapping: map[string]string{"subject": subjectExpr, "attribute.x": "assertion.x"}, AttributeCondition: cond})
		if err != nil {
			var me *Error
			if !errors.As(err, &me) || me.Code != CodeInvalidArgument || r != nil {
				t.Fatalf("compile: %#v, %v", err, r)
			}
			return
		}
		in := Input{Provider: identity.ProviderOIDC, Issuer: "https://idp.example", Subject: "s",
			Claims: map[string]any{"sub": "s", "email": "a@b", "groups": []any{"g"}, "x": "y", "a": []any{"v"}}}
		res, err := r.Evaluate(context.Background(), in, "o", "c")
		checkOutcome(t, res, err)
	})
}
