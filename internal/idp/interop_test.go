package idp_test

// Interop tests: s3fed's strict validator (internal/saml) must accept SAML
// Responses signed by independent implementations (xmlsec1, python3-saml)
// and refuse them after a one-byte change; independent verifiers must
// accept what the test IdP (internal/idp) signs. The tools are Debian
// packages (scripts/install-test-deps.sh); a missing tool skips only when
// CI is not "true".

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/s3fed/s3fed/internal/idp"
	"github.com/s3fed/s3fed/internal/saml"
)

const (
	publicURL   = "http://127.0.0.1:9001"
	orgID       = "interop-org"
	acsURL      = publicURL + "/m2m-saml-acs"
	audience    = publicURL + "/accounts/saml/" + orgID + "/metadata/"
	principal   = "alice@example.com"
	role        = "reader"
	pythonPath  = "/usr/bin/python3"
	sigRSA256   = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
	sigECDSA256 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"
)

// needTool skips (outside CI) or fails (CI=true) when an external tool is
// unavailable; check runs the probe command.
func needTool(t *testing.T, what string, probe ...string) {
	t.Helper()
	if err := exec.Command(probe[0], probe[1:]...).Run(); err != nil {
		msg := what + " unavailable (" + strings.Join(probe, " ") + ": " + err.Error() + "); run scripts/install-test-deps.sh"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
}

func needXmlsec1(t *testing.T) { needTool(t, "xmlsec1", "xmlsec1", "--version") }

func needPython3Saml(t *testing.T) {
	needTool(t, "python3-saml", pythonPath, "-c", "import onelogin.saml2.utils, lxml, xmlsec")
}

func script(name string) string {
	p, err := filepath.Abs(filepath.Join("..", "..", "scripts", "interop", name))
	if err != nil {
		panic(err)
	}
	return p
}

// keyFiles is a generated key pair on disk plus its parsed form.
type keyFiles struct {
	kt                  idp.KeyType
	certPath, keyPath   string
	pair                *idp.KeyPair
	signatureMethodName string
}

var (
	keysOnce sync.Once
	keysDir  string
	keys     []keyFiles
	keysErr  error
)

// interopKeys generates one RSA-2048 and one P-256 key pair per test binary.
func interopKeys(t *testing.T) []keyFiles {
	t.Helper()
	keysOnce.Do(func() {
		keysDir, keysErr = os.MkdirTemp("", "s3fed-interop-keys-")
		if keysErr != nil {
			return
		}
		for _, kt := range []idp.KeyType{idp.KeyRSA2048, idp.KeyECDSAP256} {
			c, k, err := idp.Keygen(idp.KeygenOptions{KeyType: kt})
			if err != nil {
				keysErr = err
				return
			}
			kp, err := idp.ParseKeyPair(c, k)
			if err != nil {
				keysErr = err
				return
			}
			kf := keyFiles{kt: kt, pair: kp, certPath: filepath.Join(keysDir, string(kt)+"-cert.pem"), keyPath: filepath.Join(keysDir, string(kt)+"-key.pem"), signatureMethodName: sigRSA256}
			if kt == idp.KeyECDSAP256 {
				kf.signatureMethodName = sigECDSA256
			}
			if keysErr = os.WriteFile(kf.certPath, c, 0o600); keysErr != nil {
				return
			}
			if keysErr = os.WriteFile(kf.keyPath, k, 0o600); keysErr != nil {
				return
			}
			keys = append(keys, kf)
		}
	})
	if keysErr != nil {
		t.Fatalf("generate interop keys: %v", keysErr)
	}
	return keys
}

func TestMain(m *testing.M) {
	code := m.Run()
	if keysDir != "" {
		os.RemoveAll(keysDir)
	}
	os.Exit(code)
}

// memReplay is an in-memory saml.ReplayCache for one validation run.
type memReplay struct {
	mu   sync.Mutex
	seen map[string]bool
}

func (r *memReplay) Claim(_ context.Context, issuer, id string, _ time.Time) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.seen == nil {
		r.seen = map[string]bool{}
	}
	k := issuer + "\x00" + id
	if r.seen[k] {
		return saml.ErrReplayed
	}
	r.seen[k] = true
	return nil
}

