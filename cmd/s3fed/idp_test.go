package main

import (
	"bytes"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/beevik/etree"

	"github.com/s3fed/s3fed/internal/idp"
)

// runIdp runs `s3fed idp ARGS...` in dir and returns its output.
func runIdp(t *testing.T, dir string, args ...string) (string, error) {
	t.Helper()
	t.Chdir(dir)
	cmd := newIdpCmd()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), err
}

func TestIdpKeygenCmd(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		files   [2]string
		wantCN  string
		wantErr string
	}{
		{name: "defaults", args: nil, files: [2]string{"idp-cert.pem", "idp-key.pem"}, wantCN: "s3fed-test-idp"},
		{name: "ecdsa custom paths", args: []string{"--key-type", "ecdsa-p256", "--cn", "corp", "--out-cert", "c.pem", "--out-key", "k.pem", "--days", "5110"},
			files: [2]string{"c.pem", "k.pem"}, wantCN: "corp"},
		{name: "unknown key type", args: []string{"--key-type", "dsa"}, wantErr: "unknown key type"},
		{name: "days zero", args: []string{"--days", "0"}, wantErr: "out of range"},
		{name: "days over 14 years", args: []string{"--days", "5111"}, wantErr: "out of range"},
		{name: "same file", args: []string{"--out-cert", "x.pem", "--out-key", "x.pem"}, wantErr: "different files"},
		{name: "stray argument", args: []string{"extra"}, wantErr: "unknown command"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			out, err := runIdp(t, dir, append([]string{"keygen"}, tt.args...)...)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want %q", err, tt.wantErr)
				}
				if ents, _ := os.ReadDir(dir); len(ents) != 0 {
					t.Errorf("files left behind: %v", ents)
				}
				return
			}
			if err != nil {
				t.Fatalf("keygen: %v\n%s", err, out)
			}
			certPEM, err := os.ReadFile(filepath.Join(dir, tt.files[0]))
			if err != nil {
				t.Fatal(err)
			}
			keyPEM, err := os.ReadFile(filepath.Join(dir, tt.files[1]))
			if err != nil {
				t.Fatal(err)
			}
			kp, err := idp.ParseKeyPair(certPEM, keyPEM)
			if err != nil {
				t.Fatalf("written pair does not parse: %v", err)
			}
			if kp.Cert.Subject.CommonName != tt.wantCN {
				t.Errorf("CN %q, want %q", kp.Cert.Subject.CommonName, tt.wantCN)
			}
			if st, _ := os.Stat(filepath.Join(dir, tt.files[1])); st.Mode().Perm() != 0o600 {
				t.Errorf("key mode %v, want 0600", st.Mode().Perm())
			}
			if !strings.Contains(out, "IdP entity ID (default Issuer): "+tt.wantCN) {
				t.Errorf("output does not name the entity ID:\n%s", out)
			}
			if ents, _ := os.ReadDir(dir); len(ents) != 2 {
				t.Errorf("expected exactly two files, got %v", ents)
			}
		})
	}
}

func TestIdpKeygenNoOverwrite(t *testing.T) {
	dir := t.TempDir()
	if _, err := runIdp(t, dir, "keygen", "--key-type", "ecdsa-p256"); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(filepath.Join(dir, "idp-key.pem"))
	if _, err := runIdp(t, dir, "keygen", "--key-type", "ecdsa-p256"); err == nil || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("second keygen err %v, want refusal mentioning --force", err)
	}
	if after, _ := os.ReadFile(filepath.Join(dir, "idp-key.pem")); !bytes.Equal(before, after) {
		t.Fatal("key overwritten without --force")
	}
	if _, err := runIdp(t, dir, "keygen", "--key-type", "ecdsa-p256", "--force"); err != nil {
		t.Fatalf("--force: %v", err)
	}
	if after, _ := os.ReadFile(filepath.Join(dir, "idp-key.pem")); bytes.Equal(before, after) {
		t.Fatal("--force did not replace the key")
	}
}

