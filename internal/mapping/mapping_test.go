package mapping

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/s3fed/s3fed/internal/identity"
	"github.com/s3fed/s3fed/internal/saml"
)

const (
	org = "org1"
	cfg = "cfg1"
)

func assertion(nameID string, attrs map[string][]string) *saml.Assertion {
	return &saml.Assertion{ID: "_a", Issuer: "idp", NameID: nameID, Attributes: attrs}
}

// wantErr checks err is a *Error with code and a message containing want.
func wantErr(t *testing.T, err error, code, want string) {
	t.Helper()
	var me *Error
	if !errors.As(err, &me) {
		t.Fatalf("err = %v (%T), want *mapping.Error", err, err)
	}
	if me.Code != code {
		t.Errorf("code %q, want %q (%s)", me.Code, code, me.Message)
	}
	if !strings.Contains(me.Message, want) {
		t.Errorf("message %q does not contain %q", me.Message, want)
	}
	if !strings.HasPrefix(err.Error(), code+": ") {
		t.Errorf("Error() = %q, want code prefix", err.Error())
	}
}

func TestDefaultSAML(t *testing.T) {
	const role, pn = CoreWeaveRoleAttribute, CoreWeavePrincipalNameAttribute
	long := strings.Repeat("x", MaxPrincipalNameBytes-len("saml/"))
	tests := []struct {
		name        string
		nameID      string
		attrs       map[string][]string
		wantSubject string
		wantRole    string
		wantCode    string // "" means success
		wantMsg     string
	}{
		{name: "principal attribute wins over NameID", nameID: "nid@example.com",
			attrs:       map[string][]string{role: {"reader"}, pn: {"alice@example.com"}},
			wantSubject: "alice@example.com", wantRole: "reader"},
		{name: "NameID fallback", nameID: "bob@example.com",
			attrs:       map[string][]string{role: {"writer"}},
			wantSubject: "bob@example.com", wantRole: "writer"},
		{name: "other attributes kept", nameID: "n",
			attrs:       map[string][]string{role: {"r"}, "dept": {"a", "b"}, "empty": {}},
			wantSubject: "n", wantRole: "r"},
		{name: "principal at 256 bytes", nameID: long, attrs: map[string][]string{role: {"r"}},
			wantSubject: long, wantRole: "r"},
		{name: "case and spaces kept", nameID: "n", attrs: map[string][]string{role: {" Admin "}, pn: {"Alice Smith"}},
			wantSubject: "Alice Smith", wantRole: " Admin "},
		{name: "unicode principal", nameID: "n", attrs: map[string][]string{role: {"r"}, pn: {"zoë@例え.jp"}},
			wantSubject: "zoë@例え.jp", wantRole: "r"},
		{name: "whole text kept (comment split upstream)", nameID: "n", attrs: map[string][]string{role: {"r"}, pn: {"alice@corp.evil"}},
			wantSubject: "alice@corp.evil", wantRole: "r"},

		{name: "role missing", nameID: "n", attrs: map[string][]string{pn: {"a"}},
			wantCode: CodeConditionNotMet, wantMsg: role + " must have exactly one value, it has none"},
		{name: "no attributes at all", nameID: "n", attrs: nil,
			wantCode: CodeConditionNotMet, wantMsg: role},
		{name: "role present without values", nameID: "n", attrs: map[string][]string{role: {}},
			wantCode: CodeConditionNotMet, wantMsg: role + " must have exactly one value, it has none"},
		{name: "role multi-valued", nameID: "n", attrs: map[string][]string{role: {"a", "b"}},
			wantCode: CodeConditionNotMet, wantMsg: role + " must have exactly one value, it has 2"},
		{name: "role duplicated same value", nameID: "n", attrs: map[string][]string{role: {"a", "a"}},
			wantCode: CodeConditionNotMet, wantMsg: "it has 2"},
		{name: "role empty value", nameID: "n", attrs: map[string][]string{role: {""}},
			wantCode: CodeConditionNotMet, wantMsg: role + " has an empty value"},
		{name: "role control char", nameID: "n", attrs: map[string][]string{role: {"read\ner"}},
			wantCode: CodeConditionNotMet, wantMsg: "byte 4: U+000A LINE FEED, a control character"},
		{name: "role too long", nameID: "n", attrs: map[string][]string{role: {strings.Repeat("r", MaxRoleBytes+1)}},
			wantCode: CodeConditionNotMet, wantMsg: "at most 256"},
		{name: "role bad utf8", nameID: "n", attrs: map[string][]string{role: {"r\xff"}},
			wantCode: CodeConditionNotMet, wantMsg: "UTF-8"},
		{name: "principal attribute multi-valued", nameID: "n", attrs: map[string][]string{role: {"r"}, pn: {"a", "b"}},
			wantCode: CodeConditionNotMet, wantMsg: pn + " must have exactly one value, it has 2"},
		{name: "principal attribute empty value (no NameID fallback)", nameID: "n", attrs: map[string][]string{role: {"r"}, pn: {""}},
			wantCode: CodeConditionNotMet, wantMsg: pn + " has an empty value"},
		{name: "principal attribute without values", nameID: "n", attrs: map[string][]string{role: {"r"}, pn: {}},
			wantCode: CodeConditionNotMet, wantMsg: pn + " must have exactly one value"},
		{name: "empty NameID, no principal attribute", nameID: "", attrs: map[string][]string{role: {"r"}},
			wantCode: CodeConditionNotMet, wantMsg: "empty NameID"},
		{name: "NameID over-long", nameID: long + "x", attrs: map[string][]string{role: {"r"}},
			wantCode: CodeConditionNotMet, wantMsg: "NameID: principal name"},
		{name: "principal attribute over-long", nameID: "n", attrs: map[string][]string{role: {"r"}, pn: {long + "x"}},
			wantCode: CodeConditionNotMet, wantMsg: "257 bytes, at most 256"},
		{name: "NameID control char", nameID: "alice\x00@x", attrs: map[string][]string{role: {"r"}},
			wantCode: CodeConditionNotMet, wantMsg: "NameID: value"},
		{name: "NameID tab", nameID: "alice\t", attrs: map[string][]string{role: {"r"}},
			wantCode: CodeConditionNotMet, wantMsg: "U+0009"},
		{name: "principal DEL", nameID: "n", attrs: map[string][]string{role: {"r"}, pn: {"a\x7fb"}},
			wantCode: CodeConditionNotMet, wantMsg: "U+007F"},
		{name: "principal C1 control", nameID: "n", attrs: map[string][]string{role: {"r"}, pn: {"a\u0085b"}},
			wantCode: CodeConditionNotMet, wantMsg: "U+0085"},
		{name: "principal bad utf8", nameID: "n", attrs: map[string][]string{role: {"r"}, pn: {"a\xc3"}},
			wantCode: CodeConditionNotMet, wantMsg: "UTF-8"},

		// Issue 9 defect 9: invisible and reordering characters would let a
		// name look like another in the audit log and key inventory.
		{name: "principal RLO", nameID: "n", attrs: map[string][]string{role: {"r"}, pn: {"alice\u202Emoc.evil@x"}},
			wantCode: CodeConditionNotMet, wantMsg: "attribute " + pn + `: value "alice\u202emoc.evil@x": byte 5: U+202E RIGHT-TO-LEFT OVERRIDE, a format character`},
		{name: "NameID zero-width space", nameID: "ali\u200Bce@example.com", attrs: map[string][]string{role: {"r"}},
			wantCode: CodeConditionNotMet, wantMsg: "NameID: value \"ali\\u200bce@example.com\": byte 3: U+200B ZERO WIDTH SPACE"},
		{name: "NameID starts with BOM", nameID: "\uFEFFalice", attrs: map[string][]string{role: {"r"}},
			wantCode: CodeConditionNotMet, wantMsg: "NameID: value \"\\ufeffalice\": byte 0: U+FEFF ZERO WIDTH NO-BREAK SPACE"},
		{name: "principal isolate", nameID: "n", attrs: map[string][]string{role: {"r"}, pn: {"bob\u2066x\u2069"}},
			wantCode: CodeConditionNotMet, wantMsg: "byte 3: U+2066 LEFT-TO-RIGHT ISOLATE"},
		{name: "principal line separator", nameID: "n", attrs: map[string][]string{role: {"r"}, pn: {"bob\u2028admin"}},
			wantCode: CodeConditionNotMet, wantMsg: "byte 3: U+2028 LINE SEPARATOR"},
		{name: "principal no-break space", nameID: "n", attrs: map[string][]string{role: {"r"}, pn: {"Alice\u00A0Smith"}},
			wantCode: CodeConditionNotMet, wantMsg: "byte 5: U+00A0 NO-BREAK SPACE"},
		{name: "principal private use", nameID: "n", attrs: map[string][]string{role: {"r"}, pn: {"a\uE000"}},
			wantCode: CodeConditionNotMet, wantMsg: "byte 1: U+E000, a private-use character"},
		{name: "principal unassigned", nameID: "n", attrs: map[string][]string{role: {"r"}, pn: {"a\u0378"}},
			wantCode: CodeConditionNotMet, wantMsg: "byte 1: U+0378, unassigned"},
		{name: "role RLO", nameID: "n", attrs: map[string][]string{role: {"nimda\u202E"}},
			wantCode: CodeConditionNotMet, wantMsg: "attribute " + role + `: value "nimda\u202e": byte 5: U+202E RIGHT-TO-LEFT OVERRIDE`},
		{name: "role soft hyphen", nameID: "n", attrs: map[string][]string{role: {"ad\u00ADmin"}},
			wantCode: CodeConditionNotMet, wantMsg: "byte 2: U+00AD SOFT HYPHEN"},
		{name: "role zero-width joiner", nameID: "n", attrs: map[string][]string{role: {"a\u200Db"}},
			wantCode: CodeConditionNotMet, wantMsg: "byte 1: U+200D ZERO WIDTH JOINER"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := assertion(tt.nameID, tt.attrs)
			id, err := DefaultSAML(a, org, cfg)
			if tt.wantCode != "" {
				wantErr(t, err, tt.wantCode, tt.wantMsg)
				if !reflect.DeepEqual(id, identity.Identity{}) {
					t.Errorf("identity %+v returned with an error", id)
				}
				return
			}
			if err != nil {
				t.Fatalf("DefaultSAML: %v", err)
			}
			want := identity.Identity{
				OrgID: org, ConfigID: cfg, Provider: identity.ProviderSAML,
				Subject: tt.wantSubject, PrincipalName: "saml/" + tt.wantSubject, Role: tt.wantRole,
				Attributes: tt.attrs,
			}
			if !reflect.DeepEqual(id, want) {
				t.Errorf("identity\n got %+v\nwant %+v", id, want)
			}
			if id.Groups != nil {
				t.Errorf("groups %v, want none", id.Groups)
			}
		})
	}
}

