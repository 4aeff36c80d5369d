package sigv4

import (
	"errors"
	"net/http"
)

// ErrUnknownAccessKey is what a CredentialSource returns (possibly wrapped) for an access key
// that does not exist or was revoked. Verify answers it with S3's InvalidAccessKeyId, the code
// AWS gives for both, so a caller cannot tell a revoked key from one that never existed.
var ErrUnknownAccessKey = errors.New("sigv4: unknown or revoked access key")

// ErrExpiredCredential is what a CredentialSource returns (possibly wrapped) for an access key
// whose lifetime has ended. Verify answers it with S3's ExpiredToken, as AWS does for expired
// temporary credentials.
var ErrExpiredCredential = errors.New("sigv4: credential expired")

// Error is an authentication failure that carries the S3 error code and HTTP status to answer.
// Verify and the Result.Body reader return only *Error values, so the S3 handler can map every
// failure to S3's XML Error shape with errors.As and never has to guess a status.
//
// Message is safe to show to the caller (it never contains a secret, a signature that was
// expected, or a canonical request); Err is the internal cause, for logs only.
type Error struct {
	// Code is S3's error code, e.g. "SignatureDoesNotMatch".
	Code string
	// Status is the HTTP status S3 answers with that code.
	Status int
	// Message is a human explanation fit for the response body.
	Message string
	// Err is the underlying cause, if any; it is not meant for the response.
	Err error
}

// Error renders code, message and cause for logs.
func (e *Error) Error() string {
	s := "sigv4: " + e.Code + ": " + e.Message
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap exposes the cause so callers can errors.Is against ErrUnknownAccessKey and friends.
func (e *Error) Unwrap() error { return e.Err }

// S3 error codes used by this package, exported so the S3 handler and tests can compare
// against them without retyping strings.
const (
	CodeAccessDenied                      = "AccessDenied"
	CodeSignatureDoesNotMatch             = "SignatureDoesNotMatch"
	CodeInvalidAccessKeyID                = "InvalidAccessKeyId"
	CodeExpiredToken                      = "ExpiredToken"
	CodeInvalidToken                      = "InvalidToken"
	CodeAuthorizationHeaderMalformed      = "AuthorizationHeaderMalformed"
	CodeAuthorizationQueryParametersError = "AuthorizationQueryParametersError"
	CodeRequestTimeTooSkewed              = "RequestTimeTooSkewed"
	CodeXAmzContentSHA256Mismatch         = "XAmzContentSHA256Mismatch"
	CodeInvalidDigest                     = "InvalidDigest"
	CodeBadDigest                         = "BadDigest"
	CodeInvalidRequest                    = "InvalidRequest"
	CodeIncompleteBody                    = "IncompleteBody"
	CodeMissingContentLength              = "MissingContentLength"
	CodeNotImplemented                    = "NotImplemented"
	CodeEntityTooLarge                    = "EntityTooLarge"
	CodeServiceUnavailable                = "ServiceUnavailable"
)

var codeStatus = map[string]int{
	CodeAccessDenied:                      http.StatusForbidden,
	CodeSignatureDoesNotMatch:             http.StatusForbidden,
	CodeInvalidAccessKeyID:                http.StatusForbidden,
	CodeExpiredToken:                      http.StatusBadRequest,
	CodeInvalidToken:                      http.StatusBadRequest,
	CodeAuthorizationHeaderMalformed:      http.StatusBadRequest,
	CodeAuthorizationQueryParametersError: http.StatusBadRequest,
	CodeRequestTimeTooSkewed:              http.StatusForbidden,
	CodeXAmzContentSHA256Mismatch:         http.StatusBadRequest,
	CodeInvalidDigest:                     http.StatusBadRequest,
	CodeBadDigest:                         http.StatusBadRequest,
	CodeInvalidRequest:                    http.StatusBadRequest,
	CodeIncompleteBody:                    http.StatusBadRequest,
	CodeMissingContentLength:              http.StatusLengthRequired,
	CodeNotImplemented:                    http.StatusNotImplemented,
	CodeEntityTooLarge:                    http.StatusBadRequest,
	CodeServiceUnavailable:                http.StatusServiceUnavailable,
}

// newErr builds an *Error with the status that belongs to code.
func newErr(code, msg string, cause error) *Error {
	st, ok := codeStatus[code]
	if !ok {
		st = http.StatusBadRequest
	}
	return &Error{Code: code, Status: st, Message: msg, Err: cause}
}