func config(kf keyFiles, issuer string, now time.Time) *saml.Config {
	return &saml.Config{
		IdPEntityID:  issuer,
		Certificates: []*x509.Certificate{kf.pair.Cert},
		ACSURL:       acsURL,
		Audience:     audience,
		Skew:         60 * time.Second,
		Now:          func() time.Time { return now },
		Replay:       &memReplay{},
	}
}

// profile is the algorithm set written into xmlsec1's signature template.
type profile struct {
	name, c14n, sig, digest string
}

const (
	excC14N      = "http://www.w3.org/2001/10/xml-exc-c14n#"
	excC14NCmt   = "http://www.w3.org/2001/10/xml-exc-c14n#WithComments"
	incC14N      = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
	digestSHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
	digestSHA512 = "http://www.w3.org/2001/04/xmlenc#sha512"
	digestSHA1   = "http://www.w3.org/2000/09/xmldsig#sha1"
	sigRSA512    = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512"
	sigRSA1      = "http://www.w3.org/2000/09/xmldsig#rsa-sha1"
	sigECDSA384  = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384"
)

// template fills scripts/interop/response-template.xml. Signature
// templates go where mode asks for them (for xmlsec1); python3-saml adds
// its own, so it gets none.
func template(t *testing.T, issuer string, p profile, withResp, withAssertion bool, now time.Time) []byte {
	t.Helper()
	tmpl, err := os.ReadFile(script("response-template.xml"))
	if err != nil {
		t.Fatal(err)
	}
	sigTmpl, err := os.ReadFile(script("signature-template.xml"))
	if err != nil {
		t.Fatal(err)
	}
	respID, assertionID := "_r"+randHex(t), "_a"+randHex(t)
	sig := func(on bool, id string) string {
		if !on {
			return ""
		}
		s := strings.NewReplacer("{{SIGNATURE_METHOD}}", p.sig, "{{C14N_METHOD}}", p.c14n,
			"{{DIGEST_METHOD}}", p.digest, "{{REFERENCE_ID}}", id).Replace(string(sigTmpl))
		return "\n    " + strings.TrimRight(s, "\n")
	}
	r := strings.NewReplacer(
		"{{RESPONSE_ID}}", respID,
		"{{ASSERTION_ID}}", assertionID,
		"{{ISSUE_INSTANT}}", now.UTC().Format(time.RFC3339),
		"{{NOT_ON_OR_AFTER}}", now.Add(5*time.Minute).UTC().Format(time.RFC3339),
		"{{DESTINATION}}", acsURL,
		"{{AUDIENCE}}", audience,
		"{{ISSUER}}", issuer,
		"{{PRINCIPAL}}", principal,
		"{{ROLE}}", role,
		"{{SESSION_INDEX}}", "_s"+randHex(t),
		"{{RESPONSE_SIGNATURE}}", sig(withResp, respID),
		"{{ASSERTION_SIGNATURE}}", sig(withAssertion, assertionID),
	)
	out := r.Replace(string(tmpl))
	if strings.Contains(out, "{{") {
		t.Fatalf("unfilled placeholder in template")
	}
	return []byte(out)
}

func randHex(t *testing.T) string {
	t.Helper()
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	const hexd = "0123456789abcdef"
	s := make([]byte, 0, 32)
	for _, c := range b {
		s = append(s, hexd[c>>4], hexd[c&15])
	}
	return string(s)
}

func run(t *testing.T, stdin []byte, name string, args ...string) ([]byte, error) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Stdin = bytes.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.Bytes(), errors.New(err.Error() + ": " + errb.String())
	}
	return out.Bytes(), nil
}

func writeTemp(t *testing.T, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "doc.xml")
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

var modes = []struct {
	name                idp.SignMode
	response, assertion bool
}{
	{idp.SignBoth, true, true},
	{idp.SignAssertion, false, true},
	{idp.SignResponse, true, false},
}

// tamper is a one-byte change to signed content (or to a signature).
type tamper struct {
	name string
	fn   func(t *testing.T, x []byte) []byte
}

