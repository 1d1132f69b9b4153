package ramp

import (
	"encoding/json"
	"math"
	"time"
)

// FlagType is the type of every variant value of a flag.
type FlagType string

// Flag types. They match OpenFeature's value types.
const (
	TypeBoolean FlagType = "boolean"
	TypeString  FlagType = "string"
	TypeNumber  FlagType = "number"
	TypeObject  FlagType = "object"
)

// Reserved attribute names of an evaluation context.
const (
	// AttrTargetingKey is the context attribute that holds the targeting key;
	// it is the default stickiness attribute of percentage splits.
	AttrTargetingKey = "targetingKey"
)

// Well-known environments, created by the first migration.
const (
	EnvProduction = "production"
	EnvStaging    = "staging"
)

// Flag is a feature flag: its typed variants and, per environment, what it
// serves. Version increases by one on every committed change and is the
// value of the flag's ETag.
type Flag struct {
	Key         string   `json:"key" yaml:"key"`
	Name        string   `json:"name,omitempty" yaml:"name,omitempty"`
	Description string   `json:"description,omitempty" yaml:"description,omitempty"`
	Owner       string   `json:"owner,omitempty" yaml:"owner,omitempty"`
	Tags        []string `json:"tags,omitempty" yaml:"tags,omitempty"`
	Type        FlagType `json:"type" yaml:"type"`
	// Variants are the values the flag can serve, in order.
	Variants []Variant `json:"variants" yaml:"variants"`
	// DefaultVariant is served by an environment that is off, and is the
	// starting state of every environment.
	DefaultVariant string `json:"defaultVariant" yaml:"defaultVariant"`
	// Salt seeds the flag's percentage buckets. It is set once at creation
	// and never changes with percentages, so users keep their buckets.
	Salt string `json:"salt,omitempty" yaml:"salt,omitempty"`
	// Environments holds the state of the flag per environment key.
	Environments map[string]*FlagEnv `json:"environments,omitempty" yaml:"environments,omitempty"`

	Version   int64     `json:"version,omitempty" yaml:"-"`
	CreatedAt time.Time `json:"createdAt,omitzero" yaml:"-"`
	UpdatedAt time.Time `json:"updatedAt,omitzero" yaml:"-"`
}

// Variant is one named value of a flag. Value holds JSON of the flag's type.
type Variant struct {
	Key         string          `json:"key" yaml:"key"`
	Value       json.RawMessage `json:"value" yaml:"value"`
	Description string          `json:"description,omitempty" yaml:"description,omitempty"`
}

// FlagEnv is the state of a flag in one environment.
type FlagEnv struct {
	// On turns targeting on. An environment that is off serves OffVariant
	// to everyone.
	On bool `json:"on" yaml:"on"`
	// OffVariant is served while the environment is off; empty means the
	// flag's DefaultVariant.
	OffVariant string `json:"offVariant,omitempty" yaml:"offVariant,omitempty"`
	// Rules are tried in order; the first whose clauses all match serves.
	Rules []Rule `json:"rules,omitempty" yaml:"rules,omitempty"`
	// Fallthrough serves the context no rule matched.
	Fallthrough Serve `json:"fallthrough" yaml:"fallthrough"`
}

// Rule serves a variant or split to contexts that match all its clauses.
type Rule struct {
	// ID names the rule in evaluation results and audit diffs.
	ID          string   `json:"id,omitempty" yaml:"id,omitempty"`
	Description string   `json:"description,omitempty" yaml:"description,omitempty"`
	Clauses     []Clause `json:"clauses" yaml:"clauses"`
	Serve       Serve    `json:"serve" yaml:"serve"`
}

// Clause tests one context attribute. A clause matches when the attribute
// matches any of Values (for the negated operators notIn, notInSegment:
// none of them). A clause on an attribute the context lacks does not match,
// negated or not.
type Clause struct {
	Attribute string   `json:"attribute,omitempty" yaml:"attribute,omitempty"`
	Op        Operator `json:"op" yaml:"op"`
	Values    []string `json:"values" yaml:"values"`
}

// Operator is a clause's comparison.
type Operator string

