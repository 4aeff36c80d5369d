package fs

import (
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// maxCommitBatch bounds how many index changes share one transaction, so one
// transaction never grows without bound under a flood of writes.
const maxCommitBatch = 256

// commitReq is one index change waiting to be committed.
type commitReq struct {
	fn  func(tx *bolt.Tx) error
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
// before its first write, and wrap write errors with must.
//
// There is no committer goroutine: the caller that finds no commit running
// becomes the leader and commits the queue on its own goroutine (so a lone
// writer pays no goroutine hand-off, which costs real time on a busy
// machine); callers arriving meanwhile queue up. When the leader's batch is
// durable it hands leadership to the first queued caller, whose batch is
// everything queued by then, and returns.
func (s *Store) update(fn func(tx *bolt.Tx) error) error {
	req := &commitReq{fn: fn, done: make(chan struct{})}
	s.cmu.Lock()
	if s.closed {
		s.cmu.Unlock()
		return ErrClosed
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

// commitBatch runs every request of batch in one bbolt transaction, then
// releases the waiting ones (the leader's own request has nobody waiting,
// and a promoted leader's channel is already closed).
func (s *Store) commitBatch(batch []*commitReq) {
	err := s.db.Update(func(tx *bolt.Tx) error {
		for _, r := range batch {
			r.err = r.fn(tx)
			var a abortTx
			if errors.As(r.err, &a) {
				return a.err
			}
		}
		return nil
	})
	for _, r := range batch {
		if err != nil {
			r.err = fmt.Errorf("fs: index commit: %w", err)
		}
		if !r.lead {
			close(r.done)
		}
	}
}
