package policy

import "strings"

// s3Actions is the catalogue of S3 IAM action names the compiler expands
// wildcard action patterns against in long per-bucket lists. For a request
// naming one of them, such a list costs one map lookup instead of a scan;
// any other action (a newer S3 action, cwobject:…) is still decided
// correctly, by matching the patterns at decision time. The list is an
// optimisation, never a restriction.
var s3Actions = []string{
	"AbortMultipartUpload", "BypassGovernanceRetention", "CreateBucket", "DeleteBucket",
	"DeleteBucketOwnershipControls", "DeleteBucketPolicy", "DeleteBucketWebsite", "DeleteObject",
	"DeleteObjectTagging", "DeleteObjectVersion", "DeleteObjectVersionTagging",
	"GetAccelerateConfiguration", "GetAnalyticsConfiguration", "GetBucketAcl", "GetBucketCORS",
	"GetBucketLocation", "GetBucketLogging", "GetBucketNotification", "GetBucketObjectLockConfiguration",
	"GetBucketOwnershipControls", "GetBucketPolicy", "GetBucketPolicyStatus", "GetBucketPublicAccessBlock",
	"GetBucketRequestPayment", "GetBucketTagging", "GetBucketVersioning", "GetBucketWebsite",
	"GetEncryptionConfiguration", "GetIntelligentTieringConfiguration", "GetInventoryConfiguration",
	"GetLifecycleConfiguration", "GetMetricsConfiguration", "GetObject", "GetObjectAcl",
	"GetObjectAttributes", "GetObjectLegalHold", "GetObjectRetention", "GetObjectTagging",
	"GetObjectTorrent", "GetObjectVersion", "GetObjectVersionAcl", "GetObjectVersionAttributes",
	"GetObjectVersionTagging", "GetObjectVersionTorrent", "GetReplicationConfiguration",
	"ListAllMyBuckets", "ListBucket", "ListBucketMultipartUploads", "ListBucketVersions",
	"ListMultipartUploadParts", "ObjectOwnerOverrideToBucketOwner", "PutAccelerateConfiguration",
	"PutAnalyticsConfiguration", "PutBucketAcl", "PutBucketCORS", "PutBucketLogging",
	"PutBucketNotification", "PutBucketObjectLockConfiguration", "PutBucketOwnershipControls",
	"PutBucketPolicy", "PutBucketPublicAccessBlock", "PutBucketRequestPayment", "PutBucketTagging",
	"PutBucketVersioning", "PutBucketWebsite", "PutEncryptionConfiguration",
	"PutIntelligentTieringConfiguration", "PutInventoryConfiguration", "PutLifecycleConfiguration",
	"PutMetricsConfiguration", "PutObject", "PutObjectAcl", "PutObjectLegalHold", "PutObjectRetention",
	"PutObjectTagging", "PutObjectVersionAcl", "PutObjectVersionTagging", "PutReplicationConfiguration",
	"ReplicateDelete", "ReplicateObject", "ReplicateTags", "RestoreObject",
}

// knownActions holds the catalogue as lowercase "s3:name" keys; read-only
// after package initialisation.
var knownActions = func() map[string]struct{} {
	m := make(map[string]struct{}, len(s3Actions))
	for _, a := range s3Actions {
		m["s3:"+strings.ToLower(a)] = struct{}{}
	}
	return m
}()
