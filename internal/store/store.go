// Package store is s3fed's durable state behind one interface: orgs, admin
// tokens, federation configs, access policies, bucket records, issued
// credentials, the SAML replay cache and the audit log.
//
// Backends (store/sqlite now, store/postgres for replicas) implement Store and
// must pass the conformance suite in store/storetest unchanged; a backend is
// done when that suite passes. Nothing here is specific to one SQL dialect.
//
// What every backend guarantees, so that no backend keeps what another would
// refuse or returns what another would not:
//
//   - Text. Every string and document written is text: valid UTF-8, any
//     character allowed, NUL and other control characters included. It
//     comes back byte for byte. A write holding invalid UTF-8 fails with
//     ErrInvalid and changes nothing; the one exception is the audit log,
//     which must never refuse a record: Event strings have each invalid
//     byte replaced by U+FFFD (as encoding/json does).
//   - Lookups take any bytes: a key that cannot have been written (invalid
//     UTF-8, say) is simply not found.
//   - Order. Lists sorted by a string sort by its bytes (Go's string order),
//     never by a database collation.
//   - Time. Times are kept to the nanosecond and come back in UTC; the zero
//     time comes back zero. A non-zero time outside [MinTime, MaxTime] fails
//     with ErrInvalid, as a write or as a filter.
//   - Replay keys are opaque bytes of any length and content.
package store

import (
	"context"
	"errors"
	"math"
	"time"
)

// Sentinel errors every backend returns (possibly wrapped).
var (
	ErrNotFound      = errors.New("not found")
	ErrAlreadyExists = errors.New("already exists")
	// ErrReplayed means a replay-cache key was already claimed and is not
	// yet expired.
	ErrReplayed = errors.New("already claimed")
	// ErrInvalid means a write held a value no backend may keep (invalid
	// UTF-8, a time out of range); nothing was written. Callers validate
	// input first, so reaching it is a bug upstream, not bad user input.
	ErrInvalid = errors.New("invalid value")
)

// MinTime and MaxTime bound the non-zero times every backend keeps: what an
// int64 of nanoseconds since 1970 holds (about 1677 to 2262). A write of a
// time outside them fails with ErrInvalid; callers holding a later instant
// that only needs to be "far away" (a replay claim's end) clamp to MaxTime.
var (
	MinTime = time.Unix(0, math.MinInt64+1).UTC()
	MaxTime = time.Unix(0, math.MaxInt64).UTC()
)

// Org is a tenant. Everything else belongs to exactly one org.
type Org struct {
	ID      string    `json:"id"`
	Name    string    `json:"name"`
	Created time.Time `json:"created"`
}

// Token is an admin bearer token. Only Hash (SHA-256 of the secret) is kept;
// OrgID "" marks the root token.
type Token struct {
	ID          string    `json:"id"`
	OrgID       string    `json:"orgId,omitempty"`
	Description string    `json:"description,omitempty"`
	Hash        string    `json:"-"`
	Created     time.Time `json:"created"`
}

// RootTokenID is the fixed ID of the single root token row.
const RootTokenID = "root"

// Config is a federation config. Kind says which fields are meaningful.
type Config struct {
	OrgID       string `json:"orgId"`
	ID          string `json:"configId"`
	Kind        string `json:"kind"` // "saml" or "oidc"
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	IdPEntityID string `json:"idpEntityId,omitempty"`
	// Certificates are PEM-encoded trusted signing certificates (SAML).
	Certificates       []string  `json:"certificates,omitempty"`
	MaxDurationSeconds int       `json:"maxDurationSeconds"`
	Active             bool      `json:"active"`
	Created            time.Time `json:"created"`
	Updated            time.Time `json:"updated"`
}

// AccessKey is the record of an issued temporary credential. It holds
// claims only: the secret is derived from the master key and the ID and is
// never stored (DESIGN.md decision 1).
type AccessKey struct {
	ID            string              `json:"accessKeyId"`
	OrgID         string              `json:"orgId"`
	ConfigID      string              `json:"configId"`
	Provider      string              `json:"provider"`
	Subject       string              `json:"subject"`
	PrincipalName string              `json:"principalName"`
	Role          string              `json:"role"`
	Groups        []string            `json:"groups,omitempty"`
	Attributes    map[string][]string `json:"identityAttributes,omitempty"`
	// Tags are the request's key tags: echoed, listed, audited, never an
	// input to authorisation.
	Tags          map[string]string `json:"attributes,omitempty"`
	SessionPolicy string            `json:"sessionPolicy,omitempty"`
	HasToken      bool              `json:"-"`
	Issued        time.Time         `json:"issued"`
	Expiry        time.Time         `json:"expiry"`
	Revoked       bool              `json:"revoked"`
	RevokedAt     time.Time         `json:"revokedAt,omitzero"`
}

