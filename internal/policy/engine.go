package policy

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// Request is one authorisation question: may this identity perform this
// action on this resource? It carries the fields of identity.Identity that
// policies read, so this package does not depend on how identities are made.
type Request struct {
	// OrgID is the caller's organisation. An Engine only ever matches
	// requests of its own org.
	OrgID string
	// PrincipalName is the org-wide name ("saml/alice@example.com").
	PrincipalName string
	// Role is the caller's single role.
	Role string
	// Groups come from the federation config's attribute mapping.
	Groups []string
	// Attributes are the verified assertion attributes, multi-valued.
	Attributes map[string][]string
	// Action is the S3 (or cwobject) action, e.g. "s3:GetObject".
	Action string
	// Resource is "BUCKET/KEY" for object actions, "BUCKET" for bucket-level
	// actions and "*" (or "") for global actions.
	Resource string
}

// Resource builds a Request.Resource the way policies match it: "*" when
// there is no bucket (global actions such as s3:ListAllMyBuckets), "BUCKET"
// for bucket-level actions (key ""), "BUCKET/KEY" for object actions. The S3
// gateway uses it so that bucket-level and object-level requests can never be
// confused (S3 keys are never empty).
func Resource(bucket, key string) string {
	switch {
	case bucket == "":
		return "*"
	case key == "":
		return bucket
	default:
		return bucket + "/" + key
	}
}

// StatementRef names a statement that took part in a decision, so that an
// audit line and an AccessDenied message can say which rule applied.
type StatementRef struct {
	// Policy is the org policy document's name; empty for a bucket policy.
	Policy string `json:"policy,omitempty"`
	// Bucket is set (and Policy empty) for a statement of a bucket policy.
	Bucket string `json:"bucket,omitempty"`
	// Statement is the statement's name (a bucket policy's Sid, or
	// "Statement[i]" when it has none).
	Statement string `json:"statement"`
	// Effect is the statement's effect.
	Effect Effect `json:"effect"`
}

// String renders the reference for logs.
func (r StatementRef) String() string {
	if r.Bucket != "" {
		return fmt.Sprintf("bucket policy of %q, statement %q (%s)", r.Bucket, r.Statement, r.Effect)
	}
	return fmt.Sprintf("access policy %q, statement %q (%s)", r.Policy, r.Statement, r.Effect)
}

// Decision is the answer to a Request. The zero Decision denies, so a
// forgotten assignment fails closed.
type Decision struct {
	// Effect is Allow or Deny.
	Effect Effect `json:"decision"`
	// Implicit is true for a Deny that no statement asked for (nothing
	// allowed the request).
	Implicit bool `json:"implicit"`
	// Statements are the deciding statements: for an explicit Deny the
	// denying one(s), for an Allow the allowing one(s), empty for an
	// implicit Deny. Engine.Decide reports the first in evaluation order
	// (documents sorted by name, statements in document order);
	// Engine.Explain reports all of them. The slice is shared: do not modify.
	Statements []StatementRef `json:"statements"`
	// Reason says why, in a sentence fit for an S3 AccessDenied message and
	// an audit line.
	Reason string `json:"reason"`
}

// Allowed reports whether the request may proceed.
func (d Decision) Allowed() bool { return d.Effect == Allow }

// MarshalJSON renders the API.md simulate shape
// {"decision","statements","reason"} plus "implicit"; statements is never null.
func (d Decision) MarshalJSON() ([]byte, error) {
	type plain Decision
	p := plain(d)
	if p.Effect == "" {
		p.Effect = Deny
	}
	if p.Statements == nil {
		p.Statements = []StatementRef{}
	}
	return json.Marshal(p)
}

// Fixed reasons: no allocation on the hot path.
const (
	reasonImplicit   = "implicitly denied: no statement of the organization's access policies allows this action on this resource"
	reasonNoPolicies = "implicitly denied: the organization has no access policies"
)

var (
	decisionNoPolicies = Decision{Effect: Deny, Implicit: true, Reason: reasonNoPolicies}
)

// cstmt is a compiled statement.
type cstmt struct {
	order     int            // global evaluation order within the engine
	effect    Effect         //
	ref       []StatementRef // one element, shared by every Decision it decides
	reason    string         // precomputed Decision.Reason
	actions   []pattern
	resources []pattern
	src       Statement
}

