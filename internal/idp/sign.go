package idp

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"
	"github.com/russellhaering/goxmldsig/etreeutils"
)

// SAML 2.0 names the test IdP writes (saml-core-2.0-os).
const (
	NSProtocol  = "urn:oasis:names:tc:SAML:2.0:protocol"
	NSAssertion = "urn:oasis:names:tc:SAML:2.0:assertion"

	// RoleAttribute and PrincipalNameAttribute are the CoreWeave attributes
	// the default SAML mapping reads (API.md).
	RoleAttribute          = "https://coreweave.com/SAML/Attributes/Role"
	PrincipalNameAttribute = "https://coreweave.com/SAML/Attributes/PrincipalName"

	// NameIDFormatEmail is the NameID Format real IdPs use for people and
	// the default here.
	NameIDFormatEmail = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"

	statusSuccess    = "urn:oasis:names:tc:SAML:2.0:status:Success"
	cmBearer         = "urn:oasis:names:tc:SAML:2.0:cm:bearer"
	nameIDEntity     = "urn:oasis:names:tc:SAML:2.0:nameid-format:entity"
	attrNameFormat   = "urn:oasis:names:tc:SAML:2.0:attrname-format:uri"
	authnContextPPT  = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
	nsXMLSchema      = "http://www.w3.org/2001/XMLSchema"
	nsXMLSchemaInst  = "http://www.w3.org/2001/XMLSchema-instance"
	timestampLayout  = "2006-01-02T15:04:05.000Z"
	defaultPublicURL = "http://127.0.0.1:9001"
)

// SignMode says which elements Sign signs. Real IdPs differ: the CoreWeave
// seed example and ADFS sign both, Okta signs the Assertion (optionally the
// Response too), some sign only the Response.
type SignMode string

// The signing modes.
const (
	SignBoth      SignMode = "both"
	SignResponse  SignMode = "response"
	SignAssertion SignMode = "assertion"
	// SignNone leaves both elements unsigned. It exists only so negative
	// tests can build an unsigned Response; the CLI does not offer it.
	SignNone SignMode = "none"
)

// Limits of Sign. They keep the test IdP from building documents far beyond
// anything a server accepts (the exchange caps decoded XML at 256 KiB) while
// leaving room for negative tests (an over-long NameID, many attributes).
const (
	DefaultTTL = 5 * time.Minute
	// MaxTTL bounds the assertion lifetime: the server's replay cache keeps
	// each assertion ID until it expires, so a test IdP has no reason to
	// mint longer-lived ones.
	MaxTTL = 24 * time.Hour
	// MaxSessionTTL bounds SessionNotOnOrAfter (the exchange clamps
	// credential lifetime to it; 12 h is the API maximum).
	MaxSessionTTL = 7 * 24 * time.Hour
	// MaxAttributes is the number of distinct attribute names Sign writes.
	MaxAttributes = 256
	// MaxAttributeValues is the number of values one attribute may carry.
	MaxAttributeValues = 256
	// MaxValueBytes bounds every text value Sign writes (principal, NameID,
	// role, issuer, URLs, attribute names and values).
	MaxValueBytes = 16 << 10
)

