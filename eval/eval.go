// Package eval evaluates flags for an evaluation context. It is pure: no
// I/O, no clock, no global state, so the server, the SDK and the CLI give
// the same answer for the same input.
//
// A flag is compiled once per change (NewSnapshot or Compile) into a form
// that evaluates without allocating in the common cases.
//
// # Buckets
//
// A percentage split places a context in one of ramp.BucketCount (100,000)
// buckets: the 64-bit XXH3 hash of the stickiness value (the targeting key
// unless the serve names another attribute), seeded with the XXH3 hash of
// the flag's salt, reduced by multiply-shift: bucket = (h>>32 * 100000)>>32.
// Allocations take consecutive ranges of buckets in split order, starting
// at 0, so growing the first allocation only adds contexts to it, and
// shrinking it removes the contexts with the highest buckets: the ones that
// joined last. Flags have different salts, so their buckets are independent.
package eval

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/ramp-flags/ramp"
	"github.com/zeebo/xxh3"
)

// Reason says why a value was served. The values are OpenFeature's.
type Reason string

// Reasons.
const (
	ReasonStatic         Reason = "STATIC"          // the flag serves one variant to everyone
	ReasonTargetingMatch Reason = "TARGETING_MATCH" // a targeting rule matched
	ReasonSplit          Reason = "SPLIT"           // a percentage split assigned the variant
	ReasonDisabled       Reason = "DISABLED"        // the flag is off in the environment
	ReasonDefault        Reason = "DEFAULT"         // no rule matched; the fallthrough variant
	ReasonError          Reason = "ERROR"           // evaluation failed; see ErrorCode
)

// ErrorCode says why an evaluation failed. The values are OpenFeature's.
type ErrorCode string

// Error codes.
const (
	ErrFlagNotFound        ErrorCode = "FLAG_NOT_FOUND"
	ErrParse               ErrorCode = "PARSE_ERROR"
	ErrTypeMismatch        ErrorCode = "TYPE_MISMATCH"
	ErrTargetingKeyMissing ErrorCode = "TARGETING_KEY_MISSING"
	ErrInvalidContext      ErrorCode = "INVALID_CONTEXT"
	ErrGeneral             ErrorCode = "GENERAL"
)

// Context is what a flag is evaluated for. TargetingKey identifies the
// user (or request, device, ...); Attributes hold anything rules test:
// strings, numbers, booleans, or lists of those (a clause matches a list
// when it matches any element).
type Context struct {
	TargetingKey string
	Attributes   map[string]any
}

// Result is the outcome of one evaluation. On failure Reason is
// ReasonError, ErrorCode says why and Value is nil: the caller serves its
// own default.
//
// Evaluate returns results that the compiled flag precomputed and shares
// between callers: they must not be modified. Value in particular may be a
// map shared by every evaluation of an object flag.
type Result struct {
	FlagKey      string
	Variant      string
	Value        any
	Reason       Reason
	ErrorCode    ErrorCode
	ErrorMessage string
	// RuleID is the ID of the rule that matched, if it had one.
	RuleID string
}

// Flag is a flag compiled for one environment. It is immutable and safe
// for concurrent use.
type Flag struct {
	key      string
	typ      ramp.FlagType
	variants []variant
	on       bool
	off      int
	rules    []rule
	fall     serve
	seed     uint64
	// static is set when the flag serves one variant to everyone: off, or
	// on with no rules and a fallthrough without a split.
	static *Result
	// shared are the context attributes that more than one clause reads,
	// at most maxShared of them; each is looked up once per evaluation.
	shared []string
}

// maxShared bounds the attributes an evaluation remembers.
const maxShared = 8

// memo remembers the values of a flag's shared attributes during one
// evaluation. Bit i of known says whether val[i] was looked up.
type memo struct {
	known uint8
	val   [maxShared]any
}

// A compiled flag precomputes every result it can give, so that
// evaluation returns a pointer and neither copies nor allocates.

type variant struct {
	key   string
	value any
}

type serve struct {
	result   *Result   // the result of a single-variant serve, or nil for a split
	bucketBy string    // "" means the targeting key
	bounds   []int     // cumulative upper bucket bounds, per allocation
	results  []*Result // the result per allocation
	missing  *Result   // the error result when the stickiness value is missing
}

