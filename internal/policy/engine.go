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

// resEntry is one (statement, resource pattern) pair.
type resEntry struct {
	st  *cstmt
	pat pattern
}

// resIndex holds the resource patterns reachable for one (principal, action
// pattern): those with a literal bucket are found by the request's bucket,
// the rest (wildcard buckets, "*") are scanned.
type resIndex struct {
	byBucket map[string][]resEntry
	other    []resEntry
}

// wildAction is one distinct wildcard action pattern of a principal.
type wildAction struct {
	pat pattern
	idx *resIndex
}

// principalIndex holds every statement naming one principal key, indexed by
// action: literal actions by their lowercase name (exact), wildcard patterns
// as a list of distinct patterns (wild; a policy vocabulary has few: "*",
// "s3:Get*", …). When the principal has wildcard patterns, known maps every
// catalogued S3 action (knownActions) to the resource indexes of all
// patterns matching it, precomputed at compile time, so a catalogued request
// action costs one lookup and no wildcard matching. The indexes are shared,
// not copied, which keeps an Engine's memory proportional to its statements.
type principalIndex struct {
	exact map[string]*resIndex
	wild  []wildAction
	known map[string][]*resIndex
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
	return &principalIndex{exact: map[string]*resIndex{}}
}

func getIndex(m map[string]*principalIndex, key string) *principalIndex {
	pi := m[key]
	if pi == nil {
		pi = newPrincipalIndex()
		m[key] = pi
	}
	return pi
}

// add files every (action, resource) pair of cs under this principal.
func (pi *principalIndex) add(cs *cstmt) {
	for _, a := range cs.actions {
		if a.kind == matchExact {
			ri := pi.exact[a.text]
			if ri == nil {
				ri = &resIndex{byBucket: map[string][]resEntry{}}
				pi.exact[a.text] = ri
			}
			ri.addAll(cs)
			continue
		}
		var ri *resIndex
		for i := range pi.wild {
			if pi.wild[i].pat == a {
				ri = pi.wild[i].idx
				break
			}
		}
		if ri == nil {
			ri = &resIndex{byBucket: map[string][]resEntry{}}
			pi.wild = append(pi.wild, wildAction{pat: a, idx: ri})
		}
		ri.addAll(cs)
	}
}

// finish precomputes known once every statement is filed.
func (pi *principalIndex) finish() {
	if len(pi.wild) == 0 {
		return // exact alone answers every action
	}
	pi.known = map[string][]*resIndex{}
	for action := range knownActions {
		var list []*resIndex
		if ri, ok := pi.exact[action]; ok {
			list = append(list, ri)
		}
		for i := range pi.wild {
			if pi.wild[i].pat.match(action) {
				list = append(list, pi.wild[i].idx)
			}
		}
		if len(list) > 0 {
			pi.known[action] = list
		}
	}
}

// addAll files every resource pattern of cs.
func (ri *resIndex) addAll(cs *cstmt) {
	for _, r := range cs.resources {
		ri.add(resEntry{st: cs, pat: r})
	}
}

func (ri *resIndex) add(e resEntry) {
	// The bucket part is literal when the pattern starts with a wildcard-free
	// bucket name followed by '/' (or is an exact bucket name). For
	// matchPrefix text holds the literal part before the trailing '*', for
	// matchExact and matchGlob the whole pattern; matchSuffix and matchAll
	// start with '*'.
	bucket, _, hasSlash := strings.Cut(e.pat.text, "/")
	literalBucket := e.pat.kind != matchAll && e.pat.kind != matchSuffix &&
		!strings.ContainsAny(bucket, "*?") && (hasSlash || e.pat.kind == matchExact)
	if literalBucket {
		ri.byBucket[bucket] = append(ri.byBucket[bucket], e)
		return
	}
	ri.other = append(ri.other, e)
}

// best tracks the first matching Deny and Allow statements.
type best struct {
	deny, allow *cstmt
}

func (b *best) consider(entries []resEntry, res string, global bool) {
	for i := range entries {
		e := &entries[i]
		if e.st.effect == Deny {
			if (b.deny == nil || e.st.order < b.deny.order) && e.pat.matchResource(res, global) {
				b.deny = e.st
			}
		} else if b.deny == nil && (b.allow == nil || e.st.order < b.allow.order) && e.pat.matchResource(res, global) {
			b.allow = e.st
		}
	}
}

func (b *best) scanRes(ri *resIndex, bucket, res string, global bool) {
	if !global {
		if entries, ok := ri.byBucket[bucket]; ok {
			b.consider(entries, res, global)
		}
	}
	b.consider(ri.other, res, global)
}

// scan visits the statements of one principal key that can match the action.
// lower is the lowercased action when it fit the stack buffer; known says it
// is a catalogued S3 action.
func (b *best) scan(pi *principalIndex, action string, lower []byte, lowerOK, known bool, bucket, res string, global bool) {
	if pi == nil {
		return
	}
	if known && pi.known != nil {
		for _, ri := range pi.known[string(lower)] {
			b.scanRes(ri, bucket, res, global)
		}
		return
	}
	if lowerOK {
		if ri, ok := pi.exact[string(lower)]; ok {
			b.scanRes(ri, bucket, res, global)
		}
	}
	if known {
		return // no wildcard patterns under this principal
	}
	for i := range pi.wild {
		w := &pi.wild[i]
		if w.pat.match(action) {
			b.scanRes(w.idx, bucket, res, global)
		}
	}
}

// Decide answers req with IAM's evaluation: an explicit Deny wins, then an
// Allow, otherwise an implicit Deny. It is the hot path of every S3 request:
// it looks up only the statements indexed under the caller's principal keys
// and the action, and allocates nothing. A nil Engine (an org without
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
	b.scan(e.any, req.Action, lower, lowerOK, known, bucket, req.Resource, global)
	if req.Role != "" {
		b.scan(e.roles[req.Role], req.Action, lower, lowerOK, known, bucket, req.Resource, global)
	}
	for _, g := range req.Groups {
		b.scan(e.groups[g], req.Action, lower, lowerOK, known, bucket, req.Resource, global)
	}
	// Visit attribute keys from whichever side has fewer: the request's
	// attributes or the keys the policies test.
	if len(req.Attributes) > 0 && len(e.attrs) > 0 {
		if len(req.Attributes) <= len(e.attrs) {
			for k, vs := range req.Attributes {
				values := e.attrByKey[k]
				for _, v := range vs {
					if values != nil {
						b.scan(values[v], req.Action, lower, lowerOK, known, bucket, req.Resource, global)
					}
				}
			}
		} else {
			for i := range e.attrs {
				a := &e.attrs[i]
				for _, v := range req.Attributes[a.key] {
					b.scan(a.values[v], req.Action, lower, lowerOK, known, bucket, req.Resource, global)
				}
			}
		}
	}
	if req.PrincipalName != "" {
		b.scan(e.names[req.PrincipalName], req.Action, lower, lowerOK, known, bucket, req.Resource, global)
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
