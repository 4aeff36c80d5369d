package fs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"

	bolt "go.etcd.io/bbolt"
)

// maxCommitBatch bounds how many index changes share one transaction, so one
// transaction never grows without bound under a flood of writes.
const maxCommitBatch = 256

// commitReq is one index change waiting to be committed.
type commitReq struct {
	fn  func(tx *itx) error
	err error
	// lead is set, before done is signalled, when this request's goroutine
	// must run the next batch itself instead of waiting for a result.
	lead bool
	done chan struct{}
}

// abortTx marks an error after which a batched transaction cannot be
// trusted (a bbolt write failed half-way): the whole transaction is rolled
// back and every change in it fails. Ordinary errors (precondition failed,
// bucket not found) are returned before a change writes anything, so they
// fail only their own request.
type abortTx struct{ err error }

func (e abortTx) Error() string { return e.err.Error() }
func (e abortTx) Unwrap() error { return e.err }

// must wraps a bbolt write error as abortTx.
func must(err error) error {
	if err != nil {
		return abortTx{err}
	}
	return nil
}

// update runs fn in a write transaction shared with whatever other changes
// are queued at the same moment (group commit), and returns once that
// transaction is durable or has failed. fn must check everything it needs
// before its first write, and write only through tx (whose writes are
// journaled and fail as abortTx).
//
// There is no committer goroutine: the caller that finds no commit running
// becomes the leader and commits the queue on its own goroutine (so a lone
// writer pays no goroutine hand-off, which costs real time on a busy
// machine); callers arriving meanwhile queue up. When the leader's batch is
// durable it hands leadership to the first queued caller, whose batch is
// everything queued by then, and returns.
func (s *Store) update(fn func(tx *itx) error) error {
	req := &commitReq{fn: fn, done: make(chan struct{})}
	s.cmu.Lock()
	if s.closed {
		s.cmu.Unlock()
		return ErrClosed
	}
	if s.failed != nil {
		s.cmu.Unlock()
		return s.failed
	}
	s.queue = append(s.queue, req)
	if s.leading {
		s.cmu.Unlock()
		<-req.done
		if !req.lead {
			return req.err
		}
		s.cmu.Lock()
	} else {
		s.leading = true
	}
	// Leader: take up to maxCommitBatch queued requests (ours among them).
	n := min(len(s.queue), maxCommitBatch)
	batch := make([]*commitReq, n)
	copy(batch, s.queue)
	s.queue = append(s.queue[:0], s.queue[n:]...)
	s.cmu.Unlock()

	s.commitBatch(batch)

	s.cmu.Lock()
	if len(s.queue) > 0 {
		next := s.queue[0]
		next.lead = true
		close(next.done)
	} else {
		s.leading = false
		s.idle.Broadcast()
	}
	s.cmu.Unlock()
	return req.err
}

// commitBatch runs every request of batch in one bbolt transaction, makes
// it durable through the journal, then releases the waiting ones (the
// leader's own request has nobody waiting, and a promoted leader's channel
// is already closed). Only the leader calls it, so it has the journal, the
// pin and the preallocation to itself.
func (s *Store) commitBatch(batch []*commitReq) {
	err := s.failedErr()
	if err == nil {
		err = s.commitLogged(batch)
	}
	for _, r := range batch {
		if err != nil {
			r.err = fmt.Errorf("fs: index commit: %w", err)
		}
		if !r.lead {
			close(r.done)
		}
	}
}

// commitLogged is commitBatch's work; an error fails the whole batch.
//
// The journal record is written and fdatasynced inside the bbolt
// transaction, before it commits: when the journal cannot be written (a
// full disk, say) the transaction rolls back and only this batch fails. If
// bbolt then fails to commit, the durable record is retracted, so replay
// never applies a change the running store does not have; only when that
// too fails does the store stop taking writes.
func (s *Store) commitLogged(batch []*commitReq) (err error) {
	if s.nearMapEnd() {
		// This batch may make bbolt remap the index, which waits for every
		// read transaction: run it without the pin, right after a
		// checkpoint of the current state (it can then only reuse pages that
		// were already free at the checkpoint), and checkpoint again after,
		// whatever happens to the batch, so the pin is never left off.
		if err := s.checkpoint(s.jr.seq, journalHeader, false); err != nil {
			return s.fail(err)
		}
		s.unpin()
		defer func() {
			if cerr := s.checkpoint(s.jr.seq, journalHeader, false); cerr != nil {
				err = s.fail(cerr)
			}
		}()
	}
	t := &itx{log: s.logBuf[:0]}
	appended := false
	err = s.db.Update(func(tx *bolt.Tx) error {
		t.Tx = tx
		for _, r := range batch {
			r.err = r.fn(t)
			var a abortTx
			if errors.As(r.err, &a) {
				return a.err
			}
		}
		if len(t.log) == 0 {
			return nil
		}
		if err := s.jr.append(t.log); err != nil {
			return err
		}
		appended = true
		return nil
	})
	if cap(t.log) <= 1<<20 {
		s.logBuf = t.log[:0]
	}
	if err != nil {
		if appended {
			if rerr := s.jr.retract(); rerr != nil {
				return s.fail(fmt.Errorf("%w (and retracting its journal record: %w)", err, rerr))
			}
		}
		return err
	}
	s.sinceCk++
	if s.sinceCk%writebackEvery == 0 {
		// Spread the checkpoint's index writes over the interval instead
		// of making one commit wait for all of them.
		startWriteback(s.idx)
	}
	if s.pin != nil && (s.jr.off >= journalCheckpointBytes || s.sinceCk >= journalCheckpointBatches) {
		if cerr := s.checkpoint(s.jr.seq, journalHeader, false); cerr != nil {
			return s.fail(cerr)
		}
	}
	return nil
}