type rule struct {
	id      string
	clauses []clause
	serve   serve
}

// opcode is a clause operator compiled to an integer, so that matching
// switches on a byte rather than comparing operator strings.
type opcode uint8

const (
	opEquals opcode = iota
	opIn
	opNotIn
	opStartsWith
	opEndsWith
	opContains
	opMatches
	opLT
	opLTE
	opGT
	opGTE
	opSemverEq
	opSemverLT
	opSemverGT
	opInSegment
	opNotInSegment
)

var opcodes = map[ramp.Operator]opcode{
	ramp.OpEquals: opEquals, ramp.OpIn: opIn, ramp.OpNotIn: opNotIn,
	ramp.OpStartsWith: opStartsWith, ramp.OpEndsWith: opEndsWith, ramp.OpContains: opContains,
	ramp.OpMatches: opMatches, ramp.OpLT: opLT, ramp.OpLTE: opLTE, ramp.OpGT: opGT, ramp.OpGTE: opGTE,
	ramp.OpSemverEq: opSemverEq, ramp.OpSemverLT: opSemverLT, ramp.OpSemverGT: opSemverGT,
	ramp.OpInSegment: opInSegment, ramp.OpNotInSegment: opNotInSegment,
}

func (op opcode) numeric() bool { return op >= opLT && op <= opGTE }

type clause struct {
	attr   string
	isKey  bool // attr is the targeting key
	shared int  // index of attr in the flag's shared attributes, or -1
	op     opcode
	values []string
	set    map[string]struct{} // for in / notIn / equals with many values
	nums   []float64
	vers   []ramp.Semver
	res    []*regexp.Regexp
	segs   []*segment
}

type segment struct {
	included map[string]struct{}
	excluded map[string]struct{}
	rules    [][]clause
}

// Compile compiles a flag for the environment env. segments must hold
// every segment the flag's rules name. An environment the flag has no
// state for serves the default variant, as if off. Compile checks the
// flag enough to evaluate it safely; it does not replace Flag.Validate.
func Compile(f *ramp.Flag, env string, segments map[string]*ramp.Segment) (*Flag, error) {
	c := &Flag{key: f.Key, typ: f.Type}
	salt := f.Salt
	if salt == "" {
		salt = f.Key
	}
	c.seed = xxh3.HashString(salt)
	index := make(map[string]int, len(f.Variants))
	for i, v := range f.Variants {
		val, err := decodeValue(f.Type, v.Value)
		if err != nil {
			return nil, fmt.Errorf("flag %q variant %q: %w", f.Key, v.Key, err)
		}
		c.variants = append(c.variants, variant{key: v.Key, value: val})
		index[v.Key] = i
	}
	lookup := func(key string) (int, error) {
		i, ok := index[key]
		if !ok {
			return 0, fmt.Errorf("flag %q: variant %q is not defined", f.Key, key)
		}
		return i, nil
	}
	off, err := lookup(f.OffVariantKey(env))
	if err != nil {
		return nil, err
	}
	c.off = off
	fe := f.Environments[env]
	if fe == nil || !fe.On {
		c.static = c.result(off, ReasonDisabled, "")
		return c, nil
	}
	c.on = true
	segCache := map[string]*segment{}
	for i, r := range fe.Rules {
		cr := rule{id: r.ID}
		for j, cl := range r.Clauses {
			cc, err := compileClause(cl, segments, segCache)
			if err != nil {
				return nil, fmt.Errorf("flag %q rule %d clause %d: %w", f.Key, i, j, err)
			}
			cr.clauses = append(cr.clauses, cc)
		}
		if cr.serve, err = c.compileServe(r.Serve, lookup, ReasonTargetingMatch, r.ID); err != nil {
			return nil, fmt.Errorf("flag %q rule %d: %w", f.Key, i, err)
		}
		c.rules = append(c.rules, cr)
	}
	c.shareAttributes()
	reason := ReasonDefault
	if len(c.rules) == 0 {
		reason = ReasonStatic
	}
	if c.fall, err = c.compileServe(fe.Fallthrough, lookup, reason, ""); err != nil {
		return nil, fmt.Errorf("flag %q fallthrough: %w", f.Key, err)
	}
	if len(c.rules) == 0 && c.fall.result != nil {
		c.static = c.fall.result
	}
	return c, nil
}

