package sts

import (
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/s3fed/s3fed/internal/admin"
	"github.com/s3fed/s3fed/internal/bodytimeout"
	"github.com/s3fed/s3fed/internal/creds"
	"github.com/s3fed/s3fed/internal/jsonapi"
	"github.com/s3fed/s3fed/internal/mapping"
	"github.com/s3fed/s3fed/internal/saml"
)

// STSNamespace is the XML namespace of every AWS STS answer.
const STSNamespace = "https://sts.amazonaws.com/doc/2011-06-15/"

// AWS's AssumeRoleWithSAML duration bounds: 15 minutes to 12 hours.
const (
	awsMinDuration = 900
	awsMaxDuration = 43200
)

// stsError is an AWS STS ErrorResponse.
type stsError struct {
	Status  int
	Code    string
	Message string
	// Err is the cause, logged (never answered) when Status is a 5xx.
	Err error
}

func (e *stsError) Error() string { return e.Code + ": " + e.Message }

func (e *stsError) Unwrap() error { return e.Err }

func stsErr(status int, code, format string, args ...any) *stsError {
	return &stsError{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// QueryHandler is the AWS STS query API (POST / with Action=...) that the S3
// listener hands anonymous form posts to, so that `aws sts
// assume-role-with-saml --endpoint-url <s3 endpoint>` works unmodified.
func (s *Service) QueryHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reqID := jsonapi.NewRequestID()
		r = r.WithContext(jsonapi.WithRequestID(r.Context(), reqID))
		w.Header().Set("x-amzn-RequestId", reqID)
		if err := s.query(w, r); err != nil {
			var se *stsError
			if !errors.As(err, &se) {
				se = stsErr(http.StatusInternalServerError, "InternalFailure", "internal error; the request ID is in the server log")
				se.Err = err
			}
			if se.Status >= 500 {
				cause := se.Err
				if cause == nil {
					cause = errors.New("no cause was recorded for this answer")
				}
				s.Log.ErrorContext(r.Context(), "sts: server error", "request_id", reqID, "status", se.Status, "code", se.Code, "err", cause.Error())
			}
			writeXML(w, se.Status, struct {
				XMLName xml.Name `xml:"ErrorResponse"`
				NS      string   `xml:"xmlns,attr"`
				Error   struct {
					Type    string
					Code    string
					Message string
				}
				RequestID string `xml:"RequestId"`
			}{NS: STSNamespace, Error: struct {
				Type    string
				Code    string
				Message string
			}{senderOrReceiver(se.Status), se.Code, se.Message}, RequestID: reqID})
		}
	})
}

func senderOrReceiver(status int) string {
	if status >= 500 {
		return "Receiver"
	}
	return "Sender"
}

func writeXML(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(xml.Header))
	enc := xml.NewEncoder(w)
	_ = enc.Encode(v)
}

func (s *Service) query(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodPost {
		return stsErr(http.StatusMethodNotAllowed, "InvalidAction", "the STS query API takes POST")
	}
	if r.ContentLength > MaxExchangeBody {
		return stsErr(http.StatusRequestEntityTooLarge, "ValidationError", "request body is larger than %d bytes", MaxExchangeBody)
	}
	r.Body = http.MaxBytesReader(w, r.Body, MaxExchangeBody)
	if err := r.ParseForm(); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return stsErr(http.StatusRequestEntityTooLarge, "ValidationError", "request body is larger than %d bytes", MaxExchangeBody)
		}
		if errors.Is(err, bodytimeout.ErrTimeout) {
			return stsErr(http.StatusRequestTimeout, "RequestTimeout", "%v; send the whole request body at once", err)
		}
		return stsErr(http.StatusBadRequest, "MalformedQueryString", "cannot parse the form body: %v", err)
	}
	if v := r.PostForm.Get("Version"); v != "" && v != "2011-06-15" {
		return stsErr(http.StatusBadRequest, "InvalidParameterValue", "Version must be 2011-06-15")
	}
	switch a := r.PostForm.Get("Action"); a {
	case "AssumeRoleWithSAML":
		return s.assumeRoleWithSAML(w, r)
	case "AssumeRoleWithWebIdentity":
		return stsErr(http.StatusBadRequest, "InvalidAction", "AssumeRoleWithWebIdentity needs OIDC federation, which this server does not support yet")
	case "":
		return stsErr(http.StatusBadRequest, "MissingAction", "the Action parameter is required")
	default:
		return stsErr(http.StatusBadRequest, "InvalidAction", "action %q is not supported; use AssumeRoleWithSAML", truncate(a))
	}
}

// stsFromAPI maps an exchange refusal to AWS's error codes.
func stsFromAPI(err error) error {
	var ae *jsonapi.Error
	if !errors.As(err, &ae) {
		return err
	}
	switch ae.Code {
	case "assertion_expired":
		return stsErr(http.StatusBadRequest, "ExpiredTokenException", "%s", ae.Message)
	case "condition_not_met", "config_inactive":
		return stsErr(http.StatusBadRequest, "IDPRejectedClaim", "%s", ae.Message)
	case "not_found":
		return stsErr(http.StatusBadRequest, "InvalidParameterValue", "%s", ae.Message)
	case "invalid_argument", "invalid_json", "duration_out_of_range":
		return stsErr(http.StatusBadRequest, "ValidationError", "%s", ae.Message)
	case "payload_too_large":
		return stsErr(http.StatusRequestEntityTooLarge, "ValidationError", "%s", ae.Message)
	case "rate_limited":
		return stsErr(http.StatusBadRequest, "Throttling", "%s", ae.Message)
	case "unavailable":
		se := stsErr(http.StatusServiceUnavailable, "ServiceUnavailable", "%s", ae.Message)
		se.Err = err
		return se
	}
	if ae.Status == http.StatusForbidden {
		return stsErr(http.StatusForbidden, "AccessDenied", "%s", ae.Message)
	}
	// Every other SAML refusal (signature, audience, replay, ...).
	return stsErr(http.StatusBadRequest, "InvalidIdentityToken", "%s: %s", ae.Code, ae.Message)
}