// writebackEvery is how many batches pass between two requests to the
// kernel to start writing the index's dirty pages back. Without them a
// checkpoint's fsync wrote everything since the last one while one commit
// waited: BenchmarkPut4KTail measured a 17–20 ms max and a 5.6–6.5 ms p999
// without, 3–4.7 ms and 2.2–3.0 ms with, for a p99 of 850–950 µs instead of
// 540–600 and a mean 5–9 % higher. Bounded stalls are worth more to S3
// clients than the p99.
const writebackEvery = 64

// nearMapEnd reports whether one batch could grow the index past the
// mapping reserved at Open (see journal.go on the pin and remaps).
func (s *Store) nearMapEnd() bool {
	hwm, ok := s.highWater()
	return !ok || hwm+maxBatchGrowth > s.mapReserve
}

// maxBatchGrowth bounds how much one batch can grow the index: at most
// maxCommitBatch changes of at most an inline object and its record each,
// with generous room for bbolt's branch pages.
const maxBatchGrowth = 4 * maxCommitBatch * (InlineMaxSize + 8<<10)

// checkpoint makes the index durable as it is now and records that state in
// the journal as the base that records from (nextSeq, start) continue; the
// pin moves to it. Only the leader, Open or Close calls it; clean is for
// Close's last one.
func (s *Store) checkpoint(nextSeq uint64, start int64, clean bool) error {
	if err := s.db.Sync(); err != nil {
		return fmt.Errorf("fs: syncing index: %w", err)
	}
	pin, err := s.db.Begin(false)
	if err != nil {
		return fmt.Errorf("fs: pinning index: %w", err)
	}
	c := checkpoint{
		gen:      s.jr.ck.gen + 1,
		nextSeq:  nextSeq,
		start:    start,
		txid:     uint64(pin.ID()),
		pageSize: uint32(s.db.Info().PageSize),
		meta:     make([]byte, metaSaved),
		clean:    clean,
	}
	if _, err := s.idx.ReadAt(c.meta, int64(c.txid%2)*int64(c.pageSize)); err != nil {
		_ = pin.Rollback()
		return fmt.Errorf("fs: reading index meta page: %w", err)
	}
	if got := binary.NativeEndian.Uint64(c.meta[metaTxidOff:]); got != c.txid {
		_ = pin.Rollback()
		return fmt.Errorf("fs: index meta page holds transaction %d, expected %d: unsupported index format", got, c.txid)
	}
	root := make([]byte, c.pageSize)
	if _, err := s.idx.ReadAt(root, int64(c.rootPage())*int64(c.pageSize)); err != nil {
		_ = pin.Rollback()
		return fmt.Errorf("fs: reading index root page: %w", err)
	}
	c.rootCRC = crc32.Checksum(root, castagnoli)
	if err := s.jr.writeCheckpoint(c); err != nil {
		_ = pin.Rollback()
		return err
	}
	s.unpin()
	s.pin = pin
	s.sinceCk = 0
	if start == journalHeader {
		s.jr.off = journalHeader
	}
	return nil
}

// unpin releases the read transaction that protects the last checkpoint.
func (s *Store) unpin() {
	if s.pin != nil {
		_ = s.pin.Rollback()
		s.pin = nil
	}
}

// fail stops all further writes: the index may now hold a change that is
// not durable (or the disk is failing), so carrying on could acknowledge
// writes that a restart would lose. Reads keep working; reopening the
// store recovers the durable state.
func (s *Store) fail(err error) error {
	err = fmt.Errorf("fs: store stopped accepting writes after a failed journal or index sync (reopen to recover): %w", err)
	s.cmu.Lock()
	if s.failed == nil {
		s.failed = err
	}
	s.cmu.Unlock()
	return err
}

func (s *Store) failedErr() error {
	s.cmu.Lock()
	defer s.cmu.Unlock()
	return s.failed
}

// highWater is the size of the index's used pages: bbolt never reads or
// writes at or above it.
func (s *Store) highWater() (int64, bool) {
	tx, err := s.db.Begin(false)
	if err != nil {
		return 0, false
	}
	defer func() { _ = tx.Rollback() }()
	return tx.Size(), true
}
