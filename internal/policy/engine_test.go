package policy

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

const testOrg = "org-a"

// loadDoc parses a fixture under testdata.
func loadDoc(t testing.TB, name string) *Document {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("read fixture: %v", err)
	}
	doc, err := ParseDocument(data)
	if err != nil {
		t.Fatalf("parse %s: %v", name, err)
	}
	return doc
}

// mustCompile compiles docs for testOrg.
func mustCompile(t testing.TB, docs ...*Document) *Engine {
	t.Helper()
	e, err := Compile(testOrg, docs)
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	return e
}

// mustParse parses an inline document.
func mustParse(t testing.TB, js string) *Document {
	t.Helper()
	doc, err := ParseDocument([]byte(js))
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, js)
	}
	return doc
}

// seedRow is one row of a POLICY-EXAMPLES.md table. statement "" means an
// implicit Deny ("—").
type seedRow struct {
	role, action, resource string
	decision               Effect
	statement              string
}

func checkRow(t *testing.T, e *Engine, r seedRow) {
	t.Helper()
	req := Request{OrgID: testOrg, PrincipalName: "saml/alice@example.com", Role: r.role, Action: r.action, Resource: r.resource}
	d := e.Decide(req)
	if d.Effect != r.decision {
		t.Fatalf("decision = %s (%s), want %s", d.Effect, d.Reason, r.decision)
	}
	if r.statement == "" {
		if !d.Implicit || len(d.Statements) != 0 {
			t.Fatalf("want implicit deny, got %+v", d)
		}
		if !strings.Contains(d.Reason, "implicitly denied") {
			t.Fatalf("reason %q does not say implicit", d.Reason)
		}
		return
	}
	if d.Implicit || len(d.Statements) != 1 {
		t.Fatalf("want one deciding statement, got %+v", d)
	}
	got := d.Statements[0]
	want := StatementRef{Policy: "give-saml-access", Statement: r.statement, Effect: r.decision}
	if got != want {
		t.Fatalf("deciding statement = %+v, want %+v", got, want)
	}
	if !strings.Contains(d.Reason, `"`+r.statement+`"`) || !strings.Contains(d.Reason, `"give-saml-access"`) {
		t.Fatalf("reason %q does not name the statement and policy", d.Reason)
	}
	// Explain must agree and list the same statement first.
	x := e.Explain(req)
	if x.Effect != d.Effect || x.Statements[0] != got || x.Reason != d.Reason {
		t.Fatalf("Explain = %+v, Decide = %+v", x, d)
	}
}

// TestSeedPolicyAsPublished is the first table of POLICY-EXAMPLES.md.
func TestSeedPolicyAsPublished(t *testing.T) {
	e := mustCompile(t, loadDoc(t, "seed-policy.json"))
	rows := []seedRow{
		{"reader-role", "s3:GetObject", "test-bucket/k", Allow, "object-reader-allow"},
		{"reader-role", "s3:ListBucket", "test-bucket", Deny, ""},
		{"reader-role", "s3:PutObject", "test-bucket/k", Deny, ""},
		{"reader-role", "s3:ListMultipartUploadParts", "test-bucket/k", Deny, "object-reader-deny"},
		{"writer-role", "s3:PutObject", "test-bucket/k", Allow, "object-writer-allow"},
		{"writer-role", "s3:DeleteObject", "test-bucket/k", Allow, "object-writer-allow"},
		{"writer-role", "s3:PutBucketPolicy", "test-bucket", Deny, ""},
		{"admin-role", "s3:PutBucketPolicy", "test-bucket", Allow, "object-admin-access"},
		{"admin-role", "s3:ListAllMyBuckets", "*", Allow, "object-admin-access"},
		{"reader-role", "s3:ListAllMyBuckets", "*", Deny, ""},
	}
	for _, r := range rows {
		t.Run(r.role+" "+r.action+" "+r.resource, func(t *testing.T) { checkRow(t, e, r) })
	}
}

