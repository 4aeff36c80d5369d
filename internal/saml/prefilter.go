package saml

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"github.com/beevik/etree"
	roundtrip "github.com/mattermost/xml-roundtrip-validator"
)

const nsXML = "http://www.w3.org/XML/1998/namespace"
const nsXMLNS = "http://www.w3.org/2000/xmlns/"

// decodeBase64 is layer 1's first step: the size cap is applied to the encoded text before any
// decoding, then the standard alphabet is decoded strictly (canonical padding, no URL alphabet,
// no spaces or tabs; CR and LF are skipped because IdPs and form posts wrap lines).
func decodeBase64(s string) ([]byte, error) {
	if len(s) == 0 {
		return nil, refuse(CodeInvalidResponse, "empty SAMLResponse")
	}
	if len(s) > MaxEncodedSize {
		return nil, refuse(CodeInvalidResponse, "SAMLResponse is %d bytes of base64, more than the %d allowed", len(s), MaxEncodedSize)
	}
	raw, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil {
		return nil, refuseWrap(CodeInvalidResponse, err, "SAMLResponse is not strict standard base64 (only CR/LF line breaks are allowed)")
	}
	if len(raw) > MaxDecodedSize {
		return nil, refuse(CodeInvalidResponse, "decoded SAML XML is %d bytes, more than the %d allowed", len(raw), MaxDecodedSize)
	}
	return raw, nil
}

// docInfo is what the pre-filter learned while walking the parsed tree.
type docInfo struct {
	assertions          int                 // saml:Assertion children of the root
	encryptedAssertions int                 // saml:EncryptedAssertion children of the root
	ids                 map[string]struct{} // every ID/Id/id value, so a decrypted Assertion cannot reuse one
}

// rootKind is the document a pre-filter walk expects, which decides where Assertions and
// Signatures may appear.
type rootKind int

const (
	rootResponse  rootKind = iota // a samlp:Response, as posted by a client
	rootAssertion                 // a saml:Assertion decrypted from an EncryptedAssertion
	rootAny                       // any document (IdP metadata): no SAML position rules
)

// XMLLimits bounds one hostile XML document. Every limit is enforced by the one parse and walk of
// the pre-filter, before any other code looks at the document.
type XMLLimits struct {
	MaxBytes                    int // whole document, after any decoding
	MaxDepth                    int // deepest element nesting
	MaxElements                 int // elements in the document
	MaxAttributesPerElement     int // attributes on one element, namespace declarations included
	MaxAttributes               int // attributes in the document, namespace declarations included
	MaxNamespaceDeclsPerElement int // xmlns declarations on one element
	MaxNamespaceDecls           int // xmlns declarations in the document
}

// responseLimits are the limits of a posted Response (and of a decrypted Assertion, which is
// verified by goxmldsig on its own and so meets the same node limit).
var responseLimits = XMLLimits{
	MaxBytes:                    MaxDecodedSize,
	MaxDepth:                    MaxDepth,
	MaxElements:                 MaxElements,
	MaxAttributesPerElement:     MaxAttributesPerElement,
	MaxAttributes:               MaxAttributes,
	MaxNamespaceDeclsPerElement: MaxNamespaceDeclsPerElement,
	MaxNamespaceDecls:           MaxNamespaceDecls,
}

// xmlShape is what one pre-filter run expects: the document kind, its limits, and the noun its
// error messages use.
type xmlShape struct {
	root rootKind
	lim  XMLLimits
	noun string
	// upload tolerates what a file written by a person or an IdP's export carries around the
	// root element: whitespace before the first '<' and comments outside the root. A posted
	// Response must start with '<' (so a deflated body gets a clear message) and has no comments
	// outside its root.
	upload bool
}

var (
	responseShape  = xmlShape{root: rootResponse, lim: responseLimits, noun: "SAML XML"}
	decryptedShape = xmlShape{root: rootAssertion, lim: responseLimits, noun: "decrypted Assertion"}
)

