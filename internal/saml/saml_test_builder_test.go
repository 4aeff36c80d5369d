package saml

// The package's own fixture builder: it constructs SAML Responses with etree and signs them with
// a manual XML-DSig signer whose every knob can be turned wrong (two References, a wrong URI,
// SHA-1, HMAC, inclusive c14n, comments in DigestValue, ...). No third-party fixture files.

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"
	"github.com/russellhaering/goxmldsig/etreeutils"
)

const (
	tEntityID = "https://idp.example.com/saml/metadata"
	tACS      = "http://127.0.0.1:9001/m2m-saml-acs"
	tAudience = "http://127.0.0.1:9001/accounts/saml/abc123/metadata/"
	tRole     = "https://coreweave.com/SAML/Attributes/Role"
	tPrincip  = "https://coreweave.com/SAML/Attributes/PrincipalName"
)

// tNow is the fixed "now" of every test.
var tNow = time.Date(2026, 6, 30, 21, 6, 44, 0, time.UTC)

// testKey is a signing key with its self-signed certificate.
type testKey struct {
	key  crypto.Signer
	cert *x509.Certificate
}

var (
	keysOnce sync.Once
	keyIdP   *testKey // the trusted IdP key
	keyIdP2  *testKey // a second trusted key (rotation)
	keyEvil  *testKey // attacker key, never trusted
	keyOld   *testKey // trusted key whose certificate expired
	keyEC    *testKey // trusted ECDSA P-256 key
)

// newTestKey loads a committed test key (generating RSA keys in every test and fuzz worker process
// is slow, very slow under fuzzing instrumentation) and self-signs a certificate for it.
func newTestKey(t testing.TB, file, cn string, notBefore, notAfter time.Time) *testKey {
	t.Helper()
	pemBytes, err := os.ReadFile(filepath.Join("testdata", "keys", file))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		t.Fatalf("%s: no PEM block", file)
	}
	pk, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	k, ok := pk.(crypto.Signer)
	if !ok {
		t.Fatalf("%s: not a signer", file)
	}
	serial := new(big.Int).SetBytes([]byte(file + cn))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    notBefore,
		NotAfter:     notAfter,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.Public(), k)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testKey{key: k, cert: c}
}

func keys(t testing.TB) {
	keysOnce.Do(func() {
		nb, na := tNow.Add(-24*time.Hour), tNow.Add(365*24*time.Hour)
		keyIdP = newTestKey(t, "idp.pem", "idp.example.com", nb, na)
		keyIdP2 = newTestKey(t, "idp2.pem", "idp.example.com (new)", nb, na)
		keyEvil = newTestKey(t, "evil.pem", "idp.example.com", nb, na) // same name, other key
		keyOld = newTestKey(t, "old.pem", "idp.example.com (old)", tNow.Add(-400*24*time.Hour), tNow.Add(-time.Hour))
		keyEC = newTestKey(t, "ec.pem", "idp.example.com (ec)", nb, na)
	})
	if keyIdP == nil || keyEC == nil {
		t.Fatal("test keys not loaded")
	}
}

// memReplay is an in-memory ReplayCache for tests.
type memReplay struct {
	mu   sync.Mutex
	seen map[string]time.Time
	err  error // when set, Claim fails with it (cache down)
}

func newMemReplay() *memReplay { return &memReplay{seen: map[string]time.Time{}} }

func (m *memReplay) Claim(_ context.Context, issuer, id string, until time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return m.err
	}
	k := issuer + "\x00" + id
	if _, ok := m.seen[k]; ok {
		return fmt.Errorf("claim %s: %w", id, ErrReplayed)
	}
	m.seen[k] = until
	return nil
}

func testConfig(t testing.TB) *Config {
	keys(t)
	return &Config{
		IdPEntityID:  tEntityID,
		Certificates: []*x509.Certificate{keyIdP.cert},
		ACSURL:       tACS,
		Audience:     tAudience,
		Skew:         60 * time.Second,
		Now:          func() time.Time { return tNow },
		Replay:       newMemReplay(),
	}
}

