package policy

import (
	"fmt"
	"sync"
	"sync/atomic"
)

// Set holds the current compiled Engine of every org. Readers (every S3
// request) take no lock: each org has an atomic pointer that a policy change
// swaps to a freshly compiled Engine, so a decision sees either the old or the
// new policies in full, never a mix. The zero Set is empty and ready to use.
type Set struct {
	orgs sync.Map // org ID -> *atomic.Pointer[Engine]
}

func (s *Set) slot(org string, create bool) *atomic.Pointer[Engine] {
	if v, ok := s.orgs.Load(org); ok {
		return v.(*atomic.Pointer[Engine])
	}
	if !create {
		return nil
	}
	v, _ := s.orgs.LoadOrStore(org, new(atomic.Pointer[Engine]))
	return v.(*atomic.Pointer[Engine])
}

// Engine returns org's current Engine, or nil when the org has none (a nil
// Engine denies everything, so callers need not check).
func (s *Set) Engine(org string) *Engine {
	if p := s.slot(org, false); p != nil {
		return p.Load()
	}
	return nil
}

// Store makes e the current Engine of its org and returns the previous one.
func (s *Set) Store(e *Engine) (previous *Engine, err error) {
	if e == nil {
		return nil, fmt.Errorf("store access policies: nil engine")
	}
	return s.slot(e.org, true).Swap(e), nil
}

// Replace compiles docs, the complete set of org's documents, and swaps the
// result in. When compilation fails the previous Engine stays in force, so a
// refused write never weakens or drops an org's policies. Callers serialise
// Replace calls of one org (the store is the source of truth).
func (s *Set) Replace(org string, docs []*Document) (*Engine, error) {
	e, err := Compile(org, docs)
	if err != nil {
		return nil, fmt.Errorf("replace access policies of org %q: %w", org, err)
	}
	s.slot(org, true).Store(e)
	return e, nil
}

// Delete forgets org's policies; its requests are then implicitly denied.
func (s *Set) Delete(org string) {
	s.orgs.Delete(org)
}

// Decide answers req with the current Engine of req.OrgID.
func (s *Set) Decide(req Request) Decision {
	return s.Engine(req.OrgID).Decide(req)
}
