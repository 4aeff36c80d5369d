package saml

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"fmt"
	"math/big"
	"sort"
	"strings"
	"time"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"
	"github.com/russellhaering/goxmldsig/etreeutils"
)

// Algorithm URIs accepted by the signature profile (an allow-list: SHA-1, HMAC, DSA, inclusive
// c14n and WithComments variants are refused before any cryptography runs).
const (
	algExcC14N    = "http://www.w3.org/2001/10/xml-exc-c14n#"
	algEnveloped  = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
	algRSASHA256  = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
	algRSASHA384  = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384"
	algRSASHA512  = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512"
	algECDSA256   = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"
	algECDSA384   = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384"
	algECDSA512   = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512"
	algDigest256  = "http://www.w3.org/2001/04/xmlenc#sha256"
	algDigest384  = "http://www.w3.org/2001/04/xmldsig-more#sha384"
	algDigest512  = "http://www.w3.org/2001/04/xmlenc#sha512"
	maxKeyInfoCer = 4 // KeyInfo certificates looked at for the untrusted_key decision
)

var signatureMethods = map[string]x509.PublicKeyAlgorithm{
	algRSASHA256: x509.RSA, algRSASHA384: x509.RSA, algRSASHA512: x509.RSA,
	algECDSA256: x509.ECDSA, algECDSA384: x509.ECDSA, algECDSA512: x509.ECDSA,
}

var digestSizes = map[string]int{algDigest256: 32, algDigest384: 48, algDigest512: 64}

// sigProfile is what the profile check learned about one ds:Signature.
type sigProfile struct {
	sig          *etree.Element
	method       string
	keyInfo      bool     // a KeyInfo element was present
	keyInfoCerts [][]byte // DER of its X509Certificates (never parsed, only compared)
}

// is reports whether el is {ns}local, resolving its prefix through the tree.
func is(el *etree.Element, ns, local string) bool {
	return el != nil && el.Tag == local && el.NamespaceURI() == ns
}

// attr returns the value of the unprefixed attribute name (etree's SelectAttr ignores prefixes,
// which would let `x:ID` stand in for `ID`).
func attr(el *etree.Element, name string) (string, bool) {
	for _, a := range el.Attr {
		if a.Space == "" && a.Key == name {
			return a.Value, true
		}
	}
	return "", false
}

// onlyAttrs refuses any attribute other than namespace declarations and the allowed names.
func onlyAttrs(el *etree.Element, allowed ...string) error {
	for _, a := range el.Attr {
		if a.Space == "xmlns" || (a.Space == "" && a.Key == "xmlns") {
			continue
		}
		ok := false
		if a.Space == "" {
			for _, n := range allowed {
				if a.Key == n {
					ok = true
				}
			}
		}
		if !ok {
			return refuse(CodeInvalidSignature, "unexpected attribute %s on ds:%s", quote(a.FullKey()), el.Tag)
		}
	}
	return nil
}

// expectChildren requires el's element children to be exactly the given ds: names, in order.
func expectChildren(el *etree.Element, names ...string) ([]*etree.Element, error) {
	kids := el.ChildElements()
	if len(kids) != len(names) {
		return nil, refuse(CodeInvalidSignature, "ds:%s must contain exactly %s", el.Tag, strings.Join(names, ", "))
	}
	for i, k := range kids {
		if !is(k, NSDSig, names[i]) {
			return nil, refuse(CodeInvalidSignature, "ds:%s must contain exactly %s, found %s", el.Tag, strings.Join(names, ", "), quote(k.FullTag()))
		}
	}
	return kids, nil
}

// textOnly returns the character data of el and refuses comments, PIs or child elements inside
// it (a comment inside DigestValue or SignatureValue is a classic parser-differential).
func textOnly(el *etree.Element) (string, error) {
	var b strings.Builder
	for _, t := range el.Child {
		cd, ok := t.(*etree.CharData)
		if !ok {
			return "", refuse(CodeInvalidSignature, "ds:%s must contain only text", el.Tag)
		}
		b.WriteString(cd.Data)
	}
	return b.String(), nil
}

func stripSpace(s string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\t', '\r', '\n':
			return -1
		}
		return r
	}, s)
}

