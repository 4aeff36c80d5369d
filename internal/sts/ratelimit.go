package sts

import (
	"container/list"
	"net/netip"
	"sync"
	"time"
)

// Limiter is a per-client token bucket for the anonymous exchange endpoints.
// Verifying a validly signed maximum-size SAML Response costs tens of
// milliseconds of CPU, so without a limit one client could keep every core
// busy; refusals cost a map lookup. The zero value (Rate 0) allows everything.
//
// A client is an IPv4 address or an IPv6 /64 (ClientKey): one IPv6 host
// usually holds a whole /64, so a budget per IPv6 address would be no limit.
//
// Memory is bounded by MaxClients buckets. When a new client arrives at the
// bound, the least recently used bucket is forgotten (it is the one that has
// refilled longest, so forgetting it loses the least); nobody is refused
// for lack of room. Someone rotating through many addresses therefore only
// ever resets buckets, which is generous, and can never lock a steady client
// out; what such a flood can do it could do anyway, with a fresh budget per
// address.
type Limiter struct {
	// Rate is the sustained number of exchanges per second per client.
	Rate float64
	// Burst is how many exchanges a client may make at once.
	Burst float64
	// MaxClients bounds how many clients are remembered; 0 means
	// DefaultMaxClients.
	MaxClients int
	// Now is the clock; nil is time.Now.
	Now func() time.Time

	mu      sync.Mutex
	buckets map[clientID]*list.Element // of *tokenBucket
	lru     list.List                  // front: most recently used
}

type tokenBucket struct {
	client    clientID
	tokens    float64
	last      time.Time
	throttled bool // refused since the last allowed request
}

// DefaultMaxClients bounds the limiter's memory (a bucket with its map and
// list entries is under 250 bytes, so under 25 MB at the bound).
const DefaultMaxClients = 100_000

// ClientKey is the unit the limiter budgets, written out: an IPv4 address
// (also when written as an IPv4-mapped IPv6 address), the /64 of an IPv6
// address (without zone), or the string itself when it is not an address.
func ClientKey(ip string) string {
	c := clientOf(ip)
	switch {
	case !c.addr.IsValid():
		return c.raw
	case c.addr.Is4():
		return c.addr.String()
	}
	return netip.PrefixFrom(c.addr, 64).String()
}

// clientID is ClientKey as a comparable value: the address (an IPv6 one
// masked to its /64), or raw when the string is not an address.
type clientID struct {
	addr netip.Addr
	raw  string
}

func clientOf(ip string) clientID {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return clientID{raw: ip}
	}
	a = a.Unmap().WithZone("")
	if a.Is6() {
		p, _ := a.Prefix(64)
		a = p.Addr()
	}
	return clientID{addr: a}
}

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
	id := clientOf(client)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.buckets == nil {
		l.buckets = map[clientID]*list.Element{}
	}
	l.forgetIdle(now)
	var b *tokenBucket
	if el, found := l.buckets[id]; found {
		l.lru.MoveToFront(el)
		b = el.Value.(*tokenBucket)
	} else {
		max := l.MaxClients
		if max <= 0 {
			max = DefaultMaxClients
		}
		for l.lru.Len() >= max {
			l.remove(l.lru.Back())
		}
		b = &tokenBucket{client: id, tokens: l.Burst, last: now}
		l.buckets[id] = l.lru.PushFront(b)
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

// forgetIdle drops buckets idle long enough to be full again (the same as
// no bucket). They sit at the back of the list, so this costs one step per
// dropped bucket plus one.
func (l *Limiter) forgetIdle(now time.Time) {
	full := time.Duration(l.Burst / l.Rate * float64(time.Second))
	for el := l.lru.Back(); el != nil; el = l.lru.Back() {
		if now.Sub(el.Value.(*tokenBucket).last) < full {
			return
		}
		l.remove(el)
	}
}

func (l *Limiter) remove(el *list.Element) {
	delete(l.buckets, el.Value.(*tokenBucket).client)
	l.lru.Remove(el)
}