// entry is one (statement, action pattern, resource pattern) triple filed
// under a principal key.
type entry struct {
	st  *cstmt
	act pattern
	res pattern
}

// bucketIndex holds the entries of one principal key whose resource names
// one literal bucket (or, for principalIndex.other, a wildcard bucket). A
// short list is scanned; a long one (more than bucketIndexScan entries) also
// gets byAction, which maps every literal action and every catalogued S3
// action (knownActions) to the entries whose action pattern matches it, so a
// catalogued request action needs no wildcard matching at all.
type bucketIndex struct {
	entries  []entry
	byAction map[string][]entry
}

// bucketIndexScan is the list length up to which scanning beats a lookup.
const bucketIndexScan = 16

// principalIndex holds every statement naming one principal key, indexed by
// the bucket its resources name: the request's bucket selects one small
// bucketIndex; resources whose bucket part has a wildcard (or "*") sit in
// other. A decision therefore touches only statements about the caller and
// the bucket, however many statements the org has. Entries are not copied
// per action (except in large bucket lists), so memory stays proportional to
// the statements.
type principalIndex struct {
	byBucket map[string]*bucketIndex
	other    *bucketIndex
}

// attrIndex maps an attribute's values to their statements.
type attrIndex struct {
	key    string
	values map[string]*principalIndex
}

// Engine is an org's compiled policies. It is immutable once built, so any
// number of goroutines may call Decide and Explain while a [Set] swaps in a
// newer Engine.
type Engine struct {
	org       string
	policies  []string // document names, sorted
	stmts     []*cstmt
	any       *principalIndex
	roles     map[string]*principalIndex
	groups    map[string]*principalIndex
	names     map[string]*principalIndex
	attrs     []attrIndex
	attrByKey map[string]map[string]*principalIndex
	otherOrg  Decision
}

// MaxEngineStatements bounds the statements of one org (all its documents
// together), which bounds compile time and memory; the benchmarks show
// decisions stay well under the S3 latency budget at a tenth of it.
const MaxEngineStatements = 100_000

// Compile validates docs and builds the decision index for orgID. Document
// names must be unique. Documents are evaluated in name order so that the
// "first" deciding statement does not depend on storage order. An empty docs
// yields an Engine that denies everything implicitly.
func Compile(orgID string, docs []*Document) (*Engine, error) {
	total := 0
	for _, d := range docs {
		if d != nil {
			total += len(d.Statements)
		}
	}
	if total > MaxEngineStatements {
		return nil, fmt.Errorf("compile access policies: %d statements, more than the limit of %d per organization", total, MaxEngineStatements)
	}
	sorted := slices.Clone(docs)
	for i, d := range sorted {
		if err := d.Validate(); err != nil {
			name := "#" + fmt.Sprint(i)
			if d != nil {
				name = d.Name
			}
			return nil, fmt.Errorf("compile access policy %q: %w", name, err)
		}
	}
	slices.SortFunc(sorted, func(a, b *Document) int { return strings.Compare(a.Name, b.Name) })
	e := &Engine{
		org:    orgID,
		any:    newPrincipalIndex(),
		roles:  map[string]*principalIndex{},
		groups: map[string]*principalIndex{},
		names:  map[string]*principalIndex{},
		otherOrg: Decision{Effect: Deny, Implicit: true, Reason: fmt.Sprintf(
			"implicitly denied: the access policies of organization %q never apply to a principal of another organization", orgID)},
	}
	attrs := map[string]map[string]*principalIndex{}
	for i, d := range sorted {
		if i > 0 && sorted[i-1].Name == d.Name {
			return nil, fmt.Errorf("compile access policies: two documents are named %q", d.Name)
		}
		e.policies = append(e.policies, d.Name)
		for _, st := range d.Statements {
			cs := compileStatement(len(e.stmts), d.Name, st)
			e.stmts = append(e.stmts, cs)
			for _, p := range st.Principals {
				var pi *principalIndex
				kind, rest, _ := strings.Cut(p, "/")
				switch {
				case p == "*":
					pi = e.any
				case kind == "role":
					pi = getIndex(e.roles, rest)
				case kind == "group":
					pi = getIndex(e.groups, rest)
				case kind == "attribute":
					key, value, _ := strings.Cut(rest, "/")
					m := attrs[key]
					if m == nil {
						m = map[string]*principalIndex{}
						attrs[key] = m
					}
					pi = getIndex(m, value)
				default:
					pi = getIndex(e.names, p)
				}
				pi.add(cs)
			}
		}
	}
	e.attrByKey = attrs
	for key, values := range attrs {
		e.attrs = append(e.attrs, attrIndex{key: key, values: values})
	}
	e.any.finish()
	for _, m := range []map[string]*principalIndex{e.roles, e.groups, e.names} {
		for _, pi := range m {
			pi.finish()
		}
	}
	for _, values := range attrs {
		for _, pi := range values {
			pi.finish()
		}
	}
	slices.SortFunc(e.attrs, func(a, b attrIndex) int { return strings.Compare(a.key, b.key) })
	return e, nil
}