// attrKV is one Attribute with its values (ordered, unlike a map).
type attrKV struct {
	name   string
	values []string
}

// resp describes a Response; the zero value plus defaults() is the seed-shaped happy path.
type resp struct {
	respID, assertionID         string
	respIssuer, assertionIssuer string
	noRespIssuer                bool
	destination                 string
	noDestination               bool
	recipient                   string
	noRecipient                 bool
	audiences                   [][]string // one inner slice per AudienceRestriction
	nameID                      string
	attrs                       []attrKV
	issueInstant                time.Time
	notBefore, notOnOrAfter     time.Time
	scdNotOnOrAfter             time.Time
	noSCDNotOnOrAfter           bool
	scdNotBefore                time.Time // zero: no NotBefore on SubjectConfirmationData
	sessionNotOnOrAfter         time.Time
	status                      string
	version                     string
	ts                          func(time.Time) string // timestamp format
	// edit runs on the unsigned tree (before any signing).
	edit func(r, a *etree.Element)
}

func (r *resp) defaults() {
	if r.respID == "" {
		r.respID = "_resp" + randHex()
	}
	if r.assertionID == "" {
		r.assertionID = "_asrt" + randHex()
	}
	if r.respIssuer == "" {
		r.respIssuer = tEntityID
	}
	if r.assertionIssuer == "" {
		r.assertionIssuer = tEntityID
	}
	if r.destination == "" {
		r.destination = tACS
	}
	if r.recipient == "" {
		r.recipient = tACS
	}
	if r.audiences == nil {
		r.audiences = [][]string{{tAudience}}
	}
	if r.nameID == "" {
		r.nameID = "alice@example.com"
	}
	if r.attrs == nil {
		r.attrs = []attrKV{{tRole, []string{"reader-role"}}, {tPrincip, []string{"alice@example.com"}}}
	}
	if r.issueInstant.IsZero() {
		r.issueInstant = tNow.Add(-5 * time.Second)
	}
	if r.notBefore.IsZero() {
		r.notBefore = tNow.Add(-30 * time.Second)
	}
	if r.notOnOrAfter.IsZero() {
		r.notOnOrAfter = tNow.Add(5 * time.Minute)
	}
	if r.scdNotOnOrAfter.IsZero() {
		r.scdNotOnOrAfter = tNow.Add(5 * time.Minute)
	}
	if r.status == "" {
		r.status = StatusSuccess
	}
	if r.version == "" {
		r.version = "2.0"
	}
	if r.ts == nil {
		r.ts = func(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }
	}
}

var idCounter struct {
	sync.Mutex
	n int
}

func randHex() string {
	idCounter.Lock()
	defer idCounter.Unlock()
	idCounter.n++
	var b [8]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%x%d", b, idCounter.n)
}

