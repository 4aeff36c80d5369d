package sigv4

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"strconv"
)

// PostForm is the authentication of a browser-based POST upload (S3
// "Browser-Based Uploads Using POST"): the form carries a base64 POST
// policy and a signature over exactly that string, made with the key's
// secret. Nothing else of the request is signed: the policy's conditions,
// which the S3 handler enforces on every other field, are what the signer
// agreed to.
//
// Two signature versions exist, and both sign only the policy:
//   - Version 4 (what SDKs' presigned-POST helpers make): x-amz-algorithm
//     AWS4-HMAC-SHA256, x-amz-credential AKID/DATE/REGION/s3/aws4_request,
//     x-amz-date, and x-amz-signature = hex(HMAC-SHA256(signing key, policy)).
//   - Version 2 (older form generators, and the ceph/s3-tests suite):
//     AWSAccessKeyId and signature = base64(HMAC-SHA1(secret, policy)).
//     Unlike a Version 2 request signature, which s3fed refuses, it covers
//     the same policy a Version 4 one does, so it grants no more.
type PostForm struct {
	// Policy is the form's policy field as sent (base64).
	Policy string
	// Version 4 fields.
	Algorithm, Credential, Date, Signature string
	// Version 2 fields.
	AccessKeyID, SignatureV2 string
	// SecurityToken is x-amz-security-token, for keys that have one.
	SecurityToken    string
	HasSecurityToken bool
}

// V4 reports whether the form uses Signature Version 4 fields.
func (f PostForm) V4() bool {
	return f.Algorithm != "" || f.Credential != "" || f.Date != "" || f.Signature != ""
}

// VerifyPost checks a POST policy signature and returns the credential that
// made it. Errors are *Error: InvalidArgument for missing or malformed
// fields, AccessDenied / InvalidAccessKeyId / SignatureDoesNotMatch /
// ExpiredToken / InvalidToken for a signature that does not hold.
func (v *Verifier) VerifyPost(ctx context.Context, f PostForm) (Credential, error) {
	c, err := v.verifyPost(ctx, f)
	if err != nil {
		return Credential{}, err
	}
	return c, nil
}

