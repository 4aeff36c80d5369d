package policy

import (
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// This file checks the compiled, indexed Engine against a deliberately plain
// reference evaluator written from API.md alone: it scans every statement and
// matches wildcards with regular expressions instead of globMatch, so the two
// share no matching code.

type refEvaluator struct {
	re map[refKey]*regexp.Regexp
}

type refKey struct {
	pattern string
	fold    bool
}

func (r *refEvaluator) glob(pattern, s string, fold bool) bool {
	key := refKey{pattern, fold}
	re, ok := r.re[key]
	if !ok {
		var b strings.Builder
		b.WriteString(`^(?s)`)
		if fold {
			b.WriteString(`(?i)`)
		}
		for _, ch := range pattern {
			switch ch {
			case '*':
				b.WriteString(`.*`)
			case '?':
				b.WriteString(`.`)
			default:
				b.WriteString(regexp.QuoteMeta(string(ch)))
			}
		}
		b.WriteString(`$`)
		re = regexp.MustCompile(b.String())
		r.re[key] = re
	}
	return re.MatchString(s)
}

func (r *refEvaluator) principal(p string, req Request) bool {
	switch {
	case p == "*":
		return true
	case strings.HasPrefix(p, "role/"):
		return p == "role/"+req.Role
	case strings.HasPrefix(p, "group/"):
		for _, g := range req.Groups {
			if p == "group/"+g {
				return true
			}
		}
		return false
	case strings.HasPrefix(p, "attribute/"):
		rest := strings.TrimPrefix(p, "attribute/")
		i := strings.Index(rest, "/")
		for _, v := range req.Attributes[rest[:i]] {
			if v == rest[i+1:] {
				return true
			}
		}
		return false
	default:
		return p == req.PrincipalName
	}
}

func (r *refEvaluator) resource(pattern, res string) bool {
	if res == "*" || res == "" {
		return strings.Trim(pattern, "*") == ""
	}
	return r.glob(pattern, res, false)
}

// decide returns the effect, whether it is implicit, the deciding statements
// (all of them) and every matching statement.
func (r *refEvaluator) decide(org string, docs []*Document, req Request) (Effect, bool, []StatementRef, []StatementRef) {
	if req.OrgID != org {
		return Deny, true, nil, nil
	}
	sorted := slices.Clone(docs)
	slices.SortFunc(sorted, func(a, b *Document) int { return strings.Compare(a.Name, b.Name) })
	var matched, denies, allows []StatementRef
	for _, d := range sorted {
		for _, st := range d.Statements {
			if !slices.ContainsFunc(st.Principals, func(p string) bool { return r.principal(p, req) }) ||
				!slices.ContainsFunc(st.Actions, func(a string) bool { return r.glob(a, req.Action, true) }) ||
				!slices.ContainsFunc(st.Resources, func(p string) bool { return r.resource(p, req.Resource) }) {
				continue
			}
			ref := StatementRef{Policy: d.Name, Statement: st.Name, Effect: st.Effect}
			matched = append(matched, ref)
			if st.Effect == Deny {
				denies = append(denies, ref)
			} else {
				allows = append(allows, ref)
			}
		}
	}
	switch {
	case len(denies) > 0:
		return Deny, false, denies, matched
	case len(allows) > 0:
		return Allow, false, allows, matched
	}
	return Deny, true, nil, matched
}

// Vocabularies: small enough that statements and requests meet often.
var (
	diffRoles      = []string{"r0", "r1", "r2", "r3"}
	diffGroups     = []string{"g0", "g1", "g2"}
	diffAttrKeys   = []string{"k0", "k1"}
	diffAttrValues = []string{"v0", "v1", "v/2"}
	diffNames      = []string{"saml/a@example.com", "oidc/b", "saml/c"}
	diffActionPats = []string{"*", "s3:*", "s3:Get*", "s3:GetObject", "S3:getobject", "s3:PutObject", "s3:?etObject",
		"s3:*Object", "s3:List*", "s3:ListBucket", "s3:Delete*", "cwobject:*", "cwobject:CreateKey", "s3:G*t*", "s3:*a*"}
	diffActions = []string{"s3:GetObject", "s3:GETOBJECT", "s3:PutObject", "s3:ListBucket", "s3:ListAllMyBuckets",
		"s3:DeleteObject", "s3:GetObjectTagging", "cwobject:CreateKey", "s3:SetObject", "s3:x", "S3:LISTBUCKET", "s3:*"}
	diffResourcePats = []string{"*", "**", "b0", "b1", "b0/*", "b1/*", "b0/a*", "b0/a?c", "b?/x", "b*", "*/x", "b0/a/*",
		"b*/k?", "b0/*x", "b1/k", "b0/é?", "b0/a*b*c"}
	diffResources = []string{"*", "", "b0", "b1", "b2", "b0/abc", "b0/ac", "b0/a/b", "b1/x", "b2/x", "b0/x", "b1/k",
		"b1/kx", "b0/éz", "b0/", "b10/x", "b0/a*", "b0/aXbYc"}
)

func pick[T any](r *rand.Rand, s []T) T { return s[r.IntN(len(s))] }

// randomString draws from an alphabet rich in wildcard-relevant characters.
func randomString(r *rand.Rand, alphabet string, maxLen int) string {
	n := r.IntN(maxLen + 1)
	runes := []rune(alphabet)
	var b strings.Builder
	for range n {
		b.WriteRune(runes[r.IntN(len(runes))])
	}
	return b.String()
}

func randomResourcePattern(r *rand.Rand) string {
	if r.IntN(3) > 0 {
		return pick(r, diffResourcePats)
	}
	for {
		p := randomString(r, "b01*?", 3)
		if r.IntN(4) > 0 {
			p += "/" + randomString(r, "ab/*?xé", 5)
		}
		if checkResource(p) == "" {
			return p
		}
	}
}

func randomResource(r *rand.Rand) string {
	if r.IntN(3) > 0 {
		return pick(r, diffResources)
	}
	s := randomString(r, "b01", 3)
	if r.IntN(4) > 0 {
		s += "/" + randomString(r, "ab/*?xé", 6)
	}
	return s
}

func randomPrincipal(r *rand.Rand) string {
	switch r.IntN(6) {
	case 0:
		return "*"
	case 1, 2:
		return "role/" + pick(r, diffRoles)
	case 3:
		return "group/" + pick(r, diffGroups)
	case 4:
		return "attribute/" + pick(r, diffAttrKeys) + "/" + pick(r, diffAttrValues)
	default:
		return pick(r, diffNames)
	}
}

func randomList(r *rand.Rand, gen func(*rand.Rand) string) []string {
	out := make([]string, 1+r.IntN(3))
	for i := range out {
		out[i] = gen(r)
	}
	return out
}

// randomDocs makes 1-3 documents of 1..maxStatements statements.
func randomDocs(r *rand.Rand, maxStatements int) []*Document {
	docs := make([]*Document, 1+r.IntN(3))
	for i := range docs {
		d := &Document{Version: Version, Name: fmt.Sprintf("p%d", (i*7+r.IntN(3))%10+10*i)}
		for j := range 1 + r.IntN(maxStatements) {
			eff := Allow
			if r.IntN(10) < 3 {
				eff = Deny
			}
			d.Statements = append(d.Statements, Statement{
				Name:       fmt.Sprintf("s%d", j),
				Effect:     eff,
				Actions:    randomList(r, func(r *rand.Rand) string { return pick(r, diffActionPats) }),
				Resources:  randomList(r, randomResourcePattern),
				Principals: randomList(r, randomPrincipal),
			})
		}
		docs[i] = d
	}
	return docs
}

func randomRequest(r *rand.Rand) Request {
	req := Request{OrgID: testOrg, Action: pick(r, diffActions), Resource: randomResource(r)}
	if r.IntN(20) == 0 {
		req.OrgID = "org-b"
	}
	if r.IntN(5) > 0 {
		req.Role = pick(r, diffRoles)
	}
	if r.IntN(3) > 0 {
		req.PrincipalName = pick(r, diffNames)
	}
	for range r.IntN(3) {
		req.Groups = append(req.Groups, pick(r, diffGroups))
	}
	if n := r.IntN(3); n > 0 {
		req.Attributes = map[string][]string{}
		for range n {
			k := pick(r, diffAttrKeys)
			req.Attributes[k] = append(req.Attributes[k], pick(r, diffAttrValues))
		}
	}
	if r.IntN(10) == 0 {
		req.Action = strings.ToUpper(req.Action[:2]) + req.Action[2:]
	}
	return req
}

// TestDifferentialEngineVsReference: 100,000 random (policy set, request)
// pairs, zero disagreements in decision, deciding statement, reason,
// explained statements and matches.
func TestDifferentialEngineVsReference(t *testing.T) {
	const policySets, requestsPerSet = 1000, 100
	r := rand.New(rand.NewPCG(20261122, 4))
	ref := &refEvaluator{re: map[refKey]*regexp.Regexp{}}
	var allows, explicitDenies, implicit, actionMaps int
	for set := range policySets {
		// Every fourth set is large, so that long per-bucket lists get
		// their action maps and that path is compared too.
		maxStatements := 6
		if set%4 == 3 {
			maxStatements = 60
		}
		docs := randomDocs(r, maxStatements)
		e, err := Compile(testOrg, docs)
		if err != nil {
			t.Fatalf("set %d: compile: %v", set, err)
		}
		actionMaps += e.countActionMaps()
		for range requestsPerSet {
			req := randomRequest(r)
			wantEff, wantImplicit, wantDeciding, wantMatched := ref.decide(testOrg, docs, req)
			d := e.Decide(req)
			x := e.Explain(req)
			fail := func(what string, got, want any) {
				js, _ := Marshal(docs[0])
				t.Fatalf("set %d: %s disagrees for %+v\n got  %v\n want %v\n first doc %s (of %d)", set, what, req, got, want, js, len(docs))
			}
			if d.Effect != wantEff || d.Implicit != wantImplicit {
				fail("Decide", d, wantEff)
			}
			if x.Effect != wantEff || x.Implicit != wantImplicit {
				fail("Explain", x.Decision, wantEff)
			}
			if !slices.Equal(x.Statements, wantDeciding) {
				fail("Explain deciding statements", x.Statements, wantDeciding)
			}
			if !slices.Equal(x.Matched, wantMatched) {
				fail("Explain matched", x.Matched, wantMatched)
			}
			if wantImplicit {
				if len(d.Statements) != 0 {
					fail("implicit Decide statements", d.Statements, nil)
				}
				implicit++
			} else {
				if len(d.Statements) != 1 || d.Statements[0] != wantDeciding[0] {
					fail("Decide deciding statement", d.Statements, wantDeciding[0])
				}
				if d.Reason != x.Reason {
					fail("reason", d.Reason, x.Reason)
				}
				if wantEff == Allow {
					allows++
				} else {
					explicitDenies++
				}
			}
		}
	}
	// The generator must exercise every outcome substantially, or the test
	// proves little.
	total := policySets * requestsPerSet
	for name, n := range map[string]int{"allow": allows, "explicit deny": explicitDenies, "implicit deny": implicit} {
		if n < total/20 {
			t.Errorf("only %d %s outcomes of %d: generator too narrow", n, name, total)
		}
	}
	if actionMaps < policySets/10 {
		t.Errorf("only %d bucket lists with action maps: the large sets are too small", actionMaps)
	}
	t.Logf("%d pairs: %d allow, %d explicit deny, %d implicit deny; %d bucket lists with action maps",
		total, allows, explicitDenies, implicit, actionMaps)
}

// TestGlobMatchVsRegexp cross-checks the matcher on random patterns and
// subjects, including multibyte characters and literal wildcards.
func TestGlobMatchVsRegexp(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	ref := &refEvaluator{re: map[refKey]*regexp.Regexp{}}
	for range 20000 {
		p := randomString(r, "aB*?/é", 6)
		s := randomString(r, "abAB/é*?", 8)
		fold := r.IntN(2) == 0
		if got, want := globMatch(p, s, fold), ref.glob(p, s, fold); got != want {
			t.Fatalf("globMatch(%q, %q, %v) = %v, want %v", p, s, fold, got, want)
		}
		cp := compilePattern(p, fold)
		if got, want := cp.match(s), ref.glob(p, s, fold); got != want {
			t.Fatalf("compiled %q (kind %d) on %q fold %v = %v, want %v", p, cp.kind, s, fold, got, want)
		}
	}
}

func TestGlobMatchTable(t *testing.T) {
	cases := []struct {
		p, s string
		fold bool
		want bool
	}{
		{"", "", false, true},
		{"", "a", false, false},
		{"*", "", false, true},
		{"*", "a/b/c", false, true},
		{"?", "", false, false},
		{"?", "é", false, true},
		{"??", "é", false, false},
		{"a*", "a", false, true},
		{"*a", "ba", false, true},
		{"*a*", "xyz", false, false},
		{"a*b*c", "aXbYc", false, true},
		{"a*b*c", "aXbY", false, false},
		{"s3:get*", "S3:GetObject", true, true},
		{"s3:get*", "S3:GetObject", false, false},
		{"*?", "", false, false},
		{"**?**", "x", false, true},
		{"a?c", "a/c", false, true},
	}
	for _, c := range cases {
		if got := globMatch(c.p, c.s, c.fold); got != c.want {
			t.Errorf("globMatch(%q, %q, %v) = %v, want %v", c.p, c.s, c.fold, got, c.want)
		}
	}
}

// countActionMaps counts the bucket lists long enough to get action maps.
func (e *Engine) countActionMaps() int {
	n := 0
	count := func(pi *principalIndex) {
		for _, bi := range pi.byBucket {
			if bi.byAction != nil {
				n++
			}
		}
		if pi.other != nil && pi.other.byAction != nil {
			n++
		}
	}
	count(e.any)
	for _, m := range []map[string]*principalIndex{e.roles, e.groups, e.names} {
		for _, pi := range m {
			count(pi)
		}
	}
	for _, a := range e.attrs {
		for _, pi := range a.values {
			count(pi)
		}
	}
	return n
}
