// Package creds mints, derives and looks up s3fed's temporary S3 credentials.
//
// Secrets are derived, never stored (DESIGN.md decision 1): an access key ID
// carries the epoch of the master key that made it, and its secret is
// HMAC-SHA256(masterKey[epoch], accessKeyID). The store keeps only the claims
// (store.AccessKey), so a database dump leaks no usable secret, and rotating
// the master key is adding an epoch. Lookup is the only way back from an ID to
// a secret, and it derives the secret rather than reading one.
package creds

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/s3fed/s3fed/internal/identity"
	"github.com/s3fed/s3fed/internal/store"
)

// Access key ID layout: Prefix, two base32 characters of epoch, then
// randomChars base32 characters (5 bits each: 110 random bits).
const (
	Prefix      = "SFED"
	randomChars = 22
	// IDLength is the length of every access key ID s3fed issues.
	IDLength = len(Prefix) + 2 + randomChars
	// MaxEpoch is the largest key epoch two base32 characters can carry.
	MaxEpoch = 32*32 - 1
)

// Duration limits (API.md).
const (
	DefaultDuration = time.Hour
	MinDuration     = time.Second
	MaxDuration     = 12 * time.Hour
)

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

const b32alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"

// Lookup errors; the S3 front door maps them to InvalidAccessKeyId and
// ExpiredToken.
var (
	ErrUnknownKey = errors.New("unknown access key")
	ErrRevoked    = errors.New("access key revoked")
	ErrExpired    = errors.New("access key expired")
)

// Keyring holds the master keys by epoch. New keys are minted with Current;
// older epochs stay to derive the secrets of keys they issued.
type Keyring struct {
	Current uint16
	Keys    map[uint16][]byte
}

// Validate checks the keyring can mint and derive.
func (k *Keyring) Validate() error {
	if k == nil || len(k.Keys) == 0 {
		return errors.New("keyring is empty")
	}
	if k.Current > MaxEpoch {
		return fmt.Errorf("epoch %d exceeds the maximum %d", k.Current, MaxEpoch)
	}
	for e, key := range k.Keys {
		if len(key) < 32 {
			return fmt.Errorf("master key of epoch %d is %d bytes; at least 32 are required", e, len(key))
		}
	}
	if _, ok := k.Keys[k.Current]; !ok {
		return fmt.Errorf("no master key for the current epoch %d", k.Current)
	}
	return nil
}

// NewMasterKey returns 32 random bytes.
func NewMasterKey() []byte {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return b
}

func encodeEpoch(e uint16) string {
	return string([]byte{b32alphabet[e>>5], b32alphabet[e&31]})
}

func decodeEpoch(s string) (uint16, bool) {
	hi := strings.IndexByte(b32alphabet, s[0])
	lo := strings.IndexByte(b32alphabet, s[1])
	if hi < 0 || lo < 0 {
		return 0, false
	}
	return uint16(hi<<5 | lo), true
}

// NewAccessKeyID returns a fresh ID for the current epoch.
func (k *Keyring) NewAccessKeyID() string {
	var b [14]byte
	_, _ = rand.Read(b[:])
	return Prefix + encodeEpoch(k.Current) + b32.EncodeToString(b[:])[:randomChars]
}

// WellFormed reports whether id has the shape of an s3fed access key ID.
func WellFormed(id string) bool {
	if len(id) != IDLength || !strings.HasPrefix(id, Prefix) {
		return false
	}
	for i := len(Prefix); i < len(id); i++ {
		if strings.IndexByte(b32alphabet, id[i]) < 0 {
			return false
		}
	}
	return true
}

func (k *Keyring) mac(id, purpose string) (string, error) {
	if !WellFormed(id) {
		return "", ErrUnknownKey
	}
	epoch, _ := decodeEpoch(id[len(Prefix):])
	key, ok := k.Keys[epoch]
	if !ok {
		return "", fmt.Errorf("%w: master key epoch %d is not in the keyring", ErrUnknownKey, epoch)
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(purpose))
	m.Write([]byte{0})
	m.Write([]byte(id))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)), nil
}

// Secret derives the secret access key of id.
func (k *Keyring) Secret(id string) (string, error) { return k.mac(id, "s3fed secret v1") }

// SessionToken derives the session token of id, for keys issued through
// the AWS STS API (whose clients require one).
func (k *Keyring) SessionToken(id string) (string, error) { return k.mac(id, "s3fed session token v1") }

// Duration resolves a requested lifetime: 0 means the default; outside
// 1s–12h is an error; above maxDuration or past notAfter (when non-zero) it
// is clamped.
func Duration(requestedSeconds int, maxDuration time.Duration, now, notAfter time.Time) (time.Duration, error) {
	d := DefaultDuration
	if requestedSeconds != 0 {
		// Compare in seconds before converting: a huge request would
		// overflow time.Duration and could wrap into the valid range.
		if requestedSeconds < 1 || requestedSeconds > int(MaxDuration/time.Second) {
			return 0, fmt.Errorf("durationSeconds must be from 1 to %d", int(MaxDuration/time.Second))
		}
		d = time.Duration(requestedSeconds) * time.Second
	}
	if maxDuration > 0 && d > maxDuration {
		d = maxDuration
	}
	if !notAfter.IsZero() {
		if left := notAfter.Sub(now).Truncate(time.Second); left < d {
			d = left
		}
	}
	if d < MinDuration {
		return 0, errors.New("the session ends before a credential could be issued")
	}
	return d, nil
}

