package saml

import (
	"crypto/x509"
	"regexp"
	"strings"
	"time"
	"unicode"

	"github.com/beevik/etree"
)

// validator carries one validation run.
type validator struct {
	cfg *Config
	now time.Time
	rep *report
}

// responseParts are the direct children of a samlp:Response, in schema order.
type responseParts struct {
	issuer, sig, status, assertion *etree.Element
	encrypted                      *etree.Element // saml:EncryptedAssertion, when that is the child
}

// splitResponse checks the Response's children against the schema order
// (Issuer?, Signature?, Extensions?, Status, Assertion|EncryptedAssertion) and refuses anything
// else, so nothing can be smuggled beside the one Assertion.
func splitResponse(resp *etree.Element) (*responseParts, error) {
	if !is(resp, NSProtocol, "Response") {
		return nil, refuse(CodeInvalidResponse, "root element must be samlp:Response")
	}
	p := &responseParts{}
	stage := 0 // 0 Issuer, 1 Signature, 2 Extensions, 3 Status, 4 Assertion, 5 done
	for _, k := range resp.ChildElements() {
		var at int
		switch {
		case is(k, NSAssertion, "Issuer"):
			at, p.issuer = 0, k
		case is(k, NSDSig, "Signature"):
			if p.sig != nil {
				return nil, refuse(CodeInvalidSignature, "Response has more than one Signature")
			}
			at, p.sig = 1, k
		case is(k, NSProtocol, "Extensions"):
			at = 2
		case is(k, NSProtocol, "Status"):
			at, p.status = 3, k
		case is(k, NSAssertion, "Assertion"):
			at, p.assertion = 4, k
		case is(k, NSAssertion, "EncryptedAssertion"):
			at, p.encrypted = 4, k
		default:
			return nil, refuse(CodeInvalidResponse, "unexpected element %s in Response", quote(k.FullTag()))
		}
		if at < stage {
			return nil, refuse(CodeInvalidResponse, "Response children out of schema order or repeated at %s", quote(k.FullTag()))
		}
		stage = at + 1
	}
	if p.status == nil {
		return nil, refuse(CodeInvalidResponse, "Response has no Status")
	}
	if p.assertion == nil && p.encrypted == nil {
		return nil, refuse(CodeInvalidResponse, "Response has no Assertion")
	}
	return p, nil
}

// assertionParts are the direct children of a saml:Assertion.
type assertionParts struct {
	issuer, sig, subject, conditions, authn *etree.Element
	attrStatements                          []*etree.Element
}

// splitAssertion checks the Assertion's children against the schema order
// (Issuer, Signature?, Subject, Conditions, statements) and this profile's allow-list: Advice,
// AuthzDecisionStatement and generic Statement are refused.
func splitAssertion(a *etree.Element) (*assertionParts, error) {
	p := &assertionParts{}
	stage := 0 // 0 Issuer, 1 Signature, 2 Subject, 3 Conditions, 4 statements
	for _, k := range a.ChildElements() {
		var at int
		switch {
		case is(k, NSAssertion, "Issuer"):
			at, p.issuer = 0, k
		case is(k, NSDSig, "Signature"):
			if p.sig != nil {
				return nil, refuse(CodeInvalidSignature, "Assertion has more than one Signature")
			}
			at, p.sig = 1, k
		case is(k, NSAssertion, "Subject"):
			at, p.subject = 2, k
		case is(k, NSAssertion, "Conditions"):
			at, p.conditions = 3, k
		case is(k, NSAssertion, "AuthnStatement"):
			if p.authn != nil {
				return nil, refuse(CodeInvalidResponse, "more than one AuthnStatement")
			}
			at, p.authn = 4, k
		case is(k, NSAssertion, "AttributeStatement"):
			at = 4
			p.attrStatements = append(p.attrStatements, k)
		default:
			return nil, refuse(CodeInvalidResponse, "element %s is not accepted in an Assertion", quote(k.FullTag()))
		}
		if at < stage {
			return nil, refuse(CodeInvalidResponse, "Assertion children out of schema order or repeated at %s", quote(k.FullTag()))
		}
		if at < 4 {
			stage = at + 1
		} else {
			stage = 4
		}
	}
	switch {
	case p.issuer == nil:
		return nil, refuse(CodeIssuer, "Assertion has no Issuer")
	case p.subject == nil:
		return nil, refuse(CodeInvalidResponse, "Assertion has no Subject")
	case p.conditions == nil:
		return nil, refuse(CodeInvalidResponse, "Assertion has no Conditions")
	}
	return p, nil
}

