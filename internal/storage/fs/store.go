// Package fs is s3fed's embedded disk store: a storage.Backend that keeps
// object bytes in plain files under one directory and their metadata in an
// ordered index, so that a crash (kill -9, power loss) never exposes a torn
// object and every acknowledged write survives.
//
// # Layout
//
//	DIR/index.db        bbolt index: buckets, objects (and the bytes of small ones),
//	                    multipart uploads and parts
//	DIR/index.wal       the index's journal: what makes a commit durable (journal.go)
//	DIR/tmp/            files being written; everything here is garbage after a crash
//	DIR/data/XX/NAME    content files; NAME is 32 random hex digits, XX its first
//	                    two (the 256 XX directories are created on first use)
//
// Object keys never become file names: a content file's name is random and
// only the index maps a key to it, so keys such as "../../etc/passwd", "a//b"
// or "%2F" are just bytes in the index and path traversal is impossible.
//
// # Why bbolt for the index
//
// Listings must come out in key order without walking directories, page by
// page, and skip whole common prefixes at once. bbolt is a pure-Go B+tree
// whose cursor Seek does exactly that in O(log n), with no SQL layer, no
// statement cache and no string-to-row conversions on the hot path. Its
// single-writer transactions give a total commit order, so "last commit wins"
// and If-None-Match are decided atomically with the commit for free. SQLite
// would work too, but every GET would pay for query planning and row
// decoding, and the database-level lock would be the same single writer
// anyway. The price: a bbolt commit costs two fdatasyncs of scattered pages
// (the copied-on-write tree, then the meta page). The store therefore runs
// bbolt without fsyncs and makes each commit durable with one fdatasync of
// a sequential journal instead, checkpointing the index now and then; see
// journal.go for why a crash or power loss can never open a torn tree.
//
// # Write protocol (crash ordering)
//
//  1. stream the body into DIR/tmp/…, computing MD5 and counting bytes;
//  2. fsync the file, rename it to DIR/data/XX/NAME, fsync DIR/data/XX;
//  3. commit the index transaction that points the key at NAME and append
//     its changes to the journal, fdatasynced before the commit returns —
//     this is the acknowledgement point;
//  4. remove the content file the key pointed at before, if any.
//
// A crash before 3 leaves a file nobody references; a crash after 3 but
// before 4 leaves the old file unreferenced. Open removes everything in
// DIR/tmp and, unless the store was closed cleanly (the journal says so),
// every file under DIR/data that the index does not reference, so no crash
// state leaks space and no reader ever sees a partial object.
// Concurrent index commits are grouped into one bbolt transaction and one
// journal record (group commit), so concurrent PUTs share one fdatasync.
//
// # Small objects live in the index
//
// An object of at most InlineMaxSize bytes is not given a content file: its
// bytes go into the index ("d/BUCKET" table) in the same transaction as its
// record. The commit is then the only durability step (one journal
// fdatasync, instead of a file creation, a file fsync, a rename, a
// directory fsync and the commit), which makes small PUTs several times
// faster, and a GET reads them from the index's page cache without opening
// a file. Crash safety is the commit's own: the bytes and the record appear
// together or not at all. Listings never read that table, so they stay as
// fast as with files. Bodies of unknown length are buffered only up to
// InlineMaxSize+1 bytes (in the one pooled buffer) before falling back to a
// content file, so memory stays bounded. Parts of multipart uploads are
// always files.
//
// # Readers and overwrites
//
// A reader opens the content file and keeps the descriptor; an overwrite
// commits a new file and then unlinks the old one, which POSIX keeps readable
// through open descriptors. A striped lock per key orders "look up and open"
// against "unlink the replaced file", so a reader never finds the file gone.
// A reader of an inline object gets its own copy of the bytes.
//
// # Costs to know
//
// After a crash, Open's garbage collection reads the whole index and lists
// DIR/data: time and memory are proportional to the number of stored
// objects and parts (about a hundred bytes each); after a clean Close it is
// skipped. Open also replays the journal since the last checkpoint (at
// most about 4 MiB of records). The index is mapped with 1 TiB of address
// space (journal.go explains why); an index that outgrows its mapping
// without a restart makes every later commit pay for two extra checkpoints
// until the next Open. ListMultipartUploads returns every matching upload
// of a bucket (the interface has no paging).
package fs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/maphash"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/s3fed/s3fed/internal/storage"
)

