package policy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/s3fed/s3fed/internal/identity"
)

// Version is the only org policy document version s3fed understands. A
// document with any other version is refused rather than guessed at, so that
// a future language change can never be read with today's semantics.
const Version = "v1alpha1"

// Limits of an org policy document. They bound the work of parsing, compiling
// and deciding so that one org cannot make decisions slow for everyone; every
// limit is reported as a validation problem, never silently truncated.
const (
	// MaxDocumentBytes is the largest document ParseDocument reads.
	MaxDocumentBytes = 1 << 20
	// MaxStatements is the largest number of statements in one document.
	MaxStatements = 1000
	// MaxListItems is the largest number of actions, resources or principals
	// in one statement.
	MaxListItems = 256
	// MaxStatementNameBytes bounds a statement name, which appears in audit
	// lines and AccessDenied messages.
	MaxStatementNameBytes = 128
	// MaxActionBytes bounds an action pattern (real S3 action names are
	// under 64 bytes).
	MaxActionBytes = 128
	// MaxResourceBytes bounds a resource pattern: a 63-byte bucket, "/" and
	// a key pattern as long as the longest S3 key (1024 bytes).
	MaxResourceBytes = 63 + 1 + 1024
	// MaxPrincipalBytes bounds a principal. A principal name itself is at
	// most MaxPrincipalNameBytes as API.md fixes.
	MaxPrincipalBytes = 1024
	// MaxPrincipalNameBytes is API.md's limit on a principalName.
	MaxPrincipalNameBytes = 256
)

// DocumentNamePattern is the rule for a document name: lowercase letters,
// digits and '-', starting with a letter or digit, at most 63 characters.
// Names appear in URL paths and CLI arguments, so they are kept to characters
// that never need escaping, like Kubernetes object names.
const DocumentNamePattern = `^[a-z0-9][a-z0-9-]{0,62}$`

var documentNameRE = regexp.MustCompile(DocumentNamePattern)

// attributeKeyRE is API.md's rule for KEY in attribute/KEY/VALUE.
var attributeKeyRE = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

// Effect is what a statement does when it matches. The values are
// case-sensitive, as in IAM, so that "allow" is caught as a typo instead of
// being read as either effect.
type Effect string

// The two effects.
const (
	Allow Effect = "Allow"
	Deny  Effect = "Deny"
)

// Document is one org-level access policy, exactly in API.md's JSON shape.
// An org may hold many; they are combined by [Compile].
type Document struct {
	// Version must be [Version].
	Version string `json:"version"`
	// Name identifies the document within its org (see DocumentNamePattern).
	Name string `json:"name"`
	// Statements are the rules; their order is kept and used only to pick a
	// deterministic "first" deciding statement.
	Statements []Statement `json:"statements"`
}

// Statement grants or denies some actions on some resources to some
// principals.
type Statement struct {
	// Name identifies the statement in decisions, audit lines and errors;
	// unique within its document.
	Name string `json:"name"`
	// Effect is Allow or Deny.
	Effect Effect `json:"effect"`
	// Actions are `*`, `s3:NAME` or `cwobject:NAME`, with `*`/`?`.
	Actions []string `json:"actions"`
	// Resources are `*`, `BUCKET` or `BUCKET/KEY-PATTERN`, with `*`/`?`.
	Resources []string `json:"resources"`
	// Principals are `*`, `role/NAME`, `group/NAME`, `attribute/KEY/VALUE`
	// or a principal name.
	Principals []string `json:"principals"`
}

// Problem is one thing wrong with a document. Statement names the statement
// (its name, or "statements[i]" when it has no usable name) and is empty for
// document-level problems; Field is the JSON field ("effect", "actions[2]").
type Problem struct {
	Statement string `json:"statement,omitempty"`
	Field     string `json:"field,omitempty"`
	Reason    string `json:"reason"`
}

// String renders the problem as one readable clause.
func (p Problem) String() string {
	var b strings.Builder
	if p.Statement != "" {
		b.WriteString("statement ")
		b.WriteString(strconv.Quote(p.Statement))
		if p.Field != "" {
			b.WriteString(", ")
		}
	}
	b.WriteString(p.Field)
	if p.Statement != "" || p.Field != "" {
		b.WriteString(": ")
	}
	b.WriteString(p.Reason)
	return b.String()
}

