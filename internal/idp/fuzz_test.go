package idp

import (
	"testing"

	"github.com/beevik/etree"
)

// FuzzSign: whatever text a caller passes, Sign either refuses it or
// produces well-formed XML whose NameID and Role read back exactly as given
// (no markup injection) and whose signatures verify.
func FuzzSign(f *testing.F) {
	f.Add("alice@example.com", "reader", "team", "ml")
	f.Add(`a&b<c>"d'`, "]]>", "x:y", "<!-- -->")
	f.Add("\t\r\n", "\u2028", "é", "\U0001F600")
	f.Add("\x00", "\xff", "", "")
	f.Fuzz(func(t *testing.T, principal, role, attrName, attrValue string) {
		kp := testPairs(t)[KeyECDSAP256]
		o := SignOptions{KeyPair: kp, OrgID: "org", Principal: principal, Role: role,
			Attributes: map[string][]string{attrName: {attrValue}}}
		x, err := Sign(o)
		if err != nil {
			return
		}
		doc := etree.NewDocument()
		if err := doc.ReadFromBytes(x); err != nil {
			t.Fatalf("Sign produced malformed XML: %v", err)
		}
		a := doc.Root().FindElement("./Assertion")
		if got := a.FindElement("./Subject/NameID").Text(); got != principal {
			t.Fatalf("NameID %q, want %q", got, principal)
		}
		if role != "" && attrName != RoleAttribute {
			if got := a.FindElement("./AttributeStatement/Attribute/AttributeValue").Text(); got != role {
				t.Fatalf("Role %q, want %q", got, role)
			}
		}
		if attrName != RoleAttribute && attrName != PrincipalNameAttribute {
			found := false
			for _, at := range a.FindElements("./AttributeStatement/Attribute") {
				if at.SelectAttrValue("Name", "") == attrName {
					found = true
					if v := at.SelectElement("AttributeValue"); v == nil || v.Text() != attrValue {
						t.Fatalf("attribute %q value does not read back as %q", attrName, attrValue)
					}
				}
			}
			if !found {
				t.Fatalf("attribute %q does not read back", attrName)
			}
		}
		if err := verifyGoxmldsig(t, a, kp.Cert); err != nil {
			t.Fatalf("assertion signature: %v", err)
		}
	})
}
