package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"testing"

	"github.com/s3fed/s3fed/internal/s3/sigv4"
	"github.com/s3fed/s3fed/internal/storage"
)

func TestToAPIError(t *testing.T) {
	for _, tc := range []struct {
		err    error
		code   string
		status int
	}{
		{storage.ErrBucketNotFound, "NoSuchBucket", 404},
		{ErrNoSuchBucket, "NoSuchBucket", 404},
		{storage.ErrBucketNotEmpty, "BucketNotEmpty", 409},
		{storage.ErrObjectNotFound, "NoSuchKey", 404},
		{storage.ErrUploadNotFound, "NoSuchUpload", 404},
		{storage.ErrInvalidPart, "InvalidPart", 400},
		{storage.ErrInvalidPartOrder, "InvalidPartOrder", 400},
		{storage.ErrEntityTooSmall, "EntityTooSmall", 400},
		{storage.ErrPreconditionFailed, "PreconditionFailed", 412},
		{storage.ErrObjectAlreadyExists, "PreconditionFailed", 412},
		{storage.ErrInvalidRange, "InvalidRange", 416},
		{storage.ErrInvalidObjectName, "InvalidArgument", 400},
		{storage.ErrInvalidBucketName, "InvalidBucketName", 400},
		{storage.ErrEntityTooLarge, "EntityTooLarge", 400},
		{&http.MaxBytesError{Limit: 1}, "EntityTooLarge", 400},
		{storage.ErrIncompleteBody, "IncompleteBody", 400},
		{io.ErrUnexpectedEOF, "IncompleteBody", 400},
		{storage.ErrChecksumMismatch, "BadDigest", 400},
		{storage.ErrTooManyParts, "InvalidArgument", 400},
		{context.Canceled, "RequestTimeout", 400},
		{sigv4.ErrUnknownAccessKey, "InvalidAccessKeyId", 403},
		{sigv4.ErrExpiredCredential, "ExpiredToken", 400},
		{&sigv4.Error{Code: "SignatureDoesNotMatch", Status: 403, Message: "m"}, "SignatureDoesNotMatch", 403},
		{&sigv4.Error{Code: "XAmzContentSHA256Mismatch", Status: 400}, "XAmzContentSHA256Mismatch", 400},
		{&sigv4.Error{Code: "AccessDenied"}, "AccessDenied", 403},
		// A verifier error surfacing through the backend's wrapping wins
		// over the backend's own sentinel.
		{fmt.Errorf("put: %w", fmt.Errorf("read: %w", &sigv4.Error{Code: "BadDigest", Status: 400})), "BadDigest", 400},
		{errNoSuchKey, "NoSuchKey", 404},
		{errors.New("disk on fire"), "InternalError", 500},
	} {
		for _, err := range []error{tc.err, fmt.Errorf("wrapped: %w", tc.err)} {
			ae := toAPIError(err)
			if ae.Code != tc.code || ae.Status != tc.status {
				t.Errorf("%v: %s %d, want %s %d", err, ae.Code, ae.Status, tc.code, tc.status)
			}
			if ae.Message == "" {
				t.Errorf("%v: no message", err)
			}
		}
	}
	e := &Error{Code: "X", Message: "m", Err: io.EOF}
	if !errors.Is(e, io.EOF) || e.Error() != "X: m: EOF" {
		t.Errorf("Error wrapping: %v", e)
	}
}

func TestRemoteIP(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.1:1234": "192.0.2.1", "[2001:db8::1]:80": "2001:db8::1", "[::ffff:192.0.2.9]:1": "192.0.2.9",
		"192.0.2.7": "192.0.2.7", "garbage": "",
	} {
		if got := ipString(remoteIP(&http.Request{RemoteAddr: in})); got != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
}