// ValidationError lists every problem of a refused document at once, so an
// admin fixes a policy in one round trip instead of one error at a time.
type ValidationError struct {
	// What names the kind of document ("access policy", "bucket policy").
	What string
	// Problems are in document order; never empty.
	Problems []Problem
}

// Error joins all problems into one line suitable for an API message.
func (e *ValidationError) Error() string {
	what := e.What
	if what == "" {
		what = "access policy"
	}
	var b strings.Builder
	b.WriteString("invalid ")
	b.WriteString(what)
	if len(e.Problems) == 1 {
		b.WriteString(": ")
	} else {
		fmt.Fprintf(&b, " (%d problems): ", len(e.Problems))
	}
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(p.String())
	}
	return b.String()
}

// ParseDocument decodes and validates an org policy document. Malformed JSON
// yields an error wrapping [ErrInvalidJSON]; well-formed JSON that breaks any
// rule yields a [*ValidationError] listing every problem.
func ParseDocument(data []byte) (*Document, error) {
	if len(data) > MaxDocumentBytes {
		return nil, &ValidationError{What: "access policy", Problems: []Problem{{
			Reason: fmt.Sprintf("document is %d bytes, more than the limit of %d", len(data), MaxDocumentBytes),
		}}}
	}
	if err := checkSingleValue(data); err != nil {
		return nil, fmt.Errorf("access policy document: %w", err)
	}
	c := collector{cur: -1}
	doc, skip := decodeDocument(data, &c)
	validateDocument(doc, skip, &c)
	if len(c.problems) > 0 {
		return nil, &ValidationError{What: "access policy", Problems: c.sorted()}
	}
	return doc, nil
}

// Validate checks a document built in code or loaded from storage with the
// same rules as ParseDocument, so nothing unchecked reaches the compiler.
func (d *Document) Validate() error {
	if d == nil {
		return &ValidationError{What: "access policy", Problems: []Problem{{Reason: "no document"}}}
	}
	c := collector{cur: -1}
	validateDocument(d, nil, &c)
	if len(c.problems) > 0 {
		return &ValidationError{What: "access policy", Problems: c.sorted()}
	}
	return nil
}

