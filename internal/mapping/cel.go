package mapping

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/checker"
	"github.com/google/cel-go/common/ast"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/common/types/traits"
	"github.com/google/cel-go/ext"

	"github.com/s3fed/s3fed/internal/identity"
)

// Limits of CEL attribute mappings and conditions. The byte limits are
// GCP's (workforce/workload identity pool providers); the cost limit is
// s3fed's, see MaxCost.
const (
	// MaxMappingBytes bounds the whole attributeMapping: every target name
	// and expression together.
	MaxMappingBytes = 8192
	// MaxExpressionBytes bounds one mapping expression.
	MaxExpressionBytes = 2048
	// MaxConditionBytes bounds the attributeCondition.
	MaxConditionBytes = 4096
	// MaxAttributeTargets bounds the attribute.NAME targets of a mapping.
	MaxAttributeTargets = 50
	// MaxGroups bounds the groups a mapping may yield (API.md).
	MaxGroups = 100
	// MaxGroupBytes bounds one group name (policies name it as group/NAME).
	MaxGroupBytes = 256
	// MaxAttributeValues bounds the values of one mapped attribute.
	MaxAttributeValues = 50
	// MaxAttributeValueBytes bounds one mapped attribute value (policies
	// name it as attribute/KEY/VALUE).
	MaxAttributeValueBytes = 256
	// MaxCost bounds each expression's estimated worst-case cost, in
	// cel-go's cost units (about one per basic operation, plus a tenth of
	// the length of each string scanned and one per character built), as
	// cel-go's checker estimates it when the config is written, assuming
	// every string, list and map reached from the assertion has up to
	// EstimatedInputSize elements and every element of such a list up to
	// EstimatedElementSize. One loop over a list (map, filter, exists, in)
	// fits; a loop inside a loop does not.
	MaxCost = 100_000
	// MaxTotalCost bounds the estimates of the mapping and the condition
	// together, so 50 attribute targets cannot add up to a slow exchange.
	MaxTotalCost = 250_000
	// EstimatedInputSize is the length write-time cost estimation assumes
	// for every string, list and map reached from the assertion. Lists and
	// maps are held to it at exchange time (MaxInputMembers), so a loop
	// runs no more often than the estimate assumed.
	EstimatedInputSize = 512
	// MaxInputMembers bounds every array and object in OIDC claims and the
	// number of SAML attributes and of values of each, when a config has
	// CEL rules (the defaults read no lists). Real IdPs cap group claims
	// far lower (Okta 100, Entra ID 200).
	MaxInputMembers = EstimatedInputSize
	// EstimatedElementSize is the length it assumes for the element a
	// comprehension variable stands for (a group name, an e-mail address).
	EstimatedElementSize = 64
	// MaxEvalTime bounds the wall-clock time of one exchange's mapping and
	// condition together; passing it is condition_not_met. It is the
	// run-time backstop behind the write-time estimate and MaxInputMembers
	// (see Rules), far above what any accepted rules need (milliseconds).
	MaxEvalTime = 100 * time.Millisecond
	// interruptCheckEvery is how many comprehension iterations run between
	// two looks at the deadline.
	interruptCheckEvery = 64
)

// Target names of an attributeMapping (API.md).
const (
	TargetSubject = "subject"
	TargetRole    = "role"
	TargetGroups  = "groups"
	// targetAttributePrefix starts attribute.NAME targets.
	targetAttributePrefix = "attribute."
)

// targetAliases are GCP's names, accepted so GCP mappings paste unchanged.
var targetAliases = map[string]string{"google.subject": TargetSubject, "google.groups": TargetGroups}

var attributeTarget = regexp.MustCompile(`^attribute\.[a-z_][a-z0-9_]{0,99}$`)

// Spec is a config's CEL rules as the admin API receives and stores them.
type Spec struct {
	// AttributeMapping maps a TARGET to a CEL expression over assertion.
	AttributeMapping map[string]string
	// AttributeCondition is a CEL bool over assertion, subject, role,
	// groups, attribute and google; "" means none.
	AttributeCondition string
}