// validate runs layers 1-3 on decoded XML and returns the Assertion (without claiming replay).
//
// A plaintext Assertion and a decrypted one take the same path: the Response signature, when
// present, is verified first; the Assertion element is then taken from the verified Response (or,
// when the Response is unsigned, from the parsed tree), decrypted first if it is an
// EncryptedAssertion (its plaintext pre-filtered like a posted document); its own signature, if
// present, is verified; and the policy layer reads only verified content. Encryption never
// stands in for a signature: an Assertion in an unsigned Response must carry its own.
func (v *validator) validate(raw []byte) (*Assertion, error) {
	doc, info, err := prefilter(raw)
	if err != nil {
		v.rep.fail("prefilter", err)
		return nil, err
	}
	v.rep.pass("prefilter", "well-formed UTF-8, within limits, one samlp:Response root with one Assertion")

	out := &Assertion{}
	resp := doc.Root()
	rp, err := splitResponse(resp)
	if err != nil {
		v.rep.fail("structure", err)
		return nil, err
	}
	if rp.assertion != nil {
		if v.cfg.RequireEncryptedAssertions {
			err := refuse(CodeInvalidResponse, "this config requires encrypted assertions, but the Assertion is in plaintext")
			v.rep.fail("encryption", err)
			return nil, err
		}
		// Cheap structural checks on the parsed tree before any cryptography; the verified
		// element is checked again below.
		ap, err := splitAssertion(rp.assertion)
		if err != nil {
			v.rep.fail("structure", err)
			return nil, err
		}
		v.rep.pass("structure", "Response and Assertion children in schema order")
		if rp.sig == nil && ap.sig == nil {
			err := refuse(CodeInvalidSignature, "neither the Response nor the Assertion is signed")
			v.rep.fail("signature", err)
			return nil, err
		}
	} else {
		// The same cheap checks for an EncryptedAssertion: keys configured at all, and its shape
		// and algorithms; repeated on the verified tree before decrypting.
		if len(v.cfg.DecryptionKeys) == 0 {
			err := refuse(CodeInvalidResponse, "this config has no encryption keys, so it cannot accept an EncryptedAssertion")
			v.rep.fail("encryption", err)
			return nil, err
		}
		if _, err := parseEncryptedAssertion(rp.encrypted, v.cfg.AllowLegacyEncryption); err != nil {
			v.rep.fail("structure", err)
			return nil, err
		}
		v.rep.pass("structure", "Response children in schema order, Assertion encrypted with accepted algorithms")
	}

	// Layer 2. respView is the verified Response when it is signed, else the parsed tree (then
	// only used as an extra filter). src is where the (Encrypted)Assertion is taken from: the
	// verified Response when signed, else the parsed tree.
	respView, src := resp, rp
	if rp.sig != nil {
		verified, cert, err := v.verifyElement(resp, rp.sig, "Response")
		if err != nil {
			v.rep.fail("signature.response", err)
			return nil, err
		}
		v.rep.pass("signature.response", "verified with trusted certificate %s", certName(cert))
		out.ResponseSigned, out.ResponseCertificate = true, cert
		respView = verified
		// goxmldsig's own re-parsed tree, owned by this call.
		if src, err = splitResponse(verified); err != nil {
			return nil, err
		}
	}
	el := src.assertion
	if src.encrypted != nil {
		if el, err = v.decryptAssertion(src.encrypted, info.ids, out); err != nil {
			v.rep.fail("decrypt", err)
			return nil, err
		}
		ap, err := splitAssertion(el)
		if err != nil {
			v.rep.fail("structure", err)
			return nil, err
		}
		if rp.sig == nil && ap.sig == nil {
			err := refuse(CodeInvalidSignature, "neither the Response nor the decrypted Assertion is signed (encryption is not authentication)")
			v.rep.fail("signature", err)
			return nil, err
		}
	}
	if el == nil {
		return nil, refuse(CodeInvalidResponse, "Response has no Assertion")
	}
	// The element gets the namespace declarations in scope and is then verified or read in
	// place (it belongs to a tree owned by this call).
	if err := declareInScope(el); err != nil {
		return nil, refuseWrap(CodeInvalidResponse, err, "cannot isolate the Assertion")
	}
	assertion := el
	if sig := directSignature(el); sig != nil {
		va, acert, err := v.verifyElement(el, sig, "Assertion")
		if err != nil {
			v.rep.fail("signature.assertion", err)
			return nil, err
		}
		if rp.sig == nil {
			v.rep.pass("signature.assertion", "verified with trusted certificate %s (Response unsigned: its fields are filters only)", certName(acert))
		} else {
			v.rep.pass("signature.assertion", "verified with trusted certificate %s", certName(acert))
		}
		out.AssertionSigned, out.AssertionCertificate = true, acert
		assertion = va
	} else if rp.sig == nil {
		// Unreachable after the checks above; kept so no path reads an unverified Assertion.
		return nil, refuse(CodeInvalidSignature, "neither the Response nor the Assertion is signed")
	}
	if !is(assertion, NSAssertion, "Assertion") {
		return nil, refuse(CodeInvalidSignature, "verified element is not a saml:Assertion")
	}

	// Layer 3 on respView (verified or filter-only) and assertion (verified).
	if err := v.checkResponse(respView); err != nil {
		return nil, err
	}
	if err := v.readAssertion(assertion, out); err != nil {
		return nil, err
	}
	return out, nil
}