// Marshal encodes a valid document in API.md's shape; ParseDocument of the
// result yields an equal document. Invalid documents are refused so that
// nothing writes out what could not be read back.
func Marshal(d *Document) ([]byte, error) {
	if err := d.Validate(); err != nil {
		return nil, fmt.Errorf("marshal access policy: %w", err)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(d); err != nil {
		return nil, fmt.Errorf("marshal access policy %q: %w", d.Name, err)
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// collector accumulates problems, remembering which statement each belongs
// to (cur, -1 for the document) so they can be reported in document order.
type collector struct {
	problems []Problem
	at       []int
	cur      int
}

func (c *collector) add(stmt, field, reason string) {
	c.problems = append(c.problems, Problem{Statement: stmt, Field: field, Reason: reason})
	c.at = append(c.at, c.cur)
}

// sorted returns the problems in document order: document-level first, then
// statement by statement; within one statement, in the order found.
func (c *collector) sorted() []Problem {
	idx := make([]int, len(c.problems))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return c.at[idx[a]] < c.at[idx[b]] })
	out := make([]Problem, len(idx))
	for i, j := range idx {
		out[i] = c.problems[j]
	}
	return out
}

// skipKey identifies a field that already had a type problem while decoding,
// so validation does not report it a second time as "missing".
type skipKey struct {
	stmt  int // -1 for document-level fields
	field string
}

// decodeDocument turns strict JSON into a Document, reporting unknown,
// duplicate and mistyped fields.
func decodeDocument(data []byte, c *collector) (*Document, map[skipKey]bool) {
	doc := &Document{}
	skip := map[skipKey]bool{}
	fields, dup, reason := objectFields(data)
	if reason != "" {
		c.add("", "", "document "+reason)
		return doc, map[skipKey]bool{{-1, "version"}: true, {-1, "name"}: true, {-1, "statements"}: true}
	}
	if dup != "" {
		c.add("", dup, "field appears more than once")
	}
	for _, f := range fields {
		switch f.Key {
		case "version", "name":
			s, ok := jsonString(f.Value)
			if !ok {
				c.add("", f.Key, "must be a string, got "+jsonKind(f.Value))
				skip[skipKey{-1, f.Key}] = true
				continue
			}
			if f.Key == "version" {
				doc.Version = s
			} else {
				doc.Name = s
			}
		case "statements":
			elems, ok := jsonArray(f.Value)
			if !ok {
				c.add("", "statements", "must be an array of statements, got "+jsonKind(f.Value))
				skip[skipKey{-1, "statements"}] = true
				continue
			}
			if len(elems) > MaxStatements {
				c.add("", "statements", fmt.Sprintf("%d statements, more than the limit of %d", len(elems), MaxStatements))
				skip[skipKey{-1, "statements"}] = true
				continue
			}
			doc.Statements = make([]Statement, len(elems))
			for i, raw := range elems {
				c.cur = i
				decodeStatement(raw, i, &doc.Statements[i], skip, c)
			}
			c.cur = -1
		default:
			c.add("", f.Key, `unknown field (a document has "version", "name" and "statements")`)
		}
	}
	return doc, skip
}

// decodeStatement fills st from raw, reporting unknown and mistyped fields.
func decodeStatement(raw json.RawMessage, i int, st *Statement, skip map[skipKey]bool, c *collector) {
	label := fmt.Sprintf("statements[%d]", i)
	fields, dup, reason := objectFields(raw)
	if reason != "" {
		c.add(label, "", "statement "+reason)
		for _, f := range []string{"name", "effect", "actions", "resources", "principals"} {
			skip[skipKey{i, f}] = true
		}
		return
	}
	// Name the statement by its name in later problems when it has one.
	for _, f := range fields {
		if f.Key == "name" {
			if s, ok := jsonString(f.Value); ok && s != "" {
				label = s
			}
		}
	}
	if dup != "" {
		c.add(label, dup, "field appears more than once")
	}
	for _, f := range fields {
		switch f.Key {
		case "name", "effect":
			s, ok := jsonString(f.Value)
			if !ok {
				c.add(label, f.Key, "must be a string, got "+jsonKind(f.Value))
				skip[skipKey{i, f.Key}] = true
				continue
			}
			if f.Key == "name" {
				st.Name = s
			} else {
				st.Effect = Effect(s)
			}
		case "actions", "resources", "principals":
			list, ok := decodeStringList(f.Key, f.Value, label, c)
			if !ok {
				skip[skipKey{i, f.Key}] = true
				continue
			}
			switch f.Key {
			case "actions":
				st.Actions = list
			case "resources":
				st.Resources = list
			default:
				st.Principals = list
			}
		default:
			c.add(label, f.Key, `unknown field (a statement has "name", "effect", "actions", "resources" and "principals")`)
		}
	}
}

// decodeStringList decodes a JSON array of strings, reporting each element
// that is not a string.
func decodeStringList(field string, raw json.RawMessage, label string, c *collector) ([]string, bool) {
	elems, ok := jsonArray(raw)
	if !ok {
		c.add(label, field, "must be an array of strings, got "+jsonKind(raw))
		return nil, false
	}
	list := make([]string, 0, len(elems))
	good := true
	for j, e := range elems {
		s, ok := jsonString(e)
		if !ok {
			c.add(label, fmt.Sprintf("%s[%d]", field, j), "must be a string, got "+jsonKind(e))
			good = false
			continue
		}
		list = append(list, s)
	}
	if !good {
		return nil, false
	}
	return list, true
}

// validateDocument applies every rule of API.md to doc.
func validateDocument(d *Document, skip map[skipKey]bool, c *collector) {
	if !skip[skipKey{-1, "version"}] {
		switch {
		case d.Version == "":
			c.add("", "version", fmt.Sprintf("required (want %q)", Version))
		case d.Version != Version:
			c.add("", "version", fmt.Sprintf("unknown version %q (want %q)", d.Version, Version))
		}
	}
	if !skip[skipKey{-1, "name"}] {
		if r := checkDocumentName(d.Name); r != "" {
			c.add("", "name", r)
		}
	}
	if skip[skipKey{-1, "statements"}] {
		return
	}
	if len(d.Statements) == 0 {
		c.add("", "statements", "empty: a document needs at least one statement")
		return
	}
	if len(d.Statements) > MaxStatements {
		c.add("", "statements", fmt.Sprintf("%d statements, more than the limit of %d", len(d.Statements), MaxStatements))
		return
	}
	firstIndex := map[string]int{}
	defer func() { c.cur = -1 }()
	for i := range d.Statements {
		c.cur = i
		st := &d.Statements[i]
		label := st.Name
		if label == "" {
			label = fmt.Sprintf("statements[%d]", i)
		}
		if !skip[skipKey{i, "name"}] {
			if r := checkStatementName(st.Name); r != "" {
				c.add(label, "name", r)
			} else if j, seen := firstIndex[st.Name]; seen {
				c.add(label, "name", fmt.Sprintf("duplicate statement name (statements[%d] and statements[%d])", j, i))
			} else {
				firstIndex[st.Name] = i
			}
		}
		if !skip[skipKey{i, "effect"}] {
			switch st.Effect {
			case Allow, Deny:
			case "":
				c.add(label, "effect", `required: "Allow" or "Deny"`)
			default:
				c.add(label, "effect", fmt.Sprintf(`must be "Allow" or "Deny" (case-sensitive), got %q`, string(st.Effect)))
			}
		}
		checkList(c, label, "actions", st.Actions, skip[skipKey{i, "actions"}], checkAction)
		checkList(c, label, "resources", st.Resources, skip[skipKey{i, "resources"}], checkResource)
		checkList(c, label, "principals", st.Principals, skip[skipKey{i, "principals"}], checkPrincipal)
	}
}

// checkList validates one list field of a statement item by item.
func checkList(c *collector, label, field string, list []string, skipped bool, check func(string) string) {
	if skipped {
		return
	}
	if len(list) == 0 {
		c.add(label, field, "empty: at least one entry is required")
		return
	}
	if len(list) > MaxListItems {
		c.add(label, field, fmt.Sprintf("%d entries, more than the limit of %d", len(list), MaxListItems))
		return
	}
	for j, v := range list {
		if r := check(v); r != "" {
			c.add(label, fmt.Sprintf("%s[%d]", field, j), r)
		}
	}
}

// checkDocumentName returns why name is not a valid document name, or "".
func checkDocumentName(name string) string {
	switch {
	case name == "":
		return "required"
	case !documentNameRE.MatchString(name):
		return fmt.Sprintf("%q is not a valid name: use 1-63 lowercase letters, digits and '-', starting with a letter or digit", name)
	}
	return ""
}

// checkStatementName returns why name is not a valid statement name, or "".
func checkStatementName(name string) string {
	switch {
	case name == "":
		return "required: every statement needs a name unique within its document"
	case len(name) > MaxStatementNameBytes:
		return fmt.Sprintf("longer than %d bytes", MaxStatementNameBytes)
	case hasControl(name):
		return "contains control characters"
	}
	return ""
}

// hasControl reports ASCII control characters (and DEL), which would let a
// policy forge lines in an audit log or a terminal.
func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return true
		}
	}
	return false
}