func replaceOnce(from, to string) func(*testing.T, []byte) []byte {
	return func(t *testing.T, x []byte) []byte {
		t.Helper()
		if len(from) != len(to) {
			t.Fatalf("tamper %q->%q is not a same-length change", from, to)
		}
		i := bytes.Index(x, []byte(from))
		if i < 0 {
			t.Fatalf("%q not found in signed document", from)
		}
		out := bytes.Clone(x)
		copy(out[i:], to)
		return out
	}
}

// flipInElement flips one bit in the decoded content of the first element
// whose local name is name (DigestValue or SignatureValue), keeping valid
// base64 so the change is caught by cryptography, not by parsing.
func flipInElement(name string) func(*testing.T, []byte) []byte {
	re := regexp.MustCompile(`(<(?:[A-Za-z0-9_]+:)?` + name + `(?:\s[^>]*)?>)([^<]+)(<)`)
	return func(t *testing.T, x []byte) []byte {
		t.Helper()
		m := re.FindSubmatchIndex(x)
		if m == nil {
			t.Fatalf("no %s in signed document", name)
		}
		text := string(x[m[4]:m[5]])
		raw, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(text), ""))
		if err != nil {
			t.Fatalf("%s is not base64: %v", name, err)
		}
		raw[len(raw)/2] ^= 0x01
		enc := base64.StdEncoding.EncodeToString(raw)
		out := append(bytes.Clone(x[:m[4]]), enc...)
		return append(out, x[m[5]:]...)
	}
}

var tampers = []tamper{
	{"role value", replaceOnce(">"+role+"<", ">"+role[:len(role)-1]+"R<")},
	{"NameID", replaceOnce(">"+principal+"</", ">"+strings.Replace(principal, "alice", "alicf", 1)+"</")},
	{"audience", replaceOnce("/"+orgID+"/metadata/", "/"+orgID[:len(orgID)-1]+"X/metadata/")},
	{"DigestValue", flipInElement("DigestValue")},
	{"SignatureValue", flipInElement("SignatureValue")},
}

// checkAccepted validates x through both entry points and checks the
// verified values.
func checkAccepted(t *testing.T, x []byte, kf keyFiles, issuer string, now time.Time, wantResp, wantAssertion bool) {
	t.Helper()
	a, err := saml.ValidateXML(context.Background(), x, config(kf, issuer, now))
	if err != nil {
		t.Fatalf("ValidateXML refused an independently signed Response: %v", err)
	}
	if a.NameID != principal || len(a.Attributes[idp.RoleAttribute]) != 1 || a.Attributes[idp.RoleAttribute][0] != role ||
		a.Attributes[idp.PrincipalNameAttribute][0] != principal || a.Issuer != issuer {
		t.Errorf("verified values wrong: NameID %q issuer %q attributes %v", a.NameID, a.Issuer, a.Attributes)
	}
	if a.ResponseSigned != wantResp || a.AssertionSigned != wantAssertion {
		t.Errorf("signed flags response=%v assertion=%v, want %v %v", a.ResponseSigned, a.AssertionSigned, wantResp, wantAssertion)
	}
	if _, err := saml.Validate(context.Background(), base64.StdEncoding.EncodeToString(x), config(kf, issuer, now)); err != nil {
		t.Errorf("Validate (base64) refused what ValidateXML accepted: %v", err)
	}
}

func checkTampersRefused(t *testing.T, x []byte, kf keyFiles, issuer string, now time.Time) {
	t.Helper()
	for _, tp := range tampers {
		bad := tp.fn(t, x)
		if bytes.Equal(bad, x) {
			t.Fatalf("%s: tamper changed nothing", tp.name)
		}
		a, err := saml.ValidateXML(context.Background(), bad, config(kf, issuer, now))
		var se *saml.Error
		switch {
		case err == nil:
			t.Errorf("%s changed: accepted (NameID %q)", tp.name, a.NameID)
		case a != nil:
			t.Errorf("%s changed: an assertion returned with error %v", tp.name, err)
		case !errors.As(err, &se):
			t.Errorf("%s changed: error %v is not a *saml.Error", tp.name, err)
		case se.Code != saml.CodeInvalidSignature:
			t.Errorf("%s changed: code %s, want %s (%v)", tp.name, se.Code, saml.CodeInvalidSignature, err)
		}
	}
}