// build returns the document, its Response and its Assertion (unsigned).
func (r *resp) build() (*etree.Document, *etree.Element, *etree.Element) {
	r.defaults()
	doc := etree.NewDocument()
	doc.CreateProcInst("xml", `version="1.0" encoding="UTF-8"`)
	re := doc.CreateElement("samlp:Response")
	re.CreateAttr("xmlns:samlp", NSProtocol)
	re.CreateAttr("xmlns:saml", NSAssertion)
	re.CreateAttr("ID", r.respID)
	re.CreateAttr("Version", r.version)
	re.CreateAttr("IssueInstant", r.ts(r.issueInstant))
	if !r.noDestination {
		re.CreateAttr("Destination", r.destination)
	}
	if !r.noRespIssuer {
		is := re.CreateElement("saml:Issuer")
		is.CreateAttr("Format", NameIDFormatEntity)
		is.SetText(r.respIssuer)
	}
	st := re.CreateElement("samlp:Status")
	st.CreateElement("samlp:StatusCode").CreateAttr("Value", r.status)

	a := re.CreateElement("saml:Assertion")
	a.CreateAttr("xmlns:xs", "http://www.w3.org/2001/XMLSchema")
	a.CreateAttr("ID", r.assertionID)
	a.CreateAttr("Version", r.version)
	a.CreateAttr("IssueInstant", r.ts(r.issueInstant))
	ai := a.CreateElement("saml:Issuer")
	ai.CreateAttr("Format", NameIDFormatEntity)
	ai.SetText(r.assertionIssuer)
	sub := a.CreateElement("saml:Subject")
	nid := sub.CreateElement("saml:NameID")
	nid.CreateAttr("Format", "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress")
	nid.SetText(r.nameID)
	sc := sub.CreateElement("saml:SubjectConfirmation")
	sc.CreateAttr("Method", MethodBearer)
	scd := sc.CreateElement("saml:SubjectConfirmationData")
	if !r.scdNotBefore.IsZero() {
		scd.CreateAttr("NotBefore", r.ts(r.scdNotBefore))
	}
	if !r.noSCDNotOnOrAfter {
		scd.CreateAttr("NotOnOrAfter", r.ts(r.scdNotOnOrAfter))
	}
	if !r.noRecipient {
		scd.CreateAttr("Recipient", r.recipient)
	}
	cond := a.CreateElement("saml:Conditions")
	cond.CreateAttr("NotBefore", r.ts(r.notBefore))
	cond.CreateAttr("NotOnOrAfter", r.ts(r.notOnOrAfter))
	for _, ar := range r.audiences {
		are := cond.CreateElement("saml:AudienceRestriction")
		for _, au := range ar {
			are.CreateElement("saml:Audience").SetText(au)
		}
	}
	an := a.CreateElement("saml:AuthnStatement")
	an.CreateAttr("AuthnInstant", r.ts(r.issueInstant))
	an.CreateAttr("SessionIndex", "_session1")
	if !r.sessionNotOnOrAfter.IsZero() {
		an.CreateAttr("SessionNotOnOrAfter", r.ts(r.sessionNotOnOrAfter))
	}
	an.CreateElement("saml:AuthnContext").CreateElement("saml:AuthnContextClassRef").SetText("urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport")
	if len(r.attrs) > 0 {
		as := a.CreateElement("saml:AttributeStatement")
		for _, kv := range r.attrs {
			ae := as.CreateElement("saml:Attribute")
			ae.CreateAttr("Name", kv.name)
			ae.CreateAttr("NameFormat", "urn:oasis:names:tc:SAML:2.0:attrname-format:uri")
			for _, v := range kv.values {
				ve := ae.CreateElement("saml:AttributeValue")
				ve.CreateAttr("xmlns:xsi", "http://www.w3.org/2001/XMLSchema-instance")
				ve.CreateAttr("xsi:type", "xs:string")
				ve.SetText(v)
			}
		}
	}
	if r.edit != nil {
		r.edit(re, a)
	}
	return doc, re, a
}

// signOpts controls the manual signer. The zero value (plus a key) gives the profile s3fed
// accepts: exc-c14n, enveloped + exc-c14n transforms, RSA-SHA256, SHA-256, cert in KeyInfo.
type signOpts struct {
	key          *testKey
	keyInfoCert  *x509.Certificate // certificate shown in KeyInfo (default: key's own)
	noKeyInfo    bool
	keyInfo      func(ki *etree.Element) // replaces the KeyInfo content
	sigMethod    string
	sigHash      crypto.Hash
	digestMethod string
	digestHash   crypto.Hash
	siC14N       dsig.Canonicalizer // SignedInfo canonicalizer (default exc-c14n)
	refC14N      dsig.Canonicalizer // reference canonicalizer (default exc-c14n)
	transforms   []string           // Transform algorithms (default enveloped, exc-c14n)
	refURI       *string
	extraRefs    int // additional (valid-looking) References
	at           int // insert position among element children; 0 = after Issuer
	// editSignedInfo runs on SignedInfo before it is signed (the change is covered).
	editSignedInfo func(si *etree.Element)
	// after runs on the finished Signature (the change is NOT covered by the signature value).
	after     func(sig *etree.Element)
	asn1ECDSA bool // ASN.1 DER ECDSA SignatureValue instead of XML-DSig's raw r||s
	// inclusivePrefixes adds ec:InclusiveNamespaces PrefixList to the exc-c14n Transform (Okta).
	inclusivePrefixes string
}