// TestSeedPolicyAdapted is the second table of POLICY-EXAMPLES.md.
func TestSeedPolicyAdapted(t *testing.T) {
	e := mustCompile(t, loadDoc(t, "seed-policy-adapted.json"))
	rows := []seedRow{
		{"reader-role", "s3:ListBucket", "test-bucket", Allow, "object-reader-allow"},
		{"reader-role", "s3:GetObject", "test-bucket/k", Allow, "object-reader-allow"},
		{"reader-role", "s3:GetBucketPolicy", "test-bucket", Deny, "object-reader-deny"},
		{"reader-role", "s3:ListBucketMultipartUploads", "test-bucket", Deny, "object-reader-deny"},
		{"reader-role", "s3:PutObject", "test-bucket/k", Deny, ""},
		{"writer-role", "s3:PutObject", "test-bucket/k", Allow, "object-writer-allow"},
		{"writer-role", "s3:GetBucketPolicy", "test-bucket", Allow, "object-writer-allow"},
		{"writer-role", "s3:PutBucketPolicy", "test-bucket", Deny, "object-writer-deny"},
		{"writer-role", "s3:DeleteObject", "other-bucket/k", Deny, ""},
		{"admin-role", "s3:DeleteBucket", "test-bucket", Allow, "object-admin-access"},
	}
	for _, r := range rows {
		t.Run(r.role+" "+r.action+" "+r.resource, func(t *testing.T) { checkRow(t, e, r) })
	}
}

// TestAdaptedFixtureIsWidenedPublished keeps the two fixtures honest: the
// adapted one differs only by widening each "test-bucket/*".
func TestAdaptedFixtureIsWidenedPublished(t *testing.T) {
	pub := loadDoc(t, "seed-policy.json")
	adapted := loadDoc(t, "seed-policy-adapted.json")
	for i := range pub.Statements {
		if slices.Equal(pub.Statements[i].Resources, []string{"test-bucket/*"}) {
			pub.Statements[i].Resources = []string{"test-bucket", "test-bucket/*"}
		}
	}
	a, err := Marshal(pub)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Marshal(adapted)
	if err != nil {
		t.Fatal(err)
	}
	if string(a) != string(b) {
		t.Fatalf("adapted fixture differs from the widened published one:\n%s\n%s", a, b)
	}
}

// TestReaderListBucketNeedsBucketResource: IAM matching, "bucket/*" does not
// cover bucket-level actions; adding "bucket" does.
func TestReaderListBucketNeedsBucketResource(t *testing.T) {
	doc := loadDoc(t, "seed-policy.json")
	req := Request{OrgID: testOrg, Role: "reader-role", Action: "s3:ListBucket", Resource: "test-bucket"}
	if d := mustCompile(t, doc).Decide(req); d.Allowed() {
		t.Fatalf("reader may ListBucket with only test-bucket/*: %+v", d)
	}
	doc.Statements[0].Resources = append(doc.Statements[0].Resources, "test-bucket")
	d := mustCompile(t, doc).Decide(req)
	if !d.Allowed() || d.Statements[0].Statement != "object-reader-allow" {
		t.Fatalf("reader may not ListBucket once test-bucket is added: %+v", d)
	}
}