// TestAttributesCopied guards against aliasing: the identity must not share
// slices with the assertion.
func TestAttributesCopied(t *testing.T) {
	a := assertion("n", map[string][]string{CoreWeaveRoleAttribute: {"r"}, "x": {"1"}})
	id, err := DefaultSAML(a, org, cfg)
	if err != nil {
		t.Fatal(err)
	}
	a.Attributes["x"][0] = "changed"
	a.Attributes["y"] = []string{"new"}
	if id.Attributes["x"][0] != "1" || id.Attributes["y"] != nil {
		t.Errorf("identity attributes alias the assertion's: %v", id.Attributes)
	}
}

func TestMessagesBounded(t *testing.T) {
	huge := strings.Repeat("é", 1000) + "\x01"
	a := assertion("n", map[string][]string{CoreWeaveRoleAttribute: {"r"}, CoreWeavePrincipalNameAttribute: {huge}})
	_, err := DefaultSAML(a, org, cfg)
	var me *Error
	if !errors.As(err, &me) {
		t.Fatalf("err %v", err)
	}
	if len(me.Message) > 300 {
		t.Errorf("message is %d bytes; values must be truncated: %q", len(me.Message), me.Message)
	}
}

func TestCallerFaults(t *testing.T) {
	a := assertion("n", map[string][]string{CoreWeaveRoleAttribute: {"r"}})
	for _, tt := range []struct {
		name          string
		a             *saml.Assertion
		org, cfg, arn string
	}{
		{"nil assertion", nil, org, cfg, "arn:aws:iam::org1:role/r"},
		{"empty org", a, "", cfg, "arn:aws:iam:::role/r"},
		{"empty config", a, org, "", "arn:aws:iam::org1:role/r"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var me *Error
			if _, err := DefaultSAML(tt.a, tt.org, tt.cfg); err == nil || errors.As(err, &me) {
				t.Errorf("DefaultSAML err = %v, want a plain (non-refusal) error", err)
			}
			if _, err := AWSSAML(tt.a, tt.org, tt.cfg, tt.arn); err == nil || errors.As(err, &me) {
				t.Errorf("AWSSAML err = %v, want a plain (non-refusal) error", err)
			}
		})
	}
}

