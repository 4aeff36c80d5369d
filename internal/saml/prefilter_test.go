package saml

import (
	"context"
	"strings"
	"testing"
)

// The encoding/xml round-trip attack classes (CVE-2020-29509/29510/29511: unstable element names,
// attribute names and directives) must be refused by layer 1, inside a document that is
// otherwise shaped like a Response.
func TestPrefilterRoundTripAttackClasses(t *testing.T) {
	const open = `<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol">`
	const closeTag = `</samlp:Response>`
	for name, body := range map[string]string{
		"colon element":              `<x::Element xmlns:x="urn:x"></x::Element>`,
		"end element only colon":     `<a></x::a>`,
		"colon attribute":            `<Element ::attr="foo"/>`,
		"empty local name":           `<x: xmlns:x="urn:x"/>`,
		"empty attribute name":       `<Root :="value"/>`,
		"empty attribute local":      `<Root x:="value" xmlns:x="urn:x"/>`,
		"empty xmlns prefix":         `<Root xmlns:="y"/>`,
		"directive with comments":    `<! <<!-- -->!-- x --> y>`,
		"xmlns prefix declared":      `<Root xmlns:xmlns="urn:x"/>`,
		"xml prefix rebound":         `<Root xmlns:xml="urn:x"/>`,
		"prefix undeclared to empty": `<Root xmlns:p=""/>`,
		"xmlns as attribute local":   `<Root xmlns:p="urn:p" p:xmlns="x"/>`,
		"three-part name":            `<a:b:c xmlns:a="urn:a"/>`,
		"name starting with digit":   `<1a/>`,
		"non-ASCII name":             `<é/>`,
	} {
		t.Run(name, func(t *testing.T) {
			_, _, err := prefilter([]byte(open + body + closeTag))
			if err == nil {
				t.Fatal("accepted")
			}
			expectCode(t, nil, err, CodeInvalidResponse)
		})
	}
	t.Run("root-level x::Root", func(t *testing.T) {
		_, _, err := prefilter([]byte(`<x::Root/>`))
		expectCode(t, nil, err, CodeInvalidResponse)
	})
	t.Run("legitimate xml:lang and nested namespaces pass layer 1", func(t *testing.T) {
		_, _, err := prefilter([]byte(open + `<a xml:lang="en" xmlns:p="urn:p" p:x="1"><p:b xmlns="urn:d"><c/></p:b></a>` + `<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"/>` + closeTag))
		if err != nil {
			t.Fatal(err)
		}
	})
}

func TestProcInstParam(t *testing.T) {
	for in, want := range map[string]string{
		`version="1.0" encoding="UTF-8"`:       "UTF-8",
		`version='1.0' encoding = 'utf-8'`:     "utf-8",
		`version="1.0"`:                        "",
		`version="1.0" xencoding="latin1"`:     "",
		`version="1.0" encoding="UTF-8" x="1"`: "UTF-8",
	} {
		if got := procInstParam("encoding", in); got != want {
			t.Errorf("procInstParam(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestValidateWithReport(t *testing.T) {
	keys(t)
	ctx := context.Background()
	t.Run("all checks pass, dry run does not claim", func(t *testing.T) {
		cfg := testConfig(t)
		cfg.Replay = nil
		in := b64(xmlOf(t, resp{}, signBoth))
		a, checks, err := ValidateWithReport(ctx, in, cfg, false)
		if err != nil || a == nil {
			t.Fatalf("got %v, %v", a, err)
		}
		names := map[string]bool{}
		for _, c := range checks {
			if !c.Passed {
				t.Fatalf("check %s failed: %s", c.Name, c.Detail)
			}
			names[c.Name] = true
		}
		for _, n := range []string{"decode", "prefilter", "signature.response", "signature.assertion", "response.destination", "assertion.issuer", "conditions.window", "conditions.audience", "subject.recipient", "subject.bearer", "replay"} {
			if !names[n] {
				t.Errorf("check %s missing from the report", n)
			}
		}
	})
	t.Run("stops at the failing check", func(t *testing.T) {
		cfg := testConfig(t)
		in := b64(xmlOf(t, resp{audiences: [][]string{{"urn:other"}}}, signBoth))
		a, checks, err := ValidateWithReport(ctx, in, cfg, true)
		expectCode(t, a, err, CodeAudience)
		last := checks[len(checks)-1]
		if last.Passed || last.Name != "conditions.audience" || !strings.Contains(last.Detail, "audience") {
			t.Fatalf("last check = %+v", last)
		}
		if len(cfg.Replay.(*memReplay).seen) != 0 {
			t.Fatal("refused exchange claimed replay")
		}
	})
	t.Run("claims when asked", func(t *testing.T) {
		cfg := testConfig(t)
		in := b64(xmlOf(t, resp{}, signAsrtOnly))
		if _, _, err := ValidateWithReport(ctx, in, cfg, true); err != nil {
			t.Fatal(err)
		}
		_, _, err := ValidateWithReport(ctx, in, cfg, true)
		expectCode(t, nil, err, CodeReplayed)
	})
}
