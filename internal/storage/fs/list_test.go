package fs

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/s3fed/s3fed/internal/storage"
)

// refList is the specification of ListObjects as a plain scan of a sorted
// slice: keys under Prefix, rolled up at the first Delimiter after Prefix,
// every entry strictly after StartAfter, MaxKeys entries per page.
func refList(keys []string, o storage.ListOptions) storage.ListResult {
	max := o.MaxKeys
	if max <= 0 || max > MaxListKeys {
		max = MaxListKeys
	}
	type entry struct {
		name     string
		isPrefix bool
	}
	var entries []entry
	seen := map[string]bool{}
	for _, k := range keys {
		if !strings.HasPrefix(k, o.Prefix) {
			continue
		}
		if o.Delimiter != "" {
			if i := strings.Index(k[len(o.Prefix):], o.Delimiter); i >= 0 {
				cp := k[:len(o.Prefix)+i+len(o.Delimiter)]
				if cp > o.StartAfter && !seen[cp] {
					seen[cp] = true
					entries = append(entries, entry{cp, true})
				}
				continue
			}
		}
		if k > o.StartAfter {
			entries = append(entries, entry{k, false})
		}
	}
	sort.SliceStable(entries, func(i, j int) bool { return entries[i].name < entries[j].name })
	var res storage.ListResult
	for i, e := range entries {
		if i == max {
			res.Truncated = true
			res.NextStartAfter = entries[i-1].name
			break
		}
		if e.isPrefix {
			res.CommonPrefixes = append(res.CommonPrefixes, e.name)
		} else {
			res.Objects = append(res.Objects, storage.ObjectInfo{Key: e.name})
		}
	}
	return res
}

// names strips a result to what the reference knows.
func names(r storage.ListResult) storage.ListResult {
	out := storage.ListResult{CommonPrefixes: r.CommonPrefixes, Truncated: r.Truncated, NextStartAfter: r.NextStartAfter}
	for _, o := range r.Objects {
		out.Objects = append(out.Objects, storage.ObjectInfo{Key: o.Key})
	}
	return out
}