// checkSignatureProfile enforces SAML-THREATS.md layer 2 on the ds:Signature child of parent
// before goxmldsig sees it: one SignedInfo, one SignatureValue, optional KeyInfo and nothing else;
// exactly one Reference to "#<parent ID>"; Transforms exactly enveloped + exc-c14n; exc-c14n
// SignedInfo canonicalisation; SHA-2 digests; RSA or ECDSA with SHA-2.
func checkSignatureProfile(parent, sig *etree.Element, parentID string) (*sigProfile, error) {
	p := &sigProfile{sig: sig}
	if err := onlyAttrs(sig, "Id"); err != nil {
		return nil, err
	}
	kids := sig.ChildElements()
	if len(kids) < 2 || len(kids) > 3 {
		return nil, refuse(CodeInvalidSignature, "ds:Signature must contain SignedInfo, SignatureValue and optionally KeyInfo")
	}
	if !is(kids[0], NSDSig, "SignedInfo") || !is(kids[1], NSDSig, "SignatureValue") || (len(kids) == 3 && !is(kids[2], NSDSig, "KeyInfo")) {
		return nil, refuse(CodeInvalidSignature, "ds:Signature must contain exactly one SignedInfo, one SignatureValue and at most one KeyInfo, in that order")
	}
	signedInfo, sigValue := kids[0], kids[1]
	if err := onlyAttrs(signedInfo, "Id"); err != nil {
		return nil, err
	}
	si, err := expectChildren(signedInfo, "CanonicalizationMethod", "SignatureMethod", "Reference")
	if err != nil {
		return nil, err
	}
	c14n, method, ref := si[0], si[1], si[2]
	if alg, _ := attr(c14n, "Algorithm"); alg != algExcC14N || len(c14n.ChildElements()) != 0 {
		return nil, refuse(CodeInvalidSignature, "CanonicalizationMethod must be exclusive c14n without comments, got %s", quote(alg))
	}
	if err := onlyAttrs(c14n, "Algorithm"); err != nil {
		return nil, err
	}
	p.method, _ = attr(method, "Algorithm")
	if _, ok := signatureMethods[p.method]; !ok {
		return nil, refuse(CodeInvalidSignature, "SignatureMethod %s is not allowed (RSA or ECDSA with SHA-256/384/512 only)", quote(p.method))
	}
	if len(method.ChildElements()) != 0 {
		return nil, refuse(CodeInvalidSignature, "SignatureMethod must be empty (no HMACOutputLength or parameters)")
	}
	if err := onlyAttrs(method, "Algorithm"); err != nil {
		return nil, err
	}
	if err := onlyAttrs(ref, "URI"); err != nil {
		return nil, err
	}
	if uri, ok := attr(ref, "URI"); !ok || uri != "#"+parentID {
		return nil, refuse(CodeInvalidSignature, "Reference URI must be \"#\" + the ID of the signed %s", parent.Tag)
	}
	rk, err := expectChildren(ref, "Transforms", "DigestMethod", "DigestValue")
	if err != nil {
		return nil, err
	}
	if err := checkTransforms(rk[0]); err != nil {
		return nil, err
	}
	dm, _ := attr(rk[1], "Algorithm")
	size, ok := digestSizes[dm]
	if !ok || len(rk[1].ChildElements()) != 0 {
		return nil, refuse(CodeInvalidSignature, "DigestMethod %s is not allowed (SHA-256/384/512 only)", quote(dm))
	}
	if err := onlyAttrs(rk[1], "Algorithm"); err != nil {
		return nil, err
	}
	dv, err := textOnly(rk[2])
	if err != nil {
		return nil, err
	}
	if d, err := base64.StdEncoding.DecodeString(stripSpace(dv)); err != nil || len(d) != size {
		return nil, refuse(CodeInvalidSignature, "DigestValue is not a base64 %d-byte digest", size)
	}
	sv, err := textOnly(sigValue)
	if err != nil {
		return nil, err
	}
	if err := onlyAttrs(sigValue, "Id"); err != nil {
		return nil, err
	}
	sv = stripSpace(sv)
	if len(sv) == 0 || len(sv) > MaxSignatureValueLength {
		return nil, refuse(CodeInvalidSignature, "SignatureValue is empty or longer than %d characters", MaxSignatureValueLength)
	}
	if _, err := base64.StdEncoding.DecodeString(sv); err != nil {
		return nil, refuse(CodeInvalidSignature, "SignatureValue is not base64")
	}
	if len(kids) == 3 {
		p.keyInfo = true
		for _, xd := range kids[2].ChildElements() {
			if !is(xd, NSDSig, "X509Data") {
				continue
			}
			for _, xc := range xd.ChildElements() {
				if !is(xc, NSDSig, "X509Certificate") || len(p.keyInfoCerts) >= maxKeyInfoCer {
					continue
				}
				txt := stripSpace(xc.Text())
				if len(txt) > MaxKeyInfoCertificateLength {
					return nil, refuse(CodeUntrustedKey, "KeyInfo certificate longer than %d characters", MaxKeyInfoCertificateLength)
				}
				if der, err := base64.StdEncoding.DecodeString(txt); err == nil {
					p.keyInfoCerts = append(p.keyInfoCerts, der)
				}
			}
		}
	}
	return p, nil
}

