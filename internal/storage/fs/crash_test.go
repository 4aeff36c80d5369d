package fs

import (
	"bufio"
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/s3fed/s3fed/internal/storage"
)

// crashChildEnv, when set to a directory, turns TestCrashSafety into the
// child process: it writes to a store in that directory until it is killed.
const crashChildEnv = "S3FED_FS_CRASH_CHILD_DIR"

// TestCrashSafety re-executes the test binary as a child that runs
// concurrent PUTs (fresh keys, overwrites of shared keys, and multipart
// completions), printing "TRY key md5" before and "OK key md5" after each
// acknowledged write. The parent SIGKILLs it mid-flight, reopens the store
// and checks: every acknowledged key is present and intact, holding its
// acknowledged bytes (a shared key may hold any version that was attempted,
// since a later write may have committed without being acknowledged); every
// visible object's bytes match its size and ETag; no key appears that was
// never attempted; and Open left no temp or unreferenced files.
func TestCrashSafety(t *testing.T) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		crashChild(dir)
		return
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashSafety$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+dir)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	tries := map[string]map[string]bool{} // key → md5s attempted
	acked := map[string]map[string]bool{} // key → md5s acknowledged
	sc := bufio.NewScanner(out)
	okLines := 0
	killed := false
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 3 {
			continue // test framework chatter
		}
		m := tries
		if f[0] == "OK" {
			m = acked
			okLines++
		} else if f[0] != "TRY" {
			continue
		}
		if m[f[1]] == nil {
			m[f[1]] = map[string]bool{}
		}
		m[f[1]][f[2]] = true
		if okLines == 150 && !killed {
			// Writes are in flight now: four writers never pause.
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			killed = true
		}
	}
	err = cmd.Wait()
	if !killed {
		t.Fatalf("child ended before it was killed: %v", err)
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("child did not die of SIGKILL: %v", err)
	}
	inFlight := 0
	for k, ms := range tries {
		for m := range ms {
			if !acked[k][m] {
				inFlight++
			}
		}
	}
	t.Logf("%d acknowledged writes, %d attempted but unacknowledged at the kill", okLines, inFlight)

	if ents, err := os.ReadDir(dir + "/tmp"); err == nil {
		t.Logf("%d temp files left by the kill", len(ents))
	}
	s := openStore(t, dir, Options{MinPartSize: 1})
	ctx := context.Background()
	for key, ms := range acked {
		info, rc, err := s.GetObject(ctx, "crash", key, nil)
		if err != nil {
			t.Errorf("acknowledged %s: %v", key, err)
			continue
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		got := contentID(key, b, info.ETag)
		if !tries[key][got] {
			t.Errorf("%s holds %s, never attempted", key, got)
		}
		if !strings.HasPrefix(key, "shared-") && !ms[got] {
			t.Errorf("%s holds %s, acknowledged %v", key, got, ms)
		}
	}
	res, err := s.ListObjects(ctx, "crash", storage.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for res.Truncated || len(res.Objects) > 0 {
		for _, o := range res.Objects {
			_, rc, err := s.GetObject(ctx, "crash", o.Key, nil)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(rc)
			rc.Close()
			if int64(len(b)) != o.Size {
				t.Errorf("%s: %d bytes, index says %d", o.Key, len(b), o.Size)
			}
			if got := contentID(o.Key, b, o.ETag); !tries[o.Key][got] {
				t.Errorf("%s: visible but never attempted with content %s", o.Key, got)
			}
		}
		if !res.Truncated {
			break
		}
		res, err = s.ListObjects(ctx, "crash", storage.ListOptions{StartAfter: res.NextStartAfter})
		if err != nil {
			t.Fatal(err)
		}
	}
	data, tmp := dataFiles(t, s)
	objects := 0
	for k := range tries {
		if rec, err := s.lookup("crash", k); err == nil && rec.file != "" {
			objects++ // objects with a content file; inline ones have none
		}
	}
	ups, _ := s.ListMultipartUploads(ctx, "crash", "")
	parts := 0
	for _, u := range ups {
		ps, _, _ := s.ListParts(ctx, "crash", u.Key, u.UploadID, 0, 0)
		parts += len(ps)
	}
	if tmp != 0 || data != objects+parts {
		t.Errorf("after reopen: %d temp files, %d content files for %d file-backed objects and %d parts", tmp, data, objects, parts)
	}
}

// contentID identifies a body: its MD5, which must also be what its ETag
// says (for multipart objects the child announces the body MD5 too, and
// the ETag is checked against the part MD5s it was built from).
func contentID(key string, b []byte, etag string) string {
	sum := md5.Sum(b)
	id := hex.EncodeToString(sum[:])
	if !strings.Contains(etag, "-") && etag != id {
		return "etag-mismatch:" + etag
	}
	if strings.Contains(etag, "-") && etag != multipartETag(b) {
		return "multipart-etag-mismatch:" + etag
	}
	return id
}

// crashPartSize is the part size the child uses for multipart objects.
const crashPartSize = 64 << 10

func multipartETag(b []byte) string {
	h := md5.New()
	n := 0
	for off := 0; off < len(b) || n == 0; off += crashPartSize {
		end := min(off+crashPartSize, len(b))
		sum := md5.Sum(b[off:end])
		h.Write(sum[:])
		n++
	}
	return hex.EncodeToString(h.Sum(nil)) + fmt.Sprintf("-%d", n)
}

func crashChild(dir string) {
	// Checkpoint every few batches, so the kill also lands in and around
	// checkpoints and recovery replays on top of a recent one.
	journalCheckpointBatches = 5
	s, err := Open(dir, Options{MinPartSize: 1})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child open:", err)
		os.Exit(2)
	}
	ctx := context.Background()
	if err := s.CreateBucket(ctx, "crash"); err != nil {
		fmt.Fprintln(os.Stderr, "child bucket:", err)
		os.Exit(2)
	}
	var mu sync.Mutex
	say := func(format string, args ...any) {
		mu.Lock()
		fmt.Fprintf(os.Stdout, format+"\n", args...) // unbuffered: on the pipe before the next write starts
		mu.Unlock()
	}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 99))
			for i := 0; ; i++ {
				key := fmt.Sprintf("w%d-%05d", w, i)
				if i%3 == 0 {
					key = fmt.Sprintf("shared-%d", r.IntN(3))
				}
				// Half small (inline in the index), half content files.
				n := r.IntN(400 << 10)
				if r.IntN(2) == 0 {
					n = r.IntN(InlineMaxSize + 1)
				}
				body := make([]byte, n)
				for j := range body {
					body[j] = byte(r.Uint32())
				}
				sum := md5.Sum(body)
				id := hex.EncodeToString(sum[:])
				say("TRY %s %s", key, id)
				if i%5 == 4 {
					err = crashMultipart(ctx, s, key, body)
				} else {
					_, err = s.PutObject(ctx, "crash", key, bytes.NewReader(body), storage.PutOptions{Size: int64(len(body))})
				}
				if err != nil {
					fmt.Fprintln(os.Stderr, "child put:", err)
					os.Exit(2)
				}
				say("OK %s %s", key, id)
			}
		}()
	}
	wg.Wait()
}

func crashMultipart(ctx context.Context, s *Store, key string, body []byte) error {
	up, err := s.CreateMultipartUpload(ctx, "crash", key, storage.PutOptions{})
	if err != nil {
		return err
	}
	var parts []storage.CompletePart
	for off, n := 0, 1; off < len(body) || n == 1; off, n = off+crashPartSize, n+1 {
		end := min(off+crashPartSize, len(body))
		p, err := s.UploadPart(ctx, "crash", key, up.UploadID, n, bytes.NewReader(body[off:end]), int64(end-off))
		if err != nil {
			return err
		}
		parts = append(parts, storage.CompletePart{PartNumber: n, ETag: p.ETag})
	}
	_, err = s.CompleteMultipartUpload(ctx, "crash", key, up.UploadID, parts)
	return err
}