func strp(s string) *string { return &s }

// sign adds an enveloped signature to el (which must already sit at its final position).
func sign(t testing.TB, el *etree.Element, o signOpts) *etree.Element {
	t.Helper()
	if o.key == nil {
		o.key = keyIdP
	}
	_, isEC := o.key.key.(*ecdsa.PrivateKey)
	if o.sigMethod == "" {
		o.sigMethod, o.sigHash = algRSASHA256, crypto.SHA256
		if isEC {
			o.sigMethod = algECDSA256
		}
	}
	if o.sigHash == 0 {
		o.sigHash = crypto.SHA256
	}
	if o.digestMethod == "" {
		o.digestMethod, o.digestHash = algDigest256, crypto.SHA256
	}
	if o.digestHash == 0 {
		o.digestHash = crypto.SHA256
	}
	if o.siC14N == nil {
		o.siC14N = dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList("")
	}
	if o.refC14N == nil {
		o.refC14N = dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList(o.inclusivePrefixes)
	}
	if o.transforms == nil {
		o.transforms = []string{algEnveloped, string(o.refC14N.Algorithm())}
	}
	id, _ := attr(el, "ID")
	if o.refURI == nil {
		o.refURI = strp("#" + id)
	}

	// Digest of the element in its namespace context, without any signature.
	ctx, err := etreeutils.NSBuildParentContext(el)
	if err != nil {
		t.Fatal(err)
	}
	det, err := etreeutils.NSDetatch(ctx, el)
	if err != nil {
		t.Fatal(err)
	}
	canon, err := o.refC14N.Canonicalize(det)
	if err != nil {
		t.Fatal(err)
	}
	h := o.digestHash.New()
	h.Write(canon)
	digest := base64.StdEncoding.EncodeToString(h.Sum(nil))

	sig := etree.NewElement("ds:Signature")
	sig.CreateAttr("xmlns:ds", NSDSig)
	si := sig.CreateElement("ds:SignedInfo")
	si.CreateElement("ds:CanonicalizationMethod").CreateAttr("Algorithm", string(o.siC14N.Algorithm()))
	si.CreateElement("ds:SignatureMethod").CreateAttr("Algorithm", o.sigMethod)
	for i := 0; i <= o.extraRefs; i++ {
		ref := si.CreateElement("ds:Reference")
		ref.CreateAttr("URI", *o.refURI)
		tr := ref.CreateElement("ds:Transforms")
		for _, alg := range o.transforms {
			te := tr.CreateElement("ds:Transform")
			te.CreateAttr("Algorithm", alg)
			if alg == algExcC14N && o.inclusivePrefixes != "" {
				in := te.CreateElement("ec:InclusiveNamespaces")
				in.CreateAttr("xmlns:ec", NSExcC14N)
				in.CreateAttr("PrefixList", o.inclusivePrefixes)
			}
		}
		ref.CreateElement("ds:DigestMethod").CreateAttr("Algorithm", o.digestMethod)
		ref.CreateElement("ds:DigestValue").SetText(digest)
	}
	if o.editSignedInfo != nil {
		o.editSignedInfo(si)
	}
	// Insert, then canonicalise SignedInfo in its final context, as a verifier does.
	at := o.at
	if at == 0 {
		for i, k := range el.Child {
			if e, ok := k.(*etree.Element); ok && e.Tag == "Issuer" {
				at = i + 1
			}
		}
	}
	el.InsertChildAt(at, sig)
	sctx, err := etreeutils.NSBuildParentContext(si)
	if err != nil {
		t.Fatal(err)
	}
	sdet, err := etreeutils.NSDetatch(sctx, si)
	if err != nil {
		t.Fatal(err)
	}
	scanon, err := o.siC14N.Canonicalize(sdet)
	if err != nil {
		t.Fatal(err)
	}
	sh := o.sigHash.New()
	sh.Write(scanon)
	sigBytes, err := o.key.key.Sign(rand.Reader, sh.Sum(nil), o.sigHash)
	if err != nil {
		t.Fatal(err)
	}
	if pub, ok := o.key.key.Public().(*ecdsa.PublicKey); ok && !o.asn1ECDSA {
		var rs struct{ R, S *big.Int }
		if _, err := asn1.Unmarshal(sigBytes, &rs); err != nil {
			t.Fatal(err)
		}
		n := (pub.Curve.Params().BitSize + 7) / 8
		raw := make([]byte, 2*n)
		rs.R.FillBytes(raw[:n])
		rs.S.FillBytes(raw[n:])
		sigBytes = raw
	}
	sig.CreateElement("ds:SignatureValue").SetText(wrap76(base64.StdEncoding.EncodeToString(sigBytes)))
	if !o.noKeyInfo {
		ki := sig.CreateElement("ds:KeyInfo")
		if o.keyInfo != nil {
			o.keyInfo(ki)
		} else {
			c := o.keyInfoCert
			if c == nil {
				c = o.key.cert
			}
			ki.CreateElement("ds:X509Data").CreateElement("ds:X509Certificate").SetText(base64.StdEncoding.EncodeToString(c.Raw))
		}
	}
	if o.after != nil {
		o.after(sig)
	}
	return sig
}