// Mint builds the claims record and secret for a new key. The caller stores
// the record (with its audit event) before handing out the secret.
func (k *Keyring) Mint(id identity.Identity, tags map[string]string, d time.Duration, now time.Time, withToken bool) (store.AccessKey, Credential, error) {
	akid := k.NewAccessKeyID()
	secret, err := k.Secret(akid)
	if err != nil {
		return store.AccessKey{}, Credential{}, err
	}
	rec := store.AccessKey{ID: akid, OrgID: id.OrgID, ConfigID: id.ConfigID, Provider: string(id.Provider), Subject: id.Subject,
		PrincipalName: id.PrincipalName, Role: id.Role, Groups: id.Groups, Attributes: id.Attributes, Tags: tags,
		HasToken: withToken, Issued: now.UTC().Truncate(time.Second), Expiry: now.UTC().Add(d).Truncate(time.Second)}
	c := Credential{Key: rec, Secret: secret}
	if withToken {
		if c.SessionToken, err = k.SessionToken(akid); err != nil {
			return store.AccessKey{}, Credential{}, err
		}
	}
	return rec, c, nil
}

// Credential is a key's claims with its derived secret.
type Credential struct {
	Key          store.AccessKey
	Secret       string
	SessionToken string
}

// Identity rebuilds the verified identity from the stored claims.
func (c Credential) Identity() identity.Identity {
	k := c.Key
	return identity.Identity{OrgID: k.OrgID, ConfigID: k.ConfigID, Provider: identity.Provider(k.Provider), Subject: k.Subject,
		PrincipalName: k.PrincipalName, Role: k.Role, Groups: k.Groups, Attributes: k.Attributes}
}

// ClaimsSource reads stored claims; store.Store satisfies it.
type ClaimsSource interface {
	GetAccessKey(ctx context.Context, id string) (store.AccessKey, error)
}

// Cache looks up credentials with an in-memory cache so that the S3 hot path
// does not touch the database once a key is cached. Entries are refreshed
// after TTL so that revocations made by another replica apply within TTL;
// local revocations apply at once through Invalidate. Expiry is judged at
// every lookup.
//
// A lookup that read the store before a revocation committed must not put
// its stale record back after the revocation's Invalidate cleared it (the
// revoked key would work for up to TTL): every Invalidate bumps a
// generation, and a lookup caches what it read only when no invalidation
// happened while it was reading (as internal/s3's BucketCache does).
type Cache struct {
	Keys   *Keyring
	Source ClaimsSource
	TTL    time.Duration
	Max    int
	Now    func() time.Time

	mu    sync.RWMutex
	m     map[string]cacheEntry
	gen   uint64    // bumped by every Invalidate
	swept time.Time // last removal of entries older than TTL
}

type cacheEntry struct {
	c       Credential
	fetched time.Time
}

func (c *Cache) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// Lookup returns the credential for id, or ErrUnknownKey, ErrRevoked,
// ErrExpired, or a store error (which callers must treat as a refusal).
func (c *Cache) Lookup(ctx context.Context, id string) (Credential, error) {
	if !WellFormed(id) {
		return Credential{}, ErrUnknownKey
	}
	now := c.now()
	c.mu.RLock()
	e, ok := c.m[id]
	gen := c.gen // read before the store: see the type's comment
	c.mu.RUnlock()
	if !ok || now.Sub(e.fetched) > c.ttl() {
		rec, err := c.Source.GetAccessKey(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			// Forget without bumping the generation: probing unknown
			// IDs must not stop other lookups from caching.
			c.mu.Lock()
			delete(c.m, id)
			c.mu.Unlock()
			return Credential{}, ErrUnknownKey
		}
		if err != nil {
			return Credential{}, fmt.Errorf("look up access key: %w", err)
		}
		e = cacheEntry{c: Credential{Key: rec}, fetched: now}
		if e.c.Secret, err = c.Keys.Secret(id); err != nil {
			return Credential{}, err
		}
		if rec.HasToken {
			if e.c.SessionToken, err = c.Keys.SessionToken(id); err != nil {
				return Credential{}, err
			}
		}
		c.put(id, e, gen)
	}
	switch {
	case e.c.Key.Revoked:
		return Credential{}, ErrRevoked
	case !now.Before(e.c.Key.Expiry):
		return Credential{}, ErrExpired
	}
	return e.c, nil
}

func (c *Cache) ttl() time.Duration {
	if c.TTL > 0 {
		return c.TTL
	}
	return 30 * time.Second
}

// put caches e unless an invalidation happened since gen was read.
func (c *Cache) put(id string, e cacheEntry, gen uint64) {
	max := c.Max
	if max <= 0 {
		max = 100000
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return
	}
	if c.m == nil {
		c.m = map[string]cacheEntry{}
	}
	// An entry older than TTL is never served again (it is re-read), so
	// keeping it only costs memory: once per TTL, forget them all. Memory
	// then follows the keys used in the last TTL or two, not every key
	// used since start (up to Max).
	if e.fetched.Sub(c.swept) >= c.ttl() {
		for k, old := range c.m {
			if e.fetched.Sub(old.fetched) > c.ttl() {
				delete(c.m, k)
			}
		}
		c.swept = e.fetched
	}
	if len(c.m) >= max {
		// Drop arbitrary entries: they are re-read on next use.
		n := 0
		for k := range c.m {
			delete(c.m, k)
			if n++; n >= max/10+1 {
				break
			}
		}
	}
	c.m[id] = e
}

// Len is the number of cached credentials (for tests and metrics).
func (c *Cache) Len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.m)
}

// Invalidate drops ids so the next lookup reads the store, and keeps
// lookups already reading the store from caching what they read. Callers
// invalidate after their change has committed.
func (c *Cache) Invalidate(ids ...string) {
	c.mu.Lock()
	for _, id := range ids {
		delete(c.m, id)
	}
	c.gen++
	c.mu.Unlock()
}