// nsScope is a prefix -> URI binding stack used while walking the tree (etree keeps raw prefixes,
// so the pre-filter resolves names itself and refuses unbound ones).
type nsScope struct {
	bind map[string][]string
}

func (s *nsScope) pop(prefixes []string) {
	for _, p := range prefixes {
		st := s.bind[p]
		s.bind[p] = st[:len(st)-1]
	}
}

func (s *nsScope) lookup(prefix string) (string, bool) {
	if prefix == "xml" {
		return nsXML, true
	}
	st := s.bind[prefix]
	if len(st) == 0 {
		if prefix == "" {
			return "", true // no default namespace
		}
		return "", false
	}
	return st[len(st)-1], true
}

type openElem struct {
	ns, local string
}

// prefilter is layer 1 on the decoded bytes. The document is parsed exactly once, by etree with
// its ReadSettings limits (MaxDepth, strict mode, no entities, duplicate attributes preserved so
// they can be refused, non-UTF-8 charsets refused); the tree is then walked once to refuse
// anything outside the narrow shape a SAML Response needs, before any signature is looked at.
// The 256 KiB cap bounds what the parse can allocate before the walk's limits apply.
func prefilter(raw []byte) (*etree.Document, *docInfo, error) {
	doc, info, err := parseHostile(raw, responseShape, nil)
	if err != nil {
		return nil, nil, err
	}
	if n := info.assertions + info.encryptedAssertions; n != 1 {
		return nil, nil, refuse(CodeInvalidResponse, "Response must contain exactly one Assertion or EncryptedAssertion, found %d", n)
	}
	return doc, info, nil
}

// prefilterDecrypted is layer 1 on the plaintext of an EncryptedAssertion: the same byte rules,
// parse and walk as a posted Response, with a saml:Assertion as the only root and no Assertion,
// EncryptedAssertion or Response anywhere inside it. IDs must not repeat any ID of the enclosing
// document (outerIDs).
//
// XML Encryption parses decrypted element content in the namespace context of the place the
// EncryptedData occupied (xmlenc-core §4.5; xmlsec, Santuario and xmlseclibs all do), and
// encrypters that serialise the Assertion in place leave out declarations made on its
// ancestors. So a prefix the plaintext uses without declaring it resolves through ctx, the
// declarations in scope at the EncryptedData (taken from the verified Response when it is
// signed), and those declarations are then written onto the decrypted root, so every later
// layer sees one self-contained element. This cannot change what a signature covers: exclusive
// c14n renders the namespace of every visibly used prefix, so rebinding one breaks the digest.
func prefilterDecrypted(plain []byte, ctx map[string]string, outerIDs map[string]struct{}) (*etree.Element, error) {
	doc, _, err := parseHostileIn(plain, decryptedShape, ctx, outerIDs)
	if err != nil {
		return nil, err
	}
	root := doc.Root()
	declared := map[string]bool{}
	for _, a := range root.Attr {
		if p, ok := nsDeclPrefix(xml.Name{Space: a.Space, Local: a.Key}); ok {
			declared[p] = true
		}
	}
	names := make([]string, 0, len(ctx))
	for p := range ctx {
		names = append(names, p)
	}
	sort.Strings(names)
	for _, p := range names {
		if declared[p] || p == "xml" || p == "xmlns" {
			continue
		}
		if p == "" {
			root.CreateAttr("xmlns", ctx[p])
		} else {
			root.CreateAttr("xmlns:"+p, ctx[p])
		}
	}
	return root, nil
}

