package fs

import (
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// maxCommitBatch bounds how many index changes share one transaction, so one
// transaction never grows without bound under a flood of writes.
const maxCommitBatch = 256

// commitReq is one index change waiting for the commit loop.
type commitReq struct {
	fn   func(tx *bolt.Tx) error
	err  error
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
func (s *Store) update(fn func(tx *bolt.Tx) error) error {
	req := &commitReq{fn: fn, done: make(chan struct{})}
	select {
	case s.commits <- req:
	case <-s.closing:
		return ErrClosed
	}
	<-req.done
	return req.err
}

// commitLoop is the single writer. It takes the first waiting change, adds
// every change that is already queued (without waiting for more, so a lone
// writer pays no latency), and commits them in one bbolt transaction.
func (s *Store) commitLoop() {
	defer close(s.loopDone)
	batch := make([]*commitReq, 0, maxCommitBatch)
	for {
		var first *commitReq
		select {
		case first = <-s.commits:
		case <-s.closing:
			return
		}
		batch = append(batch[:0], first)
	drain:
		for len(batch) < maxCommitBatch {
			select {
			case r := <-s.commits:
				batch = append(batch, r)
			default:
				break drain
			}
		}
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
			close(r.done)
		}
	}
}