// Clause operators.
const (
	OpEquals       Operator = "equals"
	OpIn           Operator = "in"
	OpNotIn        Operator = "notIn"
	OpStartsWith   Operator = "startsWith"
	OpEndsWith     Operator = "endsWith"
	OpContains     Operator = "contains"
	OpMatches      Operator = "matches" // RE2 regular expression
	OpLT           Operator = "lt"
	OpLTE          Operator = "lte"
	OpGT           Operator = "gt"
	OpGTE          Operator = "gte"
	OpSemverEq     Operator = "semverEq"
	OpSemverLT     Operator = "semverLt"
	OpSemverGT     Operator = "semverGt"
	OpInSegment    Operator = "inSegment"
	OpNotInSegment Operator = "notInSegment"
)

// Operators lists every operator in the order documentation shows them.
var Operators = []Operator{
	OpEquals, OpIn, OpNotIn, OpStartsWith, OpEndsWith, OpContains, OpMatches,
	OpLT, OpLTE, OpGT, OpGTE, OpSemverEq, OpSemverLT, OpSemverGT,
	OpInSegment, OpNotInSegment,
}

// IsSegmentOp reports whether op tests segment membership, so that its
// Values are segment keys and it needs no attribute.
func (op Operator) IsSegmentOp() bool { return op == OpInSegment || op == OpNotInSegment }

// Serve says what a rule or fallthrough serves: one variant, or a split of
// users across variants by percentage.
type Serve struct {
	Variant string       `json:"variant,omitempty" yaml:"variant,omitempty"`
	Split   []Allocation `json:"split,omitempty" yaml:"split,omitempty"`
	// BucketBy is the context attribute that keeps a user in the same
	// bucket; empty means targetingKey.
	BucketBy string `json:"bucketBy,omitempty" yaml:"bucketBy,omitempty"`
}

// Allocation gives Percent of users to Variant. Buckets are laid out in the
// order of the split: the first allocation holds the lowest buckets, so
// raising the first variant's share keeps every user it already had.
type Allocation struct {
	Variant string  `json:"variant" yaml:"variant"`
	Percent float64 `json:"percent" yaml:"percent"`
}

// BucketCount is the size of the bucket space: percentages resolve to
// 0.001 % steps.
const BucketCount = 100000

// PercentToBuckets converts a percentage (0..100, at most three decimals)
// to a number of buckets. The second result is false if p is out of range
// or finer than 0.001 %.
func PercentToBuckets(p float64) (int, bool) {
	if math.IsNaN(p) || p < 0 || p > 100 {
		return 0, false
	}
	u := p * 1000
	r := math.Round(u)
	if math.Abs(u-r) > 1e-6 {
		return 0, false
	}
	return int(r), true
}

// OffVariantKey returns the variant the environment serves while off.
func (f *Flag) OffVariantKey(env string) string {
	if fe := f.Environments[env]; fe != nil && fe.OffVariant != "" {
		return fe.OffVariant
	}
	return f.DefaultVariant
}

// Variant returns the variant with the key, or nil.
func (f *Flag) Variant(key string) *Variant {
	for i := range f.Variants {
		if f.Variants[i].Key == key {
			return &f.Variants[i]
		}
	}
	return nil
}

// Percentage returns the share of users, in percent, that the fallthrough
// of env serves a variant other than the off variant: 0 when the
// environment is off or missing. Targeting rules are not counted.
func (f *Flag) Percentage(env string) float64 {
	fe := f.Environments[env]
	if fe == nil || !fe.On {
		return 0
	}
	off := f.OffVariantKey(env)
	if fe.Fallthrough.Variant != "" {
		if fe.Fallthrough.Variant == off {
			return 0
		}
		return 100
	}
	var buckets int
	for _, a := range fe.Fallthrough.Split {
		if a.Variant != off {
			n, _ := PercentToBuckets(a.Percent)
			buckets += n
		}
	}
	return float64(buckets) / 1000
}

// Normalize fills in what a client may leave out: the state of every
// environment in envs (off, serving the default variant) and the off
// variant of each environment. It does not validate.
func (f *Flag) Normalize(envs []string) {
	if f.Environments == nil {
		f.Environments = make(map[string]*FlagEnv, len(envs))
	}
	for _, env := range envs {
		if f.Environments[env] == nil {
			f.Environments[env] = &FlagEnv{Fallthrough: Serve{Variant: f.DefaultVariant}}
		}
	}
	for _, fe := range f.Environments {
		if fe != nil && fe.OffVariant == "" {
			fe.OffVariant = f.DefaultVariant
		}
	}
	if f.Tags == nil {
		f.Tags = []string{}
	}
}

