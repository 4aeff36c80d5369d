package fs

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/s3fed/s3fed/internal/storage"
)

// genReader yields n pseudo-random bytes (xorshift) without holding them,
// hashing what it hands out and sampling the heap every 4 MiB.
type genReader struct {
	left    int64
	state   uint64
	h       hash.Hash
	sampler *heapSampler
	since   int64
}

func (g *genReader) Read(p []byte) (int, error) {
	if g.left == 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > g.left {
		p = p[:g.left]
	}
	for i := 0; i < len(p); i += 8 {
		g.state ^= g.state << 13
		g.state ^= g.state >> 7
		g.state ^= g.state << 17
		var w [8]byte
		binary.LittleEndian.PutUint64(w[:], g.state)
		copy(p[i:], w[:])
	}
	g.h.Write(p)
	g.left -= int64(len(p))
	g.since += int64(len(p))
	if g.since >= 4<<20 {
		g.since = 0
		g.sampler.sample()
	}
	return len(p), nil
}

// heapSampler records the largest HeapInuse seen above a baseline.
type heapSampler struct {
	base, peak uint64
}

func newHeapSampler() *heapSampler {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return &heapSampler{base: m.HeapInuse}
}

func (h *heapSampler) sample() {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	if m.HeapInuse > h.peak {
		h.peak = m.HeapInuse
	}
}

func (h *heapSampler) delta() int64 { return int64(h.peak) - int64(h.base) }

// hashingWriter hashes what it is given and samples the heap every 4 MiB.
type hashingWriter struct {
	h       hash.Hash
	n       int64
	since   int64
	sampler *heapSampler
}

func (w *hashingWriter) Write(p []byte) (int, error) {
	w.h.Write(p)
	w.n += int64(len(p))
	w.since += int64(len(p))
	if w.since >= 4<<20 {
		w.since = 0
		w.sampler.sample()
	}
	return len(p), nil
}

// TestStreaming256MiBFlatMemory PUTs and GETs 256 MiB generated on the fly
// and checks that the heap in use never grows by more than 16 MiB: nothing
// is buffered whole in either direction.
func TestStreaming256MiBFlatMemory(t *testing.T) {
	const size = 256 << 20
	const bound = 16 << 20
	ctx := context.Background()
	s := newStore(t)
	mkBucket(t, s, "mem")

	sampler := newHeapSampler()
	gen := &genReader{left: size, state: 88172645463325252, h: md5.New(), sampler: sampler}
	// Size -1: the unknown-length path (buffer a prefix, then spill to a
	// file), which is what the front door uses for aws-chunked bodies.
	info, err := s.PutObject(ctx, "mem", "big", gen, storage.PutOptions{Size: -1})
	if err != nil {
		t.Fatal(err)
	}
	sampler.sample()
	if want := hex.EncodeToString(gen.h.Sum(nil)); info.ETag != want || info.Size != size {
		t.Fatalf("PUT info %+v, want ETag %s", info, want)
	}
	putDelta := sampler.delta()

	sampler = newHeapSampler()
	_, rc, err := s.GetObject(ctx, "mem", "big", nil)
	if err != nil {
		t.Fatal(err)
	}
	w := &hashingWriter{h: md5.New(), sampler: sampler}
	if _, err := io.Copy(w, rc); err != nil {
		t.Fatal(err)
	}
	rc.Close()
	sampler.sample()
	getDelta := sampler.delta()
	if got := hex.EncodeToString(w.h.Sum(nil)); w.n != size || got != info.ETag {
		t.Fatalf("GET returned %d bytes with MD5 %s", w.n, got)
	}
	t.Logf("256 MiB PUT: peak HeapInuse delta %.2f MiB; GET: %.2f MiB", float64(putDelta)/(1<<20), float64(getDelta)/(1<<20))
	if putDelta > bound || getDelta > bound {
		t.Fatalf("heap grew by %d (PUT) / %d (GET) bytes; bound %d", putDelta, getDelta, bound)
	}
}

func benchStore(b *testing.B) *Store {
	s := openStore(b, b.TempDir(), Options{})
	mkBucket(b, s, "bench")
	return s
}