// Empty reports whether the spec has neither mapping nor condition.
func (s Spec) Empty() bool { return len(s.AttributeMapping) == 0 && s.AttributeCondition == "" }

// Rules are a config's compiled attribute mapping and condition. Compile
// them once per config version (at write time, to refuse bad ones, and
// when a verifier is built); they are immutable and safe for concurrent
// use. A nil *Rules maps with Default and has no condition.
//
// Cost is bounded at write time: cel-go's cost estimator refuses any
// expression whose worst case passes MaxCost (and a set whose total passes
// MaxTotalCost), which rules out nested loops and repeated scans. At
// exchange time the assumptions of that estimate are enforced
// (MaxInputMembers), and evaluation runs under a MaxEvalTime deadline
// checked every few comprehension iterations as a backstop, not under
// cel-go's run-time cost tracker:
// in cel-go v0.31 that tracker costs time quadratic in the iterations of a
// comprehension (measured: a filter over 8,000 claims took 75 ms tracked
// and 1.3 ms untracked), so enabling it would itself make exchanges slow.
type Rules struct {
	subject, role, groups *program
	attributes            []*program // sorted by attribute name
	condition             *program
	mapped                bool   // an attributeMapping is present
	cost                  uint64 // estimated worst case of all expressions
}

type program struct {
	field string // how errors name it: attributeMapping["google.subject"], attributeCondition
	name  string // attribute name for attribute.NAME targets
	prg   cel.Program
	cost  uint64 // estimated worst-case cost
	// loops: the expression has a comprehension (a macro such as map or
	// exists), the only thing whose running time the deadline must watch;
	// loop-free expressions skip the context set-up.
	loops bool
}

type outputKind int

const (
	outString outputKind = iota
	outStringList
	outStringOrList
	outBool
)

// evalTimeout is MaxEvalTime; tests shorten it.
var evalTimeout = MaxEvalTime

var (
	envOnce                       sync.Once
	mappingEnv, conditionEnv      *cel.Env
	envErr                        error
	recoveredPanics               atomic.Int64
	assertionType                 = cel.MapType(cel.StringType, cel.DynType)
	stringListType                = cel.ListType(cel.StringType)
	errCompileEnvironmentNotReady = fmt.Errorf("mapping: CEL environment")
)

// envs builds the two CEL environments once: mapping expressions see only
// assertion (as in GCP); the condition also sees the mapped results. Both
// have CEL's standard library and cel-go's strings extension (split, join,
// lowerAscii, replace, substring, trim, …), whose functions all carry cost
// estimates.
func envs() (*cel.Env, *cel.Env, error) {
	envOnce.Do(func() {
		common := []cel.EnvOption{
			ext.Strings(),
			cel.CrossTypeNumericComparisons(true),
			cel.ParserExpressionSizeLimit(MaxConditionBytes),
			cel.Variable("assertion", assertionType),
		}
		mappingEnv, envErr = cel.NewEnv(common...)
		if envErr != nil {
			return
		}
		conditionEnv, envErr = cel.NewEnv(append(common,
			cel.Variable("subject", cel.StringType),
			cel.Variable("role", cel.StringType),
			cel.Variable("groups", stringListType),
			cel.Variable("attribute", cel.MapType(cel.StringType, cel.DynType)),
			cel.Variable("google", cel.MapType(cel.StringType, cel.DynType)),
		)...)
	})
	if envErr != nil {
		return nil, nil, fmt.Errorf("%w: %v", errCompileEnvironmentNotReady, envErr)
	}
	return mappingEnv, conditionEnv, nil
}

func invalid(format string, args ...any) *Error {
	return &Error{Code: CodeInvalidArgument, Message: fmt.Sprintf(format, args...)}
}

