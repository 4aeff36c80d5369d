package fs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/s3fed/s3fed/internal/storage"
)

// copyDir copies a store directory as it is on disk now (the page cache's
// view: what a process crash, as opposed to a power loss, leaves).
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o700)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// model is what a store must hold: key → body, for one bucket.
type model map[string]string

// mutate makes n random changes to bucket "bkt" of s (puts of inline and
// file-sized bodies, overwrites, deletes, a completed multipart upload) and
// records each acknowledged one in m.
func mutate(t *testing.T, s *Store, m model, rng *rand.Rand, n int) {
	t.Helper()
	ctx := context.Background()
	for i := 0; i < n; i++ {
		key := fmt.Sprintf("k%03d", rng.IntN(60))
		if rng.IntN(20) == 0 {
			toggleSide(t, s, m)
			continue
		}
		switch r := rng.IntN(10); {
		case r < 6:
			size := 1 + rng.IntN(300)
			if rng.IntN(8) == 0 {
				size = InlineMaxSize + 1 + rng.IntN(1000) // a content file
			}
			body := strings.Repeat(string(rune('a'+rng.IntN(26))), size) + fmt.Sprint(i)
			putString(t, s, "bkt", key, body)
			m[key] = body
		case r < 9:
			if err := s.DeleteObject(ctx, "bkt", key); err != nil {
				t.Fatal(err)
			}
			delete(m, key)
		default:
			up, err := s.CreateMultipartUpload(ctx, "bkt", key, storage.PutOptions{})
			if err != nil {
				t.Fatal(err)
			}
			p1, p2 := "first-part-"+fmt.Sprint(i), "second"
			e1, err := s.UploadPart(ctx, "bkt", key, up.UploadID, 1, strings.NewReader(p1), int64(len(p1)))
			if err != nil {
				t.Fatal(err)
			}
			e2, err := s.UploadPart(ctx, "bkt", key, up.UploadID, 2, strings.NewReader(p2), int64(len(p2)))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.CompleteMultipartUpload(ctx, "bkt", key, up.UploadID, []storage.CompletePart{{PartNumber: 1, ETag: e1.ETag}, {PartNumber: 2, ETag: e2.ETag}}); err != nil {
				t.Fatal(err)
			}
			m[key] = p1 + p2
		}
	}
}

// sideBucket is the model's entry for whether bucket "side" exists.
const sideBucket = "\x00side"

