package federation

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode"

	"github.com/beevik/etree"

	"github.com/s3fed/s3fed/internal/saml"
)

// SAML 2.0 metadata names (saml-metadata-2.0-os).
const (
	NSMetadata    = "urn:oasis:names:tc:SAML:2.0:metadata"
	nsDSig        = "http://www.w3.org/2000/09/xmldsig#"
	protocolSAML2 = "urn:oasis:names:tc:SAML:2.0:protocol"

	// BindingRedirect and BindingPOST are the SingleSignOnService bindings kept for browser
	// sign-in, in order of preference (an AuthnRequest is sent with HTTP-Redirect).
	BindingRedirect = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
	BindingPOST     = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
)

// Limits of an uploaded IdP metadata document. A single IdP's metadata is small (Okta about
// 2 KiB, Entra ID about 25 KiB, ADFS under 100 KiB with its claim lists); the caps leave room for
// logos and long attribute lists, not for federation aggregates.
const (
	MaxMetadataBytes     = 512 << 10
	maxEntityIDLength    = 1024 // saml-core §8.3.6
	maxSSOURLLength      = 2048
	maxMetadataCertChars = maxCertificatePEMs
)

var metadataLimits = saml.XMLLimits{
	MaxBytes:                    MaxMetadataBytes,
	MaxDepth:                    32,
	MaxElements:                 20000,
	MaxAttributesPerElement:     64,
	MaxAttributes:               100000,
	MaxNamespaceDeclsPerElement: 32,
	MaxNamespaceDecls:           20000,
}

// MetadataError says why an IdP metadata document was refused; the admin API answers it as
// 400 invalid_argument with this text.
type MetadataError struct {
	Reason string
}

func (e *MetadataError) Error() string { return "IdP metadata: " + e.Reason }

func metaErr(format string, args ...any) *MetadataError {
	return &MetadataError{Reason: fmt.Sprintf(format, args...)}
}

// IdPMetadata is what s3fed takes from an IdP's metadata: the entity ID (the expected Issuer),
// the signing certificates (checked by the same rules as uploaded ones) and the SSO URL kept for
// browser sign-in. Nothing else in the document is used.
type IdPMetadata struct {
	EntityID string
	// Certificates are the signing certificates in document order, each once: every
	// KeyDescriptor of the IDPSSODescriptor whose use is "signing" or absent.
	Certificates []*x509.Certificate
	// SSOURL is the SingleSignOnService Location for HTTP-Redirect, else for HTTP-POST (SSOBinding
	// says which); empty when the IdP offers neither.
	SSOURL, SSOBinding string
	// Signed reports that the document carried a ds:Signature, which was not verified (see
	// ParseIdPMetadata).
	Signed bool
}

// CertificatePEMs returns the certificates as the PEM strings a config stores.
func (m *IdPMetadata) CertificatePEMs() []string {
	out := make([]string, len(m.Certificates))
	for i, c := range m.Certificates {
		out[i] = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}))
	}
	return out
}