// SignOptions describes the Response to build. OrgID, Principal and KeyPair
// are required; everything else has the default a real IdP configured for an
// s3fed org would produce.
type SignOptions struct {
	// KeyPair signs; its certificate goes into KeyInfo.
	KeyPair *KeyPair
	// OrgID is the s3fed organisation; it names the default Audience.
	OrgID string
	// Principal is the caller: NameID text and PrincipalName attribute value.
	Principal string
	// Role is the RoleAttribute value; empty omits the attribute.
	Role string
	// Issuer is the IdP entity ID on Response and Assertion; empty means
	// DefaultIssuer(KeyPair.Cert).
	Issuer string
	// PublicURL is the s3fed --public-url the SP URLs derive from; empty
	// means http://127.0.0.1:9001 (the default API listener).
	PublicURL string
	// Audience defaults to PublicURL + "/accounts/saml/" + OrgID + "/metadata/".
	Audience string
	// Destination is the Response Destination; default PublicURL + "/m2m-saml-acs".
	Destination string
	// Recipient is the SubjectConfirmationData Recipient; default Destination.
	Recipient string
	// NameID overrides the NameID text (default Principal), so tests can make
	// the PrincipalName attribute and the NameID differ.
	NameID string
	// NameIDFormat defaults to NameIDFormatEmail.
	NameIDFormat string
	// TTL is the time from Now to both NotOnOrAfter bounds; default
	// DefaultTTL, at most MaxTTL.
	TTL time.Duration
	// SessionTTL, when positive, adds AuthnStatement SessionNotOnOrAfter =
	// Now + SessionTTL (at most MaxSessionTTL); zero omits it.
	SessionTTL time.Duration
	// Now is the clock (IssueInstant, AuthnInstant, NotBefore); nil means
	// time.Now. A past Now builds an expired assertion.
	Now func() time.Time
	// Attributes are extra attributes, written after Role and PrincipalName
	// in name order. A name equal to RoleAttribute or PrincipalNameAttribute
	// replaces that attribute's values (a multi-valued Role for a test); a
	// name with zero values omits the attribute entirely.
	Attributes map[string][]string
	// Sign selects what is signed; empty means SignBoth.
	Sign SignMode
	// ResponseID, AssertionID and SessionIndex override the random values
	// (IDs must be XML NCNames); replay tests reuse an AssertionID.
	ResponseID, AssertionID, SessionIndex string
	// XMLDeclaration prefixes the document with <?xml version="1.0"
	// encoding="UTF-8"?>, as Okta does (Entra ID does not).
	XMLDeclaration bool
	// EncryptTo, when set, replaces the Assertion with an EncryptedAssertion
	// encrypted to this certificate's RSA key (an s3fed config's encryption
	// key certificate). The Assertion is signed first (SignAssertion,
	// SignBoth) and the Response after encryption (SignResponse, SignBoth),
	// so a Response signature covers the ciphertext, as IdPs do it.
	EncryptTo *x509.Certificate
	// KeyTransport and DataEncryption choose the algorithms; empty means
	// DefaultKeyTransport (xmlenc11 rsa-oaep, SHA-256, MGF1-SHA-256) and
	// DefaultDataEncryption (aes256-gcm).
	KeyTransport   KeyTransport
	DataEncryption DataEncryption
}

// Sign builds a SAML 2.0 Response for opts and signs it: enveloped
// signatures, exclusive C14N, RSA-SHA256 (ECDSA-SHA256 for EC keys) with a
// SHA-256 digest, the Signature placed right after Issuer as the schema
// requires and the certificate in KeyInfo. With SignBoth the Assertion is
// signed first, so the Response signature covers the signed Assertion as
// real IdPs do it.
//
// ECDSA SignatureValues are r||s as XML-DSig 1.1 §6.4.3 (RFC 4050) requires,
// which xmlsec1 and python3-saml verify; goxmldsig v1.6.1's own verifier
// expects ASN.1 DER instead, so a validator built on it must convert.
func Sign(opts SignOptions) ([]byte, error) {
	r, err := resolve(opts)
	if err != nil {
		return nil, err
	}
	doc, resp, assertion := build(r)

	// Escape CR in text, and TAB/LF/CR in attribute values, as character
	// references: a parser would otherwise normalise them (XML 1.0 §2.11,
	// §3.3.3) and read back, and digest, something other than was signed.
	doc.WriteSettings.CanonicalText = true
	doc.WriteSettings.CanonicalAttrVal = true

	if r.mode == SignAssertion || r.mode == SignBoth {
		if err := signEnveloped(assertion, r.kp); err != nil {
			return nil, fmt.Errorf("idp sign: assertion: %w", err)
		}
	}
	if r.enc != nil {
		if err := encryptAssertion(resp, assertion, r.enc, doc.WriteSettings); err != nil {
			return nil, fmt.Errorf("idp sign: encrypt assertion: %w", err)
		}
	}
	if r.mode == SignResponse || r.mode == SignBoth {
		if err := signEnveloped(resp, r.kp); err != nil {
			return nil, fmt.Errorf("idp sign: response: %w", err)
		}
	}
	out, err := doc.WriteToBytes()
	if err != nil {
		return nil, fmt.Errorf("idp sign: serialise: %w", err)
	}
	return out, nil
}