func TestAWSSAML(t *testing.T) {
	const (
		roleAttr = AWSRoleAttribute
		sess     = AWSRoleSessionNameAttribute
		reader   = "arn:aws:iam::org1:role/reader"
		writer   = "arn:aws:iam::org1:role/writer"
		prov     = "arn:aws:iam::org1:saml-provider/cfg1"
		other    = "arn:aws:iam::org1:saml-provider/cfg2"
	)
	tests := []struct {
		name        string
		roleArn     string
		attrs       map[string][]string
		wantRole    string
		wantSubject string
		wantCode    string
		wantMsg     string
	}{
		{name: "single pair", roleArn: reader,
			attrs:    map[string][]string{roleAttr: {reader + "," + prov}, sess: {"alice@example.com"}},
			wantRole: "reader", wantSubject: "alice@example.com"},
		{name: "provider first, spaces", roleArn: reader,
			attrs:    map[string][]string{roleAttr: {prov + " , " + reader}, sess: {"alice"}},
			wantRole: "reader", wantSubject: "alice"},
		{name: "chooses the pair matching RoleArn", roleArn: writer,
			attrs:    map[string][]string{roleAttr: {reader + "," + prov, "garbage", writer + "," + prov}, sess: {"bob"}},
			wantRole: "writer", wantSubject: "bob"},
		{name: "session name charset and bounds", roleArn: reader,
			attrs:    map[string][]string{roleAttr: {reader + "," + prov}, sess: {"a_+=,.@-Z9" + strings.Repeat("x", MaxRoleSessionName-10)}},
			wantRole: "reader", wantSubject: "a_+=,.@-Z9" + strings.Repeat("x", MaxRoleSessionName-10)},
		{name: "session name min", roleArn: reader,
			attrs:    map[string][]string{roleAttr: {reader + "," + prov}, sess: {"ab"}},
			wantRole: "reader", wantSubject: "ab"},

		{name: "role attribute missing", roleArn: reader, attrs: map[string][]string{sess: {"alice"}},
			wantCode: CodeConditionNotMet, wantMsg: roleAttr + " is missing"},
		{name: "role not offered", roleArn: writer, attrs: map[string][]string{roleAttr: {reader + "," + prov}, sess: {"alice"}},
			wantCode: CodeConditionNotMet, wantMsg: "no value of attribute " + roleAttr},
		{name: "pair names another provider", roleArn: reader, attrs: map[string][]string{roleAttr: {reader + "," + other}, sess: {"alice"}},
			wantCode: CodeConditionNotMet, wantMsg: "saml-provider/cfg1"},
		{name: "pair of two roles", roleArn: reader, attrs: map[string][]string{roleAttr: {reader + "," + writer}, sess: {"alice"}},
			wantCode: CodeConditionNotMet, wantMsg: "no value"},
		{name: "three-part value", roleArn: reader, attrs: map[string][]string{roleAttr: {reader + "," + prov + "," + prov}, sess: {"alice"}},
			wantCode: CodeConditionNotMet, wantMsg: "no value"},
		{name: "role only", roleArn: reader, attrs: map[string][]string{roleAttr: {reader}, sess: {"alice"}},
			wantCode: CodeConditionNotMet, wantMsg: "no value"},
		{name: "session missing", roleArn: reader, attrs: map[string][]string{roleAttr: {reader + "," + prov}},
			wantCode: CodeConditionNotMet, wantMsg: sess + " must have exactly one value, it has none"},
		{name: "session multi-valued", roleArn: reader, attrs: map[string][]string{roleAttr: {reader + "," + prov}, sess: {"ab", "cd"}},
			wantCode: CodeConditionNotMet, wantMsg: "it has 2"},
		{name: "session too short", roleArn: reader, attrs: map[string][]string{roleAttr: {reader + "," + prov}, sess: {"a"}},
			wantCode: CodeConditionNotMet, wantMsg: "2 to 64 characters, got 1"},
		{name: "session too long", roleArn: reader, attrs: map[string][]string{roleAttr: {reader + "," + prov}, sess: {strings.Repeat("a", 65)}},
			wantCode: CodeConditionNotMet, wantMsg: "got 65"},
		{name: "session bad char", roleArn: reader, attrs: map[string][]string{roleAttr: {reader + "," + prov}, sess: {"alice smith"}},
			wantCode: CodeConditionNotMet, wantMsg: "' '"},
		{name: "session non-ascii", roleArn: reader, attrs: map[string][]string{roleAttr: {reader + "," + prov}, sess: {"zoë"}},
			wantCode: CodeConditionNotMet, wantMsg: "allowed are"},

		{name: "role arn of another org", roleArn: "arn:aws:iam::org2:role/reader",
			attrs:    map[string][]string{roleAttr: {"arn:aws:iam::org2:role/reader," + prov}, sess: {"alice"}},
			wantCode: CodeInvalidArgument, wantMsg: "not the organisation"},
		{name: "malformed role arn", roleArn: "arn:aws:iam::org1:user/x",
			wantCode: CodeInvalidArgument, wantMsg: "is not a role ARN"},
		{name: "role arn with control char", roleArn: "arn:aws:iam::org1:role/a\x01",
			wantCode: CodeInvalidArgument, wantMsg: "control character"},
		{name: "role arn with RLO", roleArn: "arn:aws:iam::org1:role/ab\u202Ec",
			wantCode: CodeInvalidArgument, wantMsg: `RoleArn: value "ab\u202ec": byte 2: U+202E RIGHT-TO-LEFT OVERRIDE`},
		{name: "role arn with zero-width space", roleArn: "arn:aws:iam::org1:role/\u200Bab",
			wantCode: CodeInvalidArgument, wantMsg: "byte 0: U+200B ZERO WIDTH SPACE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := AWSSAML(assertion("nameid", tt.attrs), org, cfg, tt.roleArn)
			if tt.wantCode != "" {
				wantErr(t, err, tt.wantCode, tt.wantMsg)
				return
			}
			if err != nil {
				t.Fatalf("AWSSAML: %v", err)
			}
			want := identity.Identity{
				OrgID: org, ConfigID: cfg, Provider: identity.ProviderSAML,
				Subject: tt.wantSubject, PrincipalName: "saml/" + tt.wantSubject, Role: tt.wantRole,
				Attributes: tt.attrs,
			}
			if !reflect.DeepEqual(id, want) {
				t.Errorf("identity\n got %+v\nwant %+v", id, want)
			}
		})
	}
}

