package policy

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"
)

// BucketPolicyVersion is the IAM policy language version bucket policies
// must declare. The older "2008-10-17" lacks policy variables in AWS and is
// refused here so that a policy is never read with semantics it did not ask
// for.
const BucketPolicyVersion = "2012-10-17"

// Limits of a bucket policy.
const (
	// MaxBucketPolicyBytes is AWS's limit on a bucket policy (20 KiB).
	MaxBucketPolicyBytes = 20 * 1024
	// MaxBucketStatements bounds the statements of one bucket policy.
	MaxBucketStatements = 100
	// MaxConditionValues bounds the values of one condition key.
	MaxConditionValues = 64
)

// Condition operators a bucket policy may use. Anything else (including
// IfExists and ForAnyValue variants) is refused, failing closed: a policy
// is never enforced with a condition silently ignored.
const (
	OpStringEquals    = "StringEquals"
	OpStringNotEquals = "StringNotEquals"
	OpStringLike      = "StringLike"
	OpIPAddress       = "IpAddress"
	OpNotIPAddress    = "NotIpAddress"
	OpBool            = "Bool"
)

// Condition keys a bucket policy may test (compared case-insensitively, as
// in IAM). cw:PrincipalOrgID and s3fed:PrincipalOrgID are the caller's org;
// aws:username is the caller's principal name.
const (
	KeySourceIP        = "aws:SourceIp"
	KeySecureTransport = "aws:SecureTransport"
	KeyPrefix          = "s3:prefix"
	KeyPrincipalOrgID  = "cw:PrincipalOrgID"
	KeyS3fedOrgID      = "s3fed:PrincipalOrgID"
	// KeyUsername is the caller's principal name. Principal names are unique
	// only within an org, so a grant to another org should also test
	// cw:PrincipalOrgID (or name the principal with an org-qualified ARN).
	KeyUsername = "aws:username"
)

// BucketContext carries the request facts bucket policy conditions test that
// are not part of the identity.
type BucketContext struct {
	// SourceIP is the client address; the zero Addr means unknown (an
	// IpAddress condition is then false, NotIpAddress true, as in IAM).
	SourceIP netip.Addr
	// SecureTransport is true when the request came over TLS.
	SecureTransport bool
	// Prefix is the listing prefix of s3:ListBucket / s3:ListBucketVersions;
	// for any other action s3:prefix is absent from the context.
	Prefix string
}

const (
	reasonNoBucketPolicy = "the bucket has no bucket policy"
	reasonBucketSilent   = "no statement of the bucket policy matches"
)

// BucketDecision is what a bucket policy says about a request: Allow, Deny,
// or nothing (Effect "") when no statement matched.
type BucketDecision struct {
	Effect Effect
	// Statement is the deciding statement (zero when silent).
	Statement StatementRef
	// Reason explains the decision in a sentence.
	Reason string
}

// BucketPolicy is a parsed, validated S3 bucket policy of one bucket.
//
// Principals are written in the "AWS" member of Principal. Accepted forms:
//
//   - "*": anyone (a caller of another org still needs an explicit grant
//     of its org, see Authorize);
//   - "role/NAME", "saml/SUBJECT", "oidc/SUBJECT": a role or principal name
//     of the bucket owner's org;
//   - "arn:aws:iam::ORG:root": every principal of org ORG (AWS's account
//     root, as used in cross-account bucket policies);
//   - "arn:aws:iam::ORG:role/NAME": role NAME of org ORG (the form of the
//     STS RoleArn);
//   - "arn:aws:iam::ORG:user/PRINCIPALNAME": a principal name of org ORG,
//     e.g. "arn:aws:iam::org-b:user/saml/alice@example.com".
//
// Other principal types (Federated, Service, CanonicalUser), NotPrincipal,
// NotAction and NotResource are refused.
type BucketPolicy struct {
	// Bucket is the bucket the policy belongs to; every Resource names it.
	Bucket string
	// ID is the optional "Id" of the policy.
	ID    string
	stmts []bucketStmt
}

type bucketPrincipalKind uint8

const (
	bpAny     bucketPrincipalKind = iota // "*"
	bpOrgRoot                            // every principal of org
	bpRole                               // role of org
	bpName                               // principal name of org
)