// shareAttributes finds the context attributes that several of the rules'
// clauses read, and points those clauses at a shared slot.
func (c *Flag) shareAttributes() {
	reads := map[string]int{}
	for i := range c.rules {
		for _, cl := range c.rules[i].clauses {
			if cl.readsAttribute() {
				reads[cl.attr]++
			}
		}
	}
	for i := range c.rules {
		cs := c.rules[i].clauses
		for j := range cs {
			cl := &cs[j]
			if !cl.readsAttribute() || reads[cl.attr] < 2 {
				continue
			}
			k := slices.Index(c.shared, cl.attr)
			if k < 0 && len(c.shared) < maxShared {
				k = len(c.shared)
				c.shared = append(c.shared, cl.attr)
			}
			cl.shared = k
		}
	}
}

// readsAttribute reports whether the clause looks up a context attribute.
func (c *clause) readsAttribute() bool {
	return !c.isKey && c.op != opInSegment && c.op != opNotInSegment
}

// result returns the result of serving variant i for the reason.
func (c *Flag) result(i int, reason Reason, ruleID string) *Result {
	v := c.variants[i]
	return &Result{FlagKey: c.key, Variant: v.key, Value: v.value, Reason: reason, RuleID: ruleID}
}

// compileServe compiles a serve whose single variant is served for reason;
// a split serves for ReasonSplit.
func (c *Flag) compileServe(s ramp.Serve, lookup func(string) (int, error), reason Reason, ruleID string) (serve, error) {
	out := serve{bucketBy: s.BucketBy}
	if out.bucketBy == ramp.AttrTargetingKey {
		out.bucketBy = ""
	}
	if s.Variant != "" {
		i, err := lookup(s.Variant)
		if err != nil {
			return out, err
		}
		out.result = c.result(i, reason, ruleID)
		return out, nil
	}
	if len(s.Split) == 0 {
		return out, errors.New("serve has neither a variant nor a split")
	}
	total := 0
	for _, a := range s.Split {
		i, err := lookup(a.Variant)
		if err != nil {
			return out, err
		}
		n, ok := ramp.PercentToBuckets(a.Percent)
		if !ok {
			return out, fmt.Errorf("split percentage %v is out of range", a.Percent)
		}
		if n == ramp.BucketCount {
			// Everyone gets this variant: no bucketing, no key needed.
			return serve{result: c.result(i, reason, ruleID)}, nil
		}
		total += n
		out.bounds = append(out.bounds, total)
		out.results = append(out.results, c.result(i, ReasonSplit, ruleID))
	}
	if total != ramp.BucketCount {
		return out, fmt.Errorf("split percentages add up to %v, not 100", float64(total)/1000)
	}
	attr := out.bucketBy
	if attr == "" {
		attr = ramp.AttrTargetingKey
	}
	out.missing = &Result{FlagKey: c.key, Reason: ReasonError, ErrorCode: ErrTargetingKeyMissing,
		ErrorMessage: "the flag splits users by percentage and the context has no " + attr}
	return out, nil
}

func compileClause(cl ramp.Clause, segments map[string]*ramp.Segment, cache map[string]*segment) (clause, error) {
	op, ok := opcodes[cl.Op]
	if !ok {
		return clause{}, fmt.Errorf("unknown operator %q", cl.Op)
	}
	c := clause{attr: cl.Attribute, isKey: cl.Attribute == ramp.AttrTargetingKey, shared: -1, op: op, values: cl.Values}
	switch cl.Op {
	case ramp.OpEquals, ramp.OpIn, ramp.OpNotIn:
		if len(cl.Values) > 8 {
			c.set = make(map[string]struct{}, len(cl.Values))
			for _, v := range cl.Values {
				c.set[v] = struct{}{}
			}
		}
	case ramp.OpStartsWith, ramp.OpEndsWith, ramp.OpContains:
	case ramp.OpMatches:
		for _, v := range cl.Values {
			re, err := regexp.Compile(v)
			if err != nil {
				return c, fmt.Errorf("regular expression %q: %w", v, err)
			}
			c.res = append(c.res, re)
		}
	case ramp.OpLT, ramp.OpLTE, ramp.OpGT, ramp.OpGTE:
		for _, v := range cl.Values {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || math.IsNaN(f) {
				return c, fmt.Errorf("%q is not a number", v)
			}
			c.nums = append(c.nums, f)
		}
	case ramp.OpSemverEq, ramp.OpSemverLT, ramp.OpSemverGT:
		for _, v := range cl.Values {
			sv, ok := ramp.ParseSemver(v)
			if !ok {
				return c, fmt.Errorf("%q is not a semantic version", v)
			}
			c.vers = append(c.vers, sv)
		}
	case ramp.OpInSegment, ramp.OpNotInSegment:
		for _, key := range cl.Values {
			s, ok := cache[key]
			if !ok {
				rs := segments[key]
				if rs == nil {
					return c, fmt.Errorf("segment %q does not exist", key)
				}
				var err error
				if s, err = compileSegment(rs); err != nil {
					return c, fmt.Errorf("segment %q: %w", key, err)
				}
				cache[key] = s
			}
			c.segs = append(c.segs, s)
		}
	default:
		return c, fmt.Errorf("unknown operator %q", cl.Op)
	}
	return c, nil
}