// SignBase64 is Sign followed by Base64: what the exchange endpoint's
// samlResponse field and the CLI's output carry.
func SignBase64(opts SignOptions) (string, error) {
	x, err := Sign(opts)
	if err != nil {
		return "", err
	}
	return Base64(x), nil
}

// Base64 encodes a Response for the HTTP-POST binding (saml-bindings-2.0
// §3.5.4): standard alphabet, padded, no line breaks, no deflate.
func Base64(xml []byte) string {
	return base64.StdEncoding.EncodeToString(xml)
}

// resolved is SignOptions with defaults applied and every field checked.
type resolved struct {
	kp                                       *KeyPair
	principal, nameID, nameIDFormat, role    string
	issuer, audience, destination, recipient string
	responseID, assertionID, sessionIndex    string
	now, notOnOrAfter, sessionNotOnOrAfter   time.Time
	attrs                                    []attribute
	mode                                     SignMode
	xmlDecl                                  bool
	enc                                      *encryption
}

type attribute struct {
	name   string
	values []string
}

func resolve(o SignOptions) (*resolved, error) {
	if o.KeyPair == nil || o.KeyPair.Cert == nil || o.KeyPair.Key == nil {
		return nil, errors.New("idp sign: a key pair (certificate and private key) is required")
	}
	if o.Principal == "" {
		return nil, errors.New("idp sign: principal is required")
	}
	r := &resolved{kp: o.KeyPair, principal: o.Principal, role: o.Role, xmlDecl: o.XMLDeclaration}

	r.mode = o.Sign
	if r.mode == "" {
		r.mode = SignBoth
	}
	switch r.mode {
	case SignBoth, SignResponse, SignAssertion, SignNone:
	default:
		return nil, fmt.Errorf("idp sign: unknown sign mode %q (want response, assertion or both)", o.Sign)
	}

	var err error
	if r.enc, err = resolveEncryption(o); err != nil {
		return nil, err
	}

	publicURL := strings.TrimRight(or(o.PublicURL, defaultPublicURL), "/")
	r.audience = o.Audience
	if r.audience == "" {
		if err := checkOrgID(o.OrgID); err != nil {
			return nil, err
		}
		r.audience = publicURL + "/accounts/saml/" + o.OrgID + "/metadata/"
	}
	r.destination = or(o.Destination, publicURL+"/m2m-saml-acs")
	r.recipient = or(o.Recipient, r.destination)
	r.issuer = or(o.Issuer, DefaultIssuer(o.KeyPair.Cert))
	r.nameID = or(o.NameID, o.Principal)
	r.nameIDFormat = or(o.NameIDFormat, NameIDFormatEmail)

	if r.responseID, err = idOr(o.ResponseID); err != nil {
		return nil, fmt.Errorf("idp sign: response ID: %w", err)
	}
	if r.assertionID, err = idOr(o.AssertionID); err != nil {
		return nil, fmt.Errorf("idp sign: assertion ID: %w", err)
	}
	if r.sessionIndex, err = idOr(o.SessionIndex); err != nil {
		return nil, fmt.Errorf("idp sign: session index: %w", err)
	}
	if r.responseID == r.assertionID {
		return nil, errors.New("idp sign: response ID and assertion ID must differ")
	}

	ttl := o.TTL
	if ttl == 0 {
		ttl = DefaultTTL
	}
	if ttl < 0 || ttl > MaxTTL {
		return nil, fmt.Errorf("idp sign: ttl %s out of range: must be positive and at most %s", ttl, MaxTTL)
	}
	if o.SessionTTL < 0 || o.SessionTTL > MaxSessionTTL {
		return nil, fmt.Errorf("idp sign: session ttl %s out of range: must be 0 (omitted) to %s", o.SessionTTL, MaxSessionTTL)
	}
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	r.now = now().UTC().Truncate(time.Millisecond)
	r.notOnOrAfter = r.now.Add(ttl)
	if o.SessionTTL > 0 {
		r.sessionNotOnOrAfter = r.now.Add(o.SessionTTL)
	}

	for _, f := range []struct{ name, v string }{
		{"principal", r.principal}, {"NameID", r.nameID}, {"NameID format", r.nameIDFormat},
		{"role", r.role}, {"issuer", r.issuer}, {"audience", r.audience},
		{"destination", r.destination}, {"recipient", r.recipient},
	} {
		if err := checkText(f.v); err != nil {
			return nil, fmt.Errorf("idp sign: %s: %w", f.name, err)
		}
	}

	if len(o.Attributes) > MaxAttributes {
		return nil, fmt.Errorf("idp sign: %d extra attributes, at most %d allowed", len(o.Attributes), MaxAttributes)
	}
	values := map[string][]string{
		RoleAttribute:          nil,
		PrincipalNameAttribute: {r.principal},
	}
	if r.role != "" {
		values[RoleAttribute] = []string{r.role}
	}
	extra := make([]string, 0, len(o.Attributes))
	for name, vs := range o.Attributes {
		if name == "" {
			return nil, errors.New("idp sign: attribute with an empty name")
		}
		if err := checkText(name); err != nil {
			return nil, fmt.Errorf("idp sign: attribute name %.64q: %w", name, err)
		}
		if len(vs) > MaxAttributeValues {
			return nil, fmt.Errorf("idp sign: attribute %.64q has %d values, at most %d allowed", name, len(vs), MaxAttributeValues)
		}
		for _, v := range vs {
			if err := checkText(v); err != nil {
				return nil, fmt.Errorf("idp sign: attribute %.64q value: %w", name, err)
			}
		}
		values[name] = vs
		if name != RoleAttribute && name != PrincipalNameAttribute {
			extra = append(extra, name)
		}
	}
	sort.Strings(extra)
	for _, name := range append([]string{RoleAttribute, PrincipalNameAttribute}, extra...) {
		if vs := values[name]; len(vs) > 0 {
			r.attrs = append(r.attrs, attribute{name: name, values: vs})
		}
	}
	return r, nil
}