func checkTransforms(ts *etree.Element) error {
	if err := onlyAttrs(ts); err != nil {
		return err
	}
	kids, err := expectChildren(ts, "Transform", "Transform")
	if err != nil {
		return refuse(CodeInvalidSignature, "Transforms must be exactly enveloped-signature then exclusive c14n")
	}
	if alg, _ := attr(kids[0], "Algorithm"); alg != algEnveloped || len(kids[0].ChildElements()) != 0 {
		return refuse(CodeInvalidSignature, "first Transform must be enveloped-signature, got %s", quote(alg))
	}
	if alg, _ := attr(kids[1], "Algorithm"); alg != algExcC14N {
		return refuse(CodeInvalidSignature, "second Transform must be exclusive c14n without comments, got %s", quote(alg))
	}
	for _, k := range kids {
		if err := onlyAttrs(k, "Algorithm"); err != nil {
			return err
		}
	}
	inc := kids[1].ChildElements()
	if len(inc) > 1 || (len(inc) == 1 && !is(inc[0], NSExcC14N, "InclusiveNamespaces")) {
		return refuse(CodeInvalidSignature, "exclusive c14n Transform may only contain one ec:InclusiveNamespaces")
	}
	if len(inc) == 1 {
		if len(inc[0].ChildElements()) != 0 {
			return refuse(CodeInvalidSignature, "ec:InclusiveNamespaces must be empty")
		}
		for _, a := range inc[0].Attr {
			if a.Space == "xmlns" || (a.Space == "" && a.Key == "xmlns") {
				continue
			}
			if a.Space != "" || a.Key != "PrefixList" {
				return refuse(CodeInvalidSignature, "unexpected attribute on ec:InclusiveNamespaces")
			}
			for _, p := range strings.Fields(a.Value) {
				if p != "#default" && !isNCName(p) {
					return refuse(CodeInvalidSignature, "invalid InclusiveNamespaces PrefixList")
				}
			}
		}
	}
	return nil
}

// usableCerts returns the trusted certificates that may verify a signature made with method at
// time now: inside their validity period, of the matching key type, RSA between 2048 and 8192
// bits, ECDSA on P-256/384/521 only. The rest are skipped (an expired pinned cert is simply not trusted
// any more), so an oversized key in a config can never turn into a verification cost.
func usableCerts(certs []*x509.Certificate, method string, now time.Time) []*x509.Certificate {
	want := signatureMethods[method]
	var out []*x509.Certificate
	for _, c := range certs {
		if now.Before(c.NotBefore) || now.After(c.NotAfter) || c.PublicKeyAlgorithm != want {
			continue
		}
		switch k := c.PublicKey.(type) {
		case *rsa.PublicKey:
			if n := k.N.BitLen(); n < minRSABits || n > maxRSABits {
				continue
			}
		case *ecdsa.PublicKey:
			if bits := k.Curve.Params().BitSize; bits != 256 && bits != 384 && bits != 521 {
				continue // P-224 and anything else is not accepted
			}
		default:
			continue
		}
		out = append(out, c)
	}
	return out
}

