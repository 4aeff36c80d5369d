package s3

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// postForm is one browser upload: fields in order, then the file.
type postFormSpec struct {
	fields   [][2]string
	fileName string
	file     []byte
	noFile   bool
}

func (e *liveEnv) post(t *testing.T, bucket string, f postFormSpec) (*http.Response, []byte) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, kv := range f.fields {
		if err := mw.WriteField(kv[0], kv[1]); err != nil {
			t.Fatal(err)
		}
	}
	if !f.noFile {
		name := f.fileName
		if name == "" {
			name = "upload.bin"
		}
		w, err := mw.CreateFormFile("file", name)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = w.Write(f.file)
		// Fields after the file are ignored, as on S3.
		_ = mw.WriteField("x-amz-meta-after", "ignored")
	}
	_ = mw.Close()
	req, _ := http.NewRequest(http.MethodPost, e.ts.URL+"/"+bucket, &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	hc := e.ts.Client()
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, body
}

// policyB64 encodes a POST policy document.
func policyB64(t *testing.T, expiration time.Time, conditions ...any) string {
	t.Helper()
	doc := map[string]any{"expiration": expiration.UTC().Format("2006-01-02T15:04:05.000Z"), "conditions": conditions}
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(b)
}

func hmacSHA256(key []byte, msg string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

// v4Fields signs policy with key's secret as AWS's POST signing describes,
// computed here independently of the server's code.
func v4Fields(key, policy string, now time.Time) [][2]string {
	c := testCreds[key]
	date := now.UTC().Format("20060102")
	k := hmacSHA256([]byte("AWS4"+c.SecretKey), date)
	k = hmacSHA256(k, "us-east-1")
	k = hmacSHA256(k, "s3")
	k = hmacSHA256(k, "aws4_request")
	out := [][2]string{
		{"policy", policy},
		{"x-amz-algorithm", "AWS4-HMAC-SHA256"},
		{"x-amz-credential", c.AccessKeyID + "/" + date + "/us-east-1/s3/aws4_request"},
		{"x-amz-date", now.UTC().Format("20060102T150405Z")},
	}
	if c.SessionToken != "" {
		out = append(out, [2]string{"x-amz-security-token", c.SessionToken})
	}
	return append(out, [2]string{"x-amz-signature", hex.EncodeToString(hmacSHA256(k, policy))})
}

func v2Fields(key, policy string) [][2]string {
	c := testCreds[key]
	m := hmac.New(sha1.New, []byte(c.SecretKey))
	m.Write([]byte(policy))
	return [][2]string{{"AWSAccessKeyId", c.AccessKeyID}, {"policy", policy}, {"signature", base64.StdEncoding.EncodeToString(m.Sum(nil))}}
}

// v4Conds are the conditions a V4 form must carry for its own auth fields.
func v4Conds(key string, now time.Time) []any {
	c := testCreds[key]
	date := now.UTC().Format("20060102")
	out := []any{
		map[string]string{"x-amz-algorithm": "AWS4-HMAC-SHA256"},
		map[string]string{"x-amz-credential": c.AccessKeyID + "/" + date + "/us-east-1/s3/aws4_request"},
		map[string]string{"x-amz-date": now.UTC().Format("20060102T150405Z")},
	}
	if c.SessionToken != "" {
		out = append(out, map[string]string{"x-amz-security-token": c.SessionToken})
	}
	return out
}

func TestPostObjectV4(t *testing.T) {
	e := newLiveEnv(t, false, "")
	c := e.sdk(t, aliceKey, "")
	ctx := context.Background()
	mkBucketSDK(t, c, "forms")
	now := time.Now()
	conds := append(v4Conds(aliceKey, now),
		map[string]string{"bucket": "forms"},
		[]any{"starts-with", "$key", "uploads/"},
		[]any{"starts-with", "$Content-Type", "text/"},
		[]any{"eq", "$x-amz-meta-color", "blue"},
		[]any{"content-length-range", 1, 1024},
		map[string]string{"success_action_status": "201"},
	)
	pol := policyB64(t, now.Add(time.Hour), conds...)
	fields := append([][2]string{{"key", "uploads/${filename}"}, {"Content-Type", "text/plain"}, {"x-amz-meta-color", "blue"},
		{"success_action_status", "201"}}, v4Fields(aliceKey, pol, now)...)
	resp, body := e.post(t, "forms", postFormSpec{fields: fields, fileName: `C:\docs\report.txt`, file: []byte("hello form")})
	if resp.StatusCode != 201 {
		t.Fatalf("POST: %d %s", resp.StatusCode, body)
	}
	var pr struct {
		Bucket, Key, ETag, Location string
	}
	if err := xml.Unmarshal(body, &pr); err != nil || pr.Bucket != "forms" || pr.Key != "uploads/report.txt" || pr.ETag == "" {
		t.Fatalf("PostResponse %s: %+v %v", body, pr, err)
	}
	// The upload is the signer's PutObject, audited as such.
	if ev := e.log.last(); ev.Action != "s3:PutObject" || ev.Operation != "PostObject" || ev.PrincipalName != alice.PrincipalName || ev.Decision != "Allow" || ev.Resource != "forms/uploads/report.txt" {
		t.Errorf("audit event %+v", ev)
	}
	got, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("forms"), Key: aws.String("uploads/report.txt")})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(got.Body)
	got.Body.Close()
	if string(b) != "hello form" || aws.ToString(got.ContentType) != "text/plain" || got.Metadata["color"] != "blue" || got.Metadata["after"] != "" {
		t.Fatalf("stored %q %q %v", b, aws.ToString(got.ContentType), got.Metadata)
	}

	// Each failed rule: the answer, and nothing stored.
	for _, tc := range []struct {
		name   string
		fields [][2]string
		file   []byte
		status int
		code   string
	}{
		{"key outside the prefix", replaceField(fields, "key", "other/x"), []byte("x"), 403, "AccessDenied"},
		{"condition value differs", replaceField(fields, "x-amz-meta-color", "red"), []byte("x"), 403, "AccessDenied"},
		{"field the policy does not name", append([][2]string{{"x-amz-meta-extra", "1"}}, fields...), []byte("x"), 403, "AccessDenied"},
		{"file larger than the range", fields, bytes.Repeat([]byte("x"), 1025), 400, "EntityTooLarge"},
		{"file smaller than the range", fields, nil, 400, "EntityTooSmall"},
		{"tampered policy", replaceField(fields, "policy", policyB64(t, now.Add(time.Hour), append(conds[:len(conds)-2:len(conds)-2], []any{"content-length-range", 0, 1 << 30})...)), []byte("x"), 403, "SignatureDoesNotMatch"},
		{"unknown key", replaceField(fields, "x-amz-credential", "AKIAUNKNOWN00000/"+now.UTC().Format("20060102")+"/us-east-1/s3/aws4_request"), []byte("x"), 403, "InvalidAccessKeyId"},
		{"missing security token", dropField(fields, "x-amz-security-token"), []byte("x"), 400, "InvalidToken"},
		{"public ACL", append([][2]string{{"acl", "public-read"}}, fields...), []byte("x"), 403, "AccessDenied"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := e.post(t, "forms", postFormSpec{fields: tc.fields, fileName: "bad.txt", file: tc.file})
			if resp.StatusCode != tc.status || !strings.Contains(string(body), "<Code>"+tc.code+"</Code>") {
				t.Fatalf("%d %s, want %d %s", resp.StatusCode, body, tc.status, tc.code)
			}
		})
	}
	if _, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("forms"), Key: aws.String("uploads/bad.txt")}); httpStatus(err) != 404 {
		t.Fatalf("a refused POST stored the object: %v", err)
	}

	// An expired policy, and a key of another org on this bucket.
	old := policyB64(t, now.Add(-time.Minute), conds...)
	lateFields := append([][2]string{{"key", "uploads/${filename}"}, {"Content-Type", "text/plain"}, {"x-amz-meta-color", "blue"},
		{"success_action_status", "201"}}, v4Fields(aliceKey, old, now)...)
	resp, body = e.post(t, "forms", postFormSpec{fields: lateFields, fileName: "late.txt", file: []byte("x")})
	if resp.StatusCode != 403 || !strings.Contains(string(body), "Policy expired") {
		t.Errorf("expired policy: %d %s", resp.StatusCode, body)
	}
	bobConds := append(v4Conds("AKIABOB000000000", now), map[string]string{"bucket": "forms"}, []any{"starts-with", "$key", ""})
	bobPol := policyB64(t, now.Add(time.Hour), bobConds...)
	resp, body = e.post(t, "forms", postFormSpec{fields: append([][2]string{{"key", "bob.txt"}}, v4Fields("AKIABOB000000000", bobPol, now)...), file: []byte("x")})
	if resp.StatusCode != 403 || !strings.Contains(string(body), "<Code>AccessDenied</Code>") {
		t.Errorf("another org's key: %d %s", resp.StatusCode, body)
	}
	// A form with no policy or signature is anonymous: refused.
	resp, body = e.post(t, "forms", postFormSpec{fields: [][2]string{{"key", "anon.txt"}}, file: []byte("x")})
	if resp.StatusCode != 403 {
		t.Errorf("anonymous form: %d %s", resp.StatusCode, body)
	}
}