// Compile checks a Spec the way the admin API must when a config is
// written, and returns the compiled Rules: target names, byte limits,
// CEL syntax, types (subject and role yield a string, groups a list of
// strings, attribute.* a string or list of strings, the condition a bool —
// or dyn, checked again at exchange time) and the worst-case cost. Every
// refusal is an *Error with CodeInvalidArgument naming the target and the
// CEL error. An empty Spec compiles to nil Rules (the defaults).
func Compile(spec Spec) (*Rules, error) {
	if spec.Empty() {
		return nil, nil
	}
	menv, cenv, err := envs()
	if err != nil {
		return nil, err
	}
	r := &Rules{mapped: len(spec.AttributeMapping) > 0}
	total := 0
	targets := make([]string, 0, len(spec.AttributeMapping))
	for t := range spec.AttributeMapping {
		targets = append(targets, t)
	}
	sort.Strings(targets)
	seen := map[string]string{}
	for _, t := range targets {
		src := spec.AttributeMapping[t]
		total += len(t) + len(src)
		canon, ok := targetAliases[t]
		if !ok {
			canon = t
		}
		if prev, dup := seen[canon]; dup {
			return nil, invalid("attributeMapping: %q and %q both map %s", prev, t, canon)
		}
		seen[canon] = t
		field := fmt.Sprintf("attributeMapping[%q]", t)
		var p *program
		switch {
		case canon == TargetSubject || canon == TargetRole:
			p, err = compileExpr(menv, field, src, MaxExpressionBytes, outString)
		case canon == TargetGroups:
			p, err = compileExpr(menv, field, src, MaxExpressionBytes, outStringList)
		case attributeTarget.MatchString(canon):
			p, err = compileExpr(menv, field, src, MaxExpressionBytes, outStringOrList)
			if p != nil {
				p.name = strings.TrimPrefix(canon, targetAttributePrefix)
			}
		default:
			return nil, invalid("attributeMapping: unknown target %s: use subject, role, groups or attribute.NAME with NAME matching [a-z_][a-z0-9_]{0,99} (google.subject and google.groups are accepted as aliases)", quote(t))
		}
		if err != nil {
			return nil, err
		}
		switch canon {
		case TargetSubject:
			r.subject = p
		case TargetRole:
			r.role = p
		case TargetGroups:
			r.groups = p
		default:
			r.attributes = append(r.attributes, p)
		}
	}
	if total > MaxMappingBytes {
		return nil, invalid("attributeMapping is %d bytes (targets and expressions), at most %d allowed", total, MaxMappingBytes)
	}
	if len(r.attributes) > MaxAttributeTargets {
		return nil, invalid("attributeMapping has %d attribute targets, at most %d allowed", len(r.attributes), MaxAttributeTargets)
	}
	if r.mapped && r.subject == nil {
		return nil, invalid("attributeMapping must map subject (or google.subject): it names the principal")
	}
	if spec.AttributeCondition != "" {
		if r.condition, err = compileExpr(cenv, "attributeCondition", spec.AttributeCondition, MaxConditionBytes, outBool); err != nil {
			return nil, err
		}
	}
	for _, c := range r.Costs() {
		r.cost += c
	}
	if r.cost > MaxTotalCost {
		return nil, invalid("attributeMapping and attributeCondition together are too expensive: their worst case costs about %d units, at most %d allowed", r.cost, MaxTotalCost)
	}
	return r, nil
}

func compileExpr(env *cel.Env, field, src string, maxBytes int, want outputKind) (*program, error) {
	if len(src) > maxBytes {
		return nil, invalid("%s is %d bytes, at most %d allowed", field, len(src), maxBytes)
	}
	if strings.TrimSpace(src) == "" {
		return nil, invalid("%s is empty", field)
	}
	checked, iss := env.Compile(src)
	if iss.Err() != nil {
		return nil, invalid("%s: %v", field, iss.Err())
	}
	if err := checkOutputType(checked.OutputType(), want); err != nil {
		return nil, invalid("%s %v", field, err)
	}
	est, err := env.EstimateCost(checked, sizeEstimator{})
	if err != nil {
		return nil, invalid("%s: cost cannot be estimated: %v", field, err)
	}
	if est.Max > MaxCost {
		return nil, invalid("%s is too expensive: its worst case costs about %s units, at most %d allowed (avoid nested loops over lists and repeated scans of long strings)", field, costString(est.Max), MaxCost)
	}
	prg, err := env.Program(checked, cel.EvalOptions(cel.OptOptimize), cel.InterruptCheckFrequency(interruptCheckEvery))
	if err != nil {
		return nil, invalid("%s: %v", field, err)
	}
	loops := len(ast.MatchDescendants(ast.NavigateAST(checked.NativeRep()), ast.KindMatcher(ast.ComprehensionKind))) > 0
	return &program{field: field, prg: prg, cost: est.Max, loops: loops}, nil
}