func TestInteropXmlsec1SignedAccepted(t *testing.T) {
	needXmlsec1(t)
	now := time.Now().UTC().Truncate(time.Second)
	for _, kf := range interopKeys(t) {
		for _, m := range modes {
			t.Run(string(kf.kt)+"/"+string(m.name), func(t *testing.T) {
				issuer := "https://idp.example.com/xmlsec1"
				p := profile{c14n: excC14N, sig: kf.signatureMethodName, digest: digestSHA256}
				x := xmlsec1Sign(t, kf, template(t, issuer, p, m.response, m.assertion, now), m.name)
				if n := bytes.Count(x, []byte("<ds:SignatureValue>")); n != btoi(m.response)+btoi(m.assertion) {
					t.Fatalf("xmlsec1 produced %d signatures", n)
				}
				checkAccepted(t, x, kf, issuer, now, m.response, m.assertion)
				checkTampersRefused(t, x, kf, issuer, now)
			})
		}
	}
}

func xmlsec1Sign(t *testing.T, kf keyFiles, tmpl []byte, mode idp.SignMode) []byte {
	t.Helper()
	x, err := run(t, nil, script("xmlsec1-sign.sh"), string(mode), kf.keyPath, kf.certPath, writeTemp(t, tmpl))
	if err != nil {
		t.Fatalf("xmlsec1 sign: %v", err)
	}
	return x
}

// TestInteropXmlsec1Algorithms: real signatures made by xmlsec1 with other
// algorithms. SHA-2 variants are accepted; SHA-1 (signature or digest),
// inclusive C14N and C14N WithComments are refused even though the
// signature itself is cryptographically valid (SAML-THREATS.md).
func TestInteropXmlsec1Algorithms(t *testing.T) {
	needXmlsec1(t)
	now := time.Now().UTC().Truncate(time.Second)
	ks := interopKeys(t)
	rsa, ec := ks[0], ks[1]
	tests := []struct {
		p      profile
		kf     keyFiles
		accept bool
	}{
		{profile{"rsa-sha512 sha512", excC14N, sigRSA512, digestSHA512}, rsa, true},
		{profile{"rsa-sha256 sha512", excC14N, sigRSA256, digestSHA512}, rsa, true},
		{profile{"ecdsa-sha384 sha256", excC14N, sigECDSA384, digestSHA256}, ec, true},
		{profile{"rsa-sha1", excC14N, sigRSA1, digestSHA256}, rsa, false},
		{profile{"sha1 digest", excC14N, sigRSA256, digestSHA1}, rsa, false},
		{profile{"inclusive c14n", incC14N, sigRSA256, digestSHA256}, rsa, false},
		{profile{"exc-c14n with comments", excC14NCmt, sigRSA256, digestSHA256}, rsa, false},
	}
	for _, tt := range tests {
		for _, m := range []struct {
			name                idp.SignMode
			response, assertion bool
		}{{idp.SignAssertion, false, true}, {idp.SignResponse, true, false}} {
			t.Run(tt.p.name+"/"+string(m.name), func(t *testing.T) {
				issuer := "https://idp.example.com/xmlsec1"
				x := xmlsec1Sign(t, tt.kf, template(t, issuer, tt.p, m.response, m.assertion, now), m.name)
				if !bytes.Contains(x, []byte(`Algorithm="`+tt.p.sig+`"`)) || !bytes.Contains(x, []byte(`Algorithm="`+tt.p.digest+`"`)) {
					t.Fatal("xmlsec1 output lacks the requested algorithms")
				}
				// The signature is genuine: xmlsec1 itself verifies it.
				if out, err := run(t, nil, script("xmlsec1-verify.sh"), tt.kf.certPath, writeTemp(t, x), string(m.name)); err != nil {
					t.Fatalf("xmlsec1 does not verify its own signature: %v\n%s", err, out)
				}
				if tt.accept {
					checkAccepted(t, x, tt.kf, issuer, now, m.response, m.assertion)
					return
				}
				a, err := saml.ValidateXML(context.Background(), x, config(tt.kf, issuer, now))
				var se *saml.Error
				if err == nil || a != nil || !errors.As(err, &se) || se.Code != saml.CodeInvalidSignature {
					t.Fatalf("want refusal with %s, got assertion %v, err %v", saml.CodeInvalidSignature, a != nil, err)
				}
			})
		}
	}
}

