// Package discovery fetches an OIDC issuer's signing keys over HTTPS (OpenID
// Connect Discovery 1.0) and serves them to the verifier as an
// oidc.KeySource.
//
// It is the only part of OIDC federation that does I/O, kept out of package
// oidc so the verifier stays a pure function of (token, config, keys) that
// imports no net/http. The rules (API.md "OIDC configs"):
//
//   - https only: the issuer, its jwks_uri and every redirect. A plain-http
//     issuer on a loopback address can be allowed with
//     Options.InsecureAllowHTTPLoopback, for tests and `s3fed idp` demos; no
//     API field reaches that switch, and it never opens http to another
//     host.
//   - The configuration document's "issuer" must equal the config's
//     issuerUrl exactly (Discovery §4.3).
//   - Keys are cached for the lifetime the responses' caching headers give
//     (Cache-Control max-age, else Expires − Date; no-store and no-cache
//     count as 0), clamped to [MinTTL, MaxTTL], DefaultTTL without headers.
//   - At most one fetch per MinRefetchInterval: a token naming an unknown
//     kid may trigger a refetch (key rotation), but a flood of made-up kids
//     costs the issuer one request a minute, and a down issuer is not
//     hammered either.
//   - A failed fetch keeps the last good keys, however old; only a source
//     that never fetched successfully has no keys (oidc.ErrKeysUnavailable).
//   - Bodies are capped (oidc.MaxDiscoveryBytes, oidc.MaxJWKSBytes) and
//     error messages never echo them.
//
// github.com/coreos/go-oidc/v3 was considered and not used: its
// RemoteKeySet refetches the JWKS on every signature miss without a rate
// limit, ignores caching headers, reads bodies without a size cap, does not
// restrict schemes or redirects, and its Provider.Verifier applies its own
// token rules (any kid-less key, EdDSA) in place of package oidc's. What is
// left of it for s3fed is two GETs and a JSON member, which this package
// does with the standard library.
package discovery

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/s3fed/s3fed/internal/oidc"
)

// Cache and fetch bounds (API.md: cached at least 1 minute, at most 1 day,
// refetched at most once a minute).
const (
	MinTTL             = time.Minute
	MaxTTL             = 24 * time.Hour
	DefaultTTL         = 15 * time.Minute
	MinRefetchInterval = time.Minute
	// FetchTimeout bounds one discovery round (document + JWKS).
	FetchTimeout = 10 * time.Second
	maxRedirects = 3
)

// Options tune a Source. The zero value is production behaviour.
type Options struct {
	// Client makes the requests; nil means a client with FetchTimeout and
	// the system's trust roots. A given client is copied and its redirect
	// policy replaced by this package's (https only, at most 3).
	Client *http.Client
	// InsecureAllowHTTPLoopback additionally allows plain http when the
	// host is a loopback address (127.0.0.0/8, ::1, localhost). For tests
	// and local demos only; nothing in the admin API can set it.
	InsecureAllowHTTPLoopback bool
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Source is an oidc.KeySource backed by discovery. It is safe for
// concurrent use; one Source should serve one issuer for the life of its
// config version.
type Source struct {
	issuer string
	opts   Options
	client *http.Client

	fetchMu sync.Mutex // one fetch at a time

	mu          sync.Mutex
	set         *oidc.KeySet
	expires     time.Time
	lastAttempt time.Time
	lastSuccess time.Time
	lastErr     error
	fetches     int
}

// New makes a Source for issuer (a config's issuerUrl). Nothing is fetched
// until keys are first asked for.
func New(issuer string, opts Options) (*Source, error) {
	u, err := url.Parse(issuer)
	if err != nil {
		return nil, fmt.Errorf("discovery: issuer is not a URL: %w", err)
	}
	if err := opts.allowed(u); err != nil {
		return nil, fmt.Errorf("discovery: issuer: %w", err)
	}
	s := &Source{issuer: issuer, opts: opts}
	c := http.Client{Timeout: FetchTimeout}
	if opts.Client != nil {
		c = *opts.Client
		if c.Timeout == 0 || c.Timeout > FetchTimeout {
			c.Timeout = FetchTimeout
		}
	}
	c.Jar = nil
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) >= maxRedirects {
			return fmt.Errorf("more than %d redirects", maxRedirects)
		}
		return opts.allowed(req.URL)
	}
	s.client = &c
	return s, nil
}

func (o Options) allowed(u *url.URL) error {
	switch {
	case u.Host == "":
		return errors.New("URL has no host")
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && o.InsecureAllowHTTPLoopback && isLoopback(u.Hostname()):
		return nil
	}
	return fmt.Errorf("%s URLs are not fetched: discovery uses https only", u.Scheme)
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (s *Source) now() time.Time {
	if s.opts.Now != nil {
		return s.opts.Now()
	}
	return time.Now()
}

// KeySet returns the cached keys, fetching when there are none, when they
// have expired, or when refresh is set (a token named an unknown kid) —
// each at most once per MinRefetchInterval. A failed fetch leaves the last
// good keys in place and returns them.
func (s *Source) KeySet(ctx context.Context, refresh bool) (*oidc.KeySet, error) {
	s.mu.Lock()
	now := s.now()
	seen := s.fetches
	haveKeys := s.set != nil
	need := !haveKeys || !now.Before(s.expires) || refresh
	if !need || (haveKeys && !s.mayFetch(now)) {
		defer s.mu.Unlock()
		return s.current()
	}
	s.mu.Unlock()

	if haveKeys && !refresh {
		// Expired keys are still good while a refetch runs: a caller that
		// finds one in flight serves them instead of waiting on the issuer.
		if !s.fetchMu.TryLock() {
			s.mu.Lock()
			defer s.mu.Unlock()
			return s.current()
		}
	} else {
		s.fetchMu.Lock()
	}
	defer s.fetchMu.Unlock()
	s.mu.Lock()
	if s.fetches != seen || !s.mayFetch(s.now()) { // another caller fetched while we waited
		defer s.mu.Unlock()
		return s.current()
	}
	s.lastAttempt = s.now()
	s.fetches++
	s.mu.Unlock()

	set, ttl, err := s.fetch(ctx)

	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.lastErr = err
		return s.current()
	}
	s.set, s.lastErr = set, nil
	s.lastSuccess = s.now()
	s.expires = s.lastSuccess.Add(ttl)
	return s.set, nil
}