type bucketPrincipal struct {
	kind  bucketPrincipalKind
	org   string // "" = the bucket owner's org
	value string
}

type condition struct {
	op       string
	key      string // canonical spelling
	values   []string
	prefixes []netip.Prefix
	bools    []bool
}

type bucketStmt struct {
	ref        StatementRef
	effect     Effect
	principals []bucketPrincipal
	actions    []pattern
	resources  []pattern
	conditions []condition
	// orgGrant is true when a positive condition tests the caller's org:
	// the explicit cross-org grant API.md requires.
	orgGrant bool
	reason   string
}

// Len is the number of statements.
func (p *BucketPolicy) Len() int {
	if p == nil {
		return 0
	}
	return len(p.stmts)
}

// ParseBucketPolicy decodes and validates an IAM JSON bucket policy for
// bucket. Malformed JSON wraps [ErrInvalidJSON]; every rule broken is listed
// in one [*ValidationError] (What "bucket policy"), so PutBucketPolicy can
// answer MalformedPolicy with the full list.
func ParseBucketPolicy(data []byte, bucket string) (*BucketPolicy, error) {
	if bucket == "" {
		return nil, fmt.Errorf("parse bucket policy: no bucket name")
	}
	if len(data) > MaxBucketPolicyBytes {
		return nil, &ValidationError{What: "bucket policy", Problems: []Problem{{
			Reason: fmt.Sprintf("policy is %d bytes, more than the limit of %d", len(data), MaxBucketPolicyBytes),
		}}}
	}
	if err := checkSingleValue(data); err != nil {
		return nil, fmt.Errorf("bucket policy: %w", err)
	}
	c := collector{cur: -1}
	bp := &BucketPolicy{Bucket: bucket}
	fields, dup, reason := objectFields(data)
	if reason != "" {
		c.add("", "", "policy "+reason)
		return nil, &ValidationError{What: "bucket policy", Problems: c.sorted()}
	}
	if dup != "" {
		c.add("", dup, "field appears more than once")
	}
	var stmtRaw []json.RawMessage
	haveVersion, haveStatement, statementOK := false, false, false
	for _, f := range fields {
		switch f.Key {
		case "Version":
			haveVersion = true
			s, ok := jsonString(f.Value)
			if !ok {
				c.add("", "Version", "must be a string, got "+jsonKind(f.Value))
				continue
			}
			if s != BucketPolicyVersion {
				c.add("", "Version", fmt.Sprintf("unsupported version %q (want %q)", s, BucketPolicyVersion))
			}
		case "Id":
			s, ok := jsonString(f.Value)
			if !ok {
				c.add("", "Id", "must be a string, got "+jsonKind(f.Value))
				continue
			}
			bp.ID = s
		case "Statement":
			haveStatement = true
			statementOK = true
			if elems, ok := jsonArray(f.Value); ok {
				stmtRaw = elems
			} else if _, _, r := objectFields(f.Value); r == "" {
				stmtRaw = []json.RawMessage{f.Value}
			} else {
				statementOK = false
				c.add("", "Statement", "must be a statement object or an array of them, got "+jsonKind(f.Value))
			}
		default:
			c.add("", f.Key, `unknown field (a bucket policy has "Version", "Id" and "Statement")`)
		}
	}
	if !haveVersion {
		c.add("", "Version", fmt.Sprintf("required (want %q)", BucketPolicyVersion))
	}
	switch {
	case !haveStatement:
		c.add("", "Statement", "required")
	case statementOK && len(stmtRaw) == 0:
		c.add("", "Statement", "empty: a policy needs at least one statement")
	case len(stmtRaw) > MaxBucketStatements:
		c.add("", "Statement", fmt.Sprintf("%d statements, more than the limit of %d", len(stmtRaw), MaxBucketStatements))
		stmtRaw = nil
	}
	sids := map[string]int{}
	for i, raw := range stmtRaw {
		c.cur = i
		st, sid := parseBucketStatement(raw, i, bucket, &c)
		if sid != "" {
			if j, seen := sids[sid]; seen {
				c.add(sid, "Sid", fmt.Sprintf("duplicate Sid (Statement[%d] and Statement[%d])", j, i))
			} else {
				sids[sid] = i
			}
		}
		bp.stmts = append(bp.stmts, st)
	}
	if len(c.problems) > 0 {
		return nil, &ValidationError{What: "bucket policy", Problems: c.sorted()}
	}
	return bp, nil
}

