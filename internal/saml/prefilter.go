package saml

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
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

// docInfo is what the pre-filter learned while streaming the tokens; the tree is built by etree
// afterwards from the same bytes.
type docInfo struct {
	assertions          int // saml:Assertion children of the root
	encryptedAssertions int // saml:EncryptedAssertion children of the root
}

// nsScope is a prefix -> URI binding stack for the streaming pass (RawToken does no namespace
// processing, so the pre-filter resolves names itself).
type nsScope struct {
	bind  map[string][]string
	marks [][]string // prefixes declared per open element
}

func (s *nsScope) push(prefixes []string) { s.marks = append(s.marks, prefixes) }

func (s *nsScope) pop() {
	top := s.marks[len(s.marks)-1]
	s.marks = s.marks[:len(s.marks)-1]
	for _, p := range top {
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
	prefix, local string
	ns            string
}

// prefilter is layer 1 on the decoded bytes. It streams the document once with encoding/xml in
// strict mode and refuses anything outside the narrow shape a SAML Response needs, before any
// tree is built or any signature is looked at. On success it returns the etree document, parsed
// with etree's own depth limit as a second line of defence.
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
	if raw[0] != '<' {
		return nil, nil, refuse(CodeInvalidResponse, "decoded SAMLResponse does not start with '<' (deflated or not XML; only the POST binding is supported)")
	}
	info, err := scanTokens(raw)
	if err != nil {
		return nil, nil, err
	}
	doc := etree.NewDocument()
	doc.ReadSettings = etree.ReadSettings{MaxDepth: MaxDepth}
	if err := doc.ReadFromBytes(raw); err != nil {
		return nil, nil, refuseWrap(CodeInvalidResponse, err, "SAML XML could not be parsed")
	}
	if doc.Root() == nil {
		return nil, nil, refuse(CodeInvalidResponse, "SAML XML has no root element")
	}
	return doc, info, nil
}

