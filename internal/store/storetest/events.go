package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/s3fed/s3fed/internal/store"
)

// event is a fully populated audit event.
func event(org, action, principal string, at time.Time) store.Event {
	return store.Event{Time: at, OrgID: org, Kind: "s3", Action: action, Actor: hostile("actor"), Target: long("bucket/key"),
		Outcome: "Deny", Code: hostile("AccessDenied"), RequestID: hostile("req"), ClientIP: "2001:db8::1", ConfigID: hostile("cfg"),
		PrincipalName: principal, Role: hostile("role"), AccessKeyID: hostile("AK"),
		Details: map[string]any{"bytes": float64(12345), "reason": hostile("why"), "ok": true, "none": nil,
			"list": []any{"a\x00", float64(1)}, "nested": map[string]any{hostile("k"): hostile("v")}}}
}

func testEvents(t *testing.T, s store.Store) {
	orgA := hostile("org-a")
	if err := s.AppendEvents(ctx, nil); err != nil {
		t.Fatalf("append no events: %v", err)
	}
	if err := s.AppendEvents(ctx, []store.Event{}); err != nil {
		t.Fatalf("append an empty batch: %v", err)
	}
	evs := []store.Event{
		event(orgA, "first", hostile("saml/alice"), t1971),
		event(orgA, "second", long("saml/bob"), t2200),
		event(orgA, "third", "", tIndia),
		{Time: tEpoch, OrgID: orgA, Kind: "admin", Action: "minimal", Outcome: "success"},
	}
	if err := s.AppendEvents(ctx, evs[:2]); err != nil {
		t.Fatal(err)
	}
	update(t, s, func(tx store.Tx) error {
		for _, e := range evs[2:] {
			if err := tx.AppendEvent(ctx, e); err != nil {
				return err
			}
		}
		return nil
	})
	got, err := s.ListEvents(ctx, store.EventFilter{OrgID: orgA})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(evs) {
		t.Fatalf("got %d events, want %d", len(got), len(evs))
	}
	for i := range got {
		want := evs[len(evs)-1-i] // newest first
		if i > 0 && got[i].ID >= got[i-1].ID {
			t.Fatalf("IDs not decreasing: %d then %d", got[i-1].ID, got[i].ID)
		}
		if got[i].ID <= 0 {
			t.Fatalf("event ID %d", got[i].ID)
		}
		want.ID = got[i].ID
		same(t, "event "+want.Action, got[i], want)
	}

	// A zero Time is the time of the append.
	before := time.Now()
	if err := s.AppendEvents(ctx, []store.Event{{OrgID: "now", Kind: "admin", Action: "stamped", Outcome: "success"}}); err != nil {
		t.Fatal(err)
	}
	after := time.Now()
	got, err = s.ListEvents(ctx, store.EventFilter{OrgID: "now"})
	if err != nil || len(got) != 1 {
		t.Fatalf("stamped event: %v %v", got, err)
	}
	if tm := got[0].Time; tm.Before(before.Add(-time.Second)) || tm.After(after.Add(time.Second)) || tm.Location() != time.UTC {
		t.Fatalf("zero Time stored as %v, want about %v in UTC", tm, before)
	}
}