// stringOrList decodes IAM's "a string or an array of strings".
func stringOrList(raw json.RawMessage) ([]string, bool) {
	if s, ok := jsonString(raw); ok {
		return []string{s}, true
	}
	elems, ok := jsonArray(raw)
	if !ok {
		return nil, false
	}
	out := make([]string, 0, len(elems))
	for _, e := range elems {
		s, ok := jsonString(e)
		if !ok {
			return nil, false
		}
		out = append(out, s)
	}
	return out, true
}

// parseBucketStatement validates one statement; sid is its non-empty Sid.
func parseBucketStatement(raw json.RawMessage, i int, bucket string, c *collector) (st bucketStmt, sid string) {
	label := fmt.Sprintf("Statement[%d]", i)
	fields, dup, reason := objectFields(raw)
	if reason != "" {
		c.add(label, "", "statement "+reason)
		return st, ""
	}
	for _, f := range fields {
		if f.Key == "Sid" {
			if s, ok := jsonString(f.Value); ok && s != "" {
				label, sid = s, s
			}
		}
	}
	st.ref = StatementRef{Bucket: bucket, Statement: label}
	if dup != "" {
		c.add(label, dup, "field appears more than once")
	}
	var have = map[string]bool{}
	for _, f := range fields {
		have[f.Key] = true
		switch f.Key {
		case "Sid":
			s, ok := jsonString(f.Value)
			switch {
			case !ok:
				c.add(label, "Sid", "must be a string, got "+jsonKind(f.Value))
			case len(s) > MaxStatementNameBytes:
				c.add(label, "Sid", fmt.Sprintf("longer than %d bytes", MaxStatementNameBytes))
			case hasControl(s):
				c.add(label, "Sid", "contains control characters")
			}
		case "Effect":
			s, ok := jsonString(f.Value)
			switch {
			case !ok:
				c.add(label, "Effect", "must be a string, got "+jsonKind(f.Value))
			case s != string(Allow) && s != string(Deny):
				c.add(label, "Effect", fmt.Sprintf(`must be "Allow" or "Deny" (case-sensitive), got %q`, s))
			default:
				st.effect = Effect(s)
			}
		case "Principal":
			st.principals = parseBucketPrincipals(f.Value, label, c)
		case "Action":
			list, ok := stringOrList(f.Value)
			if !ok {
				c.add(label, "Action", "must be a string or an array of strings")
				continue
			}
			if len(list) == 0 {
				c.add(label, "Action", "empty: at least one action is required")
			}
			for j, a := range list {
				if r := checkBucketAction(a); r != "" {
					c.add(label, fmt.Sprintf("Action[%d]", j), r)
					continue
				}
				st.actions = append(st.actions, compilePattern(a, true))
			}
		case "Resource":
			list, ok := stringOrList(f.Value)
			if !ok {
				c.add(label, "Resource", "must be a string or an array of strings")
				continue
			}
			if len(list) == 0 {
				c.add(label, "Resource", "empty: at least one resource is required")
			}
			for j, r := range list {
				res, why := bucketResource(r, bucket)
				if why != "" {
					c.add(label, fmt.Sprintf("Resource[%d]", j), why)
					continue
				}
				st.resources = append(st.resources, compilePattern(res, false))
			}
		case "Condition":
			st.conditions, st.orgGrant = parseConditions(f.Value, label, c)
		case "NotPrincipal", "NotAction", "NotResource":
			c.add(label, f.Key, "not supported: write the statement with Principal, Action and Resource")
		default:
			c.add(label, f.Key, `unknown field (a statement has "Sid", "Effect", "Principal", "Action", "Resource" and "Condition")`)
		}
	}
	for _, req := range []string{"Effect", "Principal", "Action", "Resource"} {
		if !have[req] {
			c.add(label, req, "required")
		}
	}
	if st.effect == Allow {
		st.reason = fmt.Sprintf("allowed by statement %q of the bucket policy of %q", label, bucket)
	} else {
		st.reason = fmt.Sprintf("explicitly denied by statement %q of the bucket policy of %q", label, bucket)
	}
	st.ref.Effect = st.effect
	return st, sid
}

