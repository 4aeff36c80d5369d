package fs

import (
	"encoding/binary"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Index changes are made through itx, never directly on a bolt.Tx: each
// change is applied to the index and appended, in a compact physical form,
// to the transaction's log, which the commit writes to the journal (see
// journal.go). The journal is what makes a change durable, so a change that
// is not logged would be lost by a crash; routing every write through the
// one applier below also means that replaying the journal runs exactly the
// code the live commit ran.

// Kinds of physical index change.
const (
	opPut          byte = 1 // put key → value in a table
	opDelete       byte = 2 // delete key from a table
	opCreateBucket byte = 3 // create a table if it does not exist
	opDeleteBucket byte = 4 // delete a table and everything in it
)

// errBadOp is a journal record that does not decode or does not apply: the
// journal or the index is damaged.
var errBadOp = errors.New("fs: journal: malformed or inapplicable index change")

// itx is a write transaction that logs its changes. Reads go to the
// embedded bolt.Tx. A table is named by its top-level name and, for an
// upload's table, the nested name inside it (sub == nil for top level).
type itx struct {
	*bolt.Tx
	log []byte
}

// put stores key → val in table top (or top's nested table sub).
func (t *itx) put(top, sub, key, val []byte) error {
	return t.do(opPut, top, sub, key, val)
}

// del deletes key from table top (or top's nested table sub).
func (t *itx) del(top, sub, key []byte) error {
	return t.do(opDelete, top, sub, key, nil)
}

// createTable creates table top (or top's nested table sub) if absent.
func (t *itx) createTable(top, sub []byte) error {
	return t.do(opCreateBucket, top, sub, nil, nil)
}

// deleteTable deletes table top (or top's nested table sub) with its
// contents.
func (t *itx) deleteTable(top, sub []byte) error {
	return t.do(opDeleteBucket, top, sub, nil, nil)
}

// do applies one change and logs it. An error is an abortTx: the change
// may have been half made, so the whole batch must roll back.
func (t *itx) do(kind byte, top, sub, key, val []byte) error {
	if err := applyOp(t.Tx, kind, top, sub, key, val); err != nil {
		return must(err)
	}
	t.log = append(t.log, kind)
	t.log = appendBytes(t.log, top)
	if sub == nil {
		t.log = append(t.log, 0)
	} else {
		t.log = append(t.log, 1)
		t.log = appendBytes(t.log, sub)
	}
	if kind == opPut || kind == opDelete {
		t.log = appendBytes(t.log, key)
	}
	if kind == opPut {
		t.log = appendBytes(t.log, val)
	}
	return nil
}

func appendBytes(b, v []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

// applyOp makes one change in tx. It is the only code that writes to the
// index, live or in replay.
func applyOp(tx *bolt.Tx, kind byte, top, sub, key, val []byte) error {
	switch kind {
	case opCreateBucket, opDeleteBucket:
		if sub == nil {
			if kind == opCreateBucket {
				_, err := tx.CreateBucketIfNotExists(top)
				return err
			}
			return tx.DeleteBucket(top)
		}
		parent := tx.Bucket(top)
		if parent == nil {
			return fmt.Errorf("%w: no table %q", errBadOp, top)
		}
		if kind == opCreateBucket {
			_, err := parent.CreateBucketIfNotExists(sub)
			return err
		}
		return parent.DeleteBucket(sub)
	case opPut, opDelete:
		b := tx.Bucket(top)
		if b != nil && sub != nil {
			b = b.Bucket(sub)
		}
		if b == nil {
			return fmt.Errorf("%w: no table %q/%q", errBadOp, top, sub)
		}
		if kind == opPut {
			return b.Put(key, val)
		}
		return b.Delete(key)
	}
	return fmt.Errorf("%w: kind %d", errBadOp, kind)
}

// replayOps applies a logged sequence of changes (one journal record) to tx.
func replayOps(tx *bolt.Tx, log []byte) error {
	for len(log) > 0 {
		kind := log[0]
		log = log[1:]
		var top, sub, key, val []byte
		var ok bool
		if top, log, ok = readBytes(log); !ok || len(log) == 0 {
			return errBadOp
		}
		hasSub := log[0]
		log = log[1:]
		switch hasSub {
		case 0:
		case 1:
			if sub, log, ok = readBytes(log); !ok {
				return errBadOp
			}
			if sub == nil {
				sub = []byte{}
			}
		default:
			return errBadOp
		}
		if kind == opPut || kind == opDelete {
			if key, log, ok = readBytes(log); !ok {
				return errBadOp
			}
		}
		if kind == opPut {
			if val, log, ok = readBytes(log); !ok {
				return errBadOp
			}
		}
		if err := applyOp(tx, kind, top, sub, key, val); err != nil {
			return fmt.Errorf("fs: journal replay: %w", err)
		}
	}
	return nil
}

func readBytes(b []byte) (v, rest []byte, ok bool) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)-k) {
		return nil, nil, false
	}
	return b[k : k+int(n)], b[k+int(n):], true
}