// Limits. They are S3's, so clients that work against AWS work here.
const (
	// MaxObjectSize is the largest object S3 stores (5 TiB); a multipart
	// upload that would assemble a larger one fails with ErrEntityTooLarge.
	MaxObjectSize int64 = 5 << 40
	// MaxPutSize is the largest single PUT, part or copy (5 GiB).
	MaxPutSize int64 = 5 << 30
	// MaxKeyLength is the longest object key in bytes (S3: 1024).
	MaxKeyLength = 1024
	// MaxListKeys caps one page of a listing (S3: 1000); 0 asks for it.
	MaxListKeys = 1000
	// InlineMaxSize is the largest object kept inside the index instead of
	// a content file (see "Small objects live in the index").
	InlineMaxSize = 16 << 10
)

// copyBufferSize is the one buffer a streaming request uses, in both
// directions; it is what bounds per-request memory.
const copyBufferSize = 64 << 10

// The inline buffer must fit in the pooled copy buffer.
var _ [copyBufferSize - InlineMaxSize - 1]struct{}

// lockStripes is the number of striped locks for keys and for uploads: enough
// that unrelated keys rarely share one, small enough to be a fixed array.
const lockStripes = 256

// lockTimeout is how long Open waits for another Store (or process) to
// release the index; a variable so tests need not wait for it.
var lockTimeout = 2 * time.Second

// ErrClosed is returned by operations on a Store after Close.
var ErrClosed = errors.New("fs store is closed")

// Options tune a Store. The zero value is the product configuration.
type Options struct {
	// MinPartSize is the minimum size of every part of a multipart upload but
	// the last. Zero means storage.MinPartSize (S3's 5 MiB); tests use less
	// so they need not move megabytes.
	MinPartSize int64
}

// Store is the embedded disk store. It is safe for concurrent use by many
// goroutines; one directory must be opened by one Store at a time (Open holds
// an exclusive lock on the index file).
type Store struct {
	dir     string
	tmpDir  string
	dataDir string
	db      *bolt.DB

	minPartSize int64
	// maxPutSize and maxObjectSize are the constants above; they are fields
	// only so in-package tests can check the limits without moving 5 GiB.
	maxPutSize    int64
	maxObjectSize int64

	// dataDirs holds the open DIR/data/XX directories, fsynced after each
	// rename into them. They are created on first use (Open stays cheap and
	// a small store has few directories); dirMu serialises creation.
	dataDirs [256]atomic.Pointer[os.File]
	dirMu    sync.Mutex

	// Group commit state (see update): cmu guards the queue of waiting
	// index changes, whether a leader is committing, and closed; idle is
	// signalled when the last leader steps down.
	cmu     sync.Mutex
	queue   []*commitReq
	leading bool
	closed  bool
	idle    *sync.Cond

	// idx is a second handle on the index file, for reading meta and root
	// pages at checkpoints; jr is the journal, pin the read transaction on
	// the last checkpoint, mapReserve the index mapping size asked of bbolt,
	// logBuf the reused change log (journal.go). Only the commit leader,
	// Open and Close touch them.
	idx        *os.File
	jr         *journal
	pin        *bolt.Tx
	mapReserve int64
	logBuf     []byte
	sinceCk    int         // batches committed since the last checkpoint
	wasClean   bool        // Open found Close's clean checkpoint (no garbage scan)
	leaked     atomic.Bool // a content file could not be removed while running
	replayed   int         // journal records Open replayed
	fresh      bool        // Open found no journal checkpoint
	opened     OpenReport
	gcScanned  bool // Open scanned the index for unreferenced files

	// failed, once set (under cmu), refuses every further write (see fail).
	failed error

	closeOnce sync.Once
	closeErr  error

	seed        maphash.Seed
	keyLocks    [lockStripes]sync.RWMutex
	uploadLocks [lockStripes]sync.RWMutex

	bufPool sync.Pool

	// listSteps counts cursor positionings in listings; tests use it to prove
	// that a delimiter listing seeks past common prefixes instead of scanning.
	listSteps atomic.Int64
}

var _ storage.Backend = (*Store)(nil)

// Top-level bbolt buckets. Every S3 bucket NAME has "o/NAME" (key → object
// record), "d/NAME" (key → bytes of an inline object) and "u/NAME"
// (key \x00 uploadID → nested bucket of the upload's meta record "m" and part
// records "p"+BE32(part)).
var (
	bktBuckets = []byte("buckets")
)