func parseBucketPrincipals(raw json.RawMessage, label string, c *collector) []bucketPrincipal {
	if s, ok := jsonString(raw); ok {
		if s != "*" {
			c.add(label, "Principal", fmt.Sprintf(`must be "*" or {"AWS": ...}, got %q`, s))
			return nil
		}
		return []bucketPrincipal{{kind: bpAny}}
	}
	fields, dup, reason := objectFields(raw)
	if reason != "" {
		c.add(label, "Principal", `must be "*" or {"AWS": "..." or [...]}`)
		return nil
	}
	if dup != "" {
		c.add(label, "Principal."+dup, "field appears more than once")
	}
	var out []bucketPrincipal
	if len(fields) == 0 {
		c.add(label, "Principal", `empty: use "*" or {"AWS": [...]}`)
	}
	for _, f := range fields {
		if f.Key != "AWS" {
			c.add(label, "Principal."+f.Key, `unsupported principal type: only "AWS" principals are accepted`)
			continue
		}
		list, ok := stringOrList(f.Value)
		if !ok {
			c.add(label, "Principal.AWS", "must be a string or an array of strings")
			continue
		}
		if len(list) == 0 {
			c.add(label, "Principal.AWS", "empty: at least one principal is required")
		}
		for j, p := range list {
			bpr, why := parseBucketPrincipal(p)
			if why != "" {
				c.add(label, fmt.Sprintf("Principal.AWS[%d]", j), why)
				continue
			}
			out = append(out, bpr)
		}
	}
	return out
}

// parseBucketPrincipal accepts the forms documented on BucketPolicy.
func parseBucketPrincipal(p string) (bucketPrincipal, string) {
	const forms = `use "*", "role/NAME", a principal name such as "saml/alice@example.com", or "arn:aws:iam::ORG:root", "arn:aws:iam::ORG:role/NAME", "arn:aws:iam::ORG:user/PRINCIPALNAME"`
	if p == "*" {
		return bucketPrincipal{kind: bpAny}, ""
	}
	if rest, ok := strings.CutPrefix(p, "arn:aws:iam::"); ok {
		org, res, ok := strings.Cut(rest, ":")
		if !ok || org == "" || strings.ContainsAny(org, "/*?") || hasControl(org) {
			return bucketPrincipal{}, fmt.Sprintf("%q: malformed ARN: %s", p, forms)
		}
		switch {
		case res == "root":
			return bucketPrincipal{kind: bpOrgRoot, org: org}, ""
		case strings.HasPrefix(res, "role/"):
			if r := checkPrincipal(res); r != "" {
				return bucketPrincipal{}, r
			}
			return bucketPrincipal{kind: bpRole, org: org, value: strings.TrimPrefix(res, "role/")}, ""
		case strings.HasPrefix(res, "user/"):
			name := strings.TrimPrefix(res, "user/")
			if !strings.HasPrefix(name, "saml/") && !strings.HasPrefix(name, "oidc/") {
				return bucketPrincipal{}, fmt.Sprintf(`%q: a user ARN names a principal name, e.g. "arn:aws:iam::ORG:user/saml/alice@example.com"`, p)
			}
			if r := checkPrincipal(name); r != "" {
				return bucketPrincipal{}, r
			}
			return bucketPrincipal{kind: bpName, org: org, value: name}, ""
		default:
			return bucketPrincipal{}, fmt.Sprintf("%q: unsupported ARN: %s", p, forms)
		}
	}
	if r := checkPrincipal(p); r != "" {
		return bucketPrincipal{}, r
	}
	kind, rest, _ := strings.Cut(p, "/")
	switch kind {
	case "role":
		return bucketPrincipal{kind: bpRole, value: rest}, ""
	case "saml", "oidc":
		return bucketPrincipal{kind: bpName, value: p}, ""
	default:
		return bucketPrincipal{}, fmt.Sprintf("%q: bucket policies do not accept %s principals: %s", p, kind, forms)
	}
}

// checkBucketAction allows "*" and s3 actions only.
func checkBucketAction(a string) string {
	if r := checkAction(a); r != "" {
		return r
	}
	if a != "*" && !strings.HasPrefix(strings.ToLower(a), "s3:") {
		return fmt.Sprintf(`%q: bucket policies grant S3 actions only ("s3:NAME" or "*")`, a)
	}
	return ""
}