// ParseXML parses an untrusted XML document that is not a SAML Response (an IdP metadata
// document) with the same discipline as a Response: size cap, UTF-8 only, no NUL or C0 control
// bytes, no DOCTYPE, entities or processing instructions (an XML declaration first is allowed),
// ASCII NCName names with bound prefixes, no duplicate attributes or IDs, xml-roundtrip-validator
// on every element shape, exactly one root element and nothing after it, and lim's depth,
// element, attribute and namespace limits. There are no SAML position rules. noun names the
// document in error messages. Every refusal is an *Error with CodeInvalidResponse.
func ParseXML(raw []byte, noun string, lim XMLLimits) (*etree.Document, error) {
	doc, _, err := parseHostile(raw, xmlShape{root: rootAny, lim: lim, noun: noun, upload: true}, nil)
	return doc, err
}

// parseHostile is the shared layer 1: byte checks, one etree parse, document-level rules, and the
// walk with sh's limits and position rules. outerIDs, when set, are IDs already used by an
// enclosing document.
func parseHostile(raw []byte, sh xmlShape, outerIDs map[string]struct{}) (*etree.Document, *docInfo, error) {
	return parseHostileIn(raw, sh, nil, outerIDs)
}

// parseHostileIn is parseHostile with the namespace bindings ctx already in scope around the
// root (the context of decrypted content).
func parseHostileIn(raw []byte, sh xmlShape, ctx map[string]string, outerIDs map[string]struct{}) (*etree.Document, *docInfo, error) {
	if len(raw) == 0 {
		return nil, nil, refuse(CodeInvalidResponse, "empty %s", sh.noun)
	}
	if len(raw) > sh.lim.MaxBytes {
		return nil, nil, refuse(CodeInvalidResponse, "%s is %d bytes, more than the %d allowed", sh.noun, len(raw), sh.lim.MaxBytes)
	}
	raw = bytes.TrimPrefix(raw, []byte("\xef\xbb\xbf")) // a UTF-8 byte order mark is harmless
	if sh.upload {
		raw = bytes.TrimLeft(raw, " \t\r\n")
	}
	if !utf8.Valid(raw) {
		return nil, nil, refuse(CodeInvalidResponse, "%s is not valid UTF-8", sh.noun)
	}
	for i, b := range raw {
		if b < 0x20 && b != '\t' && b != '\n' && b != '\r' {
			return nil, nil, refuse(CodeInvalidResponse, "control byte 0x%02x at offset %d (NUL and C0 controls are not XML)", b, i)
		}
	}
	if len(raw) == 0 || raw[0] != '<' {
		if sh.root == rootResponse {
			return nil, nil, refuse(CodeInvalidResponse, "decoded SAMLResponse does not start with '<' (deflated or not XML; only the POST binding is supported)")
		}
		return nil, nil, refuse(CodeInvalidResponse, "%s does not start with '<' (not XML)", sh.noun)
	}
	doc := etree.NewDocument()
	doc.ReadSettings = etree.ReadSettings{
		MaxDepth:               sh.lim.MaxDepth,
		PreserveDuplicateAttrs: true,
		CharsetReader: func(label string, _ io.Reader) (io.Reader, error) {
			return nil, fmt.Errorf("encoding %q is not UTF-8", label)
		},
	}
	if err := doc.ReadFromBytes(raw); err != nil {
		if errors.Is(err, etree.ErrMaxDepth) {
			return nil, nil, refuse(CodeInvalidResponse, "elements nested deeper than %d", sh.lim.MaxDepth)
		}
		return nil, nil, refuseWrap(CodeInvalidResponse, err, "malformed XML: %v", err)
	}
	// Document level: an optional XML declaration first, whitespace, exactly one root element.
	var root *etree.Element
	for i, tok := range doc.Child {
		switch t := tok.(type) {
		case *etree.ProcInst:
			if t.Target != "xml" || i != 0 {
				return nil, nil, refuse(CodeInvalidResponse, "processing instructions are not allowed")
			}
			if err := checkXMLDecl(t.Inst); err != nil {
				return nil, nil, err
			}
		case *etree.Directive:
			return nil, nil, refuse(CodeInvalidResponse, "DOCTYPE, ENTITY and other <! directives are not allowed")
		case *etree.CharData:
			if strings.TrimLeft(t.Data, " \t\r\n") != "" {
				return nil, nil, refuse(CodeInvalidResponse, "text outside the root element")
			}
		case *etree.Element:
			if root != nil {
				return nil, nil, refuse(CodeInvalidResponse, "more than one root element, or bytes after the root")
			}
			root = t
		case *etree.Comment:
			if !sh.upload {
				return nil, nil, refuse(CodeInvalidResponse, "content outside the root element")
			}
		default:
			return nil, nil, refuse(CodeInvalidResponse, "content outside the root element")
		}
	}
	if root == nil {
		return nil, nil, refuse(CodeInvalidResponse, "%s has no root element", sh.noun)
	}
	scope := &nsScope{bind: map[string][]string{}}
	for p, uri := range ctx {
		if p != "xml" && p != "xmlns" {
			scope.bind[p] = []string{uri}
		}
	}
	w := &walker{info: &docInfo{ids: map[string]struct{}{}}, scope: scope, outerIDs: outerIDs, sh: sh}
	if err := w.walk(root); err != nil {
		return nil, nil, err
	}
	return doc, w.info, nil
}

