package fs

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"time"
)

// The journal (DIR/index.wal).
//
// A bbolt commit costs two fdatasyncs of scattered pages (the tree's
// copied-on-write pages, then the meta page); on the machines s3fed was
// measured on that was most of a small PUT's time and CPU. With the journal,
// a commit is instead: the transaction's changes, in physical form
// (itx.go), appended to this file and made durable by one fdatasync of a
// contiguous, already-allocated range, then the bbolt transaction
// committed without its fsyncs (NoSync: pages reach the page cache, readers
// see them at once). The commit returning is the acknowledgement point. A
// journal write that fails rolls the transaction back (only that batch
// fails); a bbolt commit that fails after its record is durable retracts
// the record (see commitLogged).
//
// Every so often (journalCheckpointBytes of records or
// journalCheckpointBatches batches) a checkpoint makes the index itself
// durable: fsync index.db, save a copy of the meta page of the last
// transaction X (and a checksum of X's root page) in this file's header,
// and start the records again.
//
// Recovery (every Open, clean or not) puts the index back to checkpoint X
// and replays the records after it:
//   - X's root page must still be in the index byte for byte (belongsTo);
//     otherwise the index is not the one the journal continues (restored
//     from a backup, say) and Open refuses instead of writing into it.
//   - bbolt without fsyncs may leave on disk, after a power loss, any mix
//     of the pages written since X, including a meta page pointing at pages
//     that never made it. So Open first writes X's saved meta page back
//     into its slot and invalidates the other slot: bbolt then opens
//     exactly the tree of X.
//   - X's tree is intact because its pages cannot have been overwritten:
//     the store holds a read transaction on X (the pin) until the next
//     checkpoint is durable, and bbolt never reuses a page that an open
//     read transaction can see. Pages written after X are all either new
//     or were already free at X.
//   - Then each record after X, in order, is applied through the same
//     applier the live commits used (applyOp), and a new checkpoint is
//     taken before the store serves anything.
//
// A record is acknowledged only after its fdatasync, so a torn or missing
// record at the end is a change nobody was told about; replay stops at the
// first record whose checksum or sequence number is wrong.
//
// The pin has one cost to manage: bbolt must remap its file to grow past
// its current mapping, and a remap waits for every read transaction,
// including the pin, which would deadlock the commit. The index is
// therefore mapped with a large initial size (mmapReserve), and a batch
// that could grow the index past it runs unpinned, between two checkpoints
// (see commitLogged).
//
// Layout: two checkpoint slots of ckptSlotSize bytes (written alternately,
// each with a CRC, the newer valid one wins), then records from
// journalHeader on: payload length (uint32), CRC-32C of sequence and
// payload (uint32), sequence number (uint64), payload (itx's log of one
// batch). Sequence numbers never restart, so records left over from
// before a checkpoint are recognised as stale.

const (
	journalFile   = "index.wal"
	ckptSlotSize  = 4096
	journalHeader = 2 * ckptSlotSize
	recordHeader  = 16
	// metaSaved is how much of the meta page a checkpoint keeps: bbolt's
	// page header and meta fit in its first hundred bytes.
	metaSaved = 1024
	// maxRecordPayload bounds one record; a batch is at most maxCommitBatch
	// changes of at most an inline object each, far below it.
	maxRecordPayload = 256 << 20
	ckptMagic        = "s3fedJ01"
)