func objBucket(name string) []byte    { return []byte("o/" + name) }
func uploadBucket(name string) []byte { return []byte("u/" + name) }
func inlineBucket(name string) []byte { return []byte("d/" + name) }

// Open opens (creating if needed) the store under dir, then removes whatever a
// crash left behind: temp files and content files the index does not
// reference.
func Open(dir string, opts Options) (*Store, error) {
	if opts.MinPartSize < 0 {
		return nil, fmt.Errorf("fs: MinPartSize %d is negative", opts.MinPartSize)
	}
	if opts.MinPartSize == 0 {
		opts.MinPartSize = storage.MinPartSize
	}
	s := &Store{
		dir:           dir,
		tmpDir:        filepath.Join(dir, "tmp"),
		dataDir:       filepath.Join(dir, "data"),
		minPartSize:   opts.MinPartSize,
		maxPutSize:    MaxPutSize,
		maxObjectSize: MaxObjectSize,
		seed:          maphash.MakeSeed(),
	}
	s.idle = sync.NewCond(&s.cmu)
	s.bufPool.New = func() any { b := make([]byte, copyBufferSize); return &b }

	for _, d := range []string{dir, s.tmpDir, s.dataDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("fs: creating %s: %w", d, err)
		}
	}
	start := time.Now()
	if err := s.openIndex(); err != nil {
		return nil, err
	}
	if err := s.collectGarbage(); err != nil {
		s.closeIndex()
		return nil, err
	}
	s.opened = OpenReport{New: s.fresh, CleanStop: s.wasClean, Replayed: s.replayed, GarbageScan: s.gcScanned, Took: time.Since(start)}
	return s, nil
}

// OpenReport says what Open found and did, for the server to log: an
// operator should see that a crash was recovered from, and what it cost.
type OpenReport struct {
	New         bool          // no journal checkpoint was found: a new store, or one written before the journal
	CleanStop   bool          // the last run ended with Close
	Replayed    int           // journal records applied since the last checkpoint
	GarbageScan bool          // the index was scanned for unreferenced files
	Took        time.Duration // how long Open took
}

// Opened returns what Open found and did.
func (s *Store) Opened() OpenReport { return s.opened }

// Close stops the store: it waits for in-flight index commits, then closes
// the index. Readers already handed out keep working until they are closed.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.cmu.Lock()
		s.closed = true
		for s.leading {
			s.idle.Wait()
		}
		failed := s.failed
		s.cmu.Unlock()
		if failed == nil {
			// A clean stop leaves nothing to replay.
			// A stop is clean when it leaves no unreferenced file behind.
			if err := s.checkpoint(s.jr.seq, journalHeader, !s.leaked.Load()); err != nil {
				s.closeErr = err
			}
		}
		if err := s.closeIndex(); err != nil && s.closeErr == nil {
			s.closeErr = err
		}
	})
	return s.closeErr
}

func (s *Store) closeDirs() {
	s.dirMu.Lock()
	defer s.dirMu.Unlock()
	for i := range s.dataDirs {
		if f := s.dataDirs[i].Swap(nil); f != nil {
			_ = f.Close()
		}
	}
}

// dataDirHandle returns the open directory DIR/data/XX for index idx,
// creating it (and making its entry in DIR/data durable) on first use.
func (s *Store) dataDirHandle(idx int) (*os.File, error) {
	if f := s.dataDirs[idx].Load(); f != nil {
		return f, nil
	}
	s.dirMu.Lock()
	defer s.dirMu.Unlock()
	if f := s.dataDirs[idx].Load(); f != nil {
		return f, nil
	}
	p := filepath.Join(s.dataDir, fmt.Sprintf("%02x", idx))
	if err := os.Mkdir(p, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("fs: creating %s: %w", p, err)
	}
	if err := syncDir(s.dataDir); err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("fs: opening %s: %w", p, err)
	}
	s.dataDirs[idx].Store(f)
	return f, nil
}