func (s *Service) assumeRoleWithSAML(w http.ResponseWriter, r *http.Request) error {
	x := s.newExchange(r, "exchange.aws-saml")
	f := r.PostForm
	fail := func(err error) error { return stsFromAPI(s.fail(r.Context(), x, err)) }
	if err := s.throttle(w, r, x); err != nil {
		return stsFromAPI(err)
	}
	roleArn, principalArn, assertion := f.Get("RoleArn"), f.Get("PrincipalArn"), f.Get("SAMLAssertion")
	for name, v := range map[string]string{"RoleArn": roleArn, "PrincipalArn": principalArn, "SAMLAssertion": assertion} {
		if v == "" {
			return fail(jsonapi.BadRequest("%s is required", name))
		}
	}
	org, _, err := mapping.ParseAWSRoleARN(roleArn)
	if err != nil {
		return fail(jsonapi.BadRequest("RoleArn: %v", err))
	}
	prefix := "arn:aws:iam::" + org + ":saml-provider/"
	configID, ok := strings.CutPrefix(principalArn, prefix)
	if !ok || configID == "" {
		return fail(jsonapi.BadRequest("PrincipalArn must be %sCONFIG_ID (the same org as RoleArn)", prefix))
	}
	if f.Get("Policy") != "" || len(f["PolicyArns.member.1.arn"]) > 0 {
		// A session policy would restrict the keys; this server does not
		// enforce one yet, so it refuses rather than ignore it.
		return fail(jsonapi.BadRequest("session policies (Policy, PolicyArns) are not supported yet"))
	}
	req := 3600
	if d := f.Get("DurationSeconds"); d != "" {
		n, err := strconv.Atoi(d)
		if err != nil || n < awsMinDuration || n > awsMaxDuration {
			return fail(jsonapi.BadRequest("DurationSeconds must be an integer from %d to %d", awsMinDuration, awsMaxDuration))
		}
		req = n
	}
	x.ev.ConfigID = configID
	cfg, err := s.loadConfig(r.Context(), org, configID, "saml")
	if err != nil {
		return fail(err)
	}
	x.ev.OrgID = cfg.OrgID
	if !cfg.Active {
		return fail(jsonapi.Errorf(http.StatusForbidden, "config_inactive", "federation config %q is inactive", cfg.ID))
	}
	vc, err := s.samlConfig(cfg)
	if err != nil {
		return fail(err)
	}
	a, err := saml.Validate(r.Context(), assertion, vc)
	if err != nil {
		return fail(unavailable(SAMLError(err)))
	}
	id, err := mapping.AWSSAML(a, cfg.OrgID, cfg.ID, roleArn)
	if err != nil {
		return fail(MappingError(err))
	}
	now := s.now()
	d, err := creds.Duration(req, time.Duration(cfg.MaxDurationSeconds)*time.Second, now, a.SessionNotOnOrAfter)
	if err != nil {
		return fail(jsonapi.Errorf(http.StatusForbidden, "condition_not_met", "%v", err))
	}
	c, err := s.mint(r, x, id, nil, d, now, true)
	if err != nil {
		return fail(err)
	}
	type credentials struct {
		AccessKeyID     string `xml:"AccessKeyId"`
		SecretAccessKey string
		SessionToken    string
		Expiration      string
	}
	type assumedRoleUser struct {
		Arn           string
		AssumedRoleID string `xml:"AssumedRoleId"`
	}
	type result struct {
		Credentials     credentials
		AssumedRoleUser assumedRoleUser
		Subject         string
		SubjectType     string
		Issuer          string
		Audience        string
		NameQualifier   string
	}
	writeXML(w, http.StatusOK, struct {
		XMLName          xml.Name `xml:"AssumeRoleWithSAMLResponse"`
		NS               string   `xml:"xmlns,attr"`
		Result           result   `xml:"AssumeRoleWithSAMLResult"`
		ResponseMetadata struct {
			RequestID string `xml:"RequestId"`
		}
	}{NS: STSNamespace, Result: result{
		Credentials: credentials{AccessKeyID: c.Key.ID, SecretAccessKey: c.Secret, SessionToken: c.SessionToken,
			Expiration: c.Key.Expiry.Format("2006-01-02T15:04:05Z")},
		AssumedRoleUser: assumedRoleUser{Arn: "arn:aws:sts::" + cfg.OrgID + ":assumed-role/" + id.Role + "/" + id.Subject,
			AssumedRoleID: c.Key.ID + ":" + id.Subject},
		Subject: a.NameID, SubjectType: subjectType(a.NameIDFormat), Issuer: a.Issuer,
		Audience: admin.ACSURL(s.PublicURL), NameQualifier: cfg.ID,
	}, ResponseMetadata: struct {
		RequestID string `xml:"RequestId"`
	}{jsonapi.RequestID(r.Context())}})
	return nil
}

func subjectType(format string) string {
	if i := strings.LastIndexByte(format, ':'); i >= 0 {
		return format[i+1:]
	}
	if format == "" {
		return "unspecified"
	}
	return format
}
