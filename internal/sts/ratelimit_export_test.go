package sts

// Clients reports how many client buckets l holds, for tests of its bound.
func (l *Limiter) Clients() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}
