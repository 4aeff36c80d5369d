package saml

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/beevik/etree"
	roundtrip "github.com/mattermost/xml-roundtrip-validator"
)

// fuzzSeeds are real signed Responses in each signing mode plus a few hostile shapes.
func fuzzSeeds(f *testing.F) [][]byte {
	keys(f)
	seeds := [][]byte{
		xmlOf(f, resp{}, signBoth),
		xmlOf(f, resp{}, signAsrtOnly),
		xmlOf(f, resp{}, signRespOnly),
		xmlOf(f, resp{edit: func(r, a *etree.Element) {
			n := child(child(a, "Subject"), "NameID")
			n.CreateComment("c")
			n.CreateText("x")
		}}, signBoth),
		[]byte(`<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "b">]><r>&a;</r>`),
		[]byte(`<x::Response xmlns:x="urn:oasis:names:tc:SAML:2.0:protocol"/>`),
		[]byte(`<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol"><saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"/></samlp:Response>`),
		[]byte(`<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:a="x" a:b="1" xmlns:xml="http://www.w3.org/XML/1998/namespace" xml:lang="en"/>`),
	}
	return seeds
}

// FuzzPrefilter checks layer 1 never panics and, as a differential oracle, that everything it
// accepts also passes xml-roundtrip-validator's full per-token round trip.
func FuzzPrefilter(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		doc, info, err := prefilter(b)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Code == "" {
				t.Fatalf("prefilter error is not a coded *Error: %v", err)
			}
			return
		}
		if doc == nil || info == nil || !is(doc.Root(), NSProtocol, "Response") {
			t.Fatal("accepted document without a samlp:Response root")
		}
		if err := roundtrip.Validate(bytes.NewReader(bytes.TrimPrefix(b, []byte("\xef\xbb\xbf")))); err != nil {
			t.Fatalf("prefilter accepted what xml-roundtrip-validator refuses: %v", err)
		}
	})
}

// FuzzValidate runs the whole validator on mutated signed Responses: no panic, never an
// Assertion together with an error, every refusal a coded *Error, and anything accepted is
// byte-identical in meaning to a seed (its NameID and Role are the seed's).
func FuzzValidate(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	cfg := testConfig(f)
	cfg.Replay = nopReplay{}
	f.Fuzz(func(t *testing.T, b []byte) {
		before := recoveredPanics.Load()
		a, err := ValidateXML(context.Background(), b, cfg)
		if recoveredPanics.Load() != before {
			t.Fatalf("validation panicked (recovered): %v", lastPanic.Load())
		}
		if err != nil {
			if a != nil {
				t.Fatal("Assertion returned with an error")
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("refusal is not a *saml.Error: %v", err)
			}
			return
		}
		if a == nil {
			t.Fatal("nil Assertion without error")
		}
		if a.Issuer != tEntityID || len(a.Attributes[tRole]) != 1 || a.Attributes[tRole][0] != "reader-role" {
			t.Fatalf("accepted a response with altered content: %+v", a)
		}
		if a.NameID != "alice@example.com" && a.NameID != "alice@example.comx" {
			t.Fatalf("accepted a response with an altered NameID %q", a.NameID)
		}
	})
}

// FuzzSignedValues builds and signs Responses around fuzzed NameID, Role and Audience text, so the
// policy layer runs on validly signed input: no panic, and whatever is accepted reads back exactly
// what a plain parse of the same bytes shows (the verified canonical path and the document agree).
func FuzzSignedValues(f *testing.F) {
	f.Add("alice@example.com", "reader-role", tAudience)
	f.Add("a<!---->b", "r&amp;x", tAudience+" ")
	f.Add("\u00e9\u4e16", "]]>", "")
	keys(f)
	cfg := testConfig(f)
	cfg.Replay = nopReplay{}
	f.Fuzz(func(t *testing.T, nameID, role, audience string) {
		r := resp{nameID: nameID, attrs: []attrKV{{tRole, []string{role}}}, audiences: [][]string{{audience}}}
		if nameID == "" {
			r.nameID = "x"
		}
		x := xmlOf(t, r, signBoth)
		before := recoveredPanics.Load()
		a, err := ValidateXML(context.Background(), x, cfg)
		if recoveredPanics.Load() != before {
			t.Fatalf("validation panicked (recovered): %v", lastPanic.Load())
		}
		if err != nil {
			if a != nil {
				t.Fatal("Assertion returned with an error")
			}
			return
		}
		d := etree.NewDocument()
		if err := d.ReadFromBytes(x); err != nil {
			t.Fatalf("accepted bytes etree cannot parse: %v", err)
		}
		as := child(d.Root(), "Assertion")
		if want := textContent(child(child(as, "Subject"), "NameID")); a.NameID != want {
			t.Fatalf("NameID %q, document says %q", a.NameID, want)
		}
		var roleEl *etree.Element
		for _, at := range child(as, "AttributeStatement").ChildElements() {
			if n, _ := attr(at, "Name"); n == tRole {
				roleEl = at.ChildElements()[0]
			}
		}
		if got := a.Attributes[tRole]; len(got) != 1 || got[0] != textContent(roleEl) {
			t.Fatalf("Role %q, document says %q", got, textContent(roleEl))
		}
	})
}
