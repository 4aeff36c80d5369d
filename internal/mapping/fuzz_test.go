package mapping

import (
	"errors"
	"testing"
	"unicode/utf8"

	"github.com/s3fed/s3fed/internal/identity"
	"github.com/s3fed/s3fed/internal/saml"
)

// FuzzDefaultSAML: for any attribute values the mapping either refuses
// with a *Error or returns an identity that honours API.md's principal
// rules; it never panics.
func FuzzDefaultSAML(f *testing.F) {
	f.Add("alice@example.com", "reader", "", 1)
	f.Add("alice\u202e", "reader\u200b", "\ufeffbob", 1)
	f.Add("", "r", "nameid@x", 0)
	f.Add("a\x00b", "r\n", "n", 2)
	f.Add("zoë", "", "\xff", 1)
	f.Fuzz(func(t *testing.T, principal, role, nameID string, roles int) {
		attrs := map[string][]string{}
		if principal != "" {
			attrs[CoreWeavePrincipalNameAttribute] = []string{principal}
		}
		for i := 0; i < roles%4; i++ {
			attrs[CoreWeaveRoleAttribute] = append(attrs[CoreWeaveRoleAttribute], role)
		}
		id, err := DefaultSAML(&saml.Assertion{NameID: nameID, Attributes: attrs}, "o", "c")
		if err != nil {
			var me *Error
			if !errors.As(err, &me) || me.Code != CodeConditionNotMet || !utf8.ValidString(me.Message) {
				t.Fatalf("unexpected error %#v", err)
			}
			return
		}
		if len(id.PrincipalName) > MaxPrincipalNameBytes || !utf8.ValidString(id.PrincipalName) || id.Role == "" {
			t.Fatalf("bad identity %+v", id)
		}
		for _, n := range []string{id.Subject, id.PrincipalName, id.Role} {
			if err := identity.CheckName(n); err != nil {
				t.Fatalf("name %+q breaks the character rule (%v) in %+v", n, err, id)
			}
		}
	})
}