// walker carries the limits and namespace scope of one pre-filter walk.
type walker struct {
	info                    *docInfo
	scope                   *nsScope
	outerIDs                map[string]struct{}
	sh                      xmlShape
	stack                   []openElem
	elements, attrs, nsDecl int
	rt                      roundTripper
}

func (w *walker) walk(el *etree.Element) error {
	lim := &w.sh.lim
	if len(w.stack)+1 > lim.MaxDepth {
		return refuse(CodeInvalidResponse, "elements nested deeper than %d", lim.MaxDepth)
	}
	if w.elements++; w.elements > lim.MaxElements {
		return refuse(CodeInvalidResponse, "more than %d elements", lim.MaxElements)
	}
	if len(el.Attr) > lim.MaxAttributesPerElement {
		return refuse(CodeInvalidResponse, "an element has more than %d attributes", lim.MaxAttributesPerElement)
	}
	if w.attrs += len(el.Attr); w.attrs > lim.MaxAttributes {
		return refuse(CodeInvalidResponse, "more than %d attributes", lim.MaxAttributes)
	}
	name := xml.Name{Space: el.Space, Local: el.Tag}
	if err := checkQName(name); err != nil {
		return err
	}
	// Namespace declarations first, so the element's own prefix can use them.
	var declared []string
	localDecls := 0
	for i, a := range el.Attr {
		an := xml.Name{Space: a.Space, Local: a.Key}
		if err := checkQName(an); err != nil {
			return err
		}
		for _, b := range el.Attr[:i] {
			if b.Space == a.Space && b.Key == a.Key {
				return refuse(CodeInvalidResponse, "duplicate attribute %s", quote(qname(an)))
			}
		}
		prefix, isDecl := nsDeclPrefix(an)
		if !isDecl {
			continue
		}
		if localDecls++; localDecls > lim.MaxNamespaceDeclsPerElement {
			return refuse(CodeInvalidResponse, "an element declares more than %d namespaces", lim.MaxNamespaceDeclsPerElement)
		}
		if w.nsDecl++; w.nsDecl > lim.MaxNamespaceDecls {
			return refuse(CodeInvalidResponse, "more than %d namespace declarations", lim.MaxNamespaceDecls)
		}
		if err := checkNSDecl(prefix, a.Value); err != nil {
			return err
		}
		if prefix == "xml" {
			continue // re-declaring xml to its own URI is allowed and a no-op
		}
		w.scope.bind[prefix] = append(w.scope.bind[prefix], a.Value)
		declared = append(declared, prefix)
	}
	defer w.scope.pop(declared)
	if err := w.rt.check(el); err != nil {
		return err
	}
	ns, ok := w.scope.lookup(el.Space)
	if !ok {
		return refuse(CodeInvalidResponse, "undeclared namespace prefix %s", quote(el.Space))
	}
	// Attributes: prefixes bound, no two attributes with the same expanded name, IDs unique.
	for i, a := range el.Attr {
		if _, isDecl := nsDeclPrefix(xml.Name{Space: a.Space, Local: a.Key}); isDecl {
			continue
		}
		if a.Space != "" {
			ans, ok := w.scope.lookup(a.Space)
			if !ok {
				return refuse(CodeInvalidResponse, "undeclared namespace prefix %s", quote(a.Space))
			}
			if strings.EqualFold(a.Key, "id") {
				// goxmldsig finds the ID with SelectAttr("ID"), which ignores prefixes:
				// a prefixed ID could shadow the real one.
				return refuse(CodeInvalidResponse, "namespaced ID attribute %s is not allowed", quote(a.FullKey()))
			}
			for _, b := range el.Attr[:i] {
				if b.Space != "" && b.Space != "xmlns" && b.Key == a.Key {
					if bns, _ := w.scope.lookup(b.Space); bns == ans {
						return refuse(CodeInvalidResponse, "duplicate attribute %s", quote(a.Key))
					}
				}
			}
			continue
		}
		if a.Key == "ID" || a.Key == "Id" || a.Key == "id" {
			if _, dup := w.info.ids[a.Value]; dup {
				return refuse(CodeInvalidResponse, "duplicate ID %s (IDs must be unique in the document)", quote(a.Value))
			}
			if _, dup := w.outerIDs[a.Value]; dup {
				return refuse(CodeInvalidResponse, "ID %s of the %s repeats an ID of the Response around it", quote(a.Value), w.sh.noun)
			}
			w.info.ids[a.Value] = struct{}{}
		}
	}
	if err := checkPosition(w.sh.root, len(w.stack)+1, ns, el.Tag, w.stack, w.info); err != nil {
		return err
	}
	w.stack = append(w.stack, openElem{ns: ns, local: el.Tag})
	defer func() { w.stack = w.stack[:len(w.stack)-1] }()
	for _, tok := range el.Child {
		switch t := tok.(type) {
		case *etree.Element:
			if err := w.walk(t); err != nil {
				return err
			}
		case *etree.CharData, *etree.Comment:
		case *etree.Directive:
			return refuse(CodeInvalidResponse, "DOCTYPE, ENTITY and other <! directives are not allowed")
		case *etree.ProcInst:
			return refuse(CodeInvalidResponse, "processing instructions are not allowed")
		default:
			return refuse(CodeInvalidResponse, "unexpected XML token")
		}
	}
	return nil
}

