package fs

import (
	"fmt"
	"os"
)

// Index preallocation.
//
// A growing index (an object store mostly grows) makes bbolt write its new
// pages past the end of what the file has ever held: bbolt extends the file
// with ftruncate, which leaves a hole, so every commit's first fdatasync
// also has to allocate blocks, which on ext4/xfs means a journal commit.
// Measured here (ext4 on virtio, 4 KiB write + fdatasync): ~110 µs for an
// overwrite of written blocks, ~195 µs into a hole or a fallocate'd range
// (unwritten extents are converted through the journal too), ~170–275 µs
// appending. So the store keeps a zero-filled, already-synced margin beyond
// bbolt's high-water mark: bbolt's commits then only overwrite, and the
// block allocation is paid once per prewriteChunk instead of once per commit.
//
// Safety: the margin is written only by the commit leader between two
// transactions (no write transaction is running, and bbolt never reads or
// writes a page at or above its high-water mark), and only at or above that
// mark; a crash in the middle leaves zeros where bbolt expects nothing.
// bbolt's own growth (ftruncate to a larger size) never shrinks the file,
// and when the file is already long enough it skips the truncate and its
// fsync altogether.
const (
	// prewriteAhead is how far ahead of the high-water mark the written
	// margin must reach after each commit.
	prewriteAhead = 1 << 20
	// prewriteChunk is how much one extension writes (then fdatasyncs).
	prewriteChunk = 2 << 20
)

// zeroPage is the source of the margin's zeros (a write of up to
// prewriteChunk is issued in slices of it).
var zeroPage [256 << 10]byte

// prewriter extends the zero-filled margin of the index file.
type prewriter struct {
	f  *os.File // the file, opened a second time for the index
	to int64    // bytes [0, to) are known to be written and synced
}

// openPrewriter opens the index file for the margin (and for reading meta
// pages). The margin starts at the high-water mark hwm: bbolt may have
// left a hole above it.
func openPrewriter(path string, hwm int64) (*prewriter, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("fs: opening index for preallocation: %w", err)
	}
	return &prewriter{f: f, to: hwm}, nil
}

// extend makes sure [hwm, hwm+prewriteAhead) is written and synced. It must
// be called only while no write transaction can run. An error is not fatal
// to the store (bbolt just pays for block allocation itself); the caller
// logs nothing and tries again after the next commit.
func (p *prewriter) extend(hwm int64) error {
	if p.to < hwm {
		p.to = hwm // never write below bbolt's pages
	}
	if p.to >= hwm+prewriteAhead {
		return nil
	}
	end := hwm + prewriteAhead + prewriteChunk
	for off := p.to; off < end; {
		n := min(int64(len(zeroPage)), end-off)
		if _, err := p.f.WriteAt(zeroPage[:n], off); err != nil {
			return fmt.Errorf("fs: preallocating index: %w", err)
		}
		off += n
	}
	if err := p.f.Sync(); err != nil {
		return fmt.Errorf("fs: syncing index preallocation: %w", err)
	}
	p.to = end
	return nil
}

func (p *prewriter) close() error { return p.f.Close() }