func (v *Verifier) verifyPost(ctx context.Context, f PostForm) (Credential, *Error) {
	if v.Source == nil {
		return Credential{}, newErr(CodeServiceUnavailable, "no credential source is configured", nil)
	}
	for _, s := range []string{f.Policy, f.Algorithm, f.Credential, f.Date, f.Signature, f.AccessKeyID, f.SignatureV2, f.SecurityToken} {
		if len(s) > MaxAuthorizationLen {
			return Credential{}, newErr(codeInvalidArgument, "a POST authentication field is too long", nil)
		}
	}
	v4 := f.V4()
	if v4 && (f.AccessKeyID != "" || f.SignatureV2 != "") {
		return Credential{}, newErr(codeInvalidArgument, "a POST form carries Signature Version 4 (x-amz-*) or Version 2 (AWSAccessKeyId, signature) fields, not both", nil)
	}
	var akid string
	var scope credentialScope
	if v4 {
		for name, val := range map[string]string{"x-amz-algorithm": f.Algorithm, "x-amz-credential": f.Credential, "x-amz-date": f.Date, "x-amz-signature": f.Signature} {
			if val == "" {
				return Credential{}, newErr(codeInvalidArgument, "Bucket POST must contain a field named '"+name+"'.  If it is specified, please check the order of the fields.", nil)
			}
		}
		if f.Algorithm != algoSigV4 {
			return Credential{}, newErr(codeInvalidArgument, "x-amz-algorithm only supports \"AWS4-HMAC-SHA256\"", nil)
		}
		var msg string
		if scope, msg = parseCredential(f.Credential); msg != "" {
			return Credential{}, newErr(codeInvalidArgument, "x-amz-credential: "+msg, nil)
		}
		if _, ok := parseAmzDate(f.Date); !ok {
			return Credential{}, newErr(codeInvalidArgument, "x-amz-date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"", nil)
		}
		if scope.date != f.Date[:8] {
			return Credential{}, newErr(codeInvalidArgument, "the credential scope date "+scope.date+" is not the date of x-amz-date", nil)
		}
		if scope.region != v.region() {
			return Credential{}, newErr(codeInvalidArgument, "the region "+strconv.Quote(trunc(scope.region))+" is wrong; expecting "+strconv.Quote(v.region()), nil)
		}
		if scope.service != "s3" {
			return Credential{}, newErr(codeInvalidArgument, "the service "+strconv.Quote(trunc(scope.service))+" is wrong; expecting \"s3\"", nil)
		}
		akid = scope.accessKeyID
	} else {
		if f.AccessKeyID == "" {
			return Credential{}, newErr(codeInvalidArgument, "Bucket POST must contain a field named 'AWSAccessKeyId'.  If it is specified, please check the order of the fields.", nil)
		}
		if f.SignatureV2 == "" {
			return Credential{}, newErr(codeInvalidArgument, "Bucket POST must contain a field named 'signature'.  If it is specified, please check the order of the fields.", nil)
		}
		akid = f.AccessKeyID
	}
	if f.Policy == "" {
		return Credential{}, newErr(codeInvalidArgument, "Bucket POST must contain a field named 'policy'.  If it is specified, please check the order of the fields.", nil)
	}

	cred, err := v.Source.Credential(ctx, akid)
	if err != nil {
		switch {
		case errors.Is(err, ErrUnknownAccessKey):
			return Credential{}, newErr(CodeInvalidAccessKeyID, "the AWS access key id you provided does not exist in our records", err)
		case errors.Is(err, ErrExpiredCredential):
			return Credential{}, newErr(CodeExpiredToken, "the provided token has expired", err)
		default:
			return Credential{}, newErr(CodeServiceUnavailable, "credentials cannot be looked up right now; retry later", err)
		}
	}
	if cred.SecretKey == "" {
		return Credential{}, newErr(CodeServiceUnavailable, "credentials cannot be looked up right now; retry later", errors.New("credential source returned an empty secret"))
	}
	if cred.AccessKeyID != "" && cred.AccessKeyID != akid {
		return Credential{}, newErr(CodeInvalidAccessKeyID, "the AWS access key id you provided does not exist in our records", nil)
	}
	if !cred.Expiry.IsZero() && !v.now().Before(cred.Expiry) {
		return Credential{}, newErr(CodeExpiredToken, "the provided token has expired", nil)
	}
	switch {
	case cred.SessionToken == "" && f.HasSecurityToken:
		return Credential{}, newErr(CodeInvalidToken, "the form carries x-amz-security-token but the access key has none", nil)
	case cred.SessionToken != "" && !f.HasSecurityToken:
		return Credential{}, newErr(CodeInvalidToken, "the access key requires a security token (the x-amz-security-token field) and the form carries none", nil)
	case cred.SessionToken != "" && subtle.ConstantTimeCompare([]byte(cred.SessionToken), []byte(f.SecurityToken)) != 1:
		return Credential{}, newErr(CodeInvalidToken, "the provided security token is malformed or otherwise invalid", nil)
	}

	if v4 {
		var want [32]byte
		if !parseSignature(f.Signature, &want) {
			return Credential{}, newErr(CodeSignatureDoesNotMatch, "x-amz-signature must be 64 hexadecimal digits", nil)
		}
		h := newHMAC()
		key, _ := signingKey(h, nil, akid, cred.SecretKey, scope.date, scope.region, scope.service)
		var got [32]byte
		h.mac(key[:], []byte(f.Policy), &got)
		if !hmac.Equal(got[:], want[:]) {
			return Credential{}, newErr(CodeSignatureDoesNotMatch, "the POST policy signature we calculated does not match the signature you provided; check your key and signing method", nil)
		}
		return cred, nil
	}
	want, err := base64.StdEncoding.DecodeString(f.SignatureV2)
	if err != nil || len(want) != sha1.Size {
		return Credential{}, newErr(CodeSignatureDoesNotMatch, "the POST policy signature we calculated does not match the signature you provided; check your key and signing method", nil)
	}
	m := hmac.New(sha1.New, []byte(cred.SecretKey))
	m.Write([]byte(f.Policy))
	if !hmac.Equal(m.Sum(nil), want) {
		return Credential{}, newErr(CodeSignatureDoesNotMatch, "the POST policy signature we calculated does not match the signature you provided; check your key and signing method", nil)
	}
	return cred, nil
}

// codeInvalidArgument is S3's InvalidArgument, which POST form problems are.
const codeInvalidArgument = "InvalidArgument"