// BenchmarkPut4K is one client writing 4 KiB objects, each fsynced and
// committed before the next starts (fresh keys).
func BenchmarkPut4K(b *testing.B) {
	s := benchStore(b)
	body := bytesOf(4096, 1)
	ctx := context.Background()
	b.SetBytes(4096)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := s.PutObject(ctx, "bench", fmt.Sprintf("k%08d", i), bytes.NewReader(body), storage.PutOptions{Size: 4096}); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkPut4KTail is BenchmarkPut4K over a fixed set of 3000 keys
// (overwrites, so the index stops growing), reporting the latency
// distribution: the journal's checkpoints fsync the index every 4 MiB of
// records, and their cost shows in the tail, not the median.
func BenchmarkPut4KTail(b *testing.B) {
	s := benchStore(b)
	body := bytesOf(4096, 1)
	ctx := context.Background()
	b.SetBytes(4096)
	var lat []time.Duration
	i := 0
	for b.Loop() {
		start := time.Now()
		if _, err := s.PutObject(ctx, "bench", fmt.Sprintf("k%08d", i%3000), bytes.NewReader(body), storage.PutOptions{Size: 4096}); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
		i++
	}
	slices.Sort(lat)
	at := func(q float64) float64 { return float64(lat[int(q*float64(len(lat)-1))].Microseconds()) }
	b.ReportMetric(at(0.5), "p50-µs")
	b.ReportMetric(at(0.99), "p99-µs")
	b.ReportMetric(at(0.999), "p999-µs")
	b.ReportMetric(at(1), "max-µs")
}

// BenchmarkPut4KParallel is 8 concurrent writers per GOMAXPROCS; group
// commit shares the index fsyncs among them.
func BenchmarkPut4KParallel(b *testing.B) {
	s := benchStore(b)
	body := bytesOf(4096, 1)
	ctx := context.Background()
	b.SetBytes(4096)
	b.ReportAllocs()
	b.SetParallelism(8)
	var n int64
	var mu = make(chan struct{}, 1)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			mu <- struct{}{}
			n++
			k := n
			<-mu
			if _, err := s.PutObject(ctx, "bench", fmt.Sprintf("k%08d", k), bytes.NewReader(body), storage.PutOptions{Size: 4096}); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func benchGetSetup(b *testing.B) *Store {
	s := benchStore(b)
	body := bytesOf(4096, 1)
	for i := range 100 {
		if _, err := s.PutObject(context.Background(), "bench", fmt.Sprintf("k%03d", i), bytes.NewReader(body), storage.PutOptions{Size: 4096}); err != nil {
			b.Fatal(err)
		}
	}
	return s
}

// BenchmarkGet4K reads whole 4 KiB objects (index lookup, open, read, close).
func BenchmarkGet4K(b *testing.B) {
	s := benchGetSetup(b)
	ctx := context.Background()
	buf := make([]byte, 8192)
	b.SetBytes(4096)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		_, rc, err := s.GetObject(ctx, "bench", fmt.Sprintf("k%03d", i%100), nil)
		if err != nil {
			b.Fatal(err)
		}
		if n, err := io.ReadFull(rc, buf[:4096]); n != 4096 || err != nil {
			b.Fatal(n, err)
		}
		rc.Close()
		i++
	}
}

// BenchmarkGet4KParallel is BenchmarkGet4K with 8 readers per GOMAXPROCS.
func BenchmarkGet4KParallel(b *testing.B) {
	s := benchGetSetup(b)
	ctx := context.Background()
	b.SetBytes(4096)
	b.ReportAllocs()
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		buf := make([]byte, 4096)
		i := 0
		for pb.Next() {
			_, rc, err := s.GetObject(ctx, "bench", fmt.Sprintf("k%03d", i%100), nil)
			if err != nil {
				b.Error(err)
				return
			}
			if n, err := io.ReadFull(rc, buf); n != 4096 || err != nil {
				b.Error(n, err)
				return
			}
			rc.Close()
			i++
		}
	})
}

// BenchmarkPut1M and BenchmarkGet1M show streaming throughput for objects
// that take the content-file path (fsync, rename, directory fsync, commit).
func BenchmarkPut1M(b *testing.B) {
	s := benchStore(b)
	body := bytesOf(1<<20, 1)
	ctx := context.Background()
	b.SetBytes(1 << 20)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := s.PutObject(ctx, "bench", fmt.Sprintf("k%08d", i), bytes.NewReader(body), storage.PutOptions{Size: -1}); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkGet1M(b *testing.B) {
	s := benchStore(b)
	ctx := context.Background()
	if _, err := s.PutObject(ctx, "bench", "k", bytes.NewReader(bytesOf(1<<20, 1)), storage.PutOptions{Size: -1}); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(1 << 20)
	b.ReportAllocs()
	for b.Loop() {
		_, rc, err := s.GetObject(ctx, "bench", "k", nil)
		if err != nil {
			b.Fatal(err)
		}
		if n, err := io.Copy(io.Discard, rc); n != 1<<20 || err != nil {
			b.Fatal(n, err)
		}
		rc.Close()
	}
}