// bucketResource turns "arn:aws:s3:::BUCKET[/KEY-PATTERN]" into the engine's
// resource form, refusing any other bucket.
func bucketResource(r, bucket string) (string, string) {
	rest, ok := strings.CutPrefix(r, "arn:aws:s3:::")
	if !ok {
		return "", fmt.Sprintf(`%q: use "arn:aws:s3:::%s" or "arn:aws:s3:::%s/KEY-PATTERN"`, r, bucket, bucket)
	}
	b, key, hasKey := strings.Cut(rest, "/")
	if b != bucket {
		return "", fmt.Sprintf("%q: a bucket policy may only name its own bucket %q", r, bucket)
	}
	if hasKey && key == "" {
		return "", fmt.Sprintf(`%q has an empty key pattern: use "arn:aws:s3:::%s/*" for every object`, r, bucket)
	}
	if len(rest) > MaxResourceBytes {
		return "", fmt.Sprintf("longer than %d bytes", MaxResourceBytes)
	}
	if hasControl(rest) {
		return "", "contains control characters"
	}
	return rest, ""
}

// conditionKeys maps lowercased keys to their canonical spelling.
var conditionKeys = map[string]string{
	strings.ToLower(KeySourceIP):        KeySourceIP,
	strings.ToLower(KeySecureTransport): KeySecureTransport,
	strings.ToLower(KeyPrefix):          KeyPrefix,
	strings.ToLower(KeyPrincipalOrgID):  KeyPrincipalOrgID,
	strings.ToLower(KeyS3fedOrgID):      KeyPrincipalOrgID, // alias
	strings.ToLower(KeyUsername):        KeyUsername,
}

// parseConditions validates a Condition block. orgGrant reports a positive
// test of the caller's org (StringEquals or StringLike on cw:PrincipalOrgID).
func parseConditions(raw json.RawMessage, label string, c *collector) (conds []condition, orgGrant bool) {
	ops, dup, reason := objectFields(raw)
	if reason != "" {
		c.add(label, "Condition", reason)
		return nil, false
	}
	if dup != "" {
		c.add(label, "Condition."+dup, "operator appears more than once")
	}
	for _, op := range ops {
		field := "Condition." + op.Key
		switch op.Key {
		case OpStringEquals, OpStringNotEquals, OpStringLike, OpIPAddress, OpNotIPAddress, OpBool:
		default:
			c.add(label, field, "unsupported condition operator: use StringEquals, StringNotEquals, StringLike, IpAddress, NotIpAddress or Bool")
			continue
		}
		keys, kdup, reason := objectFields(op.Value)
		if reason != "" {
			c.add(label, field, reason)
			continue
		}
		if kdup != "" {
			c.add(label, field+"."+kdup, "condition key appears more than once")
		}
		if len(keys) == 0 {
			c.add(label, field, "empty: name at least one condition key")
		}
		for _, k := range keys {
			kfield := field + "." + k.Key
			key, known := conditionKeys[strings.ToLower(k.Key)]
			if !known {
				c.add(label, kfield, "unsupported condition key: use aws:SourceIp, aws:SecureTransport, s3:prefix, cw:PrincipalOrgID (or s3fed:PrincipalOrgID) or aws:username")
				continue
			}
			cond := condition{op: op.Key, key: key}
			values, ok := conditionValues(k.Value)
			if !ok {
				c.add(label, kfield, "must be a string, a boolean or an array of them")
				continue
			}
			if len(values) == 0 || len(values) > MaxConditionValues {
				c.add(label, kfield, fmt.Sprintf("needs 1 to %d values", MaxConditionValues))
				continue
			}
			why := ""
			switch op.Key {
			case OpIPAddress, OpNotIPAddress:
				if key != KeySourceIP {
					why = fmt.Sprintf("%s applies only to %s", op.Key, KeySourceIP)
					break
				}
				for _, v := range values {
					pfx, err := parseIPValue(v)
					if err != nil {
						why = fmt.Sprintf("%q is not an IP address or CIDR range", v)
						break
					}
					cond.prefixes = append(cond.prefixes, pfx)
				}
			case OpBool:
				if key != KeySecureTransport {
					why = fmt.Sprintf("Bool applies only to %s", KeySecureTransport)
					break
				}
				for _, v := range values {
					switch strings.ToLower(v) {
					case "true":
						cond.bools = append(cond.bools, true)
					case "false":
						cond.bools = append(cond.bools, false)
					default:
						why = fmt.Sprintf("%q is not true or false", v)
					}
				}
			default:
				switch key {
				case KeySourceIP:
					why = "compare aws:SourceIp with IpAddress or NotIpAddress"
				case KeySecureTransport:
					why = "compare aws:SecureTransport with Bool"
				}
				for _, v := range values {
					if hasControl(v) {
						why = "values contain control characters"
					}
				}
				cond.values = values
				if key == KeyPrincipalOrgID && op.Key != OpStringNotEquals {
					orgGrant = true
				}
			}
			if why != "" {
				c.add(label, kfield, why)
				continue
			}
			conds = append(conds, cond)
		}
	}
	return conds, orgGrant
}