func compileStatement(order int, policy string, st Statement) *cstmt {
	cs := &cstmt{
		order:  order,
		effect: st.Effect,
		ref:    []StatementRef{{Policy: policy, Statement: st.Name, Effect: st.Effect}},
		src: Statement{
			Name: st.Name, Effect: st.Effect,
			Actions:    slices.Clone(st.Actions),
			Resources:  slices.Clone(st.Resources),
			Principals: slices.Clone(st.Principals),
		},
	}
	if st.Effect == Allow {
		cs.reason = fmt.Sprintf("allowed by statement %q of access policy %q", st.Name, policy)
	} else {
		cs.reason = fmt.Sprintf("explicitly denied by statement %q of access policy %q", st.Name, policy)
	}
	for _, a := range st.Actions {
		cs.actions = append(cs.actions, compilePattern(a, true))
	}
	for _, r := range st.Resources {
		cs.resources = append(cs.resources, compilePattern(r, false))
	}
	return cs
}

func newPrincipalIndex() *principalIndex {
	return &principalIndex{byBucket: map[string]*bucketIndex{}}
}

func getIndex(m map[string]*principalIndex, key string) *principalIndex {
	pi := m[key]
	if pi == nil {
		pi = newPrincipalIndex()
		m[key] = pi
	}
	return pi
}

// literalBucket returns the bucket a resource pattern is confined to, if
// its bucket part has no wildcard. For matchPrefix the text is the literal
// part before the trailing '*', for matchExact and matchGlob the whole
// pattern; matchSuffix and matchAll start with '*'.
func literalBucket(p pattern) (string, bool) {
	if p.kind == matchAll || p.kind == matchSuffix {
		return "", false
	}
	bucket, _, hasSlash := strings.Cut(p.text, "/")
	if strings.ContainsAny(bucket, "*?") || (!hasSlash && p.kind != matchExact) {
		return "", false
	}
	return bucket, true
}

// add files every (action, resource) pair of cs under this principal.
func (pi *principalIndex) add(cs *cstmt) {
	for _, r := range cs.resources {
		var bi *bucketIndex
		if bucket, ok := literalBucket(r); ok {
			bi = pi.byBucket[bucket]
			if bi == nil {
				bi = &bucketIndex{}
				pi.byBucket[bucket] = bi
			}
		} else {
			if pi.other == nil {
				pi.other = &bucketIndex{}
			}
			bi = pi.other
		}
		for _, a := range cs.actions {
			bi.entries = append(bi.entries, entry{st: cs, act: a, res: r})
		}
	}
}

// finish builds the action maps of long bucket lists once every statement
// is filed.
func (pi *principalIndex) finish() {
	for _, bi := range pi.byBucket {
		bi.finish()
	}
	if pi.other != nil {
		pi.other.finish()
	}
}

func (bi *bucketIndex) finish() {
	if len(bi.entries) <= bucketIndexScan {
		return
	}
	bi.byAction = map[string][]entry{}
	for _, e := range bi.entries {
		if e.act.kind == matchExact {
			bi.byAction[e.act.text] = append(bi.byAction[e.act.text], e)
			continue
		}
		for action := range knownActions {
			if e.act.match(action) {
				bi.byAction[action] = append(bi.byAction[action], e)
			}
		}
	}
}