func directSignature(el *etree.Element) *etree.Element {
	for _, k := range el.ChildElements() {
		if is(k, NSDSig, "Signature") {
			return k
		}
	}
	return nil
}

func certName(c *x509.Certificate) string {
	return quote(c.Subject.String()) + " (serial " + c.SerialNumber.String() + ")"
}

// checkResponse applies the Response-level rules: Version, Status Success, Destination exact,
// Issuer (when present), IssueInstant window, no InResponseTo.
func (v *validator) checkResponse(resp *etree.Element) error {
	rp, err := splitResponse(resp)
	if err != nil {
		return err
	}
	if ver, _ := attr(resp, "Version"); ver != SAMLVersion {
		e := refuse(CodeInvalidResponse, "Response Version must be 2.0, got %s", quote(ver))
		v.rep.fail("response.version", e)
		return e
	}
	v.rep.pass("response.version", "2.0")
	if id, ok := attr(resp, "ID"); !ok || !validID(id) {
		e := refuse(CodeInvalidResponse, "Response ID missing or not an XML ID")
		v.rep.fail("response.id", e)
		return e
	}
	code := ""
	for _, k := range rp.status.ChildElements() {
		if is(k, NSProtocol, "StatusCode") {
			if code != "" {
				code = "(several)"
				break
			}
			code, _ = attr(k, "Value")
		}
	}
	if code != StatusSuccess {
		e := refuse(CodeInvalidResponse, "Response Status is %s, not Success", quote(code))
		v.rep.fail("response.status", e)
		return e
	}
	v.rep.pass("response.status", "Success")
	if dest, ok := attr(resp, "Destination"); !ok || dest != v.cfg.ACSURL {
		e := refuse(CodeDestination, "Response Destination %s is not this service's ACS URL %s", quote(dest), quote(v.cfg.ACSURL))
		if !ok {
			e = refuse(CodeDestination, "Response has no Destination; it must be %s", quote(v.cfg.ACSURL))
		}
		v.rep.fail("response.destination", e)
		return e
	}
	v.rep.pass("response.destination", "equals the ACS URL")
	if rp.issuer != nil {
		if err := v.checkIssuer(rp.issuer, "Response"); err != nil {
			v.rep.fail("response.issuer", err)
			return err
		}
		v.rep.pass("response.issuer", "equals the IdP entity ID")
	}
	if _, ok := attr(resp, "InResponseTo"); ok {
		e := refuse(CodeInvalidResponse, "Response has InResponseTo, but s3fed never sends AuthnRequests (IdP-initiated only)")
		v.rep.fail("response.inresponseto", e)
		return e
	}
	if _, err := v.checkIssueInstant(resp, "Response"); err != nil {
		v.rep.fail("response.issueinstant", err)
		return err
	}
	v.rep.pass("response.issueinstant", "within %s in the past and the skew in the future", MaxIssueInstantAge)
	return nil
}