func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// checkOrgID keeps the org ID usable as one path segment of the Audience URL.
func checkOrgID(org string) error {
	if org == "" {
		return errors.New("idp sign: org is required (it names the audience) unless an audience is given")
	}
	if len(org) > 256 {
		return fmt.Errorf("idp sign: org ID is %d bytes, at most 256 allowed", len(org))
	}
	for _, c := range org {
		if c <= 0x20 || c == 0x7f || strings.ContainsRune("/?#%\\", c) {
			return fmt.Errorf("idp sign: org ID %q contains %q, which cannot appear in one URL path segment", org, c)
		}
	}
	return nil
}

// checkText refuses text that XML 1.0 cannot carry (§2.2 Char: no C0
// controls other than TAB, LF, CR; no surrogates, U+FFFE, U+FFFF) or that
// exceeds MaxValueBytes. Such text would otherwise produce a document that
// no parser accepts, far from the bug a test meant to provoke.
func checkText(s string) error {
	if len(s) > MaxValueBytes {
		return fmt.Errorf("value is %d bytes, at most %d allowed", len(s), MaxValueBytes)
	}
	if !utf8.ValidString(s) {
		return errors.New("value is not valid UTF-8")
	}
	for _, c := range s {
		ok := c == 0x9 || c == 0xA || c == 0xD ||
			(c >= 0x20 && c <= 0xD7FF) || (c >= 0xE000 && c <= 0xFFFD) || (c >= 0x10000 && c <= 0x10FFFF)
		if !ok {
			return fmt.Errorf("value contains %U, which XML 1.0 cannot represent", c)
		}
	}
	return nil
}

