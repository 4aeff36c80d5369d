package fs

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"

	bolt "go.etcd.io/bbolt"
)

// mmapReserve is the index mapping asked of bbolt at Open (address space
// only: the kernel backs it with the file's page cache as pages are
// touched, and a read-only shared file mapping is not charged as
// committed memory). The pin makes remaps expensive (journal.go), so the
// mapping is made large enough that a store practically never needs one:
// 1 TiB on 64-bit systems, or four times the index at Open when that is
// more. Objects over 16 KiB are files, not index pages, so that is an index
// of tens of millions of small objects.
var mmapReserve = int64(min(1<<40, math.MaxInt/2))

// openIndex opens the index and the journal and brings the index to the
// last acknowledged state: restore the last checkpoint's meta page, open
// bbolt, replay the journal's records, checkpoint. See journal.go.
func (s *Store) openIndex() error {
	path := filepath.Join(s.dir, "index.db")
	fi, statErr := os.Stat(path)
	jr, haveCk, err := openJournal(filepath.Join(s.dir, journalFile), lockTimeout)
	if err != nil {
		return err
	}
	s.jr = jr
	if haveCk && (statErr != nil || fi.Size() == 0) {
		// The index was removed by hand: the journal continues nothing, and
		// none of its records may ever be read as a continuation.
		if err := jr.reset(); err != nil {
			_ = jr.close()
			return err
		}
		haveCk = false
	}
	if haveCk {
		if err := restoreMeta(path, jr.ck); err != nil {
			_ = jr.close()
			return err
		}
	}
	reserve := mmapReserve
	if fi != nil && statErr == nil && 4*fi.Size() > reserve {
		reserve = min(4*fi.Size(), math.MaxInt/2) // an int for bbolt, also on 32-bit
	}
	opts := &bolt.Options{
		// A second process on the same directory fails instead of waiting
		// forever (and instead of garbage-collecting our files).
		Timeout:         lockTimeout,
		NoFreelistSync:  true, // rebuilt at open; saves a write per commit
		FreelistType:    bolt.FreelistMapType,
		InitialMmapSize: int(reserve),
	}
	db, err := bolt.Open(path, 0o600, opts)
	if err != nil && !errors.Is(err, bolt.ErrTimeout) {
		// The address space may be limited (ulimit -v): map only what is
		// needed; every batch then runs unpinned (slower, as safe).
		opts.InitialMmapSize, reserve = 0, 0
		db, err = bolt.Open(path, 0o600, opts)
	}
	if err != nil {
		_ = jr.close()
		return fmt.Errorf("fs: opening index %s: %w", path, err)
	}
	s.db, s.mapReserve = db, reserve
	// Without a checkpoint to restore (a new store, or one written before
	// the journal existed), the changes made before the first checkpoint
	// must be durable on their own; with one, replay is pinned and
	// restorable, so it need not be.
	db.NoSync = haveCk
	fail := func(err error) error {
		s.unpin()
		_ = db.Close()
		_ = jr.close()
		if s.idx != nil {
			_ = s.idx.Close()
		}
		return err
	}
	// A second handle on the index, for reading meta and root pages at
	// checkpoints.
	if s.idx, err = os.Open(path); err != nil {
		return fail(fmt.Errorf("fs: opening index: %w", err))
	}
	// The directories and the index file's entry must survive a crash
	// before anything in them is acknowledged. (The parent of dir is synced
	// best-effort: it may not be ours to open.)
	for _, d := range []string{s.dataDir, s.tmpDir, s.dir} {
		if err := syncDir(d); err != nil {
			return fail(err)
		}
	}
	_ = syncDir(filepath.Dir(s.dir))

	if haveCk {
		// Pin the checkpoint before replay changes anything: a crash during
		// replay must find it intact too.
		if s.pin, err = db.Begin(false); err != nil {
			return fail(fmt.Errorf("fs: reading index: %w", err))
		}
		if got := uint64(s.pin.ID()); got != jr.ck.txid {
			return fail(fmt.Errorf("%w: index is at transaction %d, journal checkpoint at %d", errJournal, got, jr.ck.txid))
		}
		if err := jr.records(s.replay); err != nil {
			return fail(err)
		}
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bktBuckets)
		return err
	}); err != nil {
		return fail(fmt.Errorf("fs: initialising index: %w", err))
	}
	s.wasClean = haveCk && jr.ck.clean && jr.seq == jr.ck.nextSeq
	s.fresh = !haveCk
	if err := s.checkpoint(jr.seq, journalHeader, false); err != nil {
		return fail(err)
	}
	db.NoSync = true // from here on, durability comes from the journal
	return nil
}

// replay applies one journal record in its own transaction, unpinned
// between two checkpoints when it could make bbolt remap (as in
// commitLogged).
func (s *Store) replay(payload []byte, seq uint64, start, end int64) error {
	unpinned := s.nearMapEnd()
	if unpinned {
		if err := s.checkpoint(seq, start, false); err != nil {
			return err
		}
		s.unpin()
	}
	if err := s.db.Update(func(tx *bolt.Tx) error { return replayOps(tx, payload) }); err != nil {
		return fmt.Errorf("%w: record %d: %w", errJournal, seq, err)
	}
	s.replayed++
	if unpinned {
		return s.checkpoint(seq+1, end, false)
	}
	return nil
}

// restoreMeta writes checkpoint c's meta page back into its slot of the
// index file and invalidates the other slot, so that bbolt opens the tree
// of c whatever later, unsynced transactions left on disk.
func restoreMeta(path string, c checkpoint) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("fs: opening index for recovery: %w", err)
	}
	defer f.Close()
	if err := c.belongsTo(f); err != nil {
		return err
	}
	ps := int64(c.pageSize)
	if _, err := f.WriteAt(c.meta, int64(c.txid%2)*ps); err != nil {
		return fmt.Errorf("fs: restoring index meta page: %w", err)
	}
	if _, err := f.WriteAt(make([]byte, len(c.meta)), int64((c.txid+1)%2)*ps); err != nil {
		return fmt.Errorf("fs: restoring index meta page: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("fs: syncing index after recovery: %w", err)
	}
	return nil
}

// closeIndex releases the pin and closes the index, journal and
// directories.
func (s *Store) closeIndex() error {
	s.unpin()
	err := s.db.Close()
	_ = s.jr.close()
	if s.idx != nil {
		_ = s.idx.Close()
	}
	s.closeDirs()
	if err != nil {
		return fmt.Errorf("fs: closing index: %w", err)
	}
	return nil
}
