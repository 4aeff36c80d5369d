// Package policy is s3fed's access-policy language: it parses and validates
// org-level v1alpha1 documents and S3 bucket policies, compiles an org's
// documents into an index, and decides requests with IAM's evaluation
// (explicit Deny wins, then Allow, otherwise implicit Deny).
//
// The package is pure: no HTTP, no database, no clock. The S3 gateway asks
// [Authorize] (or [Engine.Decide]) for every request, the admin API and the
// CLI use [ParseDocument], [Engine.Explain] and [ParseBucketPolicy]. Keeping
// the language in one side-effect-free package is what lets the same decision
// be simulated offline, explained in an audit line, and checked against a
// plain reference evaluator in tests.
//
// # Documents
//
// A document is the JSON shape of API.md:
//
//	{"version": "v1alpha1", "name": "give-saml-access",
//	 "statements": [{"name": "object-reader-allow", "effect": "Allow",
//	                 "actions": ["s3:Get*", "s3:List*"],
//	                 "resources": ["test-bucket/*"],
//	                 "principals": ["role/reader-role"]}]}
//
// Decoding is strict: field names are matched exactly (case-sensitively),
// unknown and duplicate fields are refused, and every problem of a document is
// reported at once in a [*ValidationError]. Document names follow
// [DocumentNamePattern] so that they can appear in URLs
// (/v1/admin/orgs/ORG/access-policies/NAME) without escaping.
//
// # Matching
//
// Actions are `*`, `s3:NAME` or `cwobject:NAME`, matched ASCII
// case-insensitively, with `*` (any run, possibly empty) and `?` (exactly one
// character). Resources are `*`, `BUCKET` or `BUCKET/KEY-PATTERN`, matched
// case-sensitively with the same wildcards; as in IAM a `*` also spans `/`.
// Bucket names in resources are lowercase letters, digits, '.', '-' and '_':
// a pattern that could never match an S3 bucket is refused rather than kept
// as a silent no-op.
//
// A request names its resource as the S3 gateway sees it ([Resource] builds
// it): `BUCKET/KEY` for object actions, `BUCKET` for bucket-level actions and
// `*` for global actions such as s3:ListAllMyBuckets. Hence `test-bucket/*`
// covers objects only, bucket-level actions need `test-bucket` (or a pattern
// matching it), and a global request is matched only by a resource made
// solely of `*`.
//
// Principals are `*`, `role/NAME`, `group/NAME`, `attribute/KEY/VALUE` (KEY is
// `[A-Za-z0-9_.-]+`, VALUE the rest; a multi-valued attribute matches when any
// value equals VALUE) or a principal name `saml/…` / `oidc/…`. They are
// compared exactly, with no wildcards. An [Engine] belongs to one org and
// never matches a request of another org.
//
// # Deciding
//
// [Compile] turns an org's documents into an [Engine]; [Set] holds the current
// Engine of every org behind an atomic pointer. [Engine.Decide] is the hot
// path (indexed, allocation-free, reports the first deciding statement);
// [Engine.Explain] scans everything and reports every match, for simulation.
// [ParseBucketPolicy] reads an S3 bucket policy, and [Authorize] layers it on
// top of the org decision exactly as API.md describes, including the
// cross-org rules.
package policy