func replaceField(fields [][2]string, name, value string) [][2]string {
	out := make([][2]string, len(fields))
	copy(out, fields)
	for i := range out {
		if strings.EqualFold(out[i][0], name) {
			out[i][1] = value
		}
	}
	return out
}

func dropField(fields [][2]string, name string) [][2]string {
	var out [][2]string
	for _, f := range fields {
		if !strings.EqualFold(f[0], name) {
			out = append(out, f)
		}
	}
	return out
}

// TestPostObjectV2: the older form signature (AWSAccessKeyId, HMAC-SHA1 of
// the policy), what ceph/s3-tests and older form generators send; a
// redirect after success; the policy's own rules.
func TestPostObjectV2(t *testing.T) {
	e := newLiveEnv(t, false, "")
	const bobKey = "AKIABOB000000000"
	c := e.sdk(t, bobKey, "")
	ctx := context.Background()
	mkBucketSDK(t, c, "forms2")
	now := time.Now()
	conds := []any{map[string]string{"bucket": "forms2"}, []any{"StArTs-WiTh", "$KeY", "foo"}, map[string]string{"acl": "private"},
		[]any{"eq", "$success_action_redirect", "https://app.example/done?x=1"}, []any{"content-length-range", 0, 1024}}
	pol := policyB64(t, now.Add(time.Hour), conds...)
	fields := append([][2]string{{"kEy", "foo.txt"}, {"acl", "private"}, {"x-ignore-anything", "1"},
		{"success_action_redirect", "https://app.example/done?x=1"}}, v2Fields(bobKey, pol)...)
	resp, body := e.post(t, "forms2", postFormSpec{fields: fields, file: []byte("bar")})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("POST: %d %s", resp.StatusCode, body)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || loc.Host != "app.example" || loc.Query().Get("x") != "1" || loc.Query().Get("bucket") != "forms2" || loc.Query().Get("key") != "foo.txt" || !strings.HasPrefix(loc.Query().Get("etag"), `"`) {
		t.Fatalf("redirect %q", resp.Header.Get("Location"))
	}
	h, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("forms2"), Key: aws.String("foo.txt")})
	if err != nil || aws.ToInt64(h.ContentLength) != 3 || loc.Query().Get("etag") != aws.ToString(h.ETag) {
		t.Fatalf("HeadObject: %+v %v", h, err)
	}

	// Without a redirect: 204 by default, 200 when asked, and a checksum
	// field is checked against the file.
	plain := policyB64(t, now.Add(time.Hour), map[string]string{"bucket": "forms2"}, []any{"starts-with", "$key", ""}, []any{"starts-with", "$success_action_status", ""})
	for _, tc := range []struct {
		status string
		want   int
	}{{"", 204}, {"200", 200}, {"404", 204}} {
		f := append([][2]string{{"key", "plain"}, {"success_action_status", tc.status}}, v2Fields(bobKey, plain)...)
		resp, body := e.post(t, "forms2", postFormSpec{fields: f, file: []byte("x")})
		if resp.StatusCode != tc.want || len(body) != 0 {
			t.Errorf("success_action_status %q: %d %s", tc.status, resp.StatusCode, body)
		}
	}
	sumFields := append([][2]string{{"key", "summed"}, {"success_action_status", ""}, {"x-amz-checksum-sha256", b64sha256([]byte("data"))}}, v2Fields(bobKey, plain)...)
	if resp, body := e.post(t, "forms2", postFormSpec{fields: sumFields, file: []byte("data")}); resp.StatusCode != 204 {
		t.Errorf("right checksum: %d %s", resp.StatusCode, body)
	}
	g, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("forms2"), Key: aws.String("summed"), ChecksumMode: types.ChecksumModeEnabled})
	if err != nil || aws.ToString(g.ChecksumSHA256) != b64sha256([]byte("data")) {
		t.Errorf("checksum kept: %q %v", aws.ToString(g.ChecksumSHA256), err)
	}
	badSum := replaceField(sumFields, "x-amz-checksum-sha256", b64sha256([]byte("other")))
	if resp, body := e.post(t, "forms2", postFormSpec{fields: badSum, file: []byte("data")}); resp.StatusCode != 400 || !strings.Contains(string(body), "BadDigest") {
		t.Errorf("wrong checksum: %d %s", resp.StatusCode, body)
	}
	if resp, body := e.post(t, "forms2", postFormSpec{fields: replaceField(sumFields, "x-amz-checksum-sha256", "sailorjerry"), file: []byte("data")}); resp.StatusCode != 400 {
		t.Errorf("malformed checksum: %d %s", resp.StatusCode, body)
	}

	// Malformed forms and policies are 400.
	sign := func(doc string) [][2]string { return v2Fields(bobKey, base64.StdEncoding.EncodeToString([]byte(doc))) }
	exp := now.Add(time.Hour).UTC().Format("2006-01-02T15:04:05Z")
	for _, tc := range []struct {
		name   string
		fields [][2]string
		noFile bool
		code   string
	}{
		{"no key", v2Fields(bobKey, plain), false, "InvalidArgument"},
		{"no file", append([][2]string{{"key", "k"}}, v2Fields(bobKey, plain)...), true, "InvalidArgument"},
		{"no signature", dropField(append([][2]string{{"key", "k"}}, v2Fields(bobKey, plain)...), "signature"), false, "InvalidArgument"},
		{"not base64", append([][2]string{{"key", "k"}}, v2Fields(bobKey, "%%%")...), false, "InvalidPolicyDocument"},
		{"no expiration", append([][2]string{{"key", "k"}}, sign(`{"conditions":[{"bucket":"forms2"}]}`)...), false, "InvalidPolicyDocument"},
		{"EXPIRATION", append([][2]string{{"key", "k"}}, sign(`{"EXPIRATION":"`+exp+`","conditions":[{"bucket":"forms2"}]}`)...), false, "InvalidPolicyDocument"},
		{"bad date", append([][2]string{{"key", "k"}}, sign(`{"expiration":"2030-01-01 00:00:00+00:00","conditions":[{"bucket":"forms2"}]}`)...), false, "InvalidPolicyDocument"},
		{"no conditions", append([][2]string{{"key", "k"}}, sign(`{"expiration":"`+exp+`"}`)...), false, "InvalidPolicyDocument"},
		{"empty condition", append([][2]string{{"key", "k"}}, sign(`{"expiration":"`+exp+`","conditions":[{}]}`)...), false, "InvalidPolicyDocument"},
		{"range without max", append([][2]string{{"key", "k"}}, sign(`{"expiration":"`+exp+`","conditions":[{"bucket":"forms2"},["content-length-range",0]]}`)...), false, "InvalidPolicyDocument"},
		{"negative range", append([][2]string{{"key", "k"}}, sign(`{"expiration":"`+exp+`","conditions":[{"bucket":"forms2"},["content-length-range",-1,0]]}`)...), false, "InvalidPolicyDocument"},
		{"duplicate field", append([][2]string{{"key", "k"}, {"KEY", "k2"}}, v2Fields(bobKey, plain)...), false, "InvalidArgument"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := e.post(t, "forms2", postFormSpec{fields: tc.fields, file: []byte("x"), noFile: tc.noFile})
			if resp.StatusCode != 400 || !strings.Contains(string(body), "<Code>"+tc.code+"</Code>") {
				t.Fatalf("%d %s, want 400 %s", resp.StatusCode, body, tc.code)
			}
		})
	}
	// A policy without a bucket condition, or for another bucket, does not
	// authorise this one.
	for name, doc := range map[string]string{
		"no bucket condition": `{"expiration":"` + exp + `","conditions":[["starts-with","$key",""]]}`,
		"another bucket":      `{"expiration":"` + exp + `","conditions":[{"bucket":"elsewhere"},["starts-with","$key",""]]}`,
	} {
		resp, body := e.post(t, "forms2", postFormSpec{fields: append([][2]string{{"key", "k"}}, sign(doc)...), file: []byte("x")})
		if resp.StatusCode != 403 {
			t.Errorf("%s: %d %s", name, resp.StatusCode, body)
		}
	}
	// A body that is not multipart/form-data is not a browser upload.
	req, _ := http.NewRequest(http.MethodPost, e.ts.URL+"/forms2", strings.NewReader("--x\r\n"))
	req.Header.Set("Content-Type", "multipart/form-data; boundary=x")
	r, err := e.ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(r.Body)
	r.Body.Close()
	if r.StatusCode != 400 {
		t.Errorf("truncated form: %d %s", r.StatusCode, b)
	}
}