// journalCheckpointBytes and journalCheckpointBatches are how far the
// records may grow before a checkpoint: they bound replay at Open and how
// long pages freed since the last checkpoint stay unusable, and the
// batches bound bbolt's per-commit work over its pending pages, which grows
// with the number of transactions the pin holds back (measured: a 4 KiB
// PUT took 1.6x as long with 16 MiB between checkpoints as with 4 MiB).
// Variables so tests can force checkpoints.
var (
	journalCheckpointBytes   int64 = 4 << 20
	journalCheckpointBatches       = 1024
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// errJournal is a journal that cannot be read back: the store refuses to
// open rather than guess.
var errJournal = errors.New("fs: journal damaged")

// checkpoint is a durable index state the journal's records continue.
type checkpoint struct {
	gen      uint64 // which checkpoint this is; the slot is gen%2
	nextSeq  uint64 // sequence number of the first record after it
	start    int64  // file offset of that record
	txid     uint64 // bbolt transaction the index was synced at
	pageSize uint32
	meta     []byte // the first metaSaved bytes of the meta page of txid
	rootCRC  uint32 // CRC-32C of the tree's root page at txid
	// clean marks the checkpoint Close takes: nothing ran after it, so no
	// crash can have left orphaned files (Open skips its garbage scan).
	clean bool
}

// Offsets in a bbolt meta page (file format 2): a 16-byte page header, then
// magic, version, page size, flags (4 bytes each), the root bucket's page
// and sequence, the freelist page, the high-water page, the txid.
const (
	metaRootOff = 16 + 16
	metaTxidOff = 16 + 48
)

func (c *checkpoint) rootPage() uint64 { return binary.NativeEndian.Uint64(c.meta[metaRootOff:]) }

// belongsTo checks that f is the index this checkpoint describes: the
// checkpoint's root page is never overwritten while the checkpoint is the
// newest (the pin), so it must still be there byte for byte. An index
// restored from a backup, or another store's, fails here instead of having
// a foreign meta page written into it.
func (c *checkpoint) belongsTo(f *os.File) error {
	page := make([]byte, c.pageSize)
	if _, err := f.ReadAt(page, int64(c.rootPage())*int64(c.pageSize)); err != nil {
		return fmt.Errorf("%w: reading the checkpoint's root page: %w", errJournal, err)
	}
	if crc32.Checksum(page, castagnoli) != c.rootCRC {
		return fmt.Errorf("%w: the index is not the one the journal continues (restored from elsewhere?); move index.wal aside to open the index as it is", errJournal)
	}
	return nil
}

func (c *checkpoint) encode() []byte {
	b := make([]byte, ckptSlotSize)
	copy(b, ckptMagic)
	p := b[16:16]
	p = binary.LittleEndian.AppendUint64(p, c.gen)
	p = binary.LittleEndian.AppendUint64(p, c.nextSeq)
	p = binary.LittleEndian.AppendUint64(p, uint64(c.start))
	p = binary.LittleEndian.AppendUint64(p, c.txid)
	p = binary.LittleEndian.AppendUint32(p, c.pageSize)
	p = binary.LittleEndian.AppendUint32(p, c.rootCRC)
	var flags uint32
	if c.clean {
		flags |= 1
	}
	p = binary.LittleEndian.AppendUint32(p, flags)
	p = binary.LittleEndian.AppendUint32(p, uint32(len(c.meta)))
	p = append(p, c.meta...)
	binary.LittleEndian.PutUint32(b[12:], uint32(len(p)))
	binary.LittleEndian.PutUint32(b[8:], crc32.Checksum(b[12:16+len(p)], castagnoli))
	return b
}

func decodeCheckpoint(b []byte) (checkpoint, bool) {
	if len(b) < 16 || string(b[:8]) != ckptMagic {
		return checkpoint{}, false
	}
	n := int(binary.LittleEndian.Uint32(b[12:]))
	if n < 48 || n > len(b)-16 {
		return checkpoint{}, false
	}
	if crc32.Checksum(b[12:16+n], castagnoli) != binary.LittleEndian.Uint32(b[8:]) {
		return checkpoint{}, false
	}
	p := b[16 : 16+n]
	c := checkpoint{
		gen:      binary.LittleEndian.Uint64(p),
		nextSeq:  binary.LittleEndian.Uint64(p[8:]),
		start:    int64(binary.LittleEndian.Uint64(p[16:])),
		txid:     binary.LittleEndian.Uint64(p[24:]),
		pageSize: binary.LittleEndian.Uint32(p[32:]),
		rootCRC:  binary.LittleEndian.Uint32(p[36:]),
		clean:    binary.LittleEndian.Uint32(p[40:])&1 != 0,
	}
	m := int(binary.LittleEndian.Uint32(p[44:]))
	if m != len(p)-48 || m != metaSaved || c.pageSize < 1024 || c.start < journalHeader {
		return checkpoint{}, false
	}
	c.meta = append([]byte(nil), p[48:]...)
	return c, true
}

// journal is the open journal file. Only the commit leader (or Open and
// Close, which run alone) uses it.
type journal struct {
	f    *os.File
	pre  *prewriter // keeps the record area ahead of off written
	off  int64      // where the next record goes
	last int64      // where the last appended record starts
	ck   checkpoint // the newest durable checkpoint
	seq  uint64     // sequence number of the next record
	buf  []byte     // record assembly
}

// openJournal opens (creating if needed) and locks the journal, then reads
// its newest valid checkpoint; ok is false when it has none (a new journal,
// or one whose first checkpoint never became durable, before which no
// record was ever written). The lock is held until close.
func openJournal(path string, timeout time.Duration) (j *journal, ok bool, err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, false, fmt.Errorf("fs: opening journal: %w", err)
	}
	if err := lockFile(f, timeout); err != nil {
		_ = f.Close()
		return nil, false, err
	}
	size := int64(0)
	if fi, err := f.Stat(); err == nil {
		size = fi.Size() // never truncated, so every block up to here is written
	}
	j = &journal{f: f, off: journalHeader, pre: &prewriter{f: f, to: size}}
	var slots [2 * ckptSlotSize]byte
	n, err := f.ReadAt(slots[:], 0)
	if err != nil && !errors.Is(err, io.EOF) {
		_ = f.Close()
		return nil, false, fmt.Errorf("fs: reading journal: %w", err)
	}
	for i := 0; i < 2; i++ {
		end := min((i+1)*ckptSlotSize, n)
		if end <= i*ckptSlotSize {
			continue
		}
		if c, valid := decodeCheckpoint(slots[i*ckptSlotSize : end]); valid && c.gen%2 == uint64(i) && (!ok || c.gen > j.ck.gen) {
			j.ck, ok = c, true
		}
	}
	if ok {
		j.seq = j.ck.nextSeq
	}
	return j, ok, nil
}