// TestEdgeCases covers the list: wildcards at both ends, '?', empty
// key, keys with '/', '*' principal, case of actions, a Deny broader than the
// Allow, and a principal of another org.
func TestEdgeCases(t *testing.T) {
	doc := mustParse(t, `{"version":"v1alpha1","name":"edges","statements":[
	 {"name":"both-ends","effect":"Allow","actions":["s3:*Object*"],"resources":["*-logs/*2024*"],"principals":["role/ends"]},
	 {"name":"question","effect":"Allow","actions":["s3:GetObjec?"],"resources":["b/k?y"],"principals":["role/q"]},
	 {"name":"slashes","effect":"Allow","actions":["s3:GetObject"],"resources":["b/dir/sub/*"],"principals":["role/slash"]},
	 {"name":"everyone-read","effect":"Allow","actions":["s3:GetObject"],"resources":["public/*"],"principals":["*"]},
	 {"name":"case","effect":"Allow","actions":["S3:getOBJECT"],"resources":["case/Key*"],"principals":["role/case"]},
	 {"name":"broad-allow","effect":"Allow","actions":["s3:*"],"resources":["data/team/*"],"principals":["group/team"]},
	 {"name":"broader-deny","effect":"Deny","actions":["s3:Delete*"],"resources":["data/*"],"principals":["group/team"]},
	 {"name":"attr","effect":"Allow","actions":["s3:PutObject"],"resources":["x/*"],"principals":["attribute/dept/eng/ml"]},
	 {"name":"named","effect":"Allow","actions":["s3:GetObject"],"resources":["y/*"],"principals":["saml/alice@example.com"]}
	]}`)
	e := mustCompile(t, doc)
	cases := []struct {
		name string
		req  Request
		want Effect
		stmt string
	}{
		{"both ends match", Request{Role: "ends", Action: "s3:PutObject", Resource: "app-logs/2024/01/x"}, Allow, "both-ends"},
		{"both ends action start", Request{Role: "ends", Action: "s3:GetObjectTagging", Resource: "app-logs/a2024b"}, Allow, "both-ends"},
		{"both ends no year", Request{Role: "ends", Action: "s3:PutObject", Resource: "app-logs/2023/x"}, Deny, ""},
		{"both ends bucket-level", Request{Role: "ends", Action: "s3:PutObject", Resource: "app-logs"}, Deny, ""},
		{"question one char", Request{Role: "q", Action: "s3:GetObject", Resource: "b/key"}, Allow, "question"},
		{"question multibyte char", Request{Role: "q", Action: "s3:GetObject", Resource: "b/kéy"}, Allow, "question"},
		{"question not zero chars", Request{Role: "q", Action: "s3:GetObject", Resource: "b/ky"}, Deny, ""},
		{"question not two chars", Request{Role: "q", Action: "s3:GetObject", Resource: "b/keey"}, Deny, ""},
		{"question in action", Request{Role: "q", Action: "s3:GetObjects", Resource: "b/key"}, Deny, ""},
		{"empty key under star", Request{Action: "s3:GetObject", Resource: "public/"}, Allow, "everyone-read"},
		{"bucket is not an empty key", Request{Action: "s3:GetObject", Resource: "public"}, Deny, ""},
		{"key with slashes", Request{Role: "slash", Action: "s3:GetObject", Resource: "b/dir/sub/a/b/c"}, Allow, "slashes"},
		{"key with slashes outside", Request{Role: "slash", Action: "s3:GetObject", Resource: "b/dir/other/a"}, Deny, ""},
		{"key with double slash", Request{Role: "slash", Action: "s3:GetObject", Resource: "b/dir//sub/a"}, Deny, ""},
		{"star principal, no identity", Request{Action: "s3:GetObject", Resource: "public/x"}, Allow, "everyone-read"},
		{"star principal, any role", Request{Role: "whatever", PrincipalName: "oidc/x", Action: "s3:GetObject", Resource: "public/x"}, Allow, "everyone-read"},
		{"action case folded", Request{Role: "case", Action: "s3:GetObject", Resource: "case/Key1"}, Allow, "case"},
		{"action upper request", Request{Role: "case", Action: "S3:GETOBJECT", Resource: "case/Key1"}, Allow, "case"},
		{"resource case kept", Request{Role: "case", Action: "s3:GetObject", Resource: "case/key1"}, Deny, ""},
		{"broad allow", Request{Groups: []string{"other", "team"}, Action: "s3:PutObject", Resource: "data/team/k"}, Allow, "broad-allow"},
		{"broader deny wins", Request{Groups: []string{"team"}, Action: "s3:DeleteObject", Resource: "data/team/k"}, Deny, "broader-deny"},
		{"broader deny elsewhere", Request{Groups: []string{"team"}, Action: "s3:DeleteObject", Resource: "data/other/k"}, Deny, "broader-deny"},
		{"attribute any value", Request{Attributes: map[string][]string{"dept": {"ops", "eng/ml"}}, Action: "s3:PutObject", Resource: "x/k"}, Allow, "attr"},
		{"attribute value exact", Request{Attributes: map[string][]string{"dept": {"eng"}}, Action: "s3:PutObject", Resource: "x/k"}, Deny, ""},
		{"attribute key exact", Request{Attributes: map[string][]string{"Dept": {"eng/ml"}}, Action: "s3:PutObject", Resource: "x/k"}, Deny, ""},
		{"principal name", Request{PrincipalName: "saml/alice@example.com", Action: "s3:GetObject", Resource: "y/k"}, Allow, "named"},
		{"principal name case-sensitive", Request{PrincipalName: "saml/Alice@example.com", Action: "s3:GetObject", Resource: "y/k"}, Deny, ""},
		{"role is not a principal name", Request{Role: "saml/alice@example.com", Action: "s3:GetObject", Resource: "y/k"}, Deny, ""},
		{"group is not a role", Request{Groups: []string{"ends"}, Action: "s3:PutObject", Resource: "app-logs/2024"}, Deny, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.req.OrgID = testOrg
			d := e.Decide(c.req)
			if d.Effect != c.want {
				t.Fatalf("decision = %s (%s), want %s", d.Effect, d.Reason, c.want)
			}
			gotStmt := ""
			if len(d.Statements) > 0 {
				gotStmt = d.Statements[0].Statement
			}
			if gotStmt != c.stmt {
				t.Fatalf("deciding statement = %q, want %q", gotStmt, c.stmt)
			}
		})
	}

	t.Run("principal of another org never matches", func(t *testing.T) {
		for _, req := range []Request{
			{OrgID: "org-b", Action: "s3:GetObject", Resource: "public/x"},
			{OrgID: "org-b", PrincipalName: "saml/alice@example.com", Action: "s3:GetObject", Resource: "y/k"},
			{OrgID: "", Role: "ends", Action: "s3:PutObject", Resource: "app-logs/2024"},
		} {
			d := e.Decide(req)
			if d.Allowed() || !d.Implicit || !strings.Contains(d.Reason, "another organization") {
				t.Fatalf("%+v: got %+v", req, d)
			}
			if x := e.Explain(req); x.Allowed() || len(x.Matched) != 0 {
				t.Fatalf("Explain matched another org's request: %+v", x)
			}
		}
	})
}

