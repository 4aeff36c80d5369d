package s3

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/s3fed/s3fed/internal/bodytimeout"
	"github.com/s3fed/s3fed/internal/s3/sigv4"
	"github.com/s3fed/s3fed/internal/storage"
)

// Error is an S3 error answer: the stable machine code S3 clients switch on,
// the HTTP status S3 uses for it, and a human message. Handlers return it (or
// any error, which is mapped by toAPIError) and the server writes S3's XML
// Error document, so every failure has one place that decides its status.
type Error struct {
	Code    string
	Status  int
	Message string
	// ArgumentName and ArgumentValue name the request argument an
	// InvalidArgument refers to, when S3 names one.
	ArgumentName, ArgumentValue string
	// Err is the underlying cause, logged but never shown to the client.
	Err error
}

// Error implements error.
func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return e.Code + ": " + e.Message
}

// Unwrap exposes the cause for errors.Is/As.
func (e *Error) Unwrap() error { return e.Err }

func newError(code string, status int, msg string) *Error {
	return &Error{Code: code, Status: status, Message: msg}
}

// Errors the front door answers itself. Messages follow S3's wording where
// clients or people are used to it.
func errAccessDenied(msg string) *Error { return newError("AccessDenied", http.StatusForbidden, msg) }
func errInvalidArgument(msg string) *Error {
	return newError("InvalidArgument", http.StatusBadRequest, msg)
}
func errInvalidRequest(msg string) *Error {
	return newError("InvalidRequest", http.StatusBadRequest, msg)
}
func errNotImplemented(msg string) *Error {
	return newError("NotImplemented", http.StatusNotImplemented, msg)
}
func errMalformedXML(msg string) *Error {
	return newError("MalformedXML", http.StatusBadRequest, msg)
}

// errInvalidVersionID is AWS's answer to a version id an unversioned
// bucket cannot have. s3fed buckets are never versioned, so every version
// id but "null" gets it. AWS answers GetObject, HeadObject and DeleteObject
// on an unversioned bucket with a well-formed but foreign version id so
// (400 InvalidArgument "Invalid version id specified", ArgumentName
// versionId; recorded against AWS in LocalStack's validated snapshots,
// tests/aws/services/s3/test_s3_api.snapshot.json,
// test_get_object_with_version_unversioned_bucket and test_delete_object).
// param names the query parameter for the error document ("" for none).
func errInvalidVersionID(param, v string) *Error {
	e := errInvalidArgument("Invalid version id specified")
	if v == "" {
		e = errInvalidArgument("Version id cannot be the empty string")
	}
	if param != "" {
		e.ArgumentName, e.ArgumentValue = param, v
	}
	return e
}

var (
	errNoSuchBucket = newError("NoSuchBucket", http.StatusNotFound, "The specified bucket does not exist")
	errNoSuchKey    = newError("NoSuchKey", http.StatusNotFound, "The specified key does not exist.")
	errNoSuchUpload = newError("NoSuchUpload", http.StatusNotFound,
		"The specified multipart upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.")
	errPrecondition = newError("PreconditionFailed", http.StatusPreconditionFailed,
		"At least one of the pre-conditions you specified did not hold")
	errInvalidRange = newError("InvalidRange", http.StatusRequestedRangeNotSatisfiable,
		"The requested range is not satisfiable")
	errInternal = newError("InternalError", http.StatusInternalServerError,
		"We encountered an internal error. Please try again.")
)

