package sigv4

import (
	"testing"
	"time"
)

func TestParseAmzDate(t *testing.T) {
	for s, want := range map[string]bool{
		"20261122T060000Z":  true,
		"20240229T235959Z":  true,
		"20230229T000000Z":  false,
		"20261322T000000Z":  false,
		"20261100T000000Z":  false,
		"20261122T240000Z":  false,
		"20261122T006000Z":  false,
		"20261122 060000Z":  false,
		"20261122T060000":   false,
		"20261122T060000Z1": false,
		"2026112xT060000Z":  false,
		"":                  false,
	} {
		got, ok := parseAmzDate(s)
		if ok != want {
			t.Errorf("parseAmzDate(%q) ok=%v, want %v", s, ok, want)
		}
		if ok {
			ref, err := time.Parse(amzDateLayout, s)
			if err != nil || !ref.Equal(got) {
				t.Errorf("parseAmzDate(%q) = %v, time.Parse = %v %v", s, got, ref, err)
			}
		}
	}
}