func TestGlobalActionsNeedStar(t *testing.T) {
	doc := mustParse(t, `{"version":"v1alpha1","name":"g","statements":[
	 {"name":"star-bucket","effect":"Allow","actions":["s3:ListAllMyBuckets"],"resources":["*/*","b*","?"],"principals":["role/r"]},
	 {"name":"stars","effect":"Allow","actions":["s3:ListAllMyBuckets"],"resources":["**"],"principals":["role/s"]}]}`)
	e := mustCompile(t, doc)
	for _, res := range []string{"*", ""} {
		if d := e.Decide(Request{OrgID: testOrg, Role: "r", Action: "s3:ListAllMyBuckets", Resource: res}); d.Allowed() {
			t.Fatalf("resource patterns other than * matched a global request %q: %+v", res, d)
		}
		if d := e.Decide(Request{OrgID: testOrg, Role: "s", Action: "s3:ListAllMyBuckets", Resource: res}); !d.Allowed() {
			t.Fatalf("** did not match a global request %q: %+v", res, d)
		}
	}
}

func TestNilEngineAndEmptyEngineDeny(t *testing.T) {
	var e *Engine
	req := Request{OrgID: testOrg, Role: "r", Action: "s3:GetObject", Resource: "b/k"}
	if d := e.Decide(req); d.Allowed() || !d.Implicit || d.Reason == "" {
		t.Fatalf("nil engine: %+v", d)
	}
	if x := e.Explain(req); x.Allowed() {
		t.Fatalf("nil engine explain: %+v", x)
	}
	empty := mustCompile(t)
	if d := empty.Decide(req); d.Allowed() || !d.Implicit {
		t.Fatalf("empty engine: %+v", d)
	}
	var zero Decision
	if zero.Allowed() {
		t.Fatal("the zero Decision allows")
	}
}