// AccessKeyFilter selects access keys for the inventory, newest issued
// first (ties by ID).
type AccessKeyFilter struct {
	OrgID         string
	PrincipalName string // "" means any
	ConfigID      string // "" means any
	// Status is "", "ACTIVE", "EXPIRED" or "REVOKED", judged at Now: a key
	// is REVOKED once revoked, else ACTIVE while Expiry is after Now and
	// EXPIRED from Expiry on. Any other value is an error.
	Status string
	Now    time.Time
	// Limit caps the rows returned; 0 or less means no cap.
	Limit int
}

// Policy is a stored org access-policy document, kept as submitted JSON.
type Policy struct {
	OrgID    string    `json:"orgId"`
	Name     string    `json:"name"`
	Document []byte    `json:"-"`
	Updated  time.Time `json:"updated"`
}

// Bucket is s3fed's record of a bucket: which org owns it and its bucket
// policy. It lives here, not in the storage backend, so replicas in front
// of an upstream cluster agree on ownership.
type Bucket struct {
	Name      string    `json:"name"`
	OrgID     string    `json:"orgId"`
	CreatedBy string    `json:"createdBy"`
	Created   time.Time `json:"created"`
	Policy    []byte    `json:"-"`
	// PublicAccessBlock is the bucket's S3 Block Public Access
	// configuration; nil when it has none (S3's
	// NoSuchPublicAccessBlockConfiguration: nothing blocked).
	PublicAccessBlock *PublicAccessBlock `json:"publicAccessBlock,omitempty"`
}

// PublicAccessBlock is S3's Block Public Access configuration of a bucket
// (PutPublicAccessBlock). s3fed gives every new bucket all four on, as AWS
// does since 2023; what each one blocks is the policy engine's business.
type PublicAccessBlock struct {
	BlockPublicAcls       bool `json:"blockPublicAcls"`
	IgnorePublicAcls      bool `json:"ignorePublicAcls"`
	BlockPublicPolicy     bool `json:"blockPublicPolicy"`
	RestrictPublicBuckets bool `json:"restrictPublicBuckets"`
}

// Event is one audit record: an admin change, an exchange or an S3 request.
type Event struct {
	ID            int64          `json:"id"`
	Time          time.Time      `json:"time"`
	OrgID         string         `json:"orgId,omitempty"`
	Kind          string         `json:"kind"` // "admin", "exchange", "s3"
	Action        string         `json:"action"`
	Actor         string         `json:"actor,omitempty"` // admin token ID
	Target        string         `json:"target,omitempty"`
	Outcome       string         `json:"outcome"` // "success", "failure", "Allow", "Deny"
	Code          string         `json:"code,omitempty"`
	RequestID     string         `json:"requestId,omitempty"`
	ClientIP      string         `json:"clientIp,omitempty"`
	ConfigID      string         `json:"configId,omitempty"`
	PrincipalName string         `json:"principalName,omitempty"`
	Role          string         `json:"role,omitempty"`
	AccessKeyID   string         `json:"accessKeyId,omitempty"`
	Details       map[string]any `json:"details,omitempty"`
}

// EventFilter selects audit events, newest first. Before (an event ID, 0 for
// none) pages backwards.
type EventFilter struct {
	OrgID         string    // "" selects the events of no org (root actions, refused exchanges)
	Since         time.Time // events at or after Since; zero means any
	PrincipalName string    // "" means any
	Before        int64
	// Limit caps the rows returned; 0 or less means 100.
	Limit int
}