// idOr returns id, or a fresh random one when id is empty. A SAML ID is an
// xs:ID (an NCName) with at least 128 bits of randomness (saml-core §1.3.4).
func idOr(id string) (string, error) {
	if id == "" {
		var b [20]byte
		if _, err := rand.Read(b[:]); err != nil {
			return "", fmt.Errorf("random ID: %w", err)
		}
		return "_" + hex.EncodeToString(b[:]), nil
	}
	if len(id) > 256 {
		return "", fmt.Errorf("ID is %d bytes, at most 256 allowed", len(id))
	}
	for i, c := range id {
		letter := c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
		if i == 0 && !letter {
			return "", fmt.Errorf("ID %q must start with a letter or '_' (xs:NCName)", id)
		}
		if !letter && !(c >= '0' && c <= '9') && c != '-' && c != '.' {
			return "", fmt.Errorf("ID %q may contain only ASCII letters, digits, '_', '-' and '.'", id)
		}
	}
	return id, nil
}

func ts(t time.Time) string { return t.UTC().Format(timestampLayout) }

// build writes the unsigned document. Element order follows the schema
// (saml-schema-protocol-2.0 StatusResponseType, saml-schema-assertion-2.0
// AssertionType), with no whitespace between elements, as IdPs emit it.
func build(r *resolved) (doc *etree.Document, resp, assertion *etree.Element) {
	doc = etree.NewDocument()
	if r.xmlDecl {
		doc.CreateProcInst("xml", `version="1.0" encoding="UTF-8"`)
	}
	resp = doc.CreateElement("samlp:Response")
	resp.CreateAttr("xmlns:samlp", NSProtocol)
	resp.CreateAttr("xmlns:saml", NSAssertion)
	resp.CreateAttr("ID", r.responseID)
	resp.CreateAttr("Version", "2.0")
	resp.CreateAttr("IssueInstant", ts(r.now))
	resp.CreateAttr("Destination", r.destination)
	iss := resp.CreateElement("saml:Issuer")
	iss.CreateAttr("Format", nameIDEntity)
	iss.SetText(r.issuer)
	resp.CreateElement("samlp:Status").CreateElement("samlp:StatusCode").CreateAttr("Value", statusSuccess)

	assertion = resp.CreateElement("saml:Assertion")
	assertion.CreateAttr("xmlns:saml", NSAssertion)
	assertion.CreateAttr("ID", r.assertionID)
	assertion.CreateAttr("Version", "2.0")
	assertion.CreateAttr("IssueInstant", ts(r.now))
	aiss := assertion.CreateElement("saml:Issuer")
	aiss.CreateAttr("Format", nameIDEntity)
	aiss.SetText(r.issuer)

	subject := assertion.CreateElement("saml:Subject")
	nameID := subject.CreateElement("saml:NameID")
	nameID.CreateAttr("Format", r.nameIDFormat)
	nameID.SetText(r.nameID)
	sc := subject.CreateElement("saml:SubjectConfirmation")
	sc.CreateAttr("Method", cmBearer)
	scd := sc.CreateElement("saml:SubjectConfirmationData")
	scd.CreateAttr("NotOnOrAfter", ts(r.notOnOrAfter))
	scd.CreateAttr("Recipient", r.recipient)

	cond := assertion.CreateElement("saml:Conditions")
	cond.CreateAttr("NotBefore", ts(r.now))
	cond.CreateAttr("NotOnOrAfter", ts(r.notOnOrAfter))
	cond.CreateElement("saml:AudienceRestriction").CreateElement("saml:Audience").SetText(r.audience)

	authn := assertion.CreateElement("saml:AuthnStatement")
	authn.CreateAttr("AuthnInstant", ts(r.now))
	authn.CreateAttr("SessionIndex", r.sessionIndex)
	if !r.sessionNotOnOrAfter.IsZero() {
		authn.CreateAttr("SessionNotOnOrAfter", ts(r.sessionNotOnOrAfter))
	}
	authn.CreateElement("saml:AuthnContext").CreateElement("saml:AuthnContextClassRef").SetText(authnContextPPT)

	if len(r.attrs) > 0 {
		stmt := assertion.CreateElement("saml:AttributeStatement")
		for _, a := range r.attrs {
			ae := stmt.CreateElement("saml:Attribute")
			ae.CreateAttr("Name", a.name)
			ae.CreateAttr("NameFormat", attrNameFormat)
			for _, v := range a.values {
				// Okta's shape: the xs/xsi declarations sit on each value.
				ve := ae.CreateElement("saml:AttributeValue")
				ve.CreateAttr("xmlns:xs", nsXMLSchema)
				ve.CreateAttr("xmlns:xsi", nsXMLSchemaInst)
				ve.CreateAttr("xsi:type", "xs:string")
				ve.SetText(v)
			}
		}
	}
	return doc, resp, assertion
}

