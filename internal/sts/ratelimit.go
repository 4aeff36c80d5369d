package sts

import (
	"sync"
	"time"
)

// Limiter is a per-client token bucket for the anonymous exchange endpoints.
// Verifying a validly signed maximum-size SAML Response costs tens of
// milliseconds of CPU, so without a limit one client could keep every core
// busy; refusals cost a map lookup. The zero value (Rate 0) allows everything.
type Limiter struct {
	// Rate is the sustained number of exchanges per second per client.
	Rate float64
	// Burst is how many exchanges a client may make at once.
	Burst float64
	// Now is the clock; nil is time.Now.
	Now func() time.Time

	mu      sync.Mutex
	buckets map[string]*tokenBucket
	swept   time.Time
}

type tokenBucket struct {
	tokens    float64
	last      time.Time
	throttled bool // refused since the last allowed request
}

// maxClients bounds the limiter's memory; idle buckets are swept first.
const maxClients = 100000

// Allow takes one token from client's bucket and reports whether there was one.
func (l *Limiter) Allow(client string) bool {
	ok, _ := l.take(client)
	return ok
}

// take is Allow that also reports whether a refusal is the first since the
// client's last allowed request, so a throttling episode is audited once.
func (l *Limiter) take(client string) (ok, first bool) {
	if l == nil || l.Rate <= 0 {
		return true, false
	}
	now := time.Now()
	if l.Now != nil {
		now = l.Now()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.buckets == nil {
		l.buckets = map[string]*tokenBucket{}
	}
	full := l.Burst / l.Rate * float64(time.Second)
	if now.Sub(l.swept) > time.Minute || len(l.buckets) >= maxClients {
		// A bucket idle long enough to be full again is the same as none.
		for k, b := range l.buckets {
			if now.Sub(b.last) >= time.Duration(full) {
				delete(l.buckets, k)
			}
		}
		l.swept = now
		if len(l.buckets) >= maxClients {
			return false, false
		}
	}
	b, ok := l.buckets[client]
	if !ok {
		b = &tokenBucket{tokens: l.Burst, last: now}
		l.buckets[client] = b
	}
	b.tokens += now.Sub(b.last).Seconds() * l.Rate
	if b.tokens > l.Burst {
		b.tokens = l.Burst
	}
	b.last = now
	if b.tokens < 1 {
		first = !b.throttled
		b.throttled = true
		return false, first
	}
	b.tokens--
	b.throttled = false
	return true, false
}