// checkAction returns why a is not a valid action pattern, or "".
func checkAction(a string) string {
	if a == "*" {
		return ""
	}
	if len(a) > MaxActionBytes {
		return fmt.Sprintf("longer than %d bytes", MaxActionBytes)
	}
	prefix, name, ok := strings.Cut(a, ":")
	if !ok {
		return fmt.Sprintf(`%q is not an action: use "*", "s3:NAME" or "cwobject:NAME" (wildcards * and ? allowed in NAME)`, a)
	}
	if p := strings.ToLower(prefix); p != "s3" && p != "cwobject" {
		return fmt.Sprintf(`%q has unknown service prefix %q: use "s3:" or "cwobject:"`, a, prefix)
	}
	if name == "" {
		return fmt.Sprintf(`%q has no action name after the colon`, a)
	}
	for i := 0; i < len(name); i++ {
		ch := name[i]
		if !(ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '*' || ch == '?') {
			return fmt.Sprintf("%q: action names are letters and digits (with wildcards * and ?)", a)
		}
	}
	return ""
}

// checkResource returns why r is not a valid resource pattern, or "".
func checkResource(r string) string {
	if r == "*" {
		return ""
	}
	if r == "" {
		return `empty resource: use "*", "BUCKET" or "BUCKET/KEY-PATTERN"`
	}
	if len(r) > MaxResourceBytes {
		return fmt.Sprintf("longer than %d bytes", MaxResourceBytes)
	}
	if hasControl(r) {
		return "contains control characters"
	}
	if strings.HasPrefix(r, "arn:") {
		return fmt.Sprintf(`%q: org policies name resources as "BUCKET" or "BUCKET/KEY-PATTERN", not ARNs`, r)
	}
	bucket, key, hasKey := strings.Cut(r, "/")
	if bucket == "" {
		return fmt.Sprintf(`%q has an empty bucket name: use "BUCKET/KEY-PATTERN" (the bucket may be a wildcard)`, r)
	}
	if len(bucket) > 63 {
		return fmt.Sprintf("%q: bucket name longer than 63 characters", r)
	}
	for i := 0; i < len(bucket); i++ {
		ch := bucket[i]
		if !(ch >= 'a' && ch <= 'z' || ch >= '0' && ch <= '9' || ch == '-' || ch == '.' || ch == '_' || ch == '*' || ch == '?') {
			return fmt.Sprintf("%q: bucket names are lowercase letters, digits, '.', '-' and '_' (with wildcards * and ?)", r)
		}
	}
	if hasKey && key == "" {
		return fmt.Sprintf(`%q has an empty key pattern: use %q for every object or %q for the bucket itself`, r, bucket+"/*", bucket)
	}
	return ""
}