// verifyElement checks the profile of el's direct ds:Signature child and verifies it with
// goxmldsig against each usable trusted certificate in turn. It returns the element goxmldsig
// re-parsed from the digested bytes (the only element any value may be read from) and the
// certificate that verified it.
//
// el must be detached (own namespace declarations) and owned by the caller: its KeyInfo is
// removed before verification so that goxmldsig never selects a key from the message, and an
// ECDSA SignatureValue in XML-DSig's raw r||s form is rewritten to the ASN.1 form goxmldsig
// expects. Neither is covered by any digest (the enveloped transform removes the Signature and
// SignedInfo does not contain either).
//
// untrusted_key vs invalid_signature: when no usable trusted certificate verifies, the refusal
// is untrusted_key if there is no usable trusted certificate at all, or if the message carried
// a KeyInfo that does not contain (byte for byte) one of the usable trusted certificates —
// i.e. it announced a key we do not trust (attacker cert, RSAKeyValue, expired pinned cert).
// Otherwise (no KeyInfo, or KeyInfo naming a trusted cert) it is invalid_signature: a trusted
// key was the only candidate and the signature or digest did not match.
func (v *validator) verifyElement(el *etree.Element, sig *etree.Element, what string) (*etree.Element, *x509.Certificate, error) {
	if sig == nil {
		return nil, nil, refuse(CodeInvalidSignature, "%s is not signed", what)
	}
	id, _ := attr(el, "ID")
	if !validID(id) {
		return nil, nil, refuse(CodeInvalidSignature, "signed %s has no valid ID attribute for the Reference to name", what)
	}
	p, err := checkSignatureProfile(el, sig, id)
	if err != nil {
		return nil, nil, err
	}
	certs := usableCerts(v.cfg.Certificates, p.method, v.now)
	if len(certs) == 0 {
		return nil, nil, refuse(CodeUntrustedKey, "%s signature: no trusted certificate of the right key type is currently valid", what)
	}
	// Order: a trusted cert named in KeyInfo first (the common case costs one verification).
	announcedTrusted := false
	ordered := make([]*x509.Certificate, 0, len(certs))
	for _, c := range certs {
		for _, der := range p.keyInfoCerts {
			if bytes.Equal(der, c.Raw) {
				ordered = append(ordered, c)
				announcedTrusted = true
				break
			}
		}
	}
	for _, c := range certs {
		dup := false
		for _, o := range ordered {
			dup = dup || o == c
		}
		if !dup {
			ordered = append(ordered, c)
		}
	}
	for _, k := range sig.ChildElements() {
		if k.Tag == "KeyInfo" {
			sig.RemoveChild(k)
		}
	}
	isECDSA := signatureMethods[p.method] == x509.ECDSA
	origSigValue := sig.ChildElements()[1].Text()
	var lastErr error
	for _, c := range ordered {
		if isECDSA {
			rawToASN1ECDSA(sig.ChildElements()[1], origSigValue, c)
		}
		vctx := &dsig.ValidationContext{
			CertificateStore: &dsig.MemoryX509CertificateStore{Roots: []*x509.Certificate{c}},
			IdAttribute:      dsig.DefaultIdAttr,
			Clock:            dsig.NewFakeClockAt(v.now),
		}
		out, err := vctx.Validate(el)
		if err != nil {
			lastErr = err
			continue
		}
		if !is(out, el.NamespaceURI(), el.Tag) {
			return nil, nil, refuse(CodeInvalidSignature, "%s signature verified a different element", what)
		}
		if outID, _ := attr(out, "ID"); outID != id {
			return nil, nil, refuse(CodeInvalidSignature, "%s signature verified an element with another ID", what)
		}
		return out, c, nil
	}
	if p.keyInfo && !announcedTrusted {
		return nil, nil, refuseWrap(CodeUntrustedKey, lastErr, "%s is signed with a key that is not among the config's trusted certificates", what)
	}
	return nil, nil, refuseWrap(CodeInvalidSignature, lastErr, "%s signature does not verify with the trusted certificate(s)", what)
}

// rawToASN1ECDSA rewrites an XML-DSig ECDSA SignatureValue (raw r||s, RFC 4050/6931) into the
// ASN.1 DER form that goxmldsig passes to x509.CheckSignature. A value of any other length is
// left alone (and then simply fails to verify).
func rawToASN1ECDSA(sigValue *etree.Element, orig string, c *x509.Certificate) {
	sigValue.SetText(orig)
	pub, ok := c.PublicKey.(*ecdsa.PublicKey)
	if !ok {
		return
	}
	n := (pub.Curve.Params().BitSize + 7) / 8
	b, err := base64.StdEncoding.DecodeString(stripSpace(orig))
	if err != nil || len(b) != 2*n {
		return
	}
	der, err := asn1.Marshal(struct{ R, S *big.Int }{new(big.Int).SetBytes(b[:n]), new(big.Int).SetBytes(b[n:])})
	if err != nil {
		return
	}
	sigValue.SetText(base64.StdEncoding.EncodeToString(der))
}

// declareInScope adds to el, in place, a declaration for every namespace prefix that is in scope
// from its ancestors and not declared on el itself. goxmldsig copies the element it verifies
// without its parents, so without this the canonical form would lose those bindings. The added
// declarations repeat bindings already in force, so the document's meaning is unchanged; this
// replaces etreeutils.NSDetatch, which makes a whole copy of the element to do the same.
func declareInScope(el *etree.Element) error {
	ctx, err := etreeutils.NSBuildParentContext(el)
	if err != nil {
		return fmt.Errorf("namespace context: %w", err)
	}
	prefixes := ctx.Prefixes()
	names := make([]string, 0, len(prefixes))
	for p := range prefixes {
		names = append(names, p)
	}
	sort.Strings(names)
	for _, p := range names {
		uri := prefixes[p]
		if p == "xml" || p == "xmlns" || (p == "" && uri == "") {
			continue
		}
		declared := false
		for _, a := range el.Attr {
			if (p == "" && a.Space == "" && a.Key == "xmlns") || (p != "" && a.Space == "xmlns" && a.Key == p) {
				declared = true
				break
			}
		}
		if declared {
			continue
		}
		if p == "" {
			el.CreateAttr("xmlns", uri)
		} else {
			el.CreateAttr("xmlns:"+p, uri)
		}
	}
	return nil
}