func TestParseAWSRoleARN(t *testing.T) {
	tests := []struct {
		arn, org, role, wantMsg string
	}{
		{"arn:aws:iam::org1:role/reader", "org1", "reader", ""},
		{"arn:aws:iam::123456789012:role/S3-Access", "123456789012", "S3-Access", ""},
		{"arn:aws:iam::org1:role/path/reader", "", "", "role path"},
		{"arn:aws:iam::org1:role/", "", "", "empty role name"},
		{"arn:aws:iam:::role/r", "", "", "no organisation"},
		{"arn:aws:iam::org1", "", "", "no organisation"},
		{"arn:aws:iam::org1:saml-provider/x", "", "", "not a role ARN"},
		{"arn:aws:sts::org1:role/r", "", "", "does not start with"},
		{"", "", "", "does not start with"},
	}
	for _, tt := range tests {
		t.Run(tt.arn, func(t *testing.T) {
			o, r, err := ParseAWSRoleARN(tt.arn)
			if tt.wantMsg != "" {
				wantErr(t, err, CodeInvalidArgument, tt.wantMsg)
				return
			}
			if err != nil || o != tt.org || r != tt.role {
				t.Errorf("ParseAWSRoleARN = %q, %q, %v; want %q, %q", o, r, err, tt.org, tt.role)
			}
		})
	}
	if got := AWSProviderARN("o", "c"); got != "arn:aws:iam::o:saml-provider/c" {
		t.Errorf("AWSProviderARN = %q", got)
	}
}