func TestInteropPython3SamlSignedAccepted(t *testing.T) {
	needPython3Saml(t)
	now := time.Now().UTC().Truncate(time.Second)
	// add_sign supports RSA only (it falls back to RSA-SHA1 for other keys).
	kf := interopKeys(t)[0]
	for _, m := range modes {
		t.Run(string(kf.kt)+"/"+string(m.name), func(t *testing.T) {
			issuer := "https://idp.example.com/python3-saml"
			x, err := run(t, template(t, issuer, profile{}, false, false, now), pythonPath, script("python3-saml-sign.py"),
				"sign", "--mode", string(m.name), "--key", kf.keyPath, "--cert", kf.certPath)
			if err != nil {
				t.Fatalf("python3-saml sign: %v", err)
			}
			if n := bytes.Count(x, []byte("SignatureValue>")) / 2; n != btoi(m.response)+btoi(m.assertion) {
				t.Fatalf("python3-saml produced %d signatures", n)
			}
			for _, alg := range []string{sigRSA256, "http://www.w3.org/2001/04/xmlenc#sha256", "http://www.w3.org/2001/10/xml-exc-c14n#"} {
				if !bytes.Contains(x, []byte(`Algorithm="`+alg+`"`)) {
					t.Fatalf("python3-saml output lacks %s", alg)
				}
			}
			checkAccepted(t, x, kf, issuer, now, m.response, m.assertion)
			checkTampersRefused(t, x, kf, issuer, now)
		})
	}
}

// TestInteropOurSignaturesVerifyIndependently: xmlsec1 (trusting only the
// given certificate) and python3-saml accept what idp.Sign produces, for
// every key type and mode, and refuse it after a one-byte change. The
// strict validator accepts it too, so the CLI's output works end to end.
func TestInteropOurSignaturesVerifyIndependently(t *testing.T) {
	needXmlsec1(t)
	needPython3Saml(t)
	now := time.Now().UTC().Truncate(time.Millisecond)
	for _, kf := range interopKeys(t) {
		for _, m := range modes {
			t.Run(string(kf.kt)+"/"+string(m.name), func(t *testing.T) {
				x, err := idp.Sign(idp.SignOptions{
					KeyPair: kf.pair, OrgID: orgID, Principal: principal, Role: role,
					PublicURL: publicURL, Sign: m.name, Now: func() time.Time { return now },
				})
				if err != nil {
					t.Fatal(err)
				}
				good := writeTemp(t, x)
				if out, err := run(t, nil, script("xmlsec1-verify.sh"), kf.certPath, good, string(m.name)); err != nil {
					t.Errorf("xmlsec1 refuses our signature: %v\n%s", err, out)
				}
				if out, err := run(t, x, pythonPath, script("python3-saml-sign.py"), "verify", "--mode", string(m.name), "--cert", kf.certPath); err != nil {
					t.Errorf("python3-saml refuses our signature: %v\n%s", err, out)
				}
				// Trusting another key must fail: the verifiers do not take
				// the key from KeyInfo.
				other := interopKeys(t)[1-indexOf(kf.kt)]
				if _, err := run(t, nil, script("xmlsec1-verify.sh"), other.certPath, good, string(m.name)); err == nil {
					t.Error("xmlsec1 verified with an unrelated certificate")
				}
				for _, tp := range tampers[:3] {
					bad := writeTemp(t, tp.fn(t, x))
					if _, err := run(t, nil, script("xmlsec1-verify.sh"), kf.certPath, bad, string(m.name)); err == nil {
						t.Errorf("xmlsec1 accepts our Response with %s changed", tp.name)
					}
				}
				checkAccepted(t, x, kf, idp.DefaultIssuer(kf.pair.Cert), now, m.response, m.assertion)
				checkTampersRefused(t, x, kf, idp.DefaultIssuer(kf.pair.Cert), now)
			})
		}
	}
}

func indexOf(kt idp.KeyType) int {
	if kt == idp.KeyRSA2048 {
		return 0
	}
	return 1
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