func TestIdpSignCmd(t *testing.T) {
	dir := t.TempDir()
	if _, err := runIdp(t, dir, "keygen", "--key-type", "ecdsa-p256"); err != nil {
		t.Fatal(err)
	}
	base := []string{"sign", "--org", "abc123", "--principal", "alice@example.com", "--role", "reader"}
	tests := []struct {
		name      string
		env       string // S3FED_PUBLIC_URL
		api       string // S3FED_API
		args      []string
		xml       bool
		check     map[string]string // element path (or path@attr) -> value
		attrs     map[string][]string
		signed    [2]bool // response, assertion
		wantErr   string
		outToFile string
	}{
		{name: "defaults", args: base, signed: [2]bool{true, true},
			check: map[string]string{
				"@Destination": "http://127.0.0.1:9001/m2m-saml-acs",
				"Issuer":       "s3fed-test-idp",
				"Assertion/Conditions/AudienceRestriction/Audience":                       "http://127.0.0.1:9001/accounts/saml/abc123/metadata/",
				"Assertion/Subject/SubjectConfirmation/SubjectConfirmationData@Recipient": "http://127.0.0.1:9001/m2m-saml-acs",
				"Assertion/Subject/NameID":                                                "alice@example.com",
			},
			attrs: map[string][]string{idp.RoleAttribute: {"reader"}, idp.PrincipalNameAttribute: {"alice@example.com"}}},
		{name: "env public url", env: "https://s3fed.example.com", args: base, signed: [2]bool{true, true},
			check: map[string]string{"@Destination": "https://s3fed.example.com/m2m-saml-acs"}},
		{name: "API address when no public url", api: "http://127.0.0.1:18001", args: base, signed: [2]bool{true, true},
			check: map[string]string{"@Destination": "http://127.0.0.1:18001/m2m-saml-acs",
				"Assertion/Conditions/AudienceRestriction/Audience": "http://127.0.0.1:18001/accounts/saml/abc123/metadata/"}},
		{name: "public url beats API address", env: "https://s3fed.example.com", api: "http://127.0.0.1:18001", args: base, signed: [2]bool{true, true},
			check: map[string]string{"@Destination": "https://s3fed.example.com/m2m-saml-acs"}},
		{name: "AWS attributes for AssumeRoleWithSAML", args: append(append([]string{}, base...), "--aws-saml-provider", "cfg-1"), signed: [2]bool{true, true},
			attrs: map[string][]string{idp.RoleAttribute: {"reader"}, idp.PrincipalNameAttribute: {"alice@example.com"},
				"https://aws.amazon.com/SAML/Attributes/Role":            {"arn:aws:iam::abc123:role/reader,arn:aws:iam::abc123:saml-provider/cfg-1"},
				"https://aws.amazon.com/SAML/Attributes/RoleSessionName": {"alice@example.com"}}},
		{name: "flag public url beats env", env: "https://env.example.com",
			args: append(append([]string{}, base...), "--public-url", "https://flag.example.com", "--sign", "assertion"), signed: [2]bool{false, true},
			check: map[string]string{"Assertion/Conditions/AudienceRestriction/Audience": "https://flag.example.com/accounts/saml/abc123/metadata/"}},
		{name: "overrides and attributes", xml: true,
			args: append(append([]string{}, base...), "--issuer", "https://idp", "--audience", "urn:a", "--destination", "https://d/acs",
				"--sign", "response", "--attribute", "team=ml", "--attribute", "team=infra", "--attribute", "x==y", "--attribute", "empty=", "--xml"),
			signed: [2]bool{true, false},
			check: map[string]string{
				"Issuer": "https://idp", "Assertion/Issuer": "https://idp", "@Destination": "https://d/acs",
				"Assertion/Conditions/AudienceRestriction/Audience":                       "urn:a",
				"Assertion/Subject/SubjectConfirmation/SubjectConfirmationData@Recipient": "https://d/acs",
			},
			attrs: map[string][]string{idp.RoleAttribute: {"reader"}, idp.PrincipalNameAttribute: {"alice@example.com"},
				"team": {"ml", "infra"}, "x": {"=y"}, "empty": {""}}},
		{name: "session ttl and out file", outToFile: "resp.b64",
			args:   append(append([]string{}, base...), "--ttl", "10m", "--session-ttl", "1h", "--out", "resp.b64"),
			signed: [2]bool{true, true}},

		{name: "missing role", args: []string{"sign", "--org", "o", "--principal", "p"}, wantErr: `"role" not set`},
		{name: "missing org", args: []string{"sign", "--principal", "p", "--role", "r"}, wantErr: `"org" not set`},
		{name: "empty role", args: []string{"sign", "--org", "o", "--principal", "p", "--role", ""}, wantErr: "--role is required"},
		{name: "bad sign mode", args: append(append([]string{}, base...), "--sign", "none"), wantErr: "want response, assertion or both"},
		{name: "bad attribute", args: append(append([]string{}, base...), "--attribute", "novalue"), wantErr: "want NAME=VALUE"},
		{name: "empty attribute name", args: append(append([]string{}, base...), "--attribute", "=v"), wantErr: "want NAME=VALUE"},
		{name: "zero ttl", args: append(append([]string{}, base...), "--ttl", "0s"), wantErr: "must be positive"},
		{name: "ttl too long", args: append(append([]string{}, base...), "--ttl", "25h"), wantErr: "at most 24h"},
		{name: "negative session ttl", args: append(append([]string{}, base...), "--session-ttl", "-1m"), wantErr: "must not be negative"},
		{name: "missing cert", args: append(append([]string{}, base...), "--cert", "nope.pem"), wantErr: "idp keygen"},
		{name: "key is not a key", args: append(append([]string{}, base...), "--key", "idp-cert.pem"), wantErr: "unsupported PEM block"},
		{name: "org with slash", args: []string{"sign", "--org", "a/b", "--principal", "p", "--role", "r"}, wantErr: "URL path segment"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("S3FED_PUBLIC_URL", tt.env)
			t.Setenv("S3FED_API", tt.api)
			out, err := runIdp(t, dir, tt.args...)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("sign: %v", err)
			}
			if tt.outToFile != "" {
				if out != "" {
					t.Errorf("stdout not empty with --out: %q", out)
				}
				b, err := os.ReadFile(filepath.Join(dir, tt.outToFile))
				if err != nil {
					t.Fatal(err)
				}
				out = string(b)
			}
			if !strings.HasSuffix(out, "\n") || strings.Count(out, "\n") != 1 {
				t.Errorf("output is not one line")
			}
			x := []byte(strings.TrimSuffix(out, "\n"))
			if !tt.xml {
				if x, err = base64.StdEncoding.DecodeString(string(x)); err != nil {
					t.Fatalf("output is not base64: %v", err)
				}
			}
			doc := etree.NewDocument()
			if err := doc.ReadFromBytes(x); err != nil {
				t.Fatalf("not XML: %v", err)
			}
			resp := doc.Root()
			for path, want := range tt.check {
				el, attr, _ := strings.Cut(path, "@")
				e := resp
				if el != "" {
					e = resp.FindElement("./" + el)
				}
				if e == nil {
					t.Errorf("%s missing", path)
					continue
				}
				got := e.Text()
				if attr != "" {
					got = e.SelectAttrValue(attr, "")
				}
				if got != want {
					t.Errorf("%s = %q, want %q", path, got, want)
				}
			}
			if got := resp.SelectElement("Signature") != nil; got != tt.signed[0] {
				t.Errorf("response signed %v, want %v", got, tt.signed[0])
			}
			if got := resp.FindElement("./Assertion/Signature") != nil; got != tt.signed[1] {
				t.Errorf("assertion signed %v, want %v", got, tt.signed[1])
			}
			if tt.attrs != nil {
				got := map[string][]string{}
				for _, a := range resp.FindElements("./Assertion/AttributeStatement/Attribute") {
					for _, v := range a.SelectElements("AttributeValue") {
						got[a.SelectAttrValue("Name", "")] = append(got[a.SelectAttrValue("Name", "")], v.Text())
					}
				}
				if len(got) != len(tt.attrs) {
					t.Errorf("attributes %v, want %v", got, tt.attrs)
				}
				for k, v := range tt.attrs {
					if strings.Join(got[k], "|") != strings.Join(v, "|") {
						t.Errorf("attribute %s = %q, want %q", k, got[k], v)
					}
				}
			}
		})
	}
}

func TestIdpHelp(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want []string
	}{
		{[]string{"--help"}, []string{"keygen", "sign", "samlResponse"}},
		{[]string{"keygen", "--help"}, []string{"--out-cert", "--key-type", "ecdsa-p256", "x509Certificate", "--force"}},
		{[]string{"sign", "--help"}, []string{"--org", "--principal", "--role", "--ttl", "--sign", "--attribute", "/m2m-saml-acs", "/accounts/saml/<org>/metadata/", "s3fed-test-idp", "S3FED_PUBLIC_URL", "S3FED_API", "--aws-saml-provider"}},
	} {
		out, err := runIdp(t, t.TempDir(), tt.args...)
		if err != nil {
			t.Fatalf("%v: %v", tt.args, err)
		}
		for _, w := range tt.want {
			if !strings.Contains(out, w) {
				t.Errorf("%v help lacks %q", tt.args, w)
			}
		}
	}
}