func compileSegment(s *ramp.Segment) (*segment, error) {
	out := &segment{included: set(s.Included), excluded: set(s.Excluded)}
	for _, r := range s.Rules {
		var cs []clause
		for _, cl := range r.Clauses {
			if cl.Op.IsSegmentOp() {
				return nil, errors.New("segment rules cannot refer to segments")
			}
			c, err := compileClause(cl, nil, nil)
			if err != nil {
				return nil, err
			}
			cs = append(cs, c)
		}
		out.rules = append(out.rules, cs)
	}
	return out, nil
}

func set(xs []string) map[string]struct{} {
	m := make(map[string]struct{}, len(xs))
	for _, x := range xs {
		m[x] = struct{}{}
	}
	return m
}

func decodeValue(t ramp.FlagType, raw json.RawMessage) (any, error) {
	var v any
	// Booleans, the values of most flags, as the server writes them;
	// anything else through encoding/json.
	switch string(raw) {
	case "true":
		v = true
	case "false":
		v = false
	default:
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, fmt.Errorf("value is not JSON: %w", err)
		}
	}
	ok := false
	switch t {
	case ramp.TypeBoolean:
		_, ok = v.(bool)
	case ramp.TypeString:
		_, ok = v.(string)
	case ramp.TypeNumber:
		_, ok = v.(float64)
	case ramp.TypeObject:
		_, ok = v.(map[string]any)
	default:
		return nil, fmt.Errorf("unknown flag type %q", t)
	}
	if !ok {
		return nil, fmt.Errorf("value %s is not a %s", raw, t)
	}
	return v, nil
}

// Key returns the flag's key.
func (f *Flag) Key() string { return f.key }

// Type returns the flag's type.
func (f *Flag) Type() ramp.FlagType { return f.typ }

// Evaluate returns what the flag serves to ctx, which may be nil. The
// result is shared and must not be modified. Evaluate never panics and
// does not allocate unless a clause needs to format a non-string attribute.
func (f *Flag) Evaluate(ctx *Context) *Result {
	if f.static != nil {
		return f.static
	}
	if ctx == nil {
		ctx = &Context{}
	}
	var m memo
	for i := range f.rules {
		if r := &f.rules[i]; matchAll(r.clauses, ctx, &m) {
			return r.serve.pick(f.seed, ctx)
		}
	}
	return f.fall.pick(f.seed, ctx)
}

// pick returns the serve's result for ctx.
func (s *serve) pick(seed uint64, ctx *Context) *Result {
	if s.result != nil {
		return s.result
	}
	key := ctx.TargetingKey
	if s.bucketBy != "" {
		key, _ = attrString(ctx, s.bucketBy)
	}
	if key == "" {
		return s.missing
	}
	b := Bucket(seed, key)
	for i, bound := range s.bounds {
		if b < bound {
			return s.results[i]
		}
	}
	return s.results[len(s.results)-1] // unreachable: the last bound is BucketCount
}

// Seed returns the bucket seed of a flag salt.
func Seed(salt string) uint64 { return xxh3.HashString(salt) }