func (v *validator) checkIssuer(el *etree.Element, what string) error {
	if f, ok := attr(el, "Format"); ok && f != NameIDFormatEntity {
		return refuse(CodeIssuer, "%s Issuer Format must be the entity format", what)
	}
	if len(el.ChildElements()) != 0 {
		return refuse(CodeIssuer, "%s Issuer must contain only text", what)
	}
	if got := textContent(el); got != v.cfg.IdPEntityID {
		return refuse(CodeIssuer, "%s Issuer %s is not the config's IdP entity ID %s", what, quote(got), quote(v.cfg.IdPEntityID))
	}
	return nil
}

// checkIssueInstant bounds IssueInstant: not older than MaxIssueInstantAge, not ahead by more
// than the skew.
func (v *validator) checkIssueInstant(el *etree.Element, what string) (time.Time, error) {
	s, ok := attr(el, "IssueInstant")
	if !ok {
		return time.Time{}, refuse(CodeInvalidResponse, "%s has no IssueInstant", what)
	}
	t, err := parseTime(s)
	if err != nil {
		return time.Time{}, refuseWrap(CodeInvalidResponse, err, "%s IssueInstant is not an xs:dateTime in UTC", what)
	}
	if v.now.Sub(t) > MaxIssueInstantAge {
		return t, refuse(CodeExpired, "%s IssueInstant %s is more than %s old", what, t.Format(time.RFC3339), MaxIssueInstantAge)
	}
	if t.Sub(v.now) > v.cfg.Skew {
		return t, refuse(CodeNotYetValid, "%s IssueInstant %s is in the future", what, t.Format(time.RFC3339))
	}
	return t, nil
}

// readAssertion applies the Assertion rules on the verified element and fills out.
func (v *validator) readAssertion(a *etree.Element, out *Assertion) error {
	ap, err := splitAssertion(a)
	if err != nil {
		return err
	}
	if ap.sig != nil {
		// goxmldsig removed the Assertion's own signature; a Signature still present here would
		// mean the verified Response enclosed an unverified one.
		return refuse(CodeInvalidSignature, "Assertion carries a signature that was not verified")
	}
	if ver, _ := attr(a, "Version"); ver != SAMLVersion {
		e := refuse(CodeInvalidResponse, "Assertion Version must be 2.0, got %s", quote(ver))
		v.rep.fail("assertion.version", e)
		return e
	}
	id, ok := attr(a, "ID")
	if !ok || !validID(id) {
		e := refuse(CodeInvalidResponse, "Assertion ID missing or not an XML ID")
		v.rep.fail("assertion.id", e)
		return e
	}
	out.ID = id
	if err := v.checkIssuer(ap.issuer, "Assertion"); err != nil {
		v.rep.fail("assertion.issuer", err)
		return err
	}
	out.Issuer = v.cfg.IdPEntityID
	v.rep.pass("assertion.issuer", "equals the IdP entity ID")
	if out.IssueInstant, err = v.checkIssueInstant(a, "Assertion"); err != nil {
		v.rep.fail("assertion.issueinstant", err)
		return err
	}
	v.rep.pass("assertion.issueinstant", "%s", out.IssueInstant.Format(time.RFC3339))
	if err := v.checkConditions(ap.conditions, out); err != nil {
		return err
	}
	if err := v.checkSubject(ap.subject, out); err != nil {
		return err
	}
	if ap.authn != nil {
		if err := v.readAuthn(ap.authn, out); err != nil {
			v.rep.fail("assertion.authnstatement", err)
			return err
		}
		v.rep.pass("assertion.authnstatement", "read")
	}
	out.Attributes = map[string][]string{}
	for _, st := range ap.attrStatements {
		if err := readAttributes(st, out.Attributes); err != nil {
			v.rep.fail("assertion.attributes", err)
			return err
		}
	}
	v.rep.pass("assertion.attributes", "%d attributes", len(out.Attributes))
	until := out.NotOnOrAfter
	if out.SubjectNotOnOrAfter.After(until) {
		until = out.SubjectNotOnOrAfter
	}
	out.ReplayUntil = until.Add(v.cfg.Skew)
	return nil
}