// ParseIdPMetadata reads an IdP's SAML 2.0 metadata document (saml-metadata-2.0-os) uploaded by
// an admin, as GCP's workforce identity federation does:
//
//   - The document is hostile input and gets the same discipline as a SAML Response
//     (saml.ParseXML): at most MaxMetadataBytes, UTF-8 only, no DOCTYPE, entities or processing
//     instructions, bounded depth, element, attribute and namespace counts.
//   - The root is one md:EntityDescriptor, or an md:EntitiesDescriptor holding exactly one
//     (Keycloak wraps its descriptor in one; a federation aggregate with several entities is
//     refused, naming how many: the admin must pick the IdP's own descriptor). A validUntil in
//     the past refuses the document.
//   - The entity must have exactly one IDPSSODescriptor supporting the SAML 2.0 protocol; other
//     roles (Entra ID's and ADFS's WS-Federation RoleDescriptors, SPSSODescriptor,
//     AttributeAuthorityDescriptor) are ignored.
//   - Signing keys are every KeyDescriptor of that IDPSSODescriptor whose use is "signing" or
//     absent (absent means both uses, saml-metadata §2.4.1.1); use="encryption" is ignored and
//     any other use is refused. A key without use is therefore always a signing key, never a
//     reason to skip signature checks (Keycloak CVE-2026-16443). Each KeyDescriptor carries
//     exactly one X509Certificate; the certificates are checked by the upload rules (RSA
//     2048-8192 or ECDSA P-256/P-384, notBefore at most 7 days ahead, notAfter at most 14 years
//     ahead, at least one unexpired), counted once each, and there must be 1 to 3.
//   - The SSO URL is the HTTP-Redirect SingleSignOnService, else the HTTP-POST one (an absolute
//     http or https URL).
//
// A ds:Signature on the metadata (Entra ID and ADFS sign theirs) is tolerated and not verified:
// the document is uploaded by an authenticated org admin, who is the source of trust for the
// config exactly as when pasting a certificate, and verifying it would need a key the admin
// would have to supply from the same place. Nothing is ever fetched (no metadata URL, no
// RetrievalMethod).
func ParseIdPMetadata(raw []byte, now time.Time) (*IdPMetadata, error) {
	doc, err := saml.ParseXML(raw, "metadata", metadataLimits)
	if err != nil {
		var se *saml.Error
		if errors.As(err, &se) {
			if strings.Contains(se.Reason, "more than one root element") {
				return nil, metaErr("%s: upload one EntityDescriptor", se.Reason)
			}
			return nil, metaErr("%s", se.Reason)
		}
		return nil, metaErr("%v", err)
	}
	root := doc.Root()
	out := &IdPMetadata{}
	var ed *etree.Element
	switch {
	case is(root, NSMetadata, "EntityDescriptor"):
		ed = root
	case is(root, NSMetadata, "EntitiesDescriptor"):
		var all []*etree.Element
		collectEntities(root, &all)
		if len(all) != 1 {
			return nil, metaErr("the EntitiesDescriptor holds %d EntityDescriptors; upload the IdP's own EntityDescriptor (exactly one)", len(all))
		}
		ed = all[0]
		if err := checkValidUntil(root, now); err != nil {
			return nil, err
		}
		out.Signed = hasSignature(root)
	default:
		return nil, metaErr("the root element must be md:EntityDescriptor (namespace %s), found %s", NSMetadata, quote(root.FullTag()))
	}
	if err := checkValidUntil(ed, now); err != nil {
		return nil, err
	}
	out.Signed = out.Signed || hasSignature(ed)
	id, ok := attr(ed, "entityID")
	if err := checkEntityID(id, ok); err != nil {
		return nil, err
	}
	out.EntityID = id

	var idp *etree.Element
	for _, k := range ed.ChildElements() {
		if !is(k, NSMetadata, "IDPSSODescriptor") {
			continue
		}
		ps, _ := attr(k, "protocolSupportEnumeration")
		if !hasToken(ps, protocolSAML2) {
			continue
		}
		if idp != nil {
			return nil, metaErr("the entity has more than one IDPSSODescriptor for SAML 2.0")
		}
		idp = k
	}
	if idp == nil {
		return nil, metaErr("no IDPSSODescriptor supporting %s (is this a service provider's metadata?)", protocolSAML2)
	}
	if err := checkValidUntil(idp, now); err != nil {
		return nil, err
	}
	if out.Certificates, err = signingCertificates(idp, now); err != nil {
		return nil, err
	}
	if out.SSOURL, out.SSOBinding, err = ssoURL(idp); err != nil {
		return nil, err
	}
	return out, nil
}

// collectEntities gathers the EntityDescriptors of an EntitiesDescriptor, through nested ones.
func collectEntities(el *etree.Element, into *[]*etree.Element) {
	for _, k := range el.ChildElements() {
		switch {
		case is(k, NSMetadata, "EntityDescriptor"):
			*into = append(*into, k)
		case is(k, NSMetadata, "EntitiesDescriptor"):
			collectEntities(k, into)
		}
	}
}

func hasSignature(el *etree.Element) bool {
	for _, k := range el.ChildElements() {
		if is(k, nsDSig, "Signature") {
			return true
		}
	}
	return false
}

func checkEntityID(id string, present bool) error {
	switch {
	case !present || id == "":
		return metaErr("the EntityDescriptor has no entityID")
	case len(id) > maxEntityIDLength:
		return metaErr("entityID is %d bytes; at most %d are allowed", len(id), maxEntityIDLength)
	case strings.TrimSpace(id) != id:
		return metaErr("entityID %s has leading or trailing white space", quote(id))
	case strings.IndexFunc(id, unicode.IsControl) >= 0:
		return metaErr("entityID contains control characters")
	}
	return nil
}

// checkValidUntil refuses metadata whose validUntil has passed (saml-metadata §2.2.1): the IdP
// itself says not to rely on it any more.
func checkValidUntil(el *etree.Element, now time.Time) error {
	s, ok := attr(el, "validUntil")
	if !ok {
		return nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		if t, err = time.Parse("2006-01-02T15:04:05.999999999", s); err != nil {
			return metaErr("%s validUntil %s is not an xs:dateTime", el.Tag, quote(s))
		}
	}
	if !now.Before(t) {
		return metaErr("the metadata expired at %s (%s validUntil); download it again from the IdP", t.UTC().Format(time.RFC3339), el.Tag)
	}
	return nil
}