// mayFetch: s.mu held.
func (s *Source) mayFetch(now time.Time) bool {
	return s.lastAttempt.IsZero() || now.Sub(s.lastAttempt) >= MinRefetchInterval
}

// current: s.mu held.
func (s *Source) current() (*oidc.KeySet, error) {
	if s.set != nil {
		return s.set, nil
	}
	if s.lastErr != nil {
		return nil, s.lastErr
	}
	return nil, errors.New("discovery: no keys fetched yet")
}

// Status describes the cache, for the admin API and operators.
type Status struct {
	Keys        int
	Expires     time.Time // when the keys are next refetched
	LastAttempt time.Time
	LastSuccess time.Time
	LastError   string // "" when the last fetch succeeded
	Fetches     int    // fetch rounds attempted since New
}

// Status reports the cache state.
func (s *Source) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Status{Keys: s.set.Len(), Expires: s.expires, LastAttempt: s.lastAttempt, LastSuccess: s.lastSuccess, Fetches: s.fetches}
	if s.lastErr != nil {
		st.LastError = s.lastErr.Error()
	}
	return st
}

func (s *Source) fetch(ctx context.Context) (*oidc.KeySet, time.Duration, error) {
	// The fetch outlives a caller that gives up: its result serves everyone.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), FetchTimeout)
	defer cancel()
	docURL := oidc.DiscoveryURL(s.issuer)
	doc, docTTL, err := s.get(ctx, docURL, oidc.MaxDiscoveryBytes)
	if err != nil {
		return nil, 0, fmt.Errorf("discovery: %w", err)
	}
	jwksURI, err := oidc.ParseDiscoveryDocument(doc, s.issuer)
	if err != nil {
		return nil, 0, fmt.Errorf("discovery: %s: %w", docURL, err)
	}
	u, err := url.Parse(jwksURI)
	if err != nil {
		return nil, 0, fmt.Errorf("discovery: jwks_uri: %w", err)
	}
	if err := s.opts.allowed(u); err != nil {
		return nil, 0, fmt.Errorf("discovery: jwks_uri: %w", err)
	}
	body, keysTTL, err := s.get(ctx, jwksURI, oidc.MaxJWKSBytes)
	if err != nil {
		return nil, 0, fmt.Errorf("discovery: %w", err)
	}
	set, err := oidc.ParseJWKS(body)
	if err != nil {
		return nil, 0, fmt.Errorf("discovery: %s: %w", jwksURI, err)
	}
	return set, clamp(min(docTTL, keysTTL)), nil
}

func (s *Source) get(ctx context.Context, u string, limit int64) ([]byte, time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, limit))
		return nil, 0, fmt.Errorf("GET %s: status %s", u, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, 0, fmt.Errorf("GET %s: %w", u, err)
	}
	if int64(len(body)) > limit {
		return nil, 0, fmt.Errorf("GET %s: body larger than %d bytes", u, limit)
	}
	return body, TTL(resp.Header), nil
}

// TTL is how long a response may be cached per its headers (RFC 9111
// §5.2.2 max-age, no-store, no-cache; else §5.3 Expires relative to Date),
// before clamping; DefaultTTL when the headers say nothing usable.
func TTL(h http.Header) time.Duration {
	if cc := h.Values("Cache-Control"); len(cc) > 0 {
		maxAge, found := time.Duration(0), false
		for _, line := range cc {
			for _, d := range strings.Split(line, ",") {
				name, val, _ := strings.Cut(strings.TrimSpace(d), "=")
				switch strings.ToLower(name) {
				case "no-store", "no-cache":
					return 0
				case "max-age":
					n, err := strconv.ParseInt(strings.Trim(val, `"`), 10, 64)
					if err != nil || n < 0 {
						return 0 // a malformed max-age is stale (RFC 9111 §4.2.1)
					}
					if n > int64(MaxTTL/time.Second) {
						n = int64(MaxTTL / time.Second)
					}
					maxAge, found = time.Duration(n)*time.Second, true
				}
			}
		}
		if found {
			return maxAge
		}
	}
	if exp := h.Get("Expires"); exp != "" {
		e, err := http.ParseTime(exp)
		if err != nil {
			return 0 // RFC 9111 §5.3: an invalid Expires means already expired
		}
		date := time.Now()
		if d, err := http.ParseTime(h.Get("Date")); err == nil {
			date = d
		}
		if e.Before(date) {
			return 0
		}
		return e.Sub(date)
	}
	return DefaultTTL
}

func clamp(d time.Duration) time.Duration {
	return max(MinTTL, min(MaxTTL, d))
}