// checkPrincipal returns why p is not a valid principal, or "".
func checkPrincipal(p string) string {
	if p == "*" {
		return ""
	}
	const forms = `use "*", "role/NAME", "group/NAME", "attribute/KEY/VALUE" or a principal name such as "saml/alice@example.com"`
	if p == "" {
		return "empty principal: " + forms
	}
	if len(p) > MaxPrincipalBytes {
		return fmt.Sprintf("longer than %d bytes", MaxPrincipalBytes)
	}
	// The rule every principal name, role and group follows: a policy must
	// not show a name that looks like another.
	if err := identity.CheckName(p); err != nil {
		return fmt.Sprintf("%+q: %v", p, err)
	}
	if strings.ContainsAny(p, "*?") {
		return fmt.Sprintf(`%q: no wildcards inside a principal ("*" alone means every principal of the org)`, p)
	}
	kind, rest, ok := strings.Cut(p, "/")
	if !ok {
		return fmt.Sprintf("%q is not a principal: %s", p, forms)
	}
	switch kind {
	case "role", "group":
		if rest == "" {
			return fmt.Sprintf("%q has an empty %s name", p, kind)
		}
	case "attribute":
		key, value, ok := strings.Cut(rest, "/")
		if !ok || key == "" {
			return fmt.Sprintf(`%q: use "attribute/KEY/VALUE"`, p)
		}
		if !attributeKeyRE.MatchString(key) {
			return fmt.Sprintf("%q: attribute key %q must match [A-Za-z0-9_.-]+", p, key)
		}
		if value == "" {
			return fmt.Sprintf("%q has an empty attribute value", p)
		}
	case "saml", "oidc":
		if rest == "" {
			return fmt.Sprintf("%q has an empty subject", p)
		}
		if len(p) > MaxPrincipalNameBytes {
			return fmt.Sprintf("principal names are at most %d bytes", MaxPrincipalNameBytes)
		}
	default:
		return fmt.Sprintf("%q has unknown principal kind %q: %s", p, kind, forms)
	}
	return ""
}