// signingCertificates reads the IDPSSODescriptor's KeyDescriptors (see ParseIdPMetadata).
func signingCertificates(idp *etree.Element, now time.Time) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	n := 0
	for _, kd := range idp.ChildElements() {
		if !is(kd, NSMetadata, "KeyDescriptor") {
			continue
		}
		n++
		use, hasUse := attr(kd, "use")
		switch {
		case !hasUse, use == "signing":
		case use == "encryption":
			continue
		default:
			return nil, metaErr("KeyDescriptor %d has use=%s; only \"signing\", \"encryption\" or no use are defined", n, quote(use))
		}
		field := fmt.Sprintf("KeyDescriptor %d", n)
		der, err := keyDescriptorCert(kd, field)
		if err != nil {
			return nil, err
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, metaErr("%s: certificate does not parse: %v", field, err)
		}
		if err := checkCertificate(field, c, now); err != nil {
			return nil, metaErr("%v", err)
		}
		dup := false
		for _, o := range certs {
			dup = dup || bytes.Equal(o.Raw, c.Raw)
		}
		if !dup {
			certs = append(certs, c)
		}
	}
	switch {
	case len(certs) == 0:
		return nil, metaErr("no signing certificate: the IDPSSODescriptor has no KeyDescriptor with use=\"signing\" or without use (use=\"encryption\" keys cannot verify signatures)")
	case len(certs) > MaxCertificates:
		return nil, metaErr("%d signing certificates; at most %d are allowed (remove retired keys from the IdP's metadata)", len(certs), MaxCertificates)
	}
	unexpired := 0
	for _, c := range certs {
		if now.Before(c.NotAfter) {
			unexpired++
		}
	}
	if unexpired == 0 {
		return nil, metaErr("every signing certificate has expired")
	}
	return certs, nil
}

// keyDescriptorCert returns the DER of the one ds:X509Certificate in a KeyDescriptor's KeyInfo.
func keyDescriptorCert(kd *etree.Element, field string) ([]byte, error) {
	var texts []string
	for _, ki := range kd.ChildElements() {
		if !is(ki, nsDSig, "KeyInfo") {
			continue
		}
		for _, xd := range ki.ChildElements() {
			if !is(xd, nsDSig, "X509Data") {
				continue
			}
			for _, xc := range xd.ChildElements() {
				if !is(xc, nsDSig, "X509Certificate") {
					continue
				}
				if len(xc.ChildElements()) != 0 {
					return nil, metaErr("%s: X509Certificate must contain only base64 text", field)
				}
				var b strings.Builder
				for _, t := range xc.Child {
					if cd, ok := t.(*etree.CharData); ok {
						b.WriteString(cd.Data)
					}
				}
				texts = append(texts, b.String())
			}
		}
	}
	switch len(texts) {
	case 0:
		return nil, metaErr("%s has no ds:X509Certificate (bare keys are not supported; the IdP must publish a certificate)", field)
	case 1:
	default:
		return nil, metaErr("%s has %d certificates; one per KeyDescriptor", field, len(texts))
	}
	txt := strings.Map(func(r rune) rune {
		if r == ' ' || r == '\t' || r == '\r' || r == '\n' {
			return -1
		}
		return r
	}, texts[0])
	if len(txt) > maxMetadataCertChars {
		return nil, metaErr("%s: certificate is longer than %d characters", field, maxMetadataCertChars)
	}
	der, err := base64.StdEncoding.Strict().DecodeString(txt)
	if err != nil || len(der) == 0 {
		return nil, metaErr("%s: X509Certificate is not base64", field)
	}
	return der, nil
}

// ssoURL picks the SingleSignOnService for browser sign-in: HTTP-Redirect first, then HTTP-POST.
func ssoURL(idp *etree.Element) (string, string, error) {
	locs := map[string]string{}
	for _, k := range idp.ChildElements() {
		if !is(k, NSMetadata, "SingleSignOnService") {
			continue
		}
		b, _ := attr(k, "Binding")
		if _, seen := locs[b]; !seen {
			locs[b], _ = attr(k, "Location")
		}
	}
	for _, b := range []string{BindingRedirect, BindingPOST} {
		loc, ok := locs[b]
		if !ok {
			continue
		}
		u, err := url.Parse(loc)
		if err != nil || len(loc) > maxSSOURLLength || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Fragment != "" {
			return "", "", metaErr("SingleSignOnService Location %s is not an absolute http(s) URL of at most %d bytes", quote(loc), maxSSOURLLength)
		}
		return loc, b, nil
	}
	return "", "", nil
}

// is reports whether el is {ns}local, resolving its prefix through the tree.
func is(el *etree.Element, ns, local string) bool {
	return el != nil && el.Tag == local && el.NamespaceURI() == ns
}

// attr returns an unprefixed attribute's value.
func attr(el *etree.Element, name string) (string, bool) {
	for _, a := range el.Attr {
		if a.Space == "" && a.Key == name {
			return a.Value, true
		}
	}
	return "", false
}

func hasToken(list, tok string) bool {
	for _, f := range strings.Fields(list) {
		if f == tok {
			return true
		}
	}
	return false
}

// quote renders a document fragment for an error message: at most 64 bytes, %q-escaped.
func quote(s string) string {
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	return fmt.Sprintf("%q", s)
}