// checkPosition enforces where the security-relevant elements may appear at all, so that no
// wrapping attack (XSW, CVE-2022-41912, CVE-2024-45409) can even place a second Assertion or a
// Signature in Advice, Extensions, StatusDetail, a Signature's Object or anywhere else. In a
// decrypted Assertion the same holds one level up: the Assertion is the root, a Signature may
// only be its direct child, and nothing inside may be another (Encrypted)Assertion or Response.
func checkPosition(kind rootKind, depth int, ns, local string, stack []openElem, info *docInfo) error {
	switch kind {
	case rootAny:
		return nil
	case rootAssertion:
		if depth == 1 {
			if ns != NSAssertion || local != "Assertion" {
				return refuse(CodeInvalidResponse, "decrypted content must be one saml:Assertion, found %s", quote(local))
			}
			info.assertions++
			return nil
		}
		parent := stack[len(stack)-1]
		switch {
		case ns == NSProtocol && local == "Response",
			ns == NSAssertion && (local == "Assertion" || local == "EncryptedAssertion"):
			return refuse(CodeInvalidResponse, "%s inside a decrypted Assertion is not allowed", local)
		case ns == NSDSig && local == "Signature" && depth != 2:
			return refuse(CodeInvalidSignature, "ds:Signature inside %s is not allowed; only a direct child of Response or Assertion is accepted", parent.local)
		}
		return nil
	}
	if depth == 1 {
		if ns != NSProtocol || local != "Response" {
			return refuse(CodeInvalidResponse, "root element must be a samlp:Response in %s", NSProtocol)
		}
		return nil
	}
	parent := stack[len(stack)-1]
	switch {
	case ns == NSProtocol && local == "Response":
		return refuse(CodeInvalidResponse, "nested Response elements are not allowed")
	case ns == NSAssertion && (local == "Assertion" || local == "EncryptedAssertion"):
		if depth != 2 {
			return refuse(CodeInvalidResponse, "%s inside %s is not allowed; only a direct child of Response is accepted", local, parent.local)
		}
		if local == "Assertion" {
			info.assertions++
		} else {
			info.encryptedAssertions++
		}
	case ns == NSDSig && local == "Signature":
		ok := depth == 2 || (depth == 3 && parent.ns == NSAssertion && parent.local == "Assertion")
		if !ok {
			return refuse(CodeInvalidSignature, "ds:Signature inside %s is not allowed; only a direct child of Response or Assertion is accepted", parent.local)
		}
	}
	return nil
}