// checkConditions: Conditions with NotOnOrAfter (NotBefore optional) inside the skewed window,
// at least one AudienceRestriction and every one naming our audience, OneTimeUse and
// ProxyRestriction tolerated (see below), anything else refused.
func (v *validator) checkConditions(c *etree.Element, out *Assertion) error {
	fail := func(name string, e *Error) error { v.rep.fail(name, e); return e }
	nb, hasNB, err := optTime(c, "NotBefore")
	if err != nil {
		return fail("conditions.window", refuseWrap(CodeInvalidResponse, err, "Conditions NotBefore is not an xs:dateTime in UTC"))
	}
	noa, hasNOA, err := optTime(c, "NotOnOrAfter")
	if err != nil {
		return fail("conditions.window", refuseWrap(CodeInvalidResponse, err, "Conditions NotOnOrAfter is not an xs:dateTime in UTC"))
	}
	if !hasNOA {
		return fail("conditions.window", refuse(CodeInvalidResponse, "Conditions has no NotOnOrAfter"))
	}
	if hasNB && !nb.Before(noa) {
		return fail("conditions.window", refuse(CodeInvalidResponse, "Conditions NotBefore is not before NotOnOrAfter"))
	}
	if hasNB && v.now.Before(nb.Add(-v.cfg.Skew)) {
		return fail("conditions.window", refuse(CodeNotYetValid, "assertion is not valid before %s", nb.Format(time.RFC3339)))
	}
	if !v.now.Before(noa.Add(v.cfg.Skew)) {
		return fail("conditions.window", refuse(CodeExpired, "assertion expired at %s", noa.Format(time.RFC3339)))
	}
	out.NotBefore, out.NotOnOrAfter = nb, noa
	v.rep.pass("conditions.window", "now is within NotBefore/NotOnOrAfter with %s skew", v.cfg.Skew)

	restrictions, oneTime, proxy := 0, 0, 0
	for _, k := range c.ChildElements() {
		switch {
		case is(k, NSAssertion, "AudienceRestriction"):
			restrictions++
			found := false
			for _, au := range k.ChildElements() {
				if !is(au, NSAssertion, "Audience") {
					return fail("conditions.audience", refuse(CodeAudience, "AudienceRestriction may only contain Audience"))
				}
				if textContent(au) == v.cfg.Audience {
					found = true
				}
			}
			if !found {
				return fail("conditions.audience", refuse(CodeAudience, "an AudienceRestriction does not name this service's audience %s", quote(v.cfg.Audience)))
			}
		case is(k, NSAssertion, "OneTimeUse"):
			// Tolerated: the replay cache already makes every assertion single-use.
			oneTime++
		case is(k, NSAssertion, "ProxyRestriction"):
			// Tolerated: it restricts issuing further SAML assertions based on this one,
			// which s3fed never does (it issues S3 credentials, not assertions).
			proxy++
		default:
			return fail("conditions.unknown", refuse(CodeInvalidResponse, "unknown Condition %s", quote(k.FullTag())))
		}
	}
	if oneTime > 1 || proxy > 1 {
		return fail("conditions.unknown", refuse(CodeInvalidResponse, "OneTimeUse and ProxyRestriction may appear at most once"))
	}
	if restrictions == 0 {
		return fail("conditions.audience", refuse(CodeAudience, "Conditions has no AudienceRestriction"))
	}
	v.rep.pass("conditions.audience", "every AudienceRestriction names %s", quote(v.cfg.Audience))
	return nil
}