// testEventFilters exercises every EventFilter field and the default limit.
func testEventFilters(t *testing.T, s store.Store) {
	orgA, orgB := hostile("org-a"), hostile("org-b")
	alice, bob := hostile("saml/alice"), hostile("saml/bob")
	var evs []store.Event
	for i := range 105 {
		p := alice
		if i%3 == 0 {
			p = bob
		}
		evs = append(evs, event(orgA, fmt.Sprint("a", i), p, t0.Add(time.Duration(i)*time.Millisecond+time.Duration(i))))
	}
	evs = append(evs, event(orgB, "secret-of-b", alice, t0), event("", "root-level", "", t0))
	if err := s.AppendEvents(ctx, evs); err != nil {
		t.Fatal(err)
	}
	actions := func(lo, hi int, keep func(i int) bool) []string { // a{hi-1} .. a{lo}, newest first
		out := []string{}
		for i := hi - 1; i >= lo; i-- {
			if keep == nil || keep(i) {
				out = append(out, fmt.Sprint("a", i))
			}
		}
		return out
	}
	all, err := s.ListEvents(ctx, store.EventFilter{OrgID: orgA, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	sameIDs(t, "all of org A, newest first", ids(all, eventAction), actions(0, 105, nil))
	idOf := func(action string) int64 {
		for _, e := range all {
			if e.Action == action {
				return e.ID
			}
		}
		t.Fatalf("no event %s", action)
		return 0
	}
	at := func(i int) time.Time { return evs[i].Time }
	tests := []struct {
		name string
		f    store.EventFilter
		want []string
	}{
		{"default limit is 100", store.EventFilter{}, actions(5, 105, nil)},
		{"limit below zero is the default", store.EventFilter{Limit: -5}, actions(5, 105, nil)},
		{"limit 1", store.EventFilter{Limit: 1}, actions(104, 105, nil)},
		{"limit above the default", store.EventFilter{Limit: 101}, actions(4, 105, nil)},
		{"before", store.EventFilter{Before: idOf("a50"), Limit: 3}, actions(47, 50, nil)},
		{"before the first", store.EventFilter{Before: idOf("a0")}, []string{}},
		{"since, inclusive", store.EventFilter{Since: at(100)}, actions(100, 105, nil)},
		{"since 1ns later", store.EventFilter{Since: at(100).Add(time.Nanosecond)}, actions(101, 105, nil)},
		{"since 1971", store.EventFilter{Since: t1971, Limit: 1000}, actions(0, 105, nil)},
		{"since 2200", store.EventFilter{Since: t2200}, []string{}},
		{"since, another zone", store.EventFilter{Since: at(103).In(time.FixedZone("x", -7*3600))}, actions(103, 105, nil)},
		{"principal", store.EventFilter{PrincipalName: bob, Limit: 1000}, actions(0, 105, func(i int) bool { return i%3 == 0 })},
		{"principal, not a prefix", store.EventFilter{PrincipalName: "saml/bob"}, []string{}},
		{"every field", store.EventFilter{PrincipalName: alice, Since: at(90), Before: idOf("a100"), Limit: 4},
			actions(90, 100, func(i int) bool { return i%3 != 0 })[:4]},
		{"org B", store.EventFilter{OrgID: orgB}, []string{"secret-of-b"}},
		{"no org", store.EventFilter{OrgID: "\x00"}, []string{}},
		{"root level", store.EventFilter{OrgID: ""}, []string{"root-level"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := tc.f
			if tc.name != "root level" && f.OrgID == "" {
				f.OrgID = orgA
			}
			got, err := s.ListEvents(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			sameIDs(t, "events", ids(got, eventAction), tc.want)
		})
	}
}

// testEventText: the audit log never refuses a record; invalid UTF-8 in an
// event is stored as U+FFFD per byte (what encoding/json would write), in
// every field and in the filter columns alike, while NUL and the rest of
// valid text are kept.
func testEventText(t *testing.T, s store.Store) {
	e := event("org\xff\x00", "act\xc3", "saml/\xffbob\x00", t0)
	e.Target, e.Details = "bucket/\xed\xa0\x80", map[string]any{"k\xff": "v\xfe"}
	if err := s.AppendEvents(ctx, []store.Event{e}); err != nil {
		t.Fatalf("append an event holding invalid UTF-8: %v", err)
	}
	got, err := s.ListEvents(ctx, store.EventFilter{OrgID: "org\uFFFD\x00", PrincipalName: "saml/\uFFFDbob\x00"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 {
		t.Fatalf("event not found by its cleaned org and principal: %v", got)
	}
	want := e
	want.ID, want.OrgID, want.Action, want.PrincipalName = got[0].ID, "org\uFFFD\x00", "act\uFFFD", "saml/\uFFFDbob\x00"
	want.Target, want.Details = "bucket/\uFFFD\uFFFD\uFFFD", map[string]any{"k\uFFFD": "v\uFFFD"}
	same(t, "cleaned event", got[0], want)
	// The raw bytes were never stored, so they match nothing.
	for _, f := range []store.EventFilter{{OrgID: "org\xff\x00"}, {OrgID: "org\uFFFD\x00", PrincipalName: "saml/\xffbob\x00"}} {
		got, err := s.ListEvents(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		sameIDs(t, fmt.Sprintf("filter by raw bytes %q/%q", f.OrgID, f.PrincipalName), ids(got, eventAction), []string{})
	}
}