// toAPIError maps any error a handler, the verifier or the backend returned to
// the S3 error the client sees. Unknown errors are InternalError (500): a bug
// or an unavailable dependency, logged by the caller.
func toAPIError(err error) *Error {
	if errors.Is(err, bodytimeout.ErrTimeout) {
		// Before the other checks: the verifier and the backend wrap a
		// failed body read as IncompleteBody, but the client was too slow.
		return &Error{Code: "RequestTimeout", Status: http.StatusBadRequest,
			Message: "Your socket connection to the server was not read from or written to within the timeout period. Idle connections will be closed.", Err: err}
	}
	var ae *Error
	if errors.As(err, &ae) {
		return ae
	}
	var se *sigv4.Error
	if errors.As(err, &se) {
		status := se.Status
		if status == 0 {
			status = http.StatusForbidden
		}
		msg := se.Message
		if msg == "" {
			msg = "The request was refused (" + se.Code + ")."
		}
		return &Error{Code: se.Code, Status: status, Message: msg, Err: err}
	}
	var mbe *http.MaxBytesError
	switch {
	case errors.Is(err, sigv4.ErrUnknownAccessKey):
		return &Error{Code: "InvalidAccessKeyId", Status: http.StatusForbidden,
			Message: "The AWS Access Key Id you provided does not exist in our records.", Err: err}
	case errors.Is(err, sigv4.ErrExpiredCredential):
		return &Error{Code: "ExpiredToken", Status: http.StatusBadRequest,
			Message: "The provided token has expired.", Err: err}
	case errors.Is(err, storage.ErrBucketNotFound), errors.Is(err, ErrNoSuchBucket):
		return wrapErr(errNoSuchBucket, err)
	case errors.Is(err, storage.ErrBucketNotEmpty):
		return &Error{Code: "BucketNotEmpty", Status: http.StatusConflict,
			Message: "The bucket you tried to delete is not empty", Err: err}
	case errors.Is(err, storage.ErrObjectNotFound):
		return wrapErr(errNoSuchKey, err)
	case errors.Is(err, storage.ErrUploadNotFound):
		return wrapErr(errNoSuchUpload, err)
	case errors.Is(err, storage.ErrInvalidPart):
		return &Error{Code: "InvalidPart", Status: http.StatusBadRequest,
			Message: "One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.", Err: err}
	case errors.Is(err, storage.ErrInvalidPartOrder):
		return &Error{Code: "InvalidPartOrder", Status: http.StatusBadRequest,
			Message: "The list of parts was not in ascending order. The parts list must be specified in order by part number.", Err: err}
	case errors.Is(err, storage.ErrEntityTooSmall):
		return &Error{Code: "EntityTooSmall", Status: http.StatusBadRequest,
			Message: "Your proposed upload is smaller than the minimum allowed object size.", Err: err}
	case errors.Is(err, storage.ErrPreconditionFailed), errors.Is(err, storage.ErrObjectAlreadyExists):
		return wrapErr(errPrecondition, err)
	case errors.Is(err, storage.ErrInvalidRange):
		return wrapErr(errInvalidRange, err)
	case errors.Is(err, storage.ErrInvalidObjectName):
		return &Error{Code: "InvalidArgument", Status: http.StatusBadRequest,
			Message: "The object key is not valid.", Err: err}
	case errors.Is(err, storage.ErrInvalidBucketName):
		return &Error{Code: "InvalidBucketName", Status: http.StatusBadRequest,
			Message: "The specified bucket is not valid.", Err: err}
	case errors.Is(err, storage.ErrEntityTooLarge), errors.As(err, &mbe):
		return &Error{Code: "EntityTooLarge", Status: http.StatusBadRequest,
			Message: "Your proposed upload exceeds the maximum allowed size", Err: err}
	case errors.Is(err, storage.ErrIncompleteBody), errors.Is(err, io.ErrUnexpectedEOF):
		return &Error{Code: "IncompleteBody", Status: http.StatusBadRequest,
			Message: "You did not provide the number of bytes specified by the Content-Length HTTP header.", Err: err}
	case errors.Is(err, storage.ErrChecksumMismatch):
		return &Error{Code: "BadDigest", Status: http.StatusBadRequest,
			Message: "The Content-MD5 or checksum you specified did not match what we received.", Err: err}
	case errors.Is(err, storage.ErrTooManyParts):
		return &Error{Code: "InvalidArgument", Status: http.StatusBadRequest,
			Message: "Part number must be an integer between 1 and 10000, inclusive", Err: err}
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		// The client went away or took too long; not a server fault.
		return &Error{Code: "RequestTimeout", Status: http.StatusBadRequest,
			Message: "Your socket connection to the server was not read from or written to within the timeout period.", Err: err}
	}
	return wrapErr(errInternal, err)
}

func wrapErr(base *Error, cause error) *Error {
	e := *base
	e.Err = cause
	return &e
}

// errorBody is S3's error document. S3 puts it in no namespace.
type errorBody struct {
	XMLName xml.Name `xml:"Error"`
	Code    string   `xml:"Code"`
	Message string   `xml:"Message"`
	// ArgumentName and ArgumentValue follow Message, as in S3's answers.
	ArgumentName  string `xml:"ArgumentName,omitempty"`
	ArgumentValue string `xml:"ArgumentValue,omitempty"`
	Resource      string `xml:"Resource,omitempty"`
	RequestID     string `xml:"RequestId"`
	HostID        string `xml:"HostId,omitempty"`
}

// writeError writes e as S3's XML Error document. HEAD answers carry no body.
func writeError(w http.ResponseWriter, r *http.Request, e *Error, resource, requestID, hostID string) {
	h := w.Header()
	// Drop success headers a handler may have set before failing.
	for _, k := range []string{"ETag", "Last-Modified", "Content-Length", "Accept-Ranges", "Content-Disposition", "Content-Encoding", "Content-Language", "Cache-Control", "Expires"} {
		h.Del(k)
	}
	if r.Method == http.MethodHead {
		setAmzHeader(h, "x-amz-error-code", e.Code)
		w.WriteHeader(e.Status)
		return
	}
	body, err := xml.Marshal(errorBody{Code: e.Code, Message: e.Message, ArgumentName: e.ArgumentName, ArgumentValue: e.ArgumentValue, Resource: resource, RequestID: requestID, HostID: hostID})
	if err != nil {
		body = []byte("<Error><Code>InternalError</Code></Error>")
	}
	h.Set("Content-Type", "application/xml")
	h.Set("Content-Length", strconv.Itoa(len(xmlHeader)+len(body)))
	w.WriteHeader(e.Status)
	_, _ = io.WriteString(w, xmlHeader)
	_, _ = w.Write(body)
}

const xmlHeader = `<?xml version="1.0" encoding="UTF-8"?>` + "\n"