// insertKeys writes index entries directly (one transaction, no content
// files): listing reads only the index, and thousands of fsynced PUTs would
// make a differential test slow for no extra coverage.
func insertKeys(t testing.TB, s *Store, bucket string, keys []string) {
	t.Helper()
	rec := objectRec{size: 1, etag: "e", file: "00/none"}
	v := rec.encode()
	err := s.db.Update(func(tx *bolt.Tx) error {
		ob := tx.Bucket(objBucket(bucket))
		for _, k := range keys {
			if err := ob.Put([]byte(k), v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestListObjectsDifferential(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	mkBucket(t, s, "lst")
	r := rand.New(rand.NewPCG(1, 2))
	// A small alphabet makes shared prefixes, delimiters and ties common;
	// "é" and "\U0001F600" bring multi-byte UTF-8 (and bytes near 0xFF
	// boundaries of the successor computation).
	alphabet := []string{"a", "b", "/", "-", "//", "é", "\U0001F600", "z"}
	randStr := func(maxLen int) string {
		n := r.IntN(maxLen + 1)
		var sb strings.Builder
		for range n {
			sb.WriteString(alphabet[r.IntN(len(alphabet))])
		}
		return sb.String()
	}
	set := map[string]bool{}
	for len(set) < 3000 {
		k := randStr(7)
		if k != "" {
			set[k] = true
		}
	}
	keys := make([]string, 0, len(set))
	for k := range set {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	insertKeys(t, s, "lst", keys)

	delims := []string{"", "/", "-", "//", "a", "é", "ab", "\U0001F600"}
	const cases = 4000
	paged := 0
	defer func() { t.Logf("%d single-page cases, %d of them also paged to the end", cases, paged) }()
	for i := range cases {
		o := storage.ListOptions{
			Prefix:    randStr(3),
			Delimiter: delims[r.IntN(len(delims))],
			MaxKeys:   []int{0, 1, 2, 3, 7, 50, 1000, 5000, -1}[r.IntN(9)],
		}
		switch r.IntN(3) {
		case 0:
			o.StartAfter = randStr(5)
		case 1:
			o.StartAfter = o.Prefix + randStr(3)
		}
		got, err := s.ListObjects(ctx, "lst", o)
		if err != nil {
			t.Fatal(err)
		}
		want := refList(keys, o)
		if !reflect.DeepEqual(names(got), want) {
			t.Fatalf("case %d %+v:\n got %+v\nwant %+v", i, o, names(got), want)
		}
		// Paging with NextStartAfter must walk the same entries as one
		// unbounded reference listing.
		if i%10 == 0 && o.MaxKeys > 0 && o.MaxKeys < 50 {
			all := refList(keys, storage.ListOptions{Prefix: o.Prefix, Delimiter: o.Delimiter, StartAfter: o.StartAfter, MaxKeys: 1000})
			if all.Truncated || len(all.Objects)+len(all.CommonPrefixes) > 300 {
				continue // keep the page count (and the test) small
			}
			paged++
			var gotObjs []string
			var gotCPs []string
			page := o
			for pages := 0; ; pages++ {
				res, err := s.ListObjects(ctx, "lst", page)
				if err != nil {
					t.Fatal(err)
				}
				for _, ob := range res.Objects {
					gotObjs = append(gotObjs, ob.Key)
				}
				gotCPs = append(gotCPs, res.CommonPrefixes...)
				if !res.Truncated {
					break
				}
				if pages > len(keys) {
					t.Fatal("paging does not terminate")
				}
				page.StartAfter = res.NextStartAfter
			}
			var wantObjs []string
			for _, ob := range all.Objects {
				wantObjs = append(wantObjs, ob.Key)
			}
			if !slices.Equal(gotObjs, wantObjs) || !slices.Equal(gotCPs, all.CommonPrefixes) {
				t.Fatalf("paging %+v: got %d objects %d prefixes, want %d and %d", o, len(gotObjs), len(gotCPs), len(wantObjs), len(all.CommonPrefixes))
			}
		}
	}
}

func TestListObjectsExamples(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	mkBucket(t, s, "lst")
	for _, k := range []string{"a/1", "a/2", "a/b/3", "b", "c/1", "c/2", "d"} {
		putString(t, s, "lst", k, k)
	}
	tests := []struct {
		name    string
		opts    storage.ListOptions
		objects string
		cps     string
		trunc   bool
		next    string
	}{
		{"all", storage.ListOptions{}, "a/1,a/2,a/b/3,b,c/1,c/2,d", "", false, ""},
		{"delimiter", storage.ListOptions{Delimiter: "/"}, "b,d", "a/,c/", false, ""},
		{"prefix+delimiter", storage.ListOptions{Prefix: "a/", Delimiter: "/"}, "a/1,a/2", "a/b/", false, ""},
		{"page of 2", storage.ListOptions{Delimiter: "/", MaxKeys: 2}, "b", "a/", true, "b"},
		{"continue after a prefix", storage.ListOptions{Delimiter: "/", StartAfter: "a/", MaxKeys: 2}, "b", "c/", true, "c/"},
		{"after the last prefix", storage.ListOptions{Delimiter: "/", StartAfter: "c/"}, "d", "", false, ""},
		{"start after inside a prefix", storage.ListOptions{StartAfter: "a/2"}, "a/b/3,b,c/1,c/2,d", "", false, ""},
		{"exact page is not truncated", storage.ListOptions{Prefix: "c/", MaxKeys: 2}, "c/1,c/2", "", false, ""},
		{"no match", storage.ListOptions{Prefix: "zz"}, "", "", false, ""},
		{"start after everything", storage.ListOptions{StartAfter: "zz"}, "", "", false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := s.ListObjects(ctx, "lst", tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			var objs []string
			for _, o := range res.Objects {
				objs = append(objs, o.Key)
				if o.Size != int64(len(o.Key)) || o.ETag != md5hex([]byte(o.Key)) || o.LastModified.IsZero() {
					t.Errorf("object info %+v", o)
				}
			}
			if got := strings.Join(objs, ","); got != tt.objects {
				t.Errorf("objects %q want %q", got, tt.objects)
			}
			if got := strings.Join(res.CommonPrefixes, ","); got != tt.cps {
				t.Errorf("prefixes %q want %q", got, tt.cps)
			}
			if res.Truncated != tt.trunc || res.NextStartAfter != tt.next {
				t.Errorf("truncated %v next %q, want %v %q", res.Truncated, res.NextStartAfter, tt.trunc, tt.next)
			}
		})
	}
	if _, err := s.ListObjects(ctx, "nobucket", storage.ListOptions{}); err == nil {
		t.Fatal("listing a missing bucket succeeded")
	}
}

func TestListSeeksPastCommonPrefixes(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	mkBucket(t, s, "lst")
	var keys []string
	for d := range 20 {
		for i := range 2000 {
			keys = append(keys, fmt.Sprintf("dir%02d/file%05d", d, i))
		}
	}
	keys = append(keys, "top1", "top2")
	insertKeys(t, s, "lst", keys)
	before := s.listSteps.Load()
	res, err := s.ListObjects(ctx, "lst", storage.ListOptions{Delimiter: "/"})
	if err != nil {
		t.Fatal(err)
	}
	steps := s.listSteps.Load() - before
	if len(res.CommonPrefixes) != 20 || len(res.Objects) != 2 || res.Truncated {
		t.Fatalf("got %d prefixes %d objects", len(res.CommonPrefixes), len(res.Objects))
	}
	if steps > 30 {
		t.Fatalf("listing 22 entries over %d keys took %d cursor steps; it must seek past prefixes", len(keys), steps)
	}
	// Continuing after a prefix seeks too.
	before = s.listSteps.Load()
	res, err = s.ListObjects(ctx, "lst", storage.ListOptions{Delimiter: "/", StartAfter: "dir05/", MaxKeys: 1})
	if err != nil || len(res.CommonPrefixes) != 1 || res.CommonPrefixes[0] != "dir06/" || !res.Truncated {
		t.Fatalf("continuation: %+v %v", res, err)
	}
	if steps := s.listSteps.Load() - before; steps > 5 {
		t.Fatalf("continuation took %d cursor steps", steps)
	}
}

func TestSuccessor(t *testing.T) {
	tests := []struct {
		in   string
		want string
		ok   bool
	}{
		{"a/", "a0", true},
		{"a\xff", "b", true},
		{"a\xff\xff", "b", true},
		{"\xff", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		got, ok := successor([]byte(tt.in))
		if ok != tt.ok || string(got) != tt.want {
			t.Errorf("successor(%q) = %q %v", tt.in, got, ok)
		}
	}
}