// Bucket returns the bucket, in [0, ramp.BucketCount), of a stickiness
// value under a flag's seed.
func Bucket(seed uint64, value string) int {
	h := xxh3.HashStringSeed(value, seed)
	return int(((h >> 32) * ramp.BucketCount) >> 32)
}

// matchAll reports whether every clause matches ctx. m remembers the
// shared attributes looked up so far.
func matchAll(cs []clause, ctx *Context, m *memo) bool {
	for i := range cs {
		if !cs[i].match(ctx, m) {
			return false
		}
	}
	return true
}

func (c *clause) match(ctx *Context, m *memo) bool {
	switch c.op {
	case opInSegment:
		return c.inAnySegment(ctx)
	case opNotInSegment:
		return !c.inAnySegment(ctx)
	}
	var val any
	if c.isKey {
		if ctx.TargetingKey == "" {
			return false
		}
		val = ctx.TargetingKey
	} else if c.shared >= 0 {
		bit := uint8(1) << c.shared
		if m.known&bit == 0 {
			m.val[c.shared] = ctx.Attributes[c.attr]
			m.known |= bit
		}
		if val = m.val[c.shared]; val == nil {
			return false
		}
	} else {
		var ok bool
		if val, ok = ctx.Attributes[c.attr]; !ok || val == nil {
			return false
		}
	}
	if c.op == opNotIn {
		return !c.matchValue(opIn, val)
	}
	return c.matchValue(c.op, val)
}

// matchValue tests one attribute value; a list matches when any element
// does.
func (c *clause) matchValue(op opcode, val any) bool {
	switch x := val.(type) {
	case string:
		return c.matchString(op, x)
	case []any:
		for _, el := range x {
			if el != nil && c.matchValue(op, el) {
				return true
			}
		}
		return false
	case []string:
		for _, el := range x {
			if c.matchString(op, el) {
				return true
			}
		}
		return false
	}
	if op.numeric() {
		x, ok := number(val)
		return ok && c.anyNumber(op, x)
	}
	s, ok := toString(val)
	return ok && c.matchString(op, s)
}

func (c *clause) anyNumber(op opcode, x float64) bool {
	for _, n := range c.nums {
		if compareNum(op, x, n) {
			return true
		}
	}
	return false
}

func (c *clause) matchString(op opcode, s string) bool {
	switch op {
	case opEquals, opIn:
		if c.set != nil {
			_, ok := c.set[s]
			return ok
		}
		return slices.Contains(c.values, s)
	case opStartsWith:
		return anyValue(c.values, s, strings.HasPrefix)
	case opEndsWith:
		return anyValue(c.values, s, strings.HasSuffix)
	case opContains:
		return anyValue(c.values, s, strings.Contains)
	case opMatches:
		for _, re := range c.res {
			if re.MatchString(s) {
				return true
			}
		}
		return false
	case opSemverEq, opSemverLT, opSemverGT:
		sv, ok := ramp.ParseSemver(s)
		if !ok {
			return false
		}
		for _, v := range c.vers {
			cmp := sv.Compare(v)
			if op == opSemverEq && cmp == 0 || op == opSemverLT && cmp < 0 || op == opSemverGT && cmp > 0 {
				return true
			}
		}
		return false
	case opLT, opLTE, opGT, opGTE:
		x, err := strconv.ParseFloat(s, 64)
		return err == nil && !math.IsNaN(x) && c.anyNumber(op, x)
	}
	return false
}

func anyValue(values []string, s string, f func(s, v string) bool) bool {
	for _, v := range values {
		if f(s, v) {
			return true
		}
	}
	return false
}

func compareNum(op opcode, x, n float64) bool {
	switch op {
	case opLT:
		return x < n
	case opLTE:
		return x <= n
	case opGT:
		return x > n
	default:
		return x >= n
	}
}

func (c *clause) inAnySegment(ctx *Context) bool {
	for _, s := range c.segs {
		if s.contains(ctx) {
			return true
		}
	}
	return false
}