// conditionValues decodes a string, boolean, or array of them as strings.
func conditionValues(raw json.RawMessage) ([]string, bool) {
	one := func(r json.RawMessage) (string, bool) {
		if s, ok := jsonString(r); ok {
			return s, true
		}
		var b bool
		if err := json.Unmarshal(r, &b); err == nil {
			if b {
				return "true", true
			}
			return "false", true
		}
		return "", false
	}
	if s, ok := one(raw); ok {
		return []string{s}, true
	}
	elems, ok := jsonArray(raw)
	if !ok {
		return nil, false
	}
	out := make([]string, 0, len(elems))
	for _, e := range elems {
		s, ok := one(e)
		if !ok {
			return nil, false
		}
		out = append(out, s)
	}
	return out, true
}

// parseIPValue accepts a CIDR range or a single address.
func parseIPValue(v string) (netip.Prefix, error) {
	if strings.Contains(v, "/") {
		p, err := netip.ParsePrefix(v)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("parse CIDR %q: %w", v, err)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(v)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("parse IP %q: %w", v, err)
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// matches reports whether the principal names the caller. Unqualified
// principals belong to the bucket owner's org.
func (p *bucketPrincipal) matches(req Request, ownerOrg string) bool {
	org := p.org
	if org == "" {
		org = ownerOrg
	}
	switch p.kind {
	case bpAny:
		return true
	case bpOrgRoot:
		return req.OrgID == org
	case bpRole:
		return req.OrgID == org && req.Role != "" && req.Role == p.value
	default:
		return req.OrgID == org && req.PrincipalName != "" && req.PrincipalName == p.value
	}
}

// explicitFor reports whether the principal names org explicitly.
func (p *bucketPrincipal) explicitFor(org string) bool {
	return p.kind != bpAny && p.org == org
}

// isListAction reports the actions that carry s3:prefix.
func isListAction(action string) bool {
	return equalFold(action, "s3:listbucket") || equalFold(action, "s3:listbucketversions")
}

// test evaluates the condition with IAM's rules: a key absent from the
// context makes positive operators false and negated ones true.
func (c *condition) test(req Request, ctx BucketContext) bool {
	var s string
	present := true
	switch c.key {
	case KeySourceIP:
		present = ctx.SourceIP.IsValid()
	case KeySecureTransport:
	case KeyPrefix:
		s, present = ctx.Prefix, isListAction(req.Action)
	case KeyPrincipalOrgID:
		s, present = req.OrgID, req.OrgID != ""
	case KeyUsername:
		s, present = req.PrincipalName, req.PrincipalName != ""
	}
	switch c.op {
	case OpStringEquals:
		for _, v := range c.values {
			if present && s == v {
				return true
			}
		}
		return false
	case OpStringLike:
		for _, v := range c.values {
			if present && globMatch(v, s, false) {
				return true
			}
		}
		return false
	case OpStringNotEquals:
		for _, v := range c.values {
			if present && s == v {
				return false
			}
		}
		return true
	case OpIPAddress, OpNotIPAddress:
		in := false
		if present {
			ip := ctx.SourceIP.Unmap()
			for _, p := range c.prefixes {
				if p.Contains(ip) {
					in = true
					break
				}
			}
		}
		return in == (c.op == OpIPAddress)
	case OpBool:
		for _, b := range c.bools {
			if ctx.SecureTransport == b {
				return true
			}
		}
		return false
	}
	return false // unknown operators cannot be parsed; fail closed anyway
}

// matches reports whether the statement applies to the request.
func (st *bucketStmt) matches(req Request, ctx BucketContext, ownerOrg string) bool {
	principal := false
	for i := range st.principals {
		if st.principals[i].matches(req, ownerOrg) {
			principal = true
			break
		}
	}
	if !principal {
		return false
	}
	action := false
	for i := range st.actions {
		if st.actions[i].match(req.Action) {
			action = true
			break
		}
	}
	if !action {
		return false
	}
	resource := false
	global := isGlobalResource(req.Resource)
	for i := range st.resources {
		if st.resources[i].matchResource(req.Resource, global) {
			resource = true
			break
		}
	}
	if !resource {
		return false
	}
	for i := range st.conditions {
		if !st.conditions[i].test(req, ctx) {
			return false
		}
	}
	return true
}

// grantsForeign reports whether an Allow statement explicitly grants a
// caller of another org: by a cw:PrincipalOrgID condition or by a principal
// qualified with the caller's org.
func (st *bucketStmt) grantsForeign(req Request) bool {
	if st.orgGrant {
		return true
	}
	for i := range st.principals {
		if st.principals[i].explicitFor(req.OrgID) {
			return true
		}
	}
	return false
}

// Evaluate applies the bucket policy to a request of a caller of any org;
// ownerOrg is the org that owns the bucket (unqualified principals belong to
// it). The first matching Deny wins, then the first matching Allow; with no
// match the policy is silent (Effect ""). For a caller of another org only
// an Allow that grants its org explicitly counts. A nil policy is silent.
func (p *BucketPolicy) Evaluate(req Request, ctx BucketContext, ownerOrg string) BucketDecision {
	if p == nil {
		return BucketDecision{Reason: reasonNoBucketPolicy}
	}
	foreign := req.OrgID != ownerOrg
	var allow *bucketStmt
	for i := range p.stmts {
		st := &p.stmts[i]
		if st.effect == Allow && allow != nil {
			continue
		}
		if !st.matches(req, ctx, ownerOrg) {
			continue
		}
		if st.effect == Deny {
			return BucketDecision{Effect: Deny, Statement: st.ref, Reason: st.reason}
		}
		if foreign && !st.grantsForeign(req) {
			continue
		}
		allow = st
	}
	if allow != nil {
		return BucketDecision{Effect: Allow, Statement: allow.ref, Reason: allow.reason}
	}
	return BucketDecision{Reason: reasonBucketSilent}
}

// IsPublic reports whether the policy grants access to anyone: an Allow
// statement whose principal is "*" and whose conditions do not pin the
// caller down to an org (cw:PrincipalOrgID), a principal name
// (aws:username) or a fixed set of addresses (IpAddress without a
// catch-all range). It is what S3's GetBucketPolicyStatus reports and
// what Block Public Access's BlockPublicPolicy refuses, after AWS's
// definition of a public bucket policy.
func (p *BucketPolicy) IsPublic() bool {
	if p == nil {
		return false
	}
	for i := range p.stmts {
		st := &p.stmts[i]
		if st.effect != Allow || !st.anyPrincipal() || st.restrictsCaller() {
			continue
		}
		return true
	}
	return false
}

func (st *bucketStmt) anyPrincipal() bool {
	for _, pr := range st.principals {
		if pr.kind == bpAny {
			return true
		}
	}
	return false
}

// restrictsCaller reports a condition that makes a "*" principal
// non-public.
func (st *bucketStmt) restrictsCaller() bool {
	for _, c := range st.conditions {
		switch {
		case (c.key == KeyPrincipalOrgID || c.key == KeyUsername) && c.op == OpStringEquals:
			return true
		case (c.key == KeyPrincipalOrgID || c.key == KeyUsername) && c.op == OpStringLike && !anyWildcard(c.values):
			return true
		case c.key == KeySourceIP && c.op == OpIPAddress && !anyCatchAll(c.prefixes):
			return true
		}
	}
	return false
}

func anyWildcard(vs []string) bool {
	for _, v := range vs {
		if strings.ContainsAny(v, "*?") {
			return true
		}
	}
	return false
}

func anyCatchAll(ps []netip.Prefix) bool {
	for _, p := range ps {
		if p.Bits() == 0 {
			return true
		}
	}
	return false
}
