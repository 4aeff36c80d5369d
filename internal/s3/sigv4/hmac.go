package sigv4

import (
	"crypto/sha256"
	"hash"
	"sync"
)

// hmacSHA256 computes HMAC-SHA256 (RFC 2104) with two reusable SHA-256 states. crypto/hmac
// allocates a fresh pair of hashes per key; on the S3 hot path the key changes with every
// request (the signing key of the caller), so reusing the states here keeps Verify free of
// per-request allocations. Keys longer than the block size are hashed first, as RFC 2104 says.
type hmacSHA256 struct {
	inner, outer hash.Hash
	pad          [sha256.BlockSize]byte
	keyBuf       [sha256.Size]byte
	in           [sha256.Size]byte
}

func newHMAC() *hmacSHA256 {
	return &hmacSHA256{inner: sha256.New(), outer: sha256.New()}
}

// start begins a MAC under key; write the message to h.inner, then call finish.
func (h *hmacSHA256) start(key []byte) {
	if len(key) > sha256.BlockSize {
		h.keyBuf = sha256.Sum256(key)
		key = h.keyBuf[:]
	}
	for i := range h.pad {
		h.pad[i] = 0
	}
	copy(h.pad[:], key)
	for i := range h.pad {
		h.pad[i] ^= 0x36
	}
	h.inner.Reset()
	h.inner.Write(h.pad[:])
	for i := range h.pad {
		h.pad[i] ^= 0x36 ^ 0x5c
	}
	h.outer.Reset()
	h.outer.Write(h.pad[:])
}

// finish completes the MAC begun by start and writes it to out.
func (h *hmacSHA256) finish(out *[sha256.Size]byte) {
	h.inner.Sum(h.in[:0])
	h.outer.Write(h.in[:])
	h.outer.Sum(out[:0])
}

// mac is start, one write, finish.
func (h *hmacSHA256) mac(key, msg []byte, out *[sha256.Size]byte) {
	h.start(key)
	h.inner.Write(msg)
	h.finish(out)
}

// macString is mac for a string message.
func (h *hmacSHA256) macString(key []byte, msg string, out *[sha256.Size]byte) {
	h.start(key)
	h.inner.Write([]byte(msg))
	h.finish(out)
}

// deriveSigningKey computes the SigV4 signing key (AWS SigV4 "derive a signing key"):
// HMAC(HMAC(HMAC(HMAC("AWS4"+secret, date), region), service), "aws4_request").
func (h *hmacSHA256) deriveSigningKey(secret, date, region, service string, out *[sha256.Size]byte) {
	k := make([]byte, 0, 4+len(secret))
	k = append(k, "AWS4"...)
	k = append(k, secret...)
	h.macString(k, date, out)
	h.macString(out[:], region, out)
	h.macString(out[:], service, out)
	h.macString(out[:], "aws4_request", out)
	clear(k)
}

// keyCache caches derived signing keys per (access key id, secret, date, region, service).
// Deriving costs four HMACs; a caller signs many requests per day with one key, so the cache
// turns that into a map lookup. The secret is part of the cache key, so a key whose secret
// changes (rotation of the master key) never reuses a stale signing key.
//
// It is bounded by two generations: when the current map reaches max entries it becomes the
// old one and a fresh map starts; lookups consult both and promote hits. Memory stays at most
// 2*max entries without any per-entry bookkeeping.
type keyCache struct {
	mu       sync.RWMutex
	max      int
	cur, old map[string][sha256.Size]byte
}

// signingKeyCacheSize bounds each generation of the signing-key cache.
const signingKeyCacheSize = 4096

var signingKeys = newKeyCache(signingKeyCacheSize)

func newKeyCache(max int) *keyCache {
	return &keyCache{max: max, cur: make(map[string][sha256.Size]byte)}
}

// get looks up k (built by cacheKey) without allocating.
func (c *keyCache) get(k []byte) ([sha256.Size]byte, bool) {
	c.mu.RLock()
	v, ok := c.cur[string(k)]
	if !ok && c.old != nil {
		v, ok = c.old[string(k)]
		if ok {
			c.mu.RUnlock()
			c.put(k, v)
			return v, true
		}
	}
	c.mu.RUnlock()
	return v, ok
}

// put stores v under k, rotating generations when the current one is full.
func (c *keyCache) put(k []byte, v [sha256.Size]byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.cur) >= c.max {
		c.old = c.cur
		c.cur = make(map[string][sha256.Size]byte, c.max/4)
	}
	c.cur[string(k)] = v
}

// len reports the number of cached entries (both generations), for tests.
func (c *keyCache) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.cur) + len(c.old)
}

// appendCacheKey builds the cache key into dst. Fields are separated by NUL, which cannot
// appear in any of them in a request that passed parsing, so distinct tuples never collide.
func appendCacheKey(dst []byte, akid, secret, date, region, service string) []byte {
	dst = append(dst, akid...)
	dst = append(dst, 0)
	dst = append(dst, secret...)
	dst = append(dst, 0)
	dst = append(dst, date...)
	dst = append(dst, 0)
	dst = append(dst, region...)
	dst = append(dst, 0)
	dst = append(dst, service...)
	return dst
}

// signingKey returns the signing key for the tuple, from the cache when possible.
func signingKey(h *hmacSHA256, scratch []byte, akid, secret, date, region, service string) ([sha256.Size]byte, []byte) {
	scratch = appendCacheKey(scratch[:0], akid, secret, date, region, service)
	if v, ok := signingKeys.get(scratch); ok {
		return v, scratch
	}
	var v [sha256.Size]byte
	h.deriveSigningKey(secret, date, region, service, &v)
	signingKeys.put(scratch, v)
	return v, scratch
}