// best tracks the first matching Deny and Allow statements.
type best struct {
	deny, allow *cstmt
}

// consider checks entries; with checkAction false their action patterns are
// already known to match.
func (b *best) consider(entries []entry, action, res string, global, checkAction bool) {
	for i := range entries {
		e := &entries[i]
		if e.st.effect == Deny {
			if (b.deny == nil || e.st.order < b.deny.order) &&
				(!checkAction || e.act.match(action)) && e.res.matchResource(res, global) {
				b.deny = e.st
			}
		} else if b.deny == nil && (b.allow == nil || e.st.order < b.allow.order) &&
			(!checkAction || e.act.match(action)) && e.res.matchResource(res, global) {
			b.allow = e.st
		}
	}
}

// scanBucket visits one bucket list. lower is the lowercased action when it
// fit the stack buffer; known says it is a catalogued S3 action.
func (b *best) scanBucket(bi *bucketIndex, action string, lower []byte, known bool, res string, global bool) {
	if bi.byAction != nil && known {
		b.consider(bi.byAction[string(lower)], action, res, global, false)
		return
	}
	b.consider(bi.entries, action, res, global, true)
}

// scan visits the statements of one principal key that can match.
func (b *best) scan(pi *principalIndex, action string, lower []byte, known bool, bucket, res string, global bool) {
	if pi == nil {
		return
	}
	if !global {
		if bi, ok := pi.byBucket[bucket]; ok {
			b.scanBucket(bi, action, lower, known, res, global)
		}
	}
	if pi.other != nil {
		b.scanBucket(pi.other, action, lower, known, res, global)
	}
}

// Decide answers req with IAM's evaluation: an explicit Deny wins, then an
// Allow, otherwise an implicit Deny. It is the hot path of every S3 request:
// it looks up only the statements indexed under the caller's principal keys
// and the request's bucket (and, for long lists, the action), and allocates
// nothing. A nil Engine (an org without
// policies) denies.
func (e *Engine) Decide(req Request) Decision {
	if e == nil {
		return decisionNoPolicies
	}
	if req.OrgID != e.org {
		return e.otherOrg
	}
	var buf [MaxActionBytes]byte
	lower := buf[:0]
	lowerOK := len(req.Action) <= len(buf)
	if lowerOK {
		for i := 0; i < len(req.Action); i++ {
			lower = append(lower, lowerASCII(req.Action[i]))
		}
	}
	known := false
	if lowerOK {
		_, known = knownActions[string(lower)]
	}
	global := isGlobalResource(req.Resource)
	bucket := req.Resource
	if i := strings.IndexByte(bucket, '/'); i >= 0 {
		bucket = bucket[:i]
	}
	var b best
	b.scan(e.any, req.Action, lower, known, bucket, req.Resource, global)
	if req.Role != "" {
		b.scan(e.roles[req.Role], req.Action, lower, known, bucket, req.Resource, global)
	}
	for _, g := range req.Groups {
		b.scan(e.groups[g], req.Action, lower, known, bucket, req.Resource, global)
	}
	// Visit attribute keys from whichever side has fewer: the request's
	// attributes or the keys the policies test.
	if len(req.Attributes) > 0 && len(e.attrs) > 0 {
		if len(req.Attributes) <= len(e.attrs) {
			for k, vs := range req.Attributes {
				values := e.attrByKey[k]
				for _, v := range vs {
					if values != nil {
						b.scan(values[v], req.Action, lower, known, bucket, req.Resource, global)
					}
				}
			}
		} else {
			for i := range e.attrs {
				a := &e.attrs[i]
				for _, v := range req.Attributes[a.key] {
					b.scan(a.values[v], req.Action, lower, known, bucket, req.Resource, global)
				}
			}
		}
	}
	if req.PrincipalName != "" {
		b.scan(e.names[req.PrincipalName], req.Action, lower, known, bucket, req.Resource, global)
	}
	switch {
	case b.deny != nil:
		return Decision{Effect: Deny, Statements: b.deny.ref, Reason: b.deny.reason}
	case b.allow != nil:
		return Decision{Effect: Allow, Statements: b.allow.ref, Reason: b.allow.reason}
	default:
		return Decision{Effect: Deny, Implicit: true, Reason: reasonImplicit}
	}
}