func TestExplainListsEveryMatch(t *testing.T) {
	a := mustParse(t, `{"version":"v1alpha1","name":"a","statements":[
	 {"name":"allow-1","effect":"Allow","actions":["s3:GetObject"],"resources":["b/*"],"principals":["role/r"]},
	 {"name":"deny-1","effect":"Deny","actions":["s3:Get*"],"resources":["b/k"],"principals":["*"]},
	 {"name":"unrelated","effect":"Allow","actions":["s3:PutObject"],"resources":["b/*"],"principals":["role/r"]}]}`)
	b := mustParse(t, `{"version":"v1alpha1","name":"b","statements":[
	 {"name":"allow-2","effect":"Allow","actions":["*"],"resources":["*"],"principals":["group/g"]},
	 {"name":"deny-2","effect":"Deny","actions":["s3:GetObject"],"resources":["b/*"],"principals":["role/r"]}]}`)
	// Storage order must not matter: documents are evaluated by name.
	e := mustCompile(t, b, a)
	req := Request{OrgID: testOrg, Role: "r", Groups: []string{"g"}, Action: "s3:GetObject", Resource: "b/k"}
	x := e.Explain(req)
	names := func(refs []StatementRef) []string {
		var out []string
		for _, r := range refs {
			out = append(out, r.Policy+"/"+r.Statement)
		}
		return out
	}
	if got, want := names(x.Matched), []string{"a/allow-1", "a/deny-1", "b/allow-2", "b/deny-2"}; !slices.Equal(got, want) {
		t.Fatalf("matched = %v, want %v", got, want)
	}
	if got, want := names(x.Statements), []string{"a/deny-1", "b/deny-2"}; !slices.Equal(got, want) {
		t.Fatalf("deciding = %v, want %v", got, want)
	}
	d := e.Decide(req)
	if d.Effect != Deny || d.Statements[0].Statement != "deny-1" {
		t.Fatalf("Decide = %+v", d)
	}
	if got := e.Policies(); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("Policies = %v", got)
	}
	if e.Len() != 5 || e.OrgID() != testOrg {
		t.Fatalf("Len = %d, OrgID = %q", e.Len(), e.OrgID())
	}
	js, err := x.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"decision":"Deny"`, `"statements":[{"policy":"a","statement":"deny-1","effect":"Deny"}`, `"reason":"explicitly denied by statement \"deny-1\" of access policy \"a\""`, `"matched":[`} {
		if !strings.Contains(string(js), want) {
			t.Fatalf("JSON %s lacks %s", js, want)
		}
	}
	js, _ = Decision{Effect: Deny, Implicit: true, Reason: "r"}.MarshalJSON()
	if string(js) != `{"decision":"Deny","implicit":true,"statements":[],"reason":"r"}` {
		t.Fatalf("implicit JSON = %s", js)
	}
}

func TestCompileRefusesInvalidAndDuplicateDocuments(t *testing.T) {
	good := mustParse(t, `{"version":"v1alpha1","name":"a","statements":[{"name":"s","effect":"Allow","actions":["*"],"resources":["*"],"principals":["*"]}]}`)
	if _, err := Compile(testOrg, []*Document{good, good}); err == nil || !strings.Contains(err.Error(), `two documents are named "a"`) {
		t.Fatalf("duplicate names: %v", err)
	}
	bad := *good
	bad.Statements = []Statement{{Name: "s", Effect: "allow", Actions: []string{"*"}, Resources: []string{"*"}, Principals: []string{"*"}}}
	if _, err := Compile(testOrg, []*Document{&bad}); err == nil || !strings.Contains(err.Error(), "case-sensitive") {
		t.Fatalf("invalid doc: %v", err)
	}
	if _, err := Compile(testOrg, []*Document{nil}); err == nil {
		t.Fatal("nil doc compiled")
	}
	// The per-org limit is checked before any work is done.
	big := &Document{Version: Version, Name: "big", Statements: make([]Statement, MaxStatements)}
	docs := make([]*Document, MaxEngineStatements/MaxStatements+1)
	for i := range docs {
		docs[i] = big
	}
	if _, err := Compile(testOrg, docs); err == nil || !strings.Contains(err.Error(), "more than the limit of 100000 per organization") {
		t.Fatalf("over the org limit: %v", err)
	}
}

func TestDecideAllocatesNothing(t *testing.T) {
	e := mustCompile(t, loadDoc(t, "seed-policy-adapted.json"), mustParse(t, `{"version":"v1alpha1","name":"x","statements":[
	 {"name":"attr","effect":"Allow","actions":["s3:PutObject"],"resources":["x/*"],"principals":["attribute/dept/eng"]},
	 {"name":"grp","effect":"Deny","actions":["s3:Put*"],"resources":["x?/*"],"principals":["group/g"]}]}`))
	reqs := []Request{
		{OrgID: testOrg, Role: "reader-role", Action: "s3:GetObject", Resource: "test-bucket/k"},
		{OrgID: testOrg, Role: "writer-role", Action: "S3:PutBucketPolicy", Resource: "test-bucket"},
		{OrgID: testOrg, Role: "nobody", Groups: []string{"g"}, Attributes: map[string][]string{"dept": {"eng"}}, Action: "s3:PutObject", Resource: "x/k"},
		{OrgID: testOrg, Attributes: map[string][]string{"a": {"1"}, "b": {"2"}, "dept": {"x", "eng"}}, Action: "s3:PutObject", Resource: "x/k"},
		{OrgID: testOrg, Role: "admin-role", Action: strings.Repeat("s3:X", 100), Resource: "*"},
		{OrgID: "other", Role: "admin-role", Action: "s3:GetObject", Resource: "test-bucket/k"},
	}
	for _, req := range reqs {
		if n := testing.AllocsPerRun(100, func() { _ = e.Decide(req) }); n != 0 {
			t.Fatalf("Decide(%+v) allocates %v times", req, n)
		}
	}
}

func TestSetSwapsAtomically(t *testing.T) {
	var s Set
	req := Request{OrgID: testOrg, Role: "r", Action: "s3:GetObject", Resource: "b/k"}
	if d := s.Decide(req); d.Allowed() {
		t.Fatalf("empty set allowed: %+v", d)
	}
	allow := mustParse(t, `{"version":"v1alpha1","name":"p","statements":[{"name":"allow","effect":"Allow","actions":["*"],"resources":["*"],"principals":["role/r"]}]}`)
	deny := mustParse(t, `{"version":"v1alpha1","name":"p","statements":[{"name":"deny","effect":"Deny","actions":["*"],"resources":["*"],"principals":["role/r"]}]}`)
	if _, err := s.Replace(testOrg, []*Document{allow}); err != nil {
		t.Fatal(err)
	}
	if d := s.Decide(req); !d.Allowed() {
		t.Fatalf("after Replace: %+v", d)
	}
	// A refused write leaves the previous engine in force.
	broken := *allow
	broken.Version = "v2"
	if _, err := s.Replace(testOrg, []*Document{&broken}); err == nil {
		t.Fatal("invalid document accepted")
	}
	if d := s.Decide(req); !d.Allowed() || d.Statements[0].Statement != "allow" {
		t.Fatalf("refused write changed the decision: %+v", d)
	}
	// Other orgs are independent.
	if d := s.Decide(Request{OrgID: "org-b", Role: "r", Action: "s3:GetObject", Resource: "b/k"}); d.Allowed() {
		t.Fatalf("org-b allowed by org-a's policy: %+v", d)
	}

	// Readers racing a writer see either the whole old or the whole new
	// policy (run with -race to check the synchronisation too).
	allowE := mustCompile(t, allow)
	denyE := mustCompile(t, deny)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				d := s.Decide(req)
				if len(d.Statements) != 1 || (d.Allowed() != (d.Statements[0].Statement == "allow")) {
					t.Errorf("torn decision: %+v", d)
					return
				}
			}
		}()
	}
	for i := range 2000 {
		e := allowE
		if i%2 == 1 {
			e = denyE
		}
		if _, err := s.Store(e); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	if prev, err := s.Store(allowE); err != nil || prev != denyE {
		t.Fatalf("Store returned %p, %v; want the deny engine", prev, err)
	}
	if _, err := s.Store(nil); err == nil {
		t.Fatal("Store(nil) accepted")
	}
	s.Delete(testOrg)
	if s.Engine(testOrg) != nil || s.Decide(req).Allowed() {
		t.Fatal("Delete left the engine")
	}
}

func TestResource(t *testing.T) {
	for _, c := range []struct{ bucket, key, want string }{
		{"", "", "*"}, {"", "k", "*"}, {"b", "", "b"}, {"b", "k", "b/k"}, {"b", "a/b/", "b/a/b/"},
	} {
		if got := Resource(c.bucket, c.key); got != c.want {
			t.Errorf("Resource(%q, %q) = %q, want %q", c.bucket, c.key, got, c.want)
		}
	}
}