// checkSubject: exactly one NameID (text only, 1..256 bytes, no control characters) and one or
// more SubjectConfirmations, all bearer, each with Recipient = ACS URL and a NotOnOrAfter in the
// future (with skew), an optional NotBefore before NotOnOrAfter and not in the future (with
// skew), no InResponseTo.
func (v *validator) checkSubject(s *etree.Element, out *Assertion) error {
	fail := func(name string, e *Error) error { v.rep.fail(name, e); return e }
	var nameID *etree.Element
	var scs []*etree.Element
	for _, k := range s.ChildElements() {
		switch {
		case is(k, NSAssertion, "NameID") && nameID == nil && len(scs) == 0:
			nameID = k
		case is(k, NSAssertion, "SubjectConfirmation"):
			scs = append(scs, k)
		default:
			return fail("subject.nameid", refuse(CodeInvalidResponse, "unexpected %s in Subject (exactly one saml:NameID and SubjectConfirmations)", quote(k.FullTag())))
		}
	}
	if nameID == nil {
		return fail("subject.nameid", refuse(CodeInvalidResponse, "Subject has no saml:NameID"))
	}
	if len(nameID.ChildElements()) != 0 {
		return fail("subject.nameid", refuse(CodeInvalidResponse, "NameID must contain only text"))
	}
	nid := textContent(nameID)
	switch {
	case nid == "":
		return fail("subject.nameid", refuse(CodeInvalidResponse, "NameID is empty"))
	case len(nid) > MaxNameIDLength:
		return fail("subject.nameid", refuse(CodeInvalidResponse, "NameID is longer than %d bytes", MaxNameIDLength))
	case strings.IndexFunc(nid, unicode.IsControl) >= 0:
		return fail("subject.nameid", refuse(CodeInvalidResponse, "NameID contains control characters"))
	}
	out.NameID = nid
	out.NameIDFormat, _ = attr(nameID, "Format")
	v.rep.pass("subject.nameid", "present")

	if len(scs) == 0 {
		return fail("subject.bearer", refuse(CodeInvalidResponse, "Subject has no bearer SubjectConfirmation"))
	}
	for _, sc := range scs {
		if m, _ := attr(sc, "Method"); m != MethodBearer {
			return fail("subject.bearer", refuse(CodeInvalidResponse, "SubjectConfirmation Method %s is not bearer", quote(m)))
		}
		kids := sc.ChildElements()
		if len(kids) != 1 || !is(kids[0], NSAssertion, "SubjectConfirmationData") {
			return fail("subject.bearer", refuse(CodeInvalidResponse, "bearer SubjectConfirmation must contain exactly one SubjectConfirmationData"))
		}
		d := kids[0]
		if r, ok := attr(d, "Recipient"); !ok || r != v.cfg.ACSURL {
			if !ok {
				return fail("subject.recipient", refuse(CodeRecipient, "SubjectConfirmationData has no Recipient; it must be %s", quote(v.cfg.ACSURL)))
			}
			return fail("subject.recipient", refuse(CodeRecipient, "SubjectConfirmationData Recipient %s is not this service's ACS URL %s", quote(r), quote(v.cfg.ACSURL)))
		}
		if _, ok := attr(d, "InResponseTo"); ok {
			return fail("subject.bearer", refuse(CodeInvalidResponse, "SubjectConfirmationData has InResponseTo, but s3fed never sends AuthnRequests"))
		}
		noa, hasNOA, err := optTime(d, "NotOnOrAfter")
		if err != nil {
			return fail("subject.bearer", refuseWrap(CodeInvalidResponse, err, "SubjectConfirmationData NotOnOrAfter is not an xs:dateTime in UTC"))
		}
		if !hasNOA {
			return fail("subject.bearer", refuse(CodeInvalidResponse, "bearer SubjectConfirmationData has no NotOnOrAfter"))
		}
		if !v.now.Before(noa.Add(v.cfg.Skew)) {
			return fail("subject.bearer", refuse(CodeExpired, "bearer SubjectConfirmationData expired at %s", noa.Format(time.RFC3339)))
		}
		nb, hasNB, err := optTime(d, "NotBefore")
		if err != nil {
			return fail("subject.bearer", refuseWrap(CodeInvalidResponse, err, "SubjectConfirmationData NotBefore is not an xs:dateTime in UTC"))
		}
		if hasNB && !nb.Before(noa) {
			// An empty window can never be honoured; without this check a skew could let it
			// through (as for Conditions, SAML core 2.5.1.2).
			return fail("subject.bearer", refuse(CodeInvalidResponse, "SubjectConfirmationData NotBefore is not before NotOnOrAfter"))
		}
		if hasNB && v.now.Before(nb.Add(-v.cfg.Skew)) {
			return fail("subject.bearer", refuse(CodeNotYetValid, "bearer SubjectConfirmationData not valid before %s", nb.Format(time.RFC3339)))
		}
		if noa.After(out.SubjectNotOnOrAfter) {
			out.SubjectNotOnOrAfter = noa
		}
	}
	v.rep.pass("subject.recipient", "every bearer Recipient equals the ACS URL")
	v.rep.pass("subject.bearer", "bearer confirmation valid until %s", out.SubjectNotOnOrAfter.Format(time.RFC3339))
	return nil
}

