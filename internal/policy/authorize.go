package policy

// Reasons of the combined decision (constants: no allocation).
const (
	reasonOwnerUnknown   = "implicitly denied: the organization owning the bucket is unknown"
	reasonPolicyOwner    = "denied: only the organization owning the bucket may read, change or delete its bucket policy"
	reasonForeignNoBP    = "implicitly denied: the bucket belongs to another organization and has no bucket policy granting access"
	reasonForeignNoGrant = "implicitly denied: the bucket belongs to another organization and its bucket policy does not " +
		"grant this request to the caller's organization"
)

// IsBucketPolicyAction reports the actions decided by the owner org's
// policies alone (s3:PutBucketPolicy, s3:GetBucketPolicy,
// s3:DeleteBucketPolicy), so that a bad bucket policy can never lock its
// owners out of fixing it.
func IsBucketPolicyAction(action string) bool {
	return equalFold(action, "s3:putbucketpolicy") || equalFold(action, "s3:getbucketpolicy") ||
		equalFold(action, "s3:deletebucketpolicy")
}

// Authorize is the whole authorisation of an S3 request, API.md's layering as
// one pure function:
//
//  1. The caller's own org policies (org, the Engine of req.OrgID) must
//     allow; otherwise their Deny (explicit or implicit) is the answer.
//  2. Global requests (resource "*") involve no bucket: step 1 decides.
//  3. s3:Put/Get/DeleteBucketPolicy are decided by step 1 alone for the
//     owner org and always denied to another org.
//  4. For the owner org's callers a bucket policy Deny rejects; silence or
//     Allow leaves step 1's Allow.
//  5. For another org's callers the bucket policy must Allow explicitly (a
//     cw:PrincipalOrgID condition or a principal qualified with their org)
//     and not Deny.
//
// bucket may be nil (no bucket policy). An empty bucketOwnerOrg for a bucket
// request denies: an unknown owner must never read as "same org".
func Authorize(org *Engine, bucket *BucketPolicy, bucketOwnerOrg string, req Request, ctx BucketContext) Decision {
	od := org.Decide(req)
	if !od.Allowed() {
		return od
	}
	if isGlobalResource(req.Resource) {
		return od
	}
	if bucketOwnerOrg == "" {
		return Decision{Effect: Deny, Implicit: true, Reason: reasonOwnerUnknown}
	}
	sameOrg := req.OrgID == bucketOwnerOrg
	if IsBucketPolicyAction(req.Action) {
		if sameOrg {
			return od
		}
		return Decision{Effect: Deny, Implicit: true, Reason: reasonPolicyOwner}
	}
	bd := bucket.Evaluate(req, ctx, bucketOwnerOrg)
	switch {
	case bd.Effect == Deny:
		return Decision{Effect: Deny, Statements: []StatementRef{bd.Statement}, Reason: bd.Reason}
	case sameOrg:
		return od
	case bd.Effect == Allow:
		refs := make([]StatementRef, 0, len(od.Statements)+1)
		refs = append(append(refs, od.Statements...), bd.Statement)
		return Decision{Effect: Allow, Statements: refs, Reason: od.Reason + "; " + bd.Reason}
	case bucket == nil:
		return Decision{Effect: Deny, Implicit: true, Reason: reasonForeignNoBP}
	default:
		return Decision{Effect: Deny, Implicit: true, Reason: reasonForeignNoGrant}
	}
}