func (s *segment) contains(ctx *Context) bool {
	if ctx.TargetingKey != "" {
		if _, ok := s.included[ctx.TargetingKey]; ok {
			return true
		}
		if _, ok := s.excluded[ctx.TargetingKey]; ok {
			return false
		}
	}
	for _, r := range s.rules {
		if matchAll(r, ctx, nil) { // segment clauses share no attributes
			return true
		}
	}
	return false
}

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, !math.IsNaN(n)
	case float32:
		return float64(n), !math.IsNaN(float64(n))
	case int:
		return float64(n), true
	case int8:
		return float64(n), true
	case int16:
		return float64(n), true
	case int32:
		return float64(n), true
	case int64:
		return float64(n), true
	case uint:
		return float64(n), true
	case uint8:
		return float64(n), true
	case uint16:
		return float64(n), true
	case uint32:
		return float64(n), true
	case uint64:
		return float64(n), true
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	case string:
		f, err := strconv.ParseFloat(n, 64)
		return f, err == nil && !math.IsNaN(f)
	}
	return 0, false
}

func toString(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case bool:
		return strconv.FormatBool(x), true
	case json.Number:
		return x.String(), true
	}
	if f, ok := number(v); ok {
		return strconv.FormatFloat(f, 'f', -1, 64), true
	}
	return "", false
}

func attrString(ctx *Context, attr string) (string, bool) {
	v, ok := ctx.Attributes[attr]
	if !ok || v == nil {
		return "", false
	}
	return toString(v)
}

// Failed returns a flag that fails every evaluation with PARSE_ERROR and
// err's text: what a snapshot holds for a flag that did not compile, so
// that one bad flag cannot take the others down.
func Failed(key string, err error) *Flag {
	return &Flag{key: key, static: &Result{FlagKey: key, Reason: ReasonError, ErrorCode: ErrParse, ErrorMessage: err.Error()}}
}

// Snapshot is every flag of one environment, compiled. It is immutable and
// safe for concurrent use.
type Snapshot struct {
	env   string
	flags map[string]*Flag
}

// NewSnapshot compiles the flags for env. It always returns a usable
// snapshot: a flag that does not compile evaluates to a PARSE_ERROR result
// (see Failed), and the returned error lists every such flag.
func NewSnapshot(env string, flags []*ramp.Flag, segments []*ramp.Segment) (*Snapshot, error) {
	segs := make(map[string]*ramp.Segment, len(segments))
	for _, s := range segments {
		segs[s.Key] = s
	}
	compiled := make(map[string]*Flag, len(flags))
	var errs []error
	for _, f := range flags {
		c, err := Compile(f, env, segs)
		if err != nil {
			errs = append(errs, err)
			c = Failed(f.Key, err)
		}
		compiled[f.Key] = c
	}
	return SnapshotOf(env, compiled), errors.Join(errs...)
}

// SnapshotOf returns a snapshot of compiled flags, keyed by flag key. The
// snapshot takes ownership of the map: the caller must not change it
// afterwards. Building the next snapshot from a copy of the previous map
// with only the changed flags recompiled is how servers and SDKs apply a
// change in microseconds.
func SnapshotOf(env string, flags map[string]*Flag) *Snapshot {
	if flags == nil {
		flags = map[string]*Flag{}
	}
	return &Snapshot{env: env, flags: flags}
}

// Environment returns the environment the snapshot was compiled for.
func (s *Snapshot) Environment() string { return s.env }

// Flag returns the compiled flag with the key, or nil.
func (s *Snapshot) Flag(key string) *Flag { return s.flags[key] }

// Flags returns a copy of the snapshot's map of compiled flags, to build
// the next snapshot from.
func (s *Snapshot) Flags() map[string]*Flag { return maps.Clone(s.flags) }

// Len returns the number of flags in the snapshot.
func (s *Snapshot) Len() int { return len(s.flags) }

// Keys returns the keys of the snapshot's flags, sorted, including those
// that failed to compile.
func (s *Snapshot) Keys() []string {
	keys := slices.Collect(maps.Keys(s.flags))
	slices.Sort(keys)
	return keys
}

// Evaluate evaluates the flag with the key for ctx. An unknown key gives a
// FLAG_NOT_FOUND error result. The result must not be modified.
func (s *Snapshot) Evaluate(key string, ctx *Context) *Result {
	if f := s.flags[key]; f != nil {
		return f.Evaluate(ctx)
	}
	return &Result{FlagKey: key, Reason: ReasonError, ErrorCode: ErrFlagNotFound, ErrorMessage: "flag " + strconv.Quote(key) + " does not exist"}
}
