package storetest

import (
	"fmt"
	"sync"
	"testing"

	"github.com/s3fed/s3fed/internal/store"
)

// doc is a policy document as text: valid UTF-8 holding a raw NUL and
// control bytes, escaped NULs, quotes, backslashes and non-ASCII text.
func doc(tag string) []byte {
	return []byte(`{"name":"` + tag + `","v":"\u0000 \\x41 é 😀 ` + "\u202e" + `"}` + "\x00\x01\n\t" + hostile(tag))
}

func testPolicies(t *testing.T, s store.Store) {
	orgA, orgB := hostile("org-a"), hostile("org-b")
	p1 := store.Policy{OrgID: orgA, Name: hostile("p"), Document: doc("v1"), Updated: t1971}
	p2 := store.Policy{OrgID: orgA, Name: "P", Document: []byte(long("big")), Updated: t2200}
	p3 := store.Policy{OrgID: orgA, Name: "p", Document: []byte(`{}`), Updated: tIndia}
	pB := store.Policy{OrgID: orgB, Name: p1.Name, Document: doc("b"), Updated: t0}
	update(t, s, func(tx store.Tx) error {
		for _, p := range []store.Policy{p1, p2, p3, pB} {
			if err := tx.PutPolicy(ctx, p); err != nil {
				return fmt.Errorf("put %q: %w", p.Name, err)
			}
		}
		return nil
	})
	for _, p := range []store.Policy{p1, p2, p3, pB} {
		got, err := s.GetPolicy(ctx, p.OrgID, p.Name)
		if err != nil {
			t.Fatalf("get policy %q: %v", p.Name, err)
		}
		same(t, "policy", got, p)
	}
	// Replacing keeps one row and takes the new document and time.
	r1 := p1
	r1.Document, r1.Updated = doc("v2"), t0
	update(t, s, func(tx store.Tx) error { return tx.PutPolicy(ctx, r1) })
	got, err := s.GetPolicy(ctx, orgA, p1.Name)
	if err != nil {
		t.Fatal(err)
	}
	same(t, "replaced policy", got, r1)
	if got, _ := s.GetPolicy(ctx, orgB, p1.Name); string(got.Document) != string(pB.Document) {
		t.Fatalf("replace reached another org's policy of the same name: %q", got.Document)
	}
	list, err := s.ListPolicies(ctx, orgA)
	if err != nil {
		t.Fatal(err)
	}
	sameIDs(t, "list policies (byte order)", ids(list, policyName), sorted([]string{p1.Name, p2.Name, p3.Name}))
	for _, p := range list {
		if p.Name == p1.Name {
			same(t, "listed policy", p, r1)
		}
	}
	list, err = s.ListPolicies(ctx, hostile("org-c"))
	if err != nil {
		t.Fatal(err)
	}
	sameIDs(t, "policies of an org with none", ids(list, policyName), []string{})
	for _, k := range [][2]string{{orgA, "p\x00"}, {orgA, hostile("q")}, {"org-a", p1.Name}, {orgA, "\xff"}} {
		_, err := s.GetPolicy(ctx, k[0], k[1])
		wantErr(t, fmt.Sprintf("get policy %q/%q", k[0], k[1]), err, store.ErrNotFound)
	}
	updateErr(t, s, "delete through another org", store.ErrNotFound, func(tx store.Tx) error { return tx.DeletePolicy(ctx, hostile("org-c"), p1.Name) })
	update(t, s, func(tx store.Tx) error { return tx.DeletePolicy(ctx, orgA, p1.Name) })
	_, err = s.GetPolicy(ctx, orgA, p1.Name)
	wantErr(t, "deleted policy", err, store.ErrNotFound)
	updateErr(t, s, "delete twice", store.ErrNotFound, func(tx store.Tx) error { return tx.DeletePolicy(ctx, orgA, p1.Name) })
	if _, err := s.GetPolicy(ctx, orgB, p1.Name); err != nil {
		t.Fatalf("another org's policy of the same name deleted: %v", err)
	}
	if _, err := s.GetPolicy(ctx, orgA, p3.Name); err != nil {
		t.Fatalf("a policy named as a prefix deleted: %v", err)
	}
}

// testPoliciesConcurrentPut: puts of one new policy racing each other all
// succeed (create-or-replace must not surface a unique violation).
func testPoliciesConcurrentPut(t *testing.T, s store.Store) {
	const n = 8
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = s.Update(ctx, func(tx store.Tx) error {
				return tx.PutPolicy(ctx, store.Policy{OrgID: "o", Name: hostile("p"), Document: doc(fmt.Sprint(i)), Updated: t0})
			})
		}()
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("put %d: %v", i, err)
		}
	}
	list, err := s.ListPolicies(ctx, "o")
	if err != nil || len(list) != 1 {
		t.Fatalf("after concurrent puts: %d policies, %v", len(list), err)
	}
}