func costString(c uint64) string {
	if c == ^uint64(0) {
		return "unbounded"
	}
	return fmt.Sprint(c)
}

func checkOutputType(t *cel.Type, want outputKind) error {
	k := t.Kind()
	if k == types.DynKind || k == types.AnyKind {
		return nil // checked on every evaluation
	}
	listOfStrings := func() bool {
		if k != types.ListKind {
			return false
		}
		ek := t.Parameters()[0].Kind()
		return ek == types.StringKind || ek == types.DynKind || ek == types.AnyKind
	}
	ok := false
	var what string
	switch want {
	case outString:
		ok, what = k == types.StringKind, "a string"
	case outStringList:
		ok, what = listOfStrings(), "a list of strings"
	case outStringOrList:
		ok, what = k == types.StringKind || listOfStrings(), "a string or a list of strings"
	case outBool:
		ok, what = k == types.BoolKind, "a bool"
	}
	if !ok {
		return fmt.Errorf("must yield %s, it yields %s", what, t.String())
	}
	return nil
}

// sizeEstimator tells cel-go's cost estimator how large the inputs can be:
// a comprehension variable (an identifier that is not one of the declared
// variables) stands for one element, at most EstimatedElementSize long;
// everything else reached from the assertion or the mapped values is at
// most EstimatedInputSize long.
type sizeEstimator struct{}

var declaredVariables = map[string]bool{"assertion": true, "subject": true, "role": true, "groups": true, "attribute": true, "google": true}

func (sizeEstimator) EstimateSize(n checker.AstNode) *checker.SizeEstimate {
	if e := n.Expr(); e != nil && e.Kind() == ast.IdentKind && !declaredVariables[e.AsIdent()] {
		return &checker.SizeEstimate{Min: 0, Max: EstimatedElementSize}
	}
	return &checker.SizeEstimate{Min: 0, Max: EstimatedInputSize}
}

func (sizeEstimator) EstimateCallCost(string, string, *checker.AstNode, []checker.AstNode) *checker.CallEstimate {
	return nil
}

// Result is what Evaluate found: the identity and, when the config has a
// condition, its value.
type Result struct {
	Identity identity.Identity
	// Condition is the attributeCondition's value; nil when there is none.
	Condition *bool
}

// Apply maps a verified assertion to the identity and applies the
// condition: mapped targets come from the CEL expressions, unmapped
// subject and role from Default's rules, groups only from a mapping, and
// attributes from the mapping when there is one (else Default's). Every
// failure is an *Error with CodeConditionNotMet naming the target (an
// expression error, a wrong result type, a limit, or a false condition).
func (r *Rules) Apply(ctx context.Context, in Input, orgID, configID string) (identity.Identity, error) {
	res, err := r.Evaluate(ctx, in, orgID, configID)
	if err != nil {
		return identity.Identity{}, err
	}
	if res.Condition != nil && !*res.Condition {
		return identity.Identity{}, notMet("attributeCondition is false for this assertion")
	}
	return res.Identity, nil
}