// Store is the durable state. Reads run directly; every change runs inside
// Update so that a change and its audit event commit together or not at all.
type Store interface {
	Reader
	// Update runs fn in one transaction; fn's error rolls everything back.
	Update(ctx context.Context, fn func(Tx) error) error
	// ClaimReplay records key until the given time. It returns ErrReplayed
	// when key is held by an unexpired claim (until after now); any other
	// error means the cache could not be consulted and the caller must fail
	// closed. Of concurrent claims of one key exactly one succeeds. The key
	// is opaque bytes; the caller makes it unambiguous.
	ClaimReplay(ctx context.Context, key string, until, now time.Time) error
	// AppendEvents writes audit events outside any admin transaction (the
	// S3 and exchange paths batch them).
	AppendEvents(ctx context.Context, events []Event) error
	// Prune deletes replay entries and access keys that expired strictly
	// before the given time (revoked or not) and reports how many rows went.
	Prune(ctx context.Context, before time.Time) (int64, error)
	Ping(ctx context.Context) error
	Close() error
}

// Reader is the read side, shared by Store and Tx. A missing row is
// ErrNotFound; lists are empty, never nil. Orgs list by ID, tokens and
// configs by creation time then ID, policies and buckets by name. ListTokens
// never lists the root token.
type Reader interface {
	GetOrg(ctx context.Context, id string) (Org, error)
	ListOrgs(ctx context.Context) ([]Org, error)
	GetToken(ctx context.Context, id string) (Token, error)
	GetTokenByHash(ctx context.Context, hash string) (Token, error)
	ListTokens(ctx context.Context, orgID string) ([]Token, error)
	GetConfig(ctx context.Context, orgID, id string) (Config, error)
	ListConfigs(ctx context.Context, orgID string) ([]Config, error)
	GetAccessKey(ctx context.Context, id string) (AccessKey, error)
	ListAccessKeys(ctx context.Context, f AccessKeyFilter) ([]AccessKey, error)
	GetPolicy(ctx context.Context, orgID, name string) (Policy, error)
	ListPolicies(ctx context.Context, orgID string) ([]Policy, error)
	GetBucket(ctx context.Context, name string) (Bucket, error)
	ListBuckets(ctx context.Context, orgID string) ([]Bucket, error)
	ListEvents(ctx context.Context, f EventFilter) ([]Event, error)
}

// Tx is the write side inside one transaction.
type Tx interface {
	Reader
	CreateOrg(ctx context.Context, o Org) error
	// PutToken creates a token, or replaces the root token's hash. A taken
	// ID or hash is ErrAlreadyExists.
	PutToken(ctx context.Context, t Token) error
	// DeleteToken deletes an org's token; the root token is never deleted
	// (ErrNotFound).
	DeleteToken(ctx context.Context, orgID, id string) error
	CreateConfig(ctx context.Context, c Config) error
	UpdateConfig(ctx context.Context, c Config) error
	DeleteConfig(ctx context.Context, orgID, id string) error
	// CreateAccessKey records a new key, unrevoked whatever k.Revoked and
	// k.RevokedAt say (only RevokeAccessKeys revokes).
	CreateAccessKey(ctx context.Context, k AccessKey) error
	// RevokeAccessKeys marks the matching keys not yet revoked (expired ones
	// included) revoked at f.Now (the current time when zero) and returns
	// their IDs, in no particular order. A key already revoked keeps its
	// RevokedAt and is not returned. Empty filter fields match anything, but
	// OrgID is required.
	RevokeAccessKeys(ctx context.Context, f RevokeFilter) ([]string, error)
	// PutPolicy creates or replaces a policy.
	PutPolicy(ctx context.Context, p Policy) error
	DeletePolicy(ctx context.Context, orgID, name string) error
	CreateBucket(ctx context.Context, b Bucket) error
	DeleteBucket(ctx context.Context, name string) error
	// SetBucketPolicy replaces a bucket's policy; nil or empty removes it
	// (GetBucket then returns a nil Policy).
	SetBucketPolicy(ctx context.Context, name string, policy []byte) error
	// SetBucketPublicAccessBlock replaces a bucket's Block Public Access
	// configuration; nil removes it.
	SetBucketPublicAccessBlock(ctx context.Context, name string, pab *PublicAccessBlock) error
	// AppendEvent adds an audit event; a zero Time is the current time.
	AppendEvent(ctx context.Context, e Event) error
}

// RevokeFilter selects keys to revoke within one org.
type RevokeFilter struct {
	OrgID         string
	AccessKeyID   string
	PrincipalName string
	ConfigID      string
	Now           time.Time
}