// Explanation is a Decision with every statement that matched the request,
// for the simulate endpoint, the CLI and debugging a policy.
type Explanation struct {
	Decision
	// Matched lists every statement that matched, in evaluation order,
	// whether or not it decided.
	Matched []StatementRef `json:"matched"`
}

// MarshalJSON renders the Decision's shape plus "matched" (never null).
func (x Explanation) MarshalJSON() ([]byte, error) {
	d, err := x.Decision.MarshalJSON()
	if err != nil {
		return nil, err
	}
	m := x.Matched
	if m == nil {
		m = []StatementRef{}
	}
	mj, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	out := append(d[:len(d)-1:len(d)-1], `,"matched":`...)
	out = append(out, mj...)
	return append(out, '}'), nil
}

// Explain decides req like Decide but reports every matching statement; its
// Decision lists all deciding statements (every matching Deny, or every
// matching Allow). It scans all statements and allocates: it is for
// simulation and debugging, not for the request path.
func (e *Engine) Explain(req Request) Explanation {
	if e == nil {
		return Explanation{Decision: decisionNoPolicies}
	}
	if req.OrgID != e.org {
		return Explanation{Decision: e.otherOrg}
	}
	var x Explanation
	var denies, allows []StatementRef
	var firstDeny, firstAllow *cstmt
	for _, cs := range e.stmts {
		if !cs.matches(req) {
			continue
		}
		x.Matched = append(x.Matched, cs.ref[0])
		if cs.effect == Deny {
			denies = append(denies, cs.ref[0])
			if firstDeny == nil {
				firstDeny = cs
			}
		} else {
			allows = append(allows, cs.ref[0])
			if firstAllow == nil {
				firstAllow = cs
			}
		}
	}
	switch {
	case firstDeny != nil:
		x.Decision = Decision{Effect: Deny, Statements: denies, Reason: firstDeny.reason}
	case firstAllow != nil:
		x.Decision = Decision{Effect: Allow, Statements: allows, Reason: firstAllow.reason}
	default:
		x.Decision = Decision{Effect: Deny, Implicit: true, Reason: reasonImplicit}
	}
	return x
}

// matches is the plain, unindexed rule for one statement.
func (cs *cstmt) matches(req Request) bool {
	return cs.matchesPrincipal(req) && cs.matchesAction(req.Action) && cs.matchesResource(req.Resource)
}

func (cs *cstmt) matchesAction(action string) bool {
	for i := range cs.actions {
		if cs.actions[i].match(action) {
			return true
		}
	}
	return false
}

func (cs *cstmt) matchesResource(res string) bool {
	global := isGlobalResource(res)
	for i := range cs.resources {
		if cs.resources[i].matchResource(res, global) {
			return true
		}
	}
	return false
}

func (cs *cstmt) matchesPrincipal(req Request) bool {
	for _, p := range cs.src.Principals {
		if principalMatches(p, req) {
			return true
		}
	}
	return false
}

// principalMatches applies API.md's principal rules to one principal.
func principalMatches(p string, req Request) bool {
	if p == "*" {
		return true
	}
	kind, rest, _ := strings.Cut(p, "/")
	switch kind {
	case "role":
		return req.Role != "" && rest == req.Role
	case "group":
		return slices.Contains(req.Groups, rest)
	case "attribute":
		key, value, _ := strings.Cut(rest, "/")
		return slices.Contains(req.Attributes[key], value)
	default:
		return req.PrincipalName != "" && p == req.PrincipalName
	}
}

// OrgID is the organisation whose policies the Engine holds.
func (e *Engine) OrgID() string {
	if e == nil {
		return ""
	}
	return e.org
}

// Policies lists the names of the compiled documents, sorted.
func (e *Engine) Policies() []string {
	if e == nil {
		return nil
	}
	return slices.Clone(e.policies)
}

// Len is the number of compiled statements.
func (e *Engine) Len() int {
	if e == nil {
		return 0
	}
	return len(e.stmts)
}