func testBuckets(t *testing.T, s store.Store) {
	orgA, orgB := hostile("org-a"), hostile("org-b")
	b1 := store.Bucket{Name: "bk", OrgID: orgA, CreatedBy: long("saml/alice"), Created: t1971}
	b2 := store.Bucket{Name: "bk\x00", OrgID: orgA, CreatedBy: hostile("saml/bob"), Created: t2200, Policy: doc("initial")}
	b3 := store.Bucket{Name: hostile("a"), OrgID: orgA, Created: tIndia,
		PublicAccessBlock: &store.PublicAccessBlock{BlockPublicAcls: true, IgnorePublicAcls: true, BlockPublicPolicy: true, RestrictPublicBuckets: true}}
	bB := store.Bucket{Name: "other", OrgID: orgB, CreatedBy: "", Created: t0}
	update(t, s, func(tx store.Tx) error {
		for _, b := range []store.Bucket{b1, b2, b3, bB} {
			if err := tx.CreateBucket(ctx, b); err != nil {
				return fmt.Errorf("create %q: %w", b.Name, err)
			}
		}
		return nil
	})
	for _, b := range []store.Bucket{b1, b2, b3, bB} {
		got, err := s.GetBucket(ctx, b.Name)
		if err != nil {
			t.Fatalf("get bucket %q: %v", b.Name, err)
		}
		same(t, "bucket", got, b)
		if b.Policy == nil && got.Policy != nil {
			t.Fatalf("bucket %q without a policy: got %q, want nil", b.Name, got.Policy)
		}
	}
	updateErr(t, s, "bucket name taken twice", store.ErrAlreadyExists, func(tx store.Tx) error {
		return tx.CreateBucket(ctx, store.Bucket{Name: "bk", OrgID: orgB, Created: t0})
	})
	for _, name := range append([]string{"BK", "bk ", "bk\x00\x00", ""}, invalidUTF8...) {
		_, err := s.GetBucket(ctx, name)
		wantErr(t, fmt.Sprintf("get bucket %q", name), err, store.ErrNotFound)
	}

	for _, pol := range [][]byte{doc("set"), []byte(long("long policy")), doc("again")} {
		update(t, s, func(tx store.Tx) error { return tx.SetBucketPolicy(ctx, "bk", pol) })
		got, err := s.GetBucket(ctx, "bk")
		if err != nil {
			t.Fatal(err)
		}
		want := b1
		want.Policy = pol
		same(t, "bucket with policy", got, want)
	}
	if got, _ := s.GetBucket(ctx, "bk\x00"); string(got.Policy) != string(b2.Policy) {
		t.Fatalf("policy reached a bucket named as an extension: %q", got.Policy)
	}
	for _, clear := range [][]byte{nil, {}} {
		update(t, s, func(tx store.Tx) error { return tx.SetBucketPolicy(ctx, "bk", doc("x")) })
		update(t, s, func(tx store.Tx) error { return tx.SetBucketPolicy(ctx, "bk", clear) })
		if got, err := s.GetBucket(ctx, "bk"); err != nil || got.Policy != nil {
			t.Fatalf("policy not cleared by %#v: %q %v", clear, got.Policy, err)
		}
	}
	updateErr(t, s, "policy of a missing bucket", store.ErrNotFound, func(tx store.Tx) error { return tx.SetBucketPolicy(ctx, "nope", doc("x")) })

	// Block Public Access: every combination is kept exactly; nil is none
	// (which is not all off).
	pabs := []*store.PublicAccessBlock{{}, {BlockPublicAcls: true}, {IgnorePublicAcls: true}, {BlockPublicPolicy: true},
		{RestrictPublicBuckets: true}, {BlockPublicPolicy: true, RestrictPublicBuckets: true}, nil,
		{BlockPublicAcls: true, IgnorePublicAcls: true, BlockPublicPolicy: true, RestrictPublicBuckets: true}}
	for _, pab := range pabs {
		update(t, s, func(tx store.Tx) error { return tx.SetBucketPublicAccessBlock(ctx, "bk", pab) })
		got, err := s.GetBucket(ctx, "bk")
		if err != nil {
			t.Fatal(err)
		}
		want := b1
		want.Policy = got.Policy
		want.PublicAccessBlock = pab
		same(t, "bucket with public access block", got, want)
	}
	update(t, s, func(tx store.Tx) error { return tx.SetBucketPublicAccessBlock(ctx, "bk", nil) })
	updateErr(t, s, "public access block of a missing bucket", store.ErrNotFound, func(tx store.Tx) error {
		return tx.SetBucketPublicAccessBlock(ctx, "bk\x00\x00", &store.PublicAccessBlock{})
	})
	updateErr(t, s, "policy of a bucket cut at NUL", store.ErrNotFound, func(tx store.Tx) error { return tx.SetBucketPolicy(ctx, "bk\x00\x00", doc("x")) })

	list, err := s.ListBuckets(ctx, orgA)
	if err != nil {
		t.Fatal(err)
	}
	sameIDs(t, "list buckets (byte order)", ids(list, bucketName), sorted([]string{b1.Name, b2.Name, b3.Name}))
	for _, b := range list {
		if b.Name == b2.Name {
			same(t, "listed bucket", b, b2)
		}
	}
	list, err = s.ListBuckets(ctx, "org-a")
	if err != nil {
		t.Fatal(err)
	}
	sameIDs(t, "buckets of a prefix org", ids(list, bucketName), []string{})

	updateErr(t, s, "delete a missing bucket", store.ErrNotFound, func(tx store.Tx) error { return tx.DeleteBucket(ctx, "bk\x00\x00") })
	update(t, s, func(tx store.Tx) error { return tx.DeleteBucket(ctx, "bk") })
	_, err = s.GetBucket(ctx, "bk")
	wantErr(t, "deleted bucket", err, store.ErrNotFound)
	updateErr(t, s, "delete twice", store.ErrNotFound, func(tx store.Tx) error { return tx.DeleteBucket(ctx, "bk") })
	if _, err := s.GetBucket(ctx, "bk\x00"); err != nil {
		t.Fatalf("bucket named as an extension deleted: %v", err)
	}
	// A deleted name is free for any org.
	update(t, s, func(tx store.Tx) error {
		return tx.CreateBucket(ctx, store.Bucket{Name: "bk", OrgID: orgB, Created: t0})
	})
	if got, err := s.GetBucket(ctx, "bk"); err != nil || got.OrgID != orgB || got.Policy != nil {
		t.Fatalf("recreated bucket: %+v %v", got, err)
	}
}