// wrap76 breaks base64 like xmlsec1 does, to exercise whitespace handling.
func wrap76(s string) string {
	var b strings.Builder
	for len(s) > 76 {
		b.WriteString(s[:76])
		b.WriteByte('\n')
		s = s[76:]
	}
	b.WriteString(s)
	return b.String()
}

// how says which elements to sign and with what.
type how struct {
	resp, asrt *signOpts
}

var (
	signBoth      = how{resp: &signOpts{}, asrt: &signOpts{}}
	signRespOnly  = how{resp: &signOpts{}}
	signAsrtOnly  = how{asrt: &signOpts{}}
	signNeither   = how{}
	defaultSigner = signBoth
)

// xmlOf builds r, signs the Assertion then the Response as h says, and serialises.
func xmlOf(t testing.TB, r resp, h how) []byte {
	t.Helper()
	keys(t)
	doc, re, a := r.build()
	if h.asrt != nil {
		sign(t, a, *h.asrt)
	}
	if h.resp != nil {
		sign(t, re, *h.resp)
	}
	return serialize(t, doc)
}

func serialize(t testing.TB, doc *etree.Document) []byte {
	t.Helper()
	b, err := doc.WriteToBytes()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// parseDoc re-parses serialised XML for hand-made surgery (XSW).
func parseDoc(t testing.TB, b []byte) *etree.Document {
	t.Helper()
	d := etree.NewDocument()
	if err := d.ReadFromBytes(b); err != nil {
		t.Fatal(err)
	}
	return d
}

// child returns the first child element with the given local name.
func child(el *etree.Element, local string) *etree.Element {
	for _, k := range el.ChildElements() {
		if k.Tag == local {
			return k
		}
	}
	return nil
}

// setRole replaces the Role attribute value(s) in an Assertion element.
func setRole(a *etree.Element, role string) {
	for _, as := range a.ChildElements() {
		if as.Tag != "AttributeStatement" {
			continue
		}
		for _, at := range as.ChildElements() {
			if n, _ := attr(at, "Name"); n == tRole {
				for _, v := range at.ChildElements() {
					v.SetText(role)
				}
			}
		}
	}
}

// detach (test helper) returns a copy of el carrying every namespace declaration in scope, as a
// verifier sees it.
func detach(el *etree.Element) (*etree.Element, error) {
	ctx, err := etreeutils.NSBuildParentContext(el)
	if err != nil {
		return nil, fmt.Errorf("namespace context: %w", err)
	}
	d, err := etreeutils.NSDetatch(ctx, el)
	if err != nil {
		return nil, fmt.Errorf("detach element: %w", err)
	}
	return d, nil
}