func scanTokens(raw []byte) (*docInfo, error) {
	dec := xml.NewDecoder(bytes.NewReader(raw))
	dec.Strict = true
	dec.CharsetReader = func(label string, _ io.Reader) (io.Reader, error) {
		return nil, fmt.Errorf("encoding %q is not UTF-8", label)
	}
	info := &docInfo{}
	var rt roundTripper
	scope := &nsScope{bind: map[string][]string{}}
	ids := map[string]struct{}{}
	var (
		stack                   []openElem
		elements, attrs, nsDecl int
		rootDone, sawToken      bool
		attrSeen                = map[xml.Name]struct{}{}
	)
	for {
		tok, err := dec.RawToken()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, refuseWrap(CodeInvalidResponse, err, "malformed XML: %v", err)
		}
		first := !sawToken
		sawToken = true
		switch t := tok.(type) {
		case xml.ProcInst:
			if t.Target != "xml" || !first {
				return nil, refuse(CodeInvalidResponse, "processing instructions are not allowed")
			}
			if err := checkXMLDecl(string(t.Inst)); err != nil {
				return nil, err
			}
		case xml.Directive:
			return nil, refuse(CodeInvalidResponse, "DOCTYPE, ENTITY and other <! directives are not allowed")
		case xml.Comment:
			if len(stack) == 0 {
				return nil, refuse(CodeInvalidResponse, "content outside the root element")
			}
		case xml.CharData:
			if len(stack) == 0 && len(bytes.TrimLeft(t, " \t\r\n")) != 0 {
				return nil, refuse(CodeInvalidResponse, "text outside the root element")
			}
		case xml.StartElement:
			if rootDone {
				return nil, refuse(CodeInvalidResponse, "more than one root element, or bytes after the root")
			}
			if len(stack)+1 > MaxDepth {
				return nil, refuse(CodeInvalidResponse, "elements nested deeper than %d", MaxDepth)
			}
			if elements++; elements > MaxElements {
				return nil, refuse(CodeInvalidResponse, "more than %d elements", MaxElements)
			}
			if len(t.Attr) > MaxAttributesPerElement {
				return nil, refuse(CodeInvalidResponse, "an element has more than %d attributes", MaxAttributesPerElement)
			}
			if attrs += len(t.Attr); attrs > MaxAttributes {
				return nil, refuse(CodeInvalidResponse, "more than %d attributes", MaxAttributes)
			}
			if err := checkQName(t.Name); err != nil {
				return nil, err
			}
			if err := rt.check(t); err != nil {
				return nil, err
			}
			// Namespace declarations first, so the element's own prefix can use them.
			var declared []string
			var localDecls int
			clear(attrSeen)
			for _, a := range t.Attr {
				if err := checkQName(a.Name); err != nil {
					return nil, err
				}
				if _, dup := attrSeen[a.Name]; dup {
					return nil, refuse(CodeInvalidResponse, "duplicate attribute %s", quote(qname(a.Name)))
				}
				attrSeen[a.Name] = struct{}{}
				prefix, isDecl := nsDeclPrefix(a.Name)
				if !isDecl {
					continue
				}
				if localDecls++; localDecls > MaxNamespaceDeclsPerElement {
					return nil, refuse(CodeInvalidResponse, "an element declares more than %d namespaces", MaxNamespaceDeclsPerElement)
				}
				if nsDecl++; nsDecl > MaxNamespaceDecls {
					return nil, refuse(CodeInvalidResponse, "more than %d namespace declarations", MaxNamespaceDecls)
				}
				if err := checkNSDecl(prefix, a.Value); err != nil {
					return nil, err
				}
				if prefix == "xml" {
					continue // re-declaring xml to its own URI is allowed and a no-op
				}
				scope.bind[prefix] = append(scope.bind[prefix], a.Value)
				declared = append(declared, prefix)
			}
			scope.push(declared)
			ns, ok := scope.lookup(t.Name.Space)
			if !ok {
				return nil, refuse(CodeInvalidResponse, "undeclared namespace prefix %s", quote(t.Name.Space))
			}
			// Attributes: prefixes bound, no two attributes with the same expanded name, IDs unique.
			type expanded struct{ ns, local string }
			var seenExp []expanded
			for _, a := range t.Attr {
				if _, isDecl := nsDeclPrefix(a.Name); isDecl {
					continue
				}
				ans := ""
				if a.Name.Space != "" {
					var ok bool
					if ans, ok = scope.lookup(a.Name.Space); !ok {
						return nil, refuse(CodeInvalidResponse, "undeclared namespace prefix %s", quote(a.Name.Space))
					}
					if strings.EqualFold(a.Name.Local, "id") {
						// goxmldsig finds the ID with SelectAttr("ID"), which ignores prefixes:
						// a prefixed ID could shadow the real one.
						return nil, refuse(CodeInvalidResponse, "namespaced ID attribute %s is not allowed", quote(qname(a.Name)))
					}
				}
				for _, e := range seenExp {
					if e.ns == ans && e.local == a.Name.Local {
						return nil, refuse(CodeInvalidResponse, "duplicate attribute %s", quote(a.Name.Local))
					}
				}
				seenExp = append(seenExp, expanded{ans, a.Name.Local})
				if a.Name.Space == "" && (a.Name.Local == "ID" || a.Name.Local == "Id" || a.Name.Local == "id") {
					if _, dup := ids[a.Value]; dup {
						return nil, refuse(CodeInvalidResponse, "duplicate ID %s (IDs must be unique in the document)", quote(a.Value))
					}
					ids[a.Value] = struct{}{}
				}
			}
			depth := len(stack) + 1
			if err := checkPosition(depth, ns, t.Name.Local, stack, info); err != nil {
				return nil, err
			}
			stack = append(stack, openElem{prefix: t.Name.Space, local: t.Name.Local, ns: ns})
		case xml.EndElement:
			if len(stack) == 0 {
				return nil, refuse(CodeInvalidResponse, "unbalanced end element")
			}
			top := stack[len(stack)-1]
			if top.prefix != t.Name.Space || top.local != t.Name.Local {
				return nil, refuse(CodeInvalidResponse, "end element does not match start element")
			}
			stack = stack[:len(stack)-1]
			scope.pop()
			if len(stack) == 0 {
				rootDone = true
			}
		default:
			return nil, refuse(CodeInvalidResponse, "unexpected XML token")
		}
	}
	if !rootDone {
		return nil, refuse(CodeInvalidResponse, "no complete root element")
	}
	if info.assertions+info.encryptedAssertions != 1 {
		return nil, refuse(CodeInvalidResponse, "Response must contain exactly one Assertion or EncryptedAssertion, found %d", info.assertions+info.encryptedAssertions)
	}
	return info, nil
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

func (r *roundTripper) check(t xml.StartElement) error {
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