func (v *validator) readAuthn(el *etree.Element, out *Assertion) error {
	t, ok, err := optTime(el, "AuthnInstant")
	if err != nil || !ok {
		return refuse(CodeInvalidResponse, "AuthnStatement AuthnInstant missing or not an xs:dateTime in UTC")
	}
	out.AuthnInstant = t
	out.SessionIndex, _ = attr(el, "SessionIndex")
	snoa, ok, err := optTime(el, "SessionNotOnOrAfter")
	if err != nil {
		return refuseWrap(CodeInvalidResponse, err, "AuthnStatement SessionNotOnOrAfter is not an xs:dateTime in UTC")
	}
	if ok {
		if !v.now.Before(snoa) {
			return refuse(CodeExpired, "the IdP session ended at %s (SessionNotOnOrAfter)", snoa.Format(time.RFC3339))
		}
		out.SessionNotOnOrAfter = snoa
	}
	return nil
}

// readAttributes reads every Attribute's values as their whole text content (comments and
// element boundaries never truncate a value). Several Attribute elements with one Name are
// merged, so a duplicated Role shows up as two values and the mapping refuses it.
func readAttributes(st *etree.Element, into map[string][]string) error {
	for _, at := range st.ChildElements() {
		if !is(at, NSAssertion, "Attribute") {
			return refuse(CodeInvalidResponse, "unsupported %s in AttributeStatement", quote(at.FullTag()))
		}
		name, ok := attr(at, "Name")
		if !ok || name == "" {
			return refuse(CodeInvalidResponse, "Attribute without a Name")
		}
		vals := into[name]
		if vals == nil {
			vals = []string{}
		}
		for _, av := range at.ChildElements() {
			if !is(av, NSAssertion, "AttributeValue") {
				return refuse(CodeInvalidResponse, "unexpected %s in Attribute", quote(av.FullTag()))
			}
			vals = append(vals, textContent(av))
		}
		into[name] = vals
	}
	return nil
}

// textContent is the DOM textContent of el: all character data of all descendants, in order.
func textContent(el *etree.Element) string {
	var b strings.Builder
	var walk func(*etree.Element)
	walk = func(e *etree.Element) {
		for _, t := range e.Child {
			switch t := t.(type) {
			case *etree.CharData:
				b.WriteString(t.Data)
			case *etree.Element:
				walk(t)
			}
		}
	}
	walk(el)
	return b.String()
}

var idRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]*$`)

// validID accepts an xs:ID (ASCII NCName) of reasonable length, the shape goxmldsig's URI
// matching assumes.
func validID(s string) bool { return len(s) <= maxIDLength && idRE.MatchString(s) }

var timeRE = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?(Z|[+-]00:00)$`)

// parseTime accepts xs:dateTime in UTC as SAML core 1.3.3 requires: "Z" or a zero offset,
// optional fractional seconds (up to nanoseconds). Local times, other offsets and anything
// malformed are refused.
func parseTime(s string) (time.Time, error) {
	if !timeRE.MatchString(s) {
		return time.Time{}, &Error{Code: CodeInvalidResponse, Reason: "timestamp " + quote(s) + " is not YYYY-MM-DDThh:mm:ss[.fff]Z"}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, err
	}
	return t.UTC(), nil
}

func optTime(el *etree.Element, name string) (time.Time, bool, error) {
	s, ok := attr(el, name)
	if !ok {
		return time.Time{}, false, nil
	}
	t, err := parseTime(s)
	if err != nil {
		return time.Time{}, true, err
	}
	return t, true, nil
}