// checkXMLDecl accepts only version 1.0 and, when an encoding is declared, UTF-8.
func checkXMLDecl(inst string) error {
	if v := procInstParam("version", inst); v != "1.0" {
		return refuse(CodeInvalidResponse, "XML declaration must say version=\"1.0\"")
	}
	if enc := procInstParam("encoding", inst); enc != "" && !strings.EqualFold(enc, "utf-8") {
		return refuse(CodeInvalidResponse, "XML encoding %s is not allowed; only UTF-8", quote(enc))
	}
	return nil
}

// procInstParam reads param="value" or param='value' from an XML declaration, matching whole
// pseudo-attribute names only ("xencoding" is not "encoding").
func procInstParam(param, s string) string {
	for {
		s = strings.TrimLeft(s, " \t\r\n")
		eq := strings.IndexByte(s, '=')
		if eq < 0 {
			return ""
		}
		name := strings.TrimRight(s[:eq], " \t\r\n")
		rest := strings.TrimLeft(s[eq+1:], " \t\r\n")
		if rest == "" || (rest[0] != '"' && rest[0] != '\'') {
			return ""
		}
		end := strings.IndexByte(rest[1:], rest[0])
		if end < 0 {
			return ""
		}
		if name == param {
			return rest[1 : 1+end]
		}
		s = rest[end+2:]
	}
}

// nsDeclPrefix reports whether the raw attribute name is a namespace declaration and for which
// prefix ("" is the default namespace).
func nsDeclPrefix(n xml.Name) (string, bool) {
	if n.Space == "" && n.Local == "xmlns" {
		return "", true
	}
	if n.Space == "xmlns" {
		return n.Local, true
	}
	return "", false
}

func checkNSDecl(prefix, uri string) error {
	switch {
	case prefix == "xmlns":
		return refuse(CodeInvalidResponse, "the xmlns prefix cannot be declared")
	case prefix == "xml" && uri != nsXML:
		return refuse(CodeInvalidResponse, "the xml prefix cannot be rebound")
	case prefix != "xml" && (uri == nsXML || uri == nsXMLNS):
		return refuse(CodeInvalidResponse, "reserved namespace bound to prefix %s", quote(prefix))
	case prefix != "" && uri == "":
		return refuse(CodeInvalidResponse, "prefix %s undeclared (XML 1.1 only)", quote(prefix))
	}
	return nil
}