// toggleSide creates bucket "side" with an object and an upload in
// progress, or deletes it (with the object deleted first; the upload goes
// with the bucket), and aborts an upload in "bkt": the bucket-table and
// nested-table changes of the journal.
func toggleSide(t *testing.T, s *Store, m model) {
	t.Helper()
	ctx := context.Background()
	if m[sideBucket] == "" {
		mkBucket(t, s, "side")
		putString(t, s, "side", "o", "side object")
		up, err := s.CreateMultipartUpload(ctx, "side", "mp", storage.PutOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.UploadPart(ctx, "side", "mp", up.UploadID, 1, strings.NewReader("part"), 4); err != nil {
			t.Fatal(err)
		}
		m[sideBucket] = "1"
	} else {
		if err := s.DeleteObject(ctx, "side", "o"); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteBucket(ctx, "side"); err != nil {
			t.Fatal(err)
		}
		delete(m, sideBucket)
	}
	up, err := s.CreateMultipartUpload(ctx, "bkt", "aborted", storage.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.UploadPart(ctx, "bkt", "aborted", up.UploadID, 1, strings.NewReader("gone"), 4); err != nil {
		t.Fatal(err)
	}
	if err := s.AbortMultipartUpload(ctx, "bkt", "aborted", up.UploadID); err != nil {
		t.Fatal(err)
	}
}

// checkModel asserts that bucket "bkt" of s holds exactly m, and that
// bucket "side" exists exactly when m says so, with its object.
func checkModel(t *testing.T, s *Store, m model) {
	t.Helper()
	_, err := s.HeadBucket(context.Background(), "side")
	if m[sideBucket] != "" {
		if _, body := getString(t, s, "side", "o", nil); err != nil || body != "side object" {
			t.Fatalf("bucket side: %v %q", err, body)
		}
	} else if !errors.Is(err, storage.ErrBucketNotFound) {
		t.Fatalf("bucket side should not exist: %v", err)
	}
	m = maps.Clone(m)
	delete(m, sideBucket)
	res, err := s.ListObjects(context.Background(), "bkt", storage.ListOptions{MaxKeys: 1000})
	if err != nil {
		t.Fatalf("listing: %v", err)
	}
	if len(res.Objects) != len(m) {
		t.Fatalf("listing has %d objects, want %d", len(res.Objects), len(m))
	}
	for _, o := range res.Objects {
		want, ok := m[o.Key]
		if !ok {
			t.Fatalf("unexpected object %q", o.Key)
		}
		if _, body := getString(t, s, "bkt", o.Key, nil); body != want {
			t.Fatalf("%s: got %d bytes, want %d", o.Key, len(body), len(want))
		}
	}
}

func withCheckpointBytes(t *testing.T, n int64) {
	old := journalCheckpointBytes
	journalCheckpointBytes = n
	t.Cleanup(func() { journalCheckpointBytes = old })
}

// TestJournalRecoversAfterProcessCrash: a store copied while open (nothing
// closed, nothing checkpointed since Open) reopens with every acknowledged
// change, through replay, with and without checkpoints in between.
func TestJournalRecoversAfterProcessCrash(t *testing.T) {
	for _, ckpt := range []int64{16 << 20, 4 << 10} {
		t.Run(fmt.Sprintf("checkpoint-every-%d", ckpt), func(t *testing.T) {
			withCheckpointBytes(t, ckpt)
			s := newStore(t)
			if s.mapReserve != mmapReserve {
				t.Fatalf("index mapped with %d bytes reserved, want %d: every batch would run unpinned", s.mapReserve, mmapReserve)
			}
			mkBucket(t, s, "bkt")
			m := model{}
			rng := rand.New(rand.NewPCG(1, uint64(ckpt)))
			mutate(t, s, m, rng, 300)
			crash := t.TempDir()
			copyDir(t, s.dir, crash)
			r := openStore(t, crash, Options{MinPartSize: 5})
			checkModel(t, r, m)
			// (With a checkpoint every few KiB the copy may follow one
			// closely enough that nothing is left to replay.)
			if rep := r.Opened(); rep.New || rep.CleanStop || (ckpt > 1<<20 && rep.Replayed == 0) || !rep.GarbageScan {
				t.Errorf("report after a crash: %+v", rep)
			}
			// And it goes on working: more changes, a clean reopen.
			mutate(t, r, m, rng, 50)
			if err := r.Close(); err != nil {
				t.Fatal(err)
			}
			r = openStore(t, crash, Options{MinPartSize: 5})
			checkModel(t, r, m)
			if rep := r.Opened(); rep.New || !rep.CleanStop || rep.Replayed != 0 || rep.GarbageScan {
				t.Errorf("report after a clean stop: %+v", rep)
			}
		})
	}
}

// TestJournalRecoversFromPowerLossImages models a power loss: every index
// page written since the last checkpoint may or may not have reached the
// disk (meta pages included), while the journal holds exactly what was
// acknowledged. The index file is rebuilt as random mixes of its image at
// the checkpoint and its image at the "power loss", page by page; recovery
// must find exactly the acknowledged state in every mix.
func TestJournalRecoversFromPowerLossImages(t *testing.T) {
	withCheckpointBytes(t, 1<<40) // no checkpoint but Open's
	dir := t.TempDir()
	s := openStore(t, dir, Options{MinPartSize: 5})
	mkBucket(t, s, "bkt")
	m := model{}
	rng := rand.New(rand.NewPCG(7, 7))
	mutate(t, s, m, rng, 200)
	if err := s.Close(); err != nil { // Close checkpoints: the base image
		t.Fatal(err)
	}
	s = openStore(t, dir, Options{MinPartSize: 5})
	base, err := os.ReadFile(filepath.Join(dir, "index.db"))
	if err != nil {
		t.Fatal(err)
	}
	mutate(t, s, m, rng, 400)
	pageSize := s.db.Info().PageSize
	final := t.TempDir()
	copyDir(t, dir, final)
	after, err := os.ReadFile(filepath.Join(final, "index.db"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(base, after[:min(len(after), len(base))]) {
		t.Fatal("the index did not change after the checkpoint: the test would prove nothing")
	}

	pick := map[string]func(page int) bool{ // true: the page from after
		"all-after":           func(int) bool { return true },
		"none-after":          func(int) bool { return false },
		"metas-only":          func(p int) bool { return p < 2 },
		"all-but-metas":       func(p int) bool { return p >= 2 },
		"even-pages":          func(p int) bool { return p%2 == 0 },
		"odd-pages-and-metas": func(p int) bool { return p%2 == 1 || p < 2 },
	}
	for i := 0; i < 6; i++ {
		r := rand.New(rand.NewPCG(uint64(i), 99))
		pick[fmt.Sprintf("random-%d", i)] = func(int) bool { return r.IntN(2) == 0 }
	}
	for name, fromAfter := range pick {
		t.Run(name, func(t *testing.T) {
			d := t.TempDir()
			copyDir(t, final, d)
			mixed := make([]byte, len(after))
			for off := 0; off < len(after); off += pageSize {
				end := min(off+pageSize, len(after))
				switch {
				case fromAfter(off / pageSize):
					copy(mixed[off:end], after[off:end])
				case off < len(base):
					copy(mixed[off:end], base[off:min(end, len(base))])
				}
			}
			if err := os.WriteFile(filepath.Join(d, "index.db"), mixed, 0o600); err != nil {
				t.Fatal(err)
			}
			checkModel(t, openStore(t, d, Options{MinPartSize: 5}), m)
		})
	}
}

// TestJournalIgnoresTornTail: a record cut short or damaged at the end of
// the journal (a write that was never acknowledged) is not replayed, and
// everything before it is.
func TestJournalIgnoresTornTail(t *testing.T) {
	withCheckpointBytes(t, 1<<40)
	s := newStore(t)
	mkBucket(t, s, "bkt")
	putString(t, s, "bkt", "acked", "acknowledged bytes")
	off := s.jr.off
	putString(t, s, "bkt", "torn", "never acknowledged")
	for name, damage := range map[string]func(wal []byte) []byte{
		"cut":         func(w []byte) []byte { return w[:off+recordHeader+3] },
		"flipped":     func(w []byte) []byte { w[off+recordHeader+1] ^= 0xff; return w },
		"header-only": func(w []byte) []byte { return w[:off+recordHeader] },
		"wrong-seq":   func(w []byte) []byte { w[off+8]++; return w },
	} {
		t.Run(name, func(t *testing.T) {
			d := t.TempDir()
			copyDir(t, s.dir, d)
			p := filepath.Join(d, journalFile)
			w, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, damage(w), 0o600); err != nil {
				t.Fatal(err)
			}
			r := openStore(t, d, Options{MinPartSize: 5})
			if _, body := getString(t, r, "bkt", "acked", nil); body != "acknowledged bytes" {
				t.Fatalf("acked: %q", body)
			}
			if _, err := r.HeadObject(context.Background(), "bkt", "torn"); !errors.Is(err, storage.ErrObjectNotFound) {
				t.Fatalf("torn record replayed: %v", err)
			}
		})
	}
}

// TestJournalUnpinnedBatches runs with no reserved mapping (as when the
// address space is limited), so every batch and every replayed record runs
// unpinned between two checkpoints; crash recovery must be as exact.
func TestJournalUnpinnedBatches(t *testing.T) {
	old := mmapReserve
	mmapReserve = 0
	t.Cleanup(func() { mmapReserve = old })
	s := newStore(t)
	if s.mapReserve != 0 || !s.nearMapEnd() {
		t.Fatal("the store did not take the unpinned path")
	}
	mkBucket(t, s, "bkt")
	m := model{}
	mutate(t, s, m, rand.New(rand.NewPCG(3, 3)), 150)
	crash := t.TempDir()
	copyDir(t, s.dir, crash)
	checkModel(t, openStore(t, crash, Options{MinPartSize: 5}), m)
}

// TestJournalWriteFailureFailsTheBatch: when the journal cannot be written
// (here its descriptor is gone; in life a full disk), each write fails and
// changes nothing, reads go on, and once the journal can be written again
// the store carries on; a crash afterwards recovers exactly the
// acknowledged changes.
func TestJournalWriteFailureFailsTheBatch(t *testing.T) {
	s := newStore(t)
	mkBucket(t, s, "bkt")
	putString(t, s, "bkt", "before", "durable")
	path := s.jr.f.Name()
	_ = s.jr.f.Close()
	ctx := context.Background()
	if _, err := s.PutObject(ctx, "bkt", "lost", strings.NewReader("x"), storage.PutOptions{Size: 1}); err == nil {
		t.Fatal("PUT acknowledged without a journal")
	}
	if err := s.DeleteObject(ctx, "bkt", "before"); err == nil {
		t.Fatal("DELETE acknowledged without a journal")
	}
	if _, body := getString(t, s, "bkt", "before", nil); body != "durable" {
		t.Fatalf("after the failures: %q", body)
	}
	if _, err := s.HeadObject(ctx, "bkt", "lost"); !errors.Is(err, storage.ErrObjectNotFound) {
		t.Fatalf("failed PUT visible: %v", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	s.jr.f, s.jr.pre.f = f, f // the disk has room again
	putString(t, s, "bkt", "after", "also durable")
	crash := t.TempDir()
	copyDir(t, s.dir, crash)
	r := openStore(t, crash, Options{MinPartSize: 5})
	checkModel(t, r, model{"before": "durable", "after": "also durable"})
}

// TestFailedCheckpointStopsWrites: when a checkpoint fails (the index
// cannot be read back or synced), the store refuses every later write,
// since its index may no longer match what a restart recovers; reads go on,
// and reopening recovers every change whose journal record is durable.
func TestFailedCheckpointStopsWrites(t *testing.T) {
	old := journalCheckpointBatches
	journalCheckpointBatches = 1 // checkpoint after every batch
	t.Cleanup(func() { journalCheckpointBatches = old })
	dir := t.TempDir()
	s, err := Open(dir, Options{MinPartSize: 5})
	if err != nil {
		t.Fatal(err)
	}
	mkBucket(t, s, "bkt")
	putString(t, s, "bkt", "before", "durable")
	_ = s.idx.Close() // the checkpoint cannot read the meta page
	ctx := context.Background()
	if _, err := s.PutObject(ctx, "bkt", "journaled", strings.NewReader("j"), storage.PutOptions{Size: 1}); err == nil {
		t.Fatal("no error from the failed checkpoint")
	}
	if err := s.DeleteObject(ctx, "bkt", "before"); err == nil || !strings.Contains(err.Error(), "stopped accepting writes") {
		t.Fatalf("write after the failure: %v", err)
	}
	if _, body := getString(t, s, "bkt", "before", nil); body != "durable" {
		t.Fatalf("read after the failure: %q", body)
	}
	_ = s.Close()
	r := openStore(t, dir, Options{MinPartSize: 5})
	checkModel(t, r, model{"before": "durable", "journaled": "j"})
}

// TestJournalRetract: a retracted record (its change never reached the
// index) is not replayed, and the next record takes its place and number.
func TestJournalRetract(t *testing.T) {
	jr, _, err := openJournal(filepath.Join(t.TempDir(), journalFile), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer jr.close()
	jr.ck = checkpoint{start: journalHeader}
	for _, p := range []string{"one", "two"} {
		if err := jr.append([]byte(p)); err != nil {
			t.Fatal(err)
		}
	}
	if err := jr.retract(); err != nil {
		t.Fatal(err)
	}
	if err := jr.append([]byte("three")); err != nil {
		t.Fatal(err)
	}
	var got []string
	jr.seq = 0
	if err := jr.records(func(p []byte, seq uint64, _, _ int64) error {
		got = append(got, fmt.Sprintf("%d:%s", seq, p))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, " ") != "0:one 1:three" {
		t.Fatalf("replayed %v", got)
	}
	// Retracting the last record alone leaves nothing after the first.
	if err := jr.retract(); err != nil {
		t.Fatal(err)
	}
	got, jr.seq = nil, 0
	_ = jr.records(func(p []byte, seq uint64, _, _ int64) error { got = append(got, string(p)); return nil })
	if strings.Join(got, " ") != "one" {
		t.Fatalf("after retracting the last record: %v", got)
	}
}

// TestJournalRefusesMismatchedIndex: a journal whose checkpoint does not
// describe the index (an index restored from elsewhere) stops Open instead
// of replaying changes onto the wrong tree.
func TestJournalRefusesMismatchedIndex(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	sa := openStore(t, a, Options{})
	mkBucket(t, sa, "bkt")
	sb := openStore(t, b, Options{})
	for i := 0; i < 5; i++ {
		mkBucket(t, sb, fmt.Sprintf("bkt%d", i))
	}
	_ = sa.Close()
	_ = sb.Close()
	w, err := os.ReadFile(filepath.Join(b, journalFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(a, journalFile), w, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(a, Options{}); !errors.Is(err, errJournal) {
		t.Fatalf("Open with another store's journal: %v", err)
	}
}

func TestCheckpointEncoding(t *testing.T) {
	c := checkpoint{gen: 5, nextSeq: 42, start: journalHeader + 100, txid: 9, pageSize: 4096, meta: bytes.Repeat([]byte{7}, metaSaved), rootCRC: 0xdeadbeef, clean: true}
	good := c.encode()
	if got, ok := decodeCheckpoint(good); !ok || got.gen != 5 || got.nextSeq != 42 || got.start != c.start || got.txid != 9 || got.pageSize != 4096 || !bytes.Equal(got.meta, c.meta) || got.rootCRC != c.rootCRC || !got.clean {
		t.Fatalf("round trip: %+v %v", got, ok)
	}
	for name, damage := range map[string]func(b []byte){
		"magic":      func(b []byte) { b[0] = 'x' },
		"crc":        func(b []byte) { b[8] ^= 1 },
		"body":       func(b []byte) { b[20] ^= 1 },
		"length":     func(b []byte) { b[12] = 0xff; b[13] = 0xff },
		"zeros":      func(b []byte) { clear(b) },
		"short-meta": func(b []byte) { b[16+44] = 1; b[16+45] = 0 },
	} {
		b := append([]byte(nil), good...)
		damage(b)
		if _, ok := decodeCheckpoint(b); ok {
			t.Errorf("%s: damaged checkpoint accepted", name)
		}
	}
}

// TestReplayOpsRefusesMalformed: a record that decodes badly or names a
// missing table fails replay with errBadOp (Open then fails), never
// panics.
func TestReplayOpsRefusesMalformed(t *testing.T) {
	s := newStore(t)
	valid := (&itx{}).log
	valid = append(valid, opPut)
	valid = appendBytes(valid, []byte("nope"))
	valid = append(valid, 0)
	valid = appendBytes(valid, []byte("k"))
	valid = appendBytes(valid, []byte("v"))
	for name, rec := range map[string][]byte{
		"missing-table": valid,
		"truncated":     valid[:len(valid)-1],
		"bad-sub-flag":  {opPut, 1, 'x', 2},
		"unknown-kind":  {99, 1, 'x', 0},
		"huge-length":   {opDelete, 0xff, 0xff, 0xff, 0xff, 0x0f},
		"empty-top":     {opCreateBucket, 0, 0},
	} {
		err := s.db.Update(func(tx *bolt.Tx) error { return replayOps(tx, rec) })
		if err == nil {
			t.Errorf("%s: replayed", name)
		}
	}
}

// FuzzReplayOps: any bytes as a journal record either apply or fail with
// an error, never panic; and a checkpoint slot of any bytes decodes or is
// refused.
func FuzzReplayOps(f *testing.F) {
	var seed []byte
	for _, op := range []struct {
		kind          byte
		top, sub, key string
	}{{opCreateBucket, "o/bkt", "", ""}, {opPut, "o/bkt", "", "k"}, {opCreateBucket, "u/bkt", "up", ""}, {opPut, "u/bkt", "up", "p"}, {opDelete, "o/bkt", "", "k"}, {opDeleteBucket, "u/bkt", "up", ""}} {
		seed = append(seed, op.kind)
		seed = appendBytes(seed, []byte(op.top))
		if op.sub == "" {
			seed = append(seed, 0)
		} else {
			seed = append(seed, 1)
			seed = appendBytes(seed, []byte(op.sub))
		}
		if op.kind == opPut || op.kind == opDelete {
			seed = appendBytes(seed, []byte(op.key))
		}
		if op.kind == opPut {
			seed = appendBytes(seed, []byte("value"))
		}
	}
	f.Add(seed)
	f.Add([]byte{opDeleteBucket, 0, 0})
	db, err := bolt.Open(filepath.Join(f.TempDir(), "fuzz.db"), 0o600, &bolt.Options{NoSync: true})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = db.Close() })
	f.Fuzz(func(t *testing.T, rec []byte) {
		err := db.Update(func(tx *bolt.Tx) error {
			if err := replayOps(tx, rec); err != nil {
				return err
			}
			return errors.New("roll back") // keep the database empty for the next input
		})
		if err == nil {
			t.Fatal("rollback lost")
		}
		_, _ = decodeCheckpoint(rec)
	})
}

// TestOpensIndexWithoutJournal: an index written before the journal
// existed (or whose journal was removed after a clean stop) opens as it is,
// with a garbage scan, and is journaled from then on.
func TestOpensIndexWithoutJournal(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, Options{MinPartSize: 5})
	mkBucket(t, s, "bkt")
	m := model{}
	rng := rand.New(rand.NewPCG(5, 5))
	mutate(t, s, m, rng, 100)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, journalFile)); err != nil {
		t.Fatal(err)
	}
	r := openStore(t, dir, Options{MinPartSize: 5})
	if !r.gcScanned {
		t.Error("no garbage scan without a journal to vouch for a clean stop")
	}
	checkModel(t, r, m)
	mutate(t, r, m, rng, 50)
	crash := t.TempDir()
	copyDir(t, dir, crash)
	checkModel(t, openStore(t, crash, Options{MinPartSize: 5}), m)
}

// TestJournalOfRemovedIndexIsDiscarded: with index.db removed by hand, the
// store starts empty, and nothing of the old journal is replayed then or
// after a later crash.
func TestJournalOfRemovedIndexIsDiscarded(t *testing.T) {
	withCheckpointBytes(t, 1<<40)
	dir := t.TempDir()
	s := openStore(t, dir, Options{MinPartSize: 5})
	mkBucket(t, s, "bkt")
	putString(t, s, "bkt", "old", "old bytes")
	crashed := t.TempDir()
	copyDir(t, dir, crashed) // records after the checkpoint, never closed
	if err := os.Remove(filepath.Join(crashed, "index.db")); err != nil {
		t.Fatal(err)
	}
	r := openStore(t, crashed, Options{MinPartSize: 5})
	if bs, err := r.ListBuckets(context.Background()); err != nil || len(bs) != 0 {
		t.Fatalf("buckets after removing the index: %v %v", bs, err)
	}
	again := t.TempDir()
	copyDir(t, crashed, again) // a crash of the new store before any write
	r2 := openStore(t, again, Options{MinPartSize: 5})
	if bs, err := r2.ListBuckets(context.Background()); err != nil || len(bs) != 0 {
		t.Fatalf("buckets after a crash of the new store: %v %v", bs, err)
	}
}

// TestFailedUnlinkMakesTheStopUnclean: a replaced content file that could
// not be removed while running is found by the next Open's garbage scan,
// even after a clean Close.
func TestFailedUnlinkMakesTheStopUnclean(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, Options{MinPartSize: 5})
	mkBucket(t, s, "bkt")
	big := strings.Repeat("v", InlineMaxSize+1)
	putString(t, s, "bkt", "obj", big)
	rec, err := s.lookup("bkt", "obj")
	if err != nil || rec.file == "" {
		t.Fatalf("lookup: %+v %v", rec, err)
	}
	// An entry os.Remove cannot remove (the tests run as root, so
	// permissions would not stop it): a non-empty directory.
	old := s.dataPath(rec.file)
	if err := os.Remove(old); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(old, "x"), 0o700); err != nil {
		t.Fatal(err)
	}
	putString(t, s, "bkt", "obj", "replaced") // the unlink of the old file fails
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	r := openStore(t, dir, Options{MinPartSize: 5})
	if !r.gcScanned {
		t.Fatal("no garbage scan after a stop that left an unreferenced entry")
	}
	if _, err := os.Stat(old); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("unreferenced entry still there: %v", err)
	}
	checkModel(t, r, model{"obj": "replaced"})
}