// reset empties the journal: no checkpoint, no records.
func (j *journal) reset() error {
	if err := j.f.Truncate(0); err != nil {
		return fmt.Errorf("fs: emptying journal: %w", err)
	}
	if err := fdatasync(j.f); err != nil {
		return fmt.Errorf("fs: syncing journal: %w", err)
	}
	j.ck, j.seq, j.off, j.pre.to = checkpoint{}, 0, journalHeader, 0
	return nil
}

// records calls fn for each valid record after the checkpoint, in order,
// with the record's sequence number and the file offsets where it starts
// and ends, and leaves seq after the last one. It stops at the first
// record that is torn, stale (wrong sequence number) or absent.
func (j *journal) records(fn func(payload []byte, seq uint64, start, end int64) error) error {
	off := j.ck.start
	r := bufio.NewReaderSize(io.NewSectionReader(j.f, off, 1<<62), 1<<20)
	var hdr [recordHeader]byte
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return nil // end of file: no further record
		}
		n := binary.LittleEndian.Uint32(hdr[0:])
		sum := binary.LittleEndian.Uint32(hdr[4:])
		seq := binary.LittleEndian.Uint64(hdr[8:])
		if seq != j.seq || n == 0 || n > maxRecordPayload {
			return nil
		}
		payload := make([]byte, n)
		if _, err := io.ReadFull(r, payload); err != nil {
			return nil
		}
		if crc32.Update(crc32.Checksum(hdr[8:], castagnoli), castagnoli, payload) != sum {
			return nil
		}
		end := off + recordHeader + int64(n)
		if err := fn(payload, seq, off, end); err != nil {
			return err
		}
		off = end
		j.seq++
	}
}

// append writes one record and makes it durable. On error nothing is
// acknowledged and the next record goes to the same place with the same
// sequence number, so whatever part of this one reached the disk is
// overwritten (or, at the end, ignored by replay as torn).
func (j *journal) append(payload []byte) error {
	if len(payload) > maxRecordPayload {
		return fmt.Errorf("fs: journal record of %d bytes", len(payload))
	}
	_ = j.pre.extend(j.off + int64(recordHeader+len(payload)))
	b := j.buf[:0]
	b = binary.LittleEndian.AppendUint32(b, uint32(len(payload)))
	b = binary.LittleEndian.AppendUint32(b, 0)
	b = binary.LittleEndian.AppendUint64(b, j.seq)
	b = append(b, payload...)
	binary.LittleEndian.PutUint32(b[4:], crc32.Update(crc32.Checksum(b[8:16], castagnoli), castagnoli, payload))
	j.buf = b
	if cap(j.buf) > 1<<20 {
		j.buf = nil // do not keep a huge batch's buffer
	}
	if _, err := j.f.WriteAt(b, j.off); err != nil {
		return fmt.Errorf("fs: writing journal: %w", err)
	}
	if err := fdatasync(j.f); err != nil {
		return fmt.Errorf("fs: syncing journal: %w", err)
	}
	j.last = j.off
	j.off += int64(len(b))
	j.seq++
	return nil
}

// retract undoes the last append, whose change did not reach the index:
// its header is zeroed (replay stops there) and the next record takes its
// place.
func (j *journal) retract() error {
	var zero [recordHeader]byte
	if _, err := j.f.WriteAt(zero[:], j.last); err != nil {
		return fmt.Errorf("fs: retracting journal record: %w", err)
	}
	if err := fdatasync(j.f); err != nil {
		return fmt.Errorf("fs: syncing journal: %w", err)
	}
	j.off = j.last
	j.seq--
	return nil
}

// writeCheckpoint makes c the newest checkpoint. The caller moves off.
func (j *journal) writeCheckpoint(c checkpoint) error {
	if _, err := j.f.WriteAt(c.encode(), int64(c.gen%2)*ckptSlotSize); err != nil {
		return fmt.Errorf("fs: writing journal checkpoint: %w", err)
	}
	if err := fdatasync(j.f); err != nil {
		return fmt.Errorf("fs: syncing journal checkpoint: %w", err)
	}
	j.ck = c
	return nil
}

func (j *journal) close() error { return j.f.Close() }
