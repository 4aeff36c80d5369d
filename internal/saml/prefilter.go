package saml

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
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
	assertions          int // saml:Assertion children of the root
	encryptedAssertions int // saml:EncryptedAssertion children of the root
}

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
	if len(raw) == 0 {
		return nil, nil, refuse(CodeInvalidResponse, "empty SAML XML")
	}
	if len(raw) > MaxDecodedSize {
		return nil, nil, refuse(CodeInvalidResponse, "SAML XML is %d bytes, more than the %d allowed", len(raw), MaxDecodedSize)
	}
	raw = bytes.TrimPrefix(raw, []byte("\xef\xbb\xbf")) // a UTF-8 byte order mark is harmless
	if !utf8.Valid(raw) {
		return nil, nil, refuse(CodeInvalidResponse, "SAML XML is not valid UTF-8")
	}
	for i, b := range raw {
		if b < 0x20 && b != '\t' && b != '\n' && b != '\r' {
			return nil, nil, refuse(CodeInvalidResponse, "control byte 0x%02x at offset %d (NUL and C0 controls are not XML)", b, i)
		}
	}
	if len(raw) == 0 || raw[0] != '<' {
		return nil, nil, refuse(CodeInvalidResponse, "decoded SAMLResponse does not start with '<' (deflated or not XML; only the POST binding is supported)")
	}
	doc := etree.NewDocument()
	doc.ReadSettings = etree.ReadSettings{
		MaxDepth:               MaxDepth,
		PreserveDuplicateAttrs: true,
		CharsetReader: func(label string, _ io.Reader) (io.Reader, error) {
			return nil, fmt.Errorf("encoding %q is not UTF-8", label)
		},
	}
	if err := doc.ReadFromBytes(raw); err != nil {
		if errors.Is(err, etree.ErrMaxDepth) {
			return nil, nil, refuse(CodeInvalidResponse, "elements nested deeper than %d", MaxDepth)
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
		default:
			return nil, nil, refuse(CodeInvalidResponse, "content outside the root element")
		}
	}
	if root == nil {
		return nil, nil, refuse(CodeInvalidResponse, "SAML XML has no root element")
	}
	w := &walker{info: &docInfo{}, scope: &nsScope{bind: map[string][]string{}}, ids: map[string]struct{}{}}
	if err := w.walk(root); err != nil {
		return nil, nil, err
	}
	if n := w.info.assertions + w.info.encryptedAssertions; n != 1 {
		return nil, nil, refuse(CodeInvalidResponse, "Response must contain exactly one Assertion or EncryptedAssertion, found %d", n)
	}
	return doc, w.info, nil
}

// walker carries the limits and namespace scope of one pre-filter walk.
type walker struct {
	info                    *docInfo
	scope                   *nsScope
	ids                     map[string]struct{}
	stack                   []openElem
	elements, attrs, nsDecl int
	rt                      roundTripper
}

func (w *walker) walk(el *etree.Element) error {
	if len(w.stack)+1 > MaxDepth {
		return refuse(CodeInvalidResponse, "elements nested deeper than %d", MaxDepth)
	}
	if w.elements++; w.elements > MaxElements {
		return refuse(CodeInvalidResponse, "more than %d elements", MaxElements)
	}
	if len(el.Attr) > MaxAttributesPerElement {
		return refuse(CodeInvalidResponse, "an element has more than %d attributes", MaxAttributesPerElement)
	}
	if w.attrs += len(el.Attr); w.attrs > MaxAttributes {
		return refuse(CodeInvalidResponse, "more than %d attributes", MaxAttributes)
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
		if localDecls++; localDecls > MaxNamespaceDeclsPerElement {
			return refuse(CodeInvalidResponse, "an element declares more than %d namespaces", MaxNamespaceDeclsPerElement)
		}
		if w.nsDecl++; w.nsDecl > MaxNamespaceDecls {
			return refuse(CodeInvalidResponse, "more than %d namespace declarations", MaxNamespaceDecls)
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
			if _, dup := w.ids[a.Value]; dup {
				return refuse(CodeInvalidResponse, "duplicate ID %s (IDs must be unique in the document)", quote(a.Value))
			}
			w.ids[a.Value] = struct{}{}
		}
	}
	if err := checkPosition(len(w.stack)+1, ns, el.Tag, w.stack, w.info); err != nil {
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
// Signature in Advice, Extensions, StatusDetail, a Signature's Object or anywhere else.
func checkPosition(depth int, ns, local string, stack []openElem, info *docInfo) error {
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