// checkQName requires both parts of a raw name to be ASCII NCNames: `x::Root`, `a:b:c`, empty
// names and the like are how encoding/xml round-trip attacks start.
func checkQName(n xml.Name) error {
	if n.Space != "" && !isNCName(n.Space) {
		return refuse(CodeInvalidResponse, "invalid name prefix %s", quote(n.Space))
	}
	if !isNCName(n.Local) {
		return refuse(CodeInvalidResponse, "invalid name %s", quote(qname(n)))
	}
	if n.Space != "" && n.Space != "xmlns" && n.Local == "xmlns" {
		return refuse(CodeInvalidResponse, "invalid name %s", quote(qname(n)))
	}
	return nil
}

func qname(n xml.Name) string {
	if n.Space == "" {
		return n.Local
	}
	return n.Space + ":" + n.Local
}

// isNCName accepts the ASCII subset of XML's NCName production. SAML, XML-DSig and every IdP
// we know use ASCII names; refusing the rest keeps the grammar small.
func isNCName(s string) bool {
	if s == "" || len(s) > MaxNameLength {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_':
		case i > 0 && (c >= '0' && c <= '9' || c == '.' || c == '-'):
		default:
			return false
		}
	}
	return true
}

// roundTripper runs xml-roundtrip-validator's CheckToken (encode the token with encoding/xml, decode
// it again, compare) on every distinct start-element shape. Round-trip trouble in encoding/xml
// lives in names and namespace declarations, so the shape is the element name, the attribute
// names and the values of namespace declarations; other attribute values are blanked (the strict
// decoder already checked their characters and they escape/unescape symmetrically). End elements
// need no check: they must equal their start element byte for byte.
//
// Shapes that passed are remembered process-wide (IdPs send the same shapes every time), bounded
// by roundTripCacheMax entries of at most roundTripKeyMax bytes; beyond that CheckToken simply
// runs every time. Run on every token it cost 45% of a whole validation.
type roundTripper struct {
	key strings.Builder
}

const (
	roundTripCacheMax = 4096
	roundTripKeyMax   = 1024
)

var (
	roundTripCache     sync.Map // shape key -> struct{}
	roundTripCacheSize atomic.Int64
)

func (r *roundTripper) check(el *etree.Element) error {
	t := xml.StartElement{Name: xml.Name{Space: el.Space, Local: el.Tag}, Attr: make([]xml.Attr, len(el.Attr))}
	for i, a := range el.Attr {
		t.Attr[i] = xml.Attr{Name: xml.Name{Space: a.Space, Local: a.Key}, Value: a.Value}
	}
	r.key.Reset()
	r.key.WriteString(t.Name.Space)
	r.key.WriteByte(':')
	r.key.WriteString(t.Name.Local)
	for _, a := range t.Attr {
		r.key.WriteByte(' ')
		r.key.WriteString(a.Name.Space)
		r.key.WriteByte(':')
		r.key.WriteString(a.Name.Local)
		if _, isDecl := nsDeclPrefix(a.Name); isDecl {
			r.key.WriteString("=\"")
			r.key.WriteString(a.Value)
			r.key.WriteByte('"')
		}
	}
	k := r.key.String()
	if _, ok := roundTripCache.Load(k); ok {
		return nil
	}
	blank := make([]xml.Attr, len(t.Attr))
	for i, a := range t.Attr {
		blank[i] = xml.Attr{Name: a.Name}
		if _, isDecl := nsDeclPrefix(a.Name); isDecl {
			blank[i].Value = a.Value
		}
	}
	if err := roundtrip.CheckToken(xml.StartElement{Name: t.Name, Attr: blank}); err != nil {
		return refuseWrap(CodeInvalidResponse, err, "element %s does not survive an XML round trip", quote(qname(t.Name)))
	}
	if len(k) <= roundTripKeyMax && roundTripCacheSize.Load() < roundTripCacheMax {
		if _, loaded := roundTripCache.LoadOrStore(k, struct{}{}); !loaded {
			roundTripCacheSize.Add(1)
		}
	}
	return nil
}