// signEnveloped signs el in place with an enveloped signature inserted right
// after its Issuer child. goxmldsig canonicalises the element it is given in
// place and without the namespace context of its ancestors, so the digest is
// computed over a detached copy that carries every in-scope declaration;
// exclusive C14N then makes that copy's canonical form equal to the one a
// verifier computes on the element inside the document.
func signEnveloped(el *etree.Element, kp *KeyPair) error {
	ctx, err := signingContext(kp)
	if err != nil {
		return err
	}
	parent, err := etreeutils.NSBuildParentContext(el)
	if err != nil {
		return fmt.Errorf("namespace context: %w", err)
	}
	detached, err := etreeutils.NSDetatch(parent, el)
	if err != nil {
		return fmt.Errorf("detach for signing: %w", err)
	}
	sig, err := ctx.ConstructSignature(detached, true)
	if err != nil {
		return fmt.Errorf("construct signature: %w", err)
	}
	at := -1
	for i, t := range el.Child {
		if c, ok := t.(*etree.Element); ok && c.Tag == "Issuer" {
			at = i + 1
			break
		}
	}
	if at < 0 {
		return errors.New("element has no Issuer to place the Signature after")
	}
	el.InsertChildAt(at, sig)
	return nil
}

func signingContext(kp *KeyPair) (*dsig.SigningContext, error) {
	signer := kp.Key
	method := dsig.RSASHA256SignatureMethod
	switch k := kp.Key.(type) {
	case *rsa.PrivateKey:
	case *ecdsa.PrivateKey:
		signer = rawECDSASigner{k}
		method = dsig.ECDSASHA256SignatureMethod
	default:
		return nil, fmt.Errorf("unsupported key type %T", kp.Key)
	}
	ctx, err := dsig.NewSigningContext(signer, [][]byte{kp.Cert.Raw})
	if err != nil {
		return nil, fmt.Errorf("signing context: %w", err)
	}
	ctx.Canonicalizer = dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList("")
	ctx.IdAttribute = "ID"
	ctx.Prefix = "ds"
	if err := ctx.SetSignatureMethod(method); err != nil {
		return nil, fmt.Errorf("signature method: %w", err)
	}
	return ctx, nil
}

// rawECDSASigner makes ECDSA signatures in XML-DSig's encoding: the two
// integers r and s, each left-padded to the curve's byte size and
// concatenated (XML-DSig 1.1 §6.4.3), rather than Go's ASN.1 DER.
type rawECDSASigner struct{ k *ecdsa.PrivateKey }

func (s rawECDSASigner) Public() crypto.PublicKey { return s.k.Public() }

func (s rawECDSASigner) Sign(rnd io.Reader, digest []byte, _ crypto.SignerOpts) ([]byte, error) {
	r, ss, err := ecdsa.Sign(rnd, s.k, digest)
	if err != nil {
		return nil, fmt.Errorf("ecdsa sign: %w", err)
	}
	size := (s.k.Curve.Params().BitSize + 7) / 8
	out := make([]byte, 2*size)
	r.FillBytes(out[:size])
	ss.FillBytes(out[size:])
	return out, nil
}