// collectGarbage removes temp files and, unless the store was closed
// cleanly last time, unreferenced content files. It runs in Open before any
// request, so nothing is being written concurrently. Unreferenced files
// come from crashes (a content file placed but never committed, a replaced
// one not yet unlinked) and from unlinks that failed; after a Close with
// neither there are none, and the scan, which reads the whole index, is
// skipped.
func (s *Store) collectGarbage() error {
	entries, err := os.ReadDir(s.tmpDir)
	if err != nil {
		return fmt.Errorf("fs: reading %s: %w", s.tmpDir, err)
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(s.tmpDir, e.Name())); err != nil {
			return fmt.Errorf("fs: removing temp file: %w", err)
		}
	}

	if s.wasClean {
		return nil
	}
	s.gcScanned = true
	referenced := make(map[string]struct{})
	err = s.db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			switch {
			case len(name) > 2 && name[0] == 'o' && name[1] == '/':
				return b.ForEach(func(k, v []byte) error {
					rec, err := decodeObject(v)
					if err != nil {
						return fmt.Errorf("object %q: %w", k, err)
					}
					if rec.file != "" {
						referenced[rec.file] = struct{}{}
					}
					return nil
				})
			case len(name) > 2 && name[0] == 'u' && name[1] == '/':
				return b.ForEach(func(k, v []byte) error {
					ub := b.Bucket(k)
					if ub == nil {
						return nil
					}
					return ub.ForEach(func(pk, pv []byte) error {
						if len(pk) == 5 && pk[0] == 'p' {
							p, err := decodePart(pv)
							if err != nil {
								return fmt.Errorf("part of upload %q: %w", k, err)
							}
							referenced[p.file] = struct{}{}
						}
						return nil
					})
				})
			}
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("fs: reading index for garbage collection: %w", err)
	}
	subs, err := os.ReadDir(s.dataDir)
	if err != nil {
		return fmt.Errorf("fs: reading %s: %w", s.dataDir, err)
	}
	for _, sub := range subs {
		if !sub.IsDir() || !isDataSubdir(sub.Name()) {
			continue // not ours to judge
		}
		p := filepath.Join(s.dataDir, sub.Name())
		entries, err := os.ReadDir(p)
		if err != nil {
			return fmt.Errorf("fs: reading %s: %w", p, err)
		}
		for _, e := range entries {
			if _, ok := referenced[sub.Name()+"/"+e.Name()]; ok {
				continue
			}
			if err := os.RemoveAll(filepath.Join(p, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("fs: removing unreferenced file: %w", err)
			}
		}
	}
	return nil
}

// isDataSubdir reports whether name is a DIR/data/XX directory name.
func isDataSubdir(name string) bool {
	return len(name) == 2 && isHex(name[0]) && isHex(name[1])
}

func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' }

// newFileName returns a fresh content-file name "XX/32hex" (128 random bits,
// so collisions are not a practical concern).
func newFileName() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("fs: random file name: %w", err)
	}
	h := hex.EncodeToString(b[:])
	return h[:2] + "/" + h, nil
}

// newUploadID returns an unguessable multipart upload ID (128 random bits).
func newUploadID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("fs: random upload id: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// dataPath turns an index file name ("XX/hex") into its path.
func (s *Store) dataPath(name string) string {
	return filepath.Join(s.dataDir, filepath.FromSlash(name))
}

// removeData unlinks a content file that no index entry references any more.
// A failure only leaks space until the next Open, so it is not reported.
func (s *Store) removeData(name string) {
	if name == "" {
		return
	}
	if err := os.Remove(s.dataPath(name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		// Left for the garbage scan: Close will not call the stop clean.
		s.leaked.Store(true)
	}
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("fs: opening directory %s: %w", dir, err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("fs: syncing directory %s: %w", dir, err)
	}
	return nil
}

func (s *Store) keyLock(bucket, key string) *sync.RWMutex {
	var h maphash.Hash
	h.SetSeed(s.seed)
	h.WriteString(bucket)
	h.WriteByte(0)
	h.WriteString(key)
	return &s.keyLocks[h.Sum64()%lockStripes]
}

func (s *Store) uploadLock(uploadID string) *sync.RWMutex {
	return &s.uploadLocks[maphash.String(s.seed, uploadID)%lockStripes]
}

func (s *Store) getBuf() *[]byte  { return s.bufPool.Get().(*[]byte) }
func (s *Store) putBuf(b *[]byte) { s.bufPool.Put(b) }

// checkCtx returns ctx's error wrapped, so callers see why nothing happened.
func checkCtx(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("fs: %w", err)
	}
	return nil
}

// view runs a read transaction, reporting a closed store as ErrClosed.
func (s *Store) view(fn func(tx *bolt.Tx) error) error {
	err := s.db.View(fn)
	if errors.Is(err, bolt.ErrDatabaseNotOpen) {
		return ErrClosed
	}
	return err
}