// Clone returns a deep copy of f.
func (f *Flag) Clone() *Flag {
	b, err := json.Marshal(f)
	if err != nil {
		panic("ramp: clone flag: " + err.Error()) // a Flag always marshals
	}
	var c Flag
	if err := json.Unmarshal(b, &c); err != nil {
		panic("ramp: clone flag: " + err.Error())
	}
	c.Version, c.CreatedAt, c.UpdatedAt = f.Version, f.CreatedAt, f.UpdatedAt
	return &c
}

// Segment is a reusable set of users: those listed in Included, plus those
// matching any rule, minus those listed in Excluded.
type Segment struct {
	Key         string        `json:"key" yaml:"key"`
	Name        string        `json:"name,omitempty" yaml:"name,omitempty"`
	Description string        `json:"description,omitempty" yaml:"description,omitempty"`
	Included    []string      `json:"included,omitempty" yaml:"included,omitempty"`
	Excluded    []string      `json:"excluded,omitempty" yaml:"excluded,omitempty"`
	Rules       []SegmentRule `json:"rules,omitempty" yaml:"rules,omitempty"`

	Version   int64     `json:"version,omitempty" yaml:"-"`
	CreatedAt time.Time `json:"createdAt,omitzero" yaml:"-"`
	UpdatedAt time.Time `json:"updatedAt,omitzero" yaml:"-"`
}

// SegmentRule matches a context when all its clauses match. Segment rules
// may not use segment operators.
type SegmentRule struct {
	Clauses []Clause `json:"clauses" yaml:"clauses"`
}

// Environment is a deployment stage (production, staging, ...). Every flag
// has a state in every environment.
type Environment struct {
	Key         string    `json:"key" yaml:"key"`
	Name        string    `json:"name,omitempty" yaml:"name,omitempty"`
	Description string    `json:"description,omitempty" yaml:"description,omitempty"`
	CreatedAt   time.Time `json:"createdAt,omitzero" yaml:"-"`
}

// TokenKind says what a token may do.
type TokenKind string

// Token kinds.
const (
	// TokenAdmin reads and writes everything through the admin API.
	TokenAdmin TokenKind = "admin"
	// TokenSDK reads the flags of one environment: evaluation and streams.
	TokenSDK TokenKind = "sdk"
)

// Token is an API credential. Only a hash of its secret is stored.
type Token struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Kind        TokenKind `json:"kind"`
	Environment string    `json:"environment,omitempty"`
	// Hash is the SHA-256 of the secret; never sent to clients.
	Hash       []byte    `json:"-"`
	CreatedAt  time.Time `json:"createdAt,omitzero"`
	CreatedBy  string    `json:"createdBy,omitempty"`
	LastUsedAt time.Time `json:"lastUsedAt,omitzero"`
}

// AuditEntry records one committed change: who, when, what, and the state
// before and after (JSON, null for creations and deletions).
type AuditEntry struct {
	ID          int64           `json:"id"`
	Time        time.Time       `json:"time"`
	Actor       string          `json:"actor"`
	Action      string          `json:"action"`
	Kind        string          `json:"kind"` // flag, segment, environment, token
	Key         string          `json:"key"`
	Environment string          `json:"environment,omitempty"`
	Before      json.RawMessage `json:"before,omitempty"`
	After       json.RawMessage `json:"after,omitempty"`
}

// Audit actions.
const (
	ActionFlagCreate        = "flag.create"
	ActionFlagUpdate        = "flag.update"
	ActionFlagDelete        = "flag.delete"
	ActionFlagEnvUpdate     = "flag.environment.update"
	ActionFlagPercentage    = "flag.percentage"
	ActionFlagRollback      = "flag.rollback"
	ActionSegmentCreate     = "segment.create"
	ActionSegmentUpdate     = "segment.update"
	ActionSegmentDelete     = "segment.delete"
	ActionEnvironmentCreate = "environment.create"
	ActionEnvironmentDelete = "environment.delete"
	ActionTokenCreate       = "token.create"
	ActionTokenRevoke       = "token.revoke"
)

// AuditFilter selects audit entries. Zero fields do not filter. Since is
// inclusive and Until exclusive. Limit defaults to 100 and is capped at 1000.
type AuditFilter struct {
	Kind string
	// Kinds selects entries of any of these kinds, on top of Kind.
	Kinds  []string
	Key    string
	Actor  string
	Since  time.Time
	Until  time.Time
	Before int64 // entries with an ID below this one, for paging
	Limit  int
}