// Evaluate is Apply without refusing a false condition, for the config
// ":test" endpoint, which shows the mapped identity and the condition's
// value.
func (r *Rules) Evaluate(ctx context.Context, in Input, orgID, configID string) (res Result, err error) {
	defer func() {
		if p := recover(); p != nil {
			recoveredPanics.Add(1)
			res, err = Result{}, notMet("internal evaluation failure")
		}
	}()
	if r == nil {
		id, err := Default(in, orgID, configID)
		return Result{Identity: id}, err
	}
	if err := checkIDs(orgID, configID); err != nil {
		return Result{}, err
	}
	if err := checkInputMembers(in); err != nil {
		return Result{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, evalTimeout)
	defer cancel()
	assertion := assertionValue(in)
	vars := map[string]any{"assertion": assertion}

	var subject, source string
	if r.subject != nil {
		if subject, err = r.subject.evalString(ctx, vars); err != nil {
			return Result{}, err
		}
		source = r.subject.field
	} else if subject, source, err = defaultSubject(in); err != nil {
		return Result{}, err
	}
	var role string
	if r.role != nil {
		if role, err = r.role.evalString(ctx, vars); err != nil {
			return Result{}, err
		}
		if err := checkRole(role, r.role.field); err != nil {
			return Result{}, err
		}
	} else if role, err = defaultRole(in); err != nil {
		return Result{}, err
	}
	var groups []string
	if r.groups != nil {
		if groups, err = r.groups.evalStrings(ctx, vars, MaxGroups, MaxGroupBytes); err != nil {
			return Result{}, err
		}
	}
	var attrs map[string][]string
	produced := map[string]any{}
	if r.mapped {
		for _, p := range r.attributes {
			v, err := p.eval(ctx, vars)
			if err != nil {
				return Result{}, err
			}
			if s, ok := v.(types.String); ok {
				produced[p.name] = string(s)
			}
			values, err := p.toStrings(v, MaxAttributeValues, MaxAttributeValueBytes)
			if err != nil {
				return Result{}, err
			}
			if _, ok := produced[p.name]; !ok {
				produced[p.name] = values
			}
			if len(values) > 0 {
				if attrs == nil {
					attrs = map[string][]string{}
				}
				attrs[p.name] = values
			}
		}
	} else {
		attrs = defaultAttributes(in)
	}
	id, err := buildIdentity(in.Provider, orgID, configID, subject, source, role, groups, attrs)
	if err != nil {
		return Result{}, err
	}
	res.Identity = id
	if r.condition != nil {
		g := groups
		if g == nil {
			g = []string{}
		}
		cvars := map[string]any{
			"assertion": assertion,
			"subject":   subject,
			"role":      role,
			"groups":    g,
			"attribute": produced,
			"google":    map[string]any{"subject": subject, "groups": g},
		}
		v, err := r.condition.eval(ctx, cvars)
		if err != nil {
			return Result{}, err
		}
		b, ok := v.(types.Bool)
		if !ok {
			return Result{}, notMet("attributeCondition must yield a bool, it yielded %s", v.Type().TypeName())
		}
		cond := bool(b)
		res.Condition = &cond
	}
	return res, nil
}

// checkInputMembers holds the assertion to MaxInputMembers members per
// list and map, the size the write-time cost estimate assumed.
func checkInputMembers(in Input) error {
	tooMany := func(what string, n int) error {
		return notMet("%s has %d members; a config with CEL rules accepts at most %d", what, n, MaxInputMembers)
	}
	if n := len(in.Attributes); n > MaxInputMembers {
		return tooMany("the assertion's attribute set", n)
	}
	for name, vs := range in.Attributes {
		if len(vs) > MaxInputMembers {
			return tooMany("attribute "+quote(name), len(vs))
		}
	}
	if n := len(in.Claims); n > MaxInputMembers {
		return tooMany("the claim set", n)
	}
	var walk func(v any) int
	walk = func(v any) int { // the size of the first oversized list or map, else 0
		switch v := v.(type) {
		case []any:
			if len(v) > MaxInputMembers {
				return len(v)
			}
			for _, e := range v {
				if n := walk(e); n > 0 {
					return n
				}
			}
		case map[string]any:
			if len(v) > MaxInputMembers {
				return len(v)
			}
			for _, e := range v {
				if n := walk(e); n > 0 {
					return n
				}
			}
		}
		return 0
	}
	for name, v := range in.Claims {
		if n := walk(v); n > 0 {
			return tooMany("a list or object in claim "+quote(name), n)
		}
	}
	return nil
}

// assertionValue is the CEL "assertion" as GCP defines it: for SAML
// {"subject": NameID, "attributes": {NAME: [values]}}, for OIDC the claims.
func assertionValue(in Input) any {
	if in.Provider == identity.ProviderSAML {
		attrs := in.Attributes
		if attrs == nil {
			attrs = map[string][]string{}
		}
		return map[string]any{"subject": in.Subject, "attributes": attrs}
	}
	if in.Claims == nil {
		return map[string]any{}
	}
	return in.Claims
}

// eval runs the program, under ctx's deadline when it has loops.
func (p *program) eval(ctx context.Context, vars map[string]any) (ref.Val, error) {
	var v ref.Val
	var err error
	if p.loops {
		v, _, err = p.prg.ContextEval(ctx, vars)
	} else {
		v, _, err = p.prg.Eval(vars)
	}
	if err != nil {
		switch {
		case errors.Is(err, context.DeadlineExceeded):
			return nil, notMet("%s: evaluation stopped: the mapping and condition may take at most %s per exchange", p.field, MaxEvalTime)
		case errors.Is(err, context.Canceled):
			return nil, notMet("%s: evaluation cancelled", p.field)
		}
		return nil, notMet("%s: evaluation failed: %v", p.field, err)
	}
	if types.IsError(v) || types.IsUnknown(v) {
		return nil, notMet("%s: evaluation failed: %v", p.field, v)
	}
	return v, nil
}

func (p *program) evalString(ctx context.Context, vars map[string]any) (string, error) {
	v, err := p.eval(ctx, vars)
	if err != nil {
		return "", err
	}
	s, ok := v.(types.String)
	if !ok {
		return "", notMet("%s must yield a string, it yielded %s", p.field, v.Type().TypeName())
	}
	if s == "" {
		return "", notMet("%s yielded an empty string", p.field)
	}
	return string(s), nil
}

func (p *program) evalStrings(ctx context.Context, vars map[string]any, maxN, maxBytes int) ([]string, error) {
	v, err := p.eval(ctx, vars)
	if err != nil {
		return nil, err
	}
	if _, ok := v.(traits.Lister); !ok {
		return nil, notMet("%s must yield a list of strings, it yielded %s", p.field, v.Type().TypeName())
	}
	return p.toStrings(v, maxN, maxBytes)
}

// toStrings reads a string or a list of strings: empty strings are
// dropped, duplicates kept once (first occurrence), every value checked
// with checkChars and maxBytes, at most maxN values.
func (p *program) toStrings(v ref.Val, maxN, maxBytes int) ([]string, error) {
	var raw []ref.Val
	switch v := v.(type) {
	case types.String:
		raw = []ref.Val{v}
	case traits.Lister:
		n, ok := v.Size().(types.Int)
		if !ok || n < 0 {
			return nil, notMet("%s yielded a list of unknown size", p.field)
		}
		if int(n) > maxN {
			return nil, notMet("%s yielded %d values, at most %d allowed", p.field, n, maxN)
		}
		for i := types.Int(0); i < n; i++ {
			raw = append(raw, v.Get(i))
		}
	default:
		return nil, notMet("%s must yield a string or a list of strings, it yielded %s", p.field, v.Type().TypeName())
	}
	out := make([]string, 0, len(raw))
	for i, e := range raw {
		s, ok := e.(types.String)
		if !ok {
			return nil, notMet("%s: value %d is %s, not a string", p.field, i, e.Type().TypeName())
		}
		if s == "" || slices.Contains(out, string(s)) {
			continue
		}
		if len(s) > maxBytes {
			return nil, notMet("%s: value %d is %d bytes, at most %d allowed", p.field, i, len(s), maxBytes)
		}
		if err := checkChars(string(s), p.field); err != nil {
			return nil, err
		}
		out = append(out, string(s))
	}
	return out, nil
}

// Costs reports each compiled expression's estimated worst-case cost, by
// field, for the admin API and tests.
func (r *Rules) Costs() map[string]uint64 {
	out := map[string]uint64{}
	if r == nil {
		return out
	}
	for _, p := range append([]*program{r.subject, r.role, r.groups, r.condition}, r.attributes...) {
		if p != nil {
			out[p.field] = p.cost
		}
	}
	return out
}
