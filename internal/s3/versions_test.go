package s3

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// versionsPage is ListVersionsResult as a client decodes it. Pointers tell
// an absent element from an empty one.
type versionsPage struct {
	XMLName             xml.Name `xml:"ListVersionsResult"`
	Name                string   `xml:"Name"`
	Prefix              string   `xml:"Prefix"`
	KeyMarker           *string  `xml:"KeyMarker"`
	VersionIDMarker     *string  `xml:"VersionIdMarker"`
	NextKeyMarker       *string  `xml:"NextKeyMarker"`
	NextVersionIDMarker *string  `xml:"NextVersionIdMarker"`
	MaxKeys             int      `xml:"MaxKeys"`
	Delimiter           string   `xml:"Delimiter"`
	IsTruncated         bool     `xml:"IsTruncated"`
	EncodingType        string   `xml:"EncodingType"`
	Versions            []struct {
		Key          string `xml:"Key"`
		VersionID    string `xml:"VersionId"`
		IsLatest     bool   `xml:"IsLatest"`
		LastModified string `xml:"LastModified"`
		ETag         string `xml:"ETag"`
		Size         int64  `xml:"Size"`
		StorageClass string `xml:"StorageClass"`
		Owner        struct {
			ID string `xml:"ID"`
		} `xml:"Owner"`
	} `xml:"Version"`
	DeleteMarkers  []struct{} `xml:"DeleteMarker"`
	CommonPrefixes []struct {
		Prefix string `xml:"Prefix"`
	} `xml:"CommonPrefixes"`
}

func (p versionsPage) keys() []string {
	var out []string
	for _, v := range p.Versions {
		out = append(out, v.Key)
	}
	for _, c := range p.CommonPrefixes {
		out = append(out, c.Prefix+"(prefix)")
	}
	return out
}

func validISOTime(s string) bool {
	_, err := time.Parse("2006-01-02T15:04:05.000Z", s)
	return err == nil
}

func str(p *string) string {
	if p == nil {
		return "<absent>"
	}
	return *p
}

// TestListObjectVersions: on an unversioned bucket every object is listed
// once, as the "null" version and the latest one, with ListObjects'
// prefix/delimiter/encoding semantics and AWS's key-marker /
// version-id-marker pagination.
func TestListObjectVersions(t *testing.T) {
	bothBackends(t, func(t *testing.T, opt func(*Config)) {
		e := newEnv(t, opt)
		e.mustDo(t, 200, "AKALICE", "PUT", "/bkt", nil)
		all := []string{"a", "dir/sub/z", "dir/x", "dir/y", "e f", "z"}
		for _, k := range all {
			e.mustDo(t, 200, "AKALICE", "PUT", "/bkt/"+strings.ReplaceAll(k, " ", "%20"), []byte("data-"+k))
		}
		list := func(query string) versionsPage {
			t.Helper()
			r := e.mustDo(t, 200, "AKALICE", "GET", "/bkt?versions"+query, nil)
			var p versionsPage
			if err := xml.Unmarshal(r.body, &p); err != nil {
				t.Fatalf("%s: %v", r.body, err)
			}
			if !bytes.Contains(r.body, []byte(`<ListVersionsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">`)) {
				t.Errorf("namespace: %s", r.body)
			}
			if len(p.DeleteMarkers) != 0 {
				t.Errorf("%s: delete markers on an unversioned bucket", query)
			}
			return p
		}

		p := list("")
		if !slices.Equal(p.keys(), all) || p.Name != "bkt" || p.IsTruncated || p.MaxKeys != 1000 ||
			str(p.KeyMarker) != "" || str(p.VersionIDMarker) != "" || p.NextKeyMarker != nil || p.NextVersionIDMarker != nil {
			t.Errorf("full listing %+v", p)
		}
		for _, v := range p.Versions {
			if v.VersionID != "null" || !v.IsLatest || v.StorageClass != "STANDARD" || v.Owner.ID != "org1" ||
				v.Size != int64(len("data-"+v.Key)) || len(v.ETag) != 34 || v.ETag[0] != '"' || !validISOTime(v.LastModified) {
				t.Errorf("version %+v", v)
			}
		}
		if e.log.last().Action != "s3:ListBucketVersions" || e.log.last().Operation != "ListObjectVersions" {
			t.Errorf("access event %+v", e.log.last())
		}

		// Pages of two by key-marker and version-id-marker, as SDK paginators and
		// ceph/s3-tests' clean-up continue.
		var got []string
		q := "&max-keys=2"
		for i := 0; ; i++ {
			p := list(q)
			got = append(got, p.keys()...)
			if !p.IsTruncated {
				if p.NextKeyMarker != nil || p.NextVersionIDMarker != nil {
					t.Errorf("last page has next markers %+v", p)
				}
				break
			}
			if str(p.NextKeyMarker) != p.Versions[len(p.Versions)-1].Key || str(p.NextVersionIDMarker) != "null" || i > 3 {
				t.Fatalf("page %d: next markers %q %q", i, str(p.NextKeyMarker), str(p.NextVersionIDMarker))
			}
			q = "&max-keys=2&key-marker=" + strings.ReplaceAll(*p.NextKeyMarker, " ", "%20") + "&version-id-marker=null"
		}
		if !slices.Equal(got, all) {
			t.Errorf("paged listing %q, want %q", got, all)
		}
		if p := list("&key-marker=dir/x&version-id-marker=null"); str(p.KeyMarker) != "dir/x" || str(p.VersionIDMarker) != "null" ||
			!slices.Equal(p.keys(), []string{"dir/y", "e f", "z"}) {
			t.Errorf("both markers %+v", p)
		}
		if p := list("&key-marker=dir/x"); !slices.Equal(p.keys(), []string{"dir/y", "e f", "z"}) {
			t.Errorf("key-marker only %+v", p.keys())
		}

		// Delimiter: a page that ends on a common prefix names it as
		// NextKeyMarker and has no NextVersionIdMarker (AWS does so).
		if p := list("&prefix=dir/&delimiter=/"); !slices.Equal(p.keys(), []string{"dir/x", "dir/y", "dir/sub/(prefix)"}) ||
			p.Prefix != "dir/" || p.Delimiter != "/" {
			t.Errorf("delimiter %+v", p)
		}
		p = list("&prefix=dir/&delimiter=/&max-keys=1")
		if !slices.Equal(p.keys(), []string{"dir/sub/(prefix)"}) || !p.IsTruncated || str(p.NextKeyMarker) != "dir/sub/" || p.NextVersionIDMarker != nil {
			t.Errorf("truncated at a prefix %+v", p)
		}
		p = list("&prefix=dir/&delimiter=/&max-keys=1&key-marker=dir/sub/")
		if !slices.Equal(p.keys(), []string{"dir/x"}) || str(p.NextKeyMarker) != "dir/x" || str(p.NextVersionIDMarker) != "null" {
			t.Errorf("after a prefix %+v", p)
		}
		// A key-marker inside a common prefix does not list that prefix again.
		if p := list("&prefix=dir/&delimiter=/&key-marker=dir/sub/z"); !slices.Equal(p.keys(), []string{"dir/x", "dir/y"}) {
			t.Errorf("marker inside a prefix %+v", p.keys())
		}

		p = list("&encoding-type=url&prefix=e%20&key-marker=a")
		if p.EncodingType != "url" || !slices.Equal(p.keys(), []string{"e%20f"}) || p.Prefix != "e%20" || str(p.KeyMarker) != "a" {
			t.Errorf("encoding-type=url %+v", p)
		}
		if p := list("&max-keys=0"); len(p.keys()) != 0 || p.IsTruncated || p.MaxKeys != 0 {
			t.Errorf("max-keys=0 %+v", p)
		}
		if p := list("&max-keys=5000"); p.MaxKeys != 1000 || len(p.keys()) != len(all) {
			t.Errorf("max-keys above the limit %+v", p)
		}

		// The listing prefix reaches the authoriser as s3:prefix.
		e.mustDo(t, 200, "AKALICE", "GET", "/bkt?versions&prefix=dir/", nil)
		if reqs := e.authz.requests(); reqs[len(reqs)-1].Action != "s3:ListBucketVersions" || reqs[len(reqs)-1].Prefix != "dir/" {
			t.Errorf("authz request %+v", reqs[len(reqs)-1])
		}

		// Bad parameters, in AWS's words (max-keys is checked first).
		for _, tc := range []struct{ query, msg string }{
			{"&version-id-marker=null", "A version-id marker cannot be specified without a key marker."},
			{"&key-marker=a&version-id-marker=", "A version-id marker cannot be empty."},
			{"&key-marker=a&version-id-marker=3HL4kqtJlcpXroDTDmJ", "Invalid version id specified"},
			{"&encoding-type=base64", "Invalid Encoding Method specified in Request"},
			{"&max-keys=-1&version-id-marker=null", "max-keys"},
			{"&max-keys=x", "max-keys"},
		} {
			r := e.mustDo(t, 400, "AKALICE", "GET", "/bkt?versions"+tc.query, nil)
			if r.errCode() != "InvalidArgument" || !bytes.Contains(r.body, []byte(tc.msg)) {
				t.Errorf("%s: %s", tc.query, r.body)
			}
		}
		if r := e.mustDo(t, 404, "AKALICE", "GET", "/nobkt?versions", nil); r.errCode() != "NoSuchBucket" {
			t.Errorf("missing bucket: %s", r.body)
		}
		e.authz.deny["s3:ListBucketVersions"] = true
		e.mustDo(t, 403, "AKALICE", "GET", "/bkt?versions", nil)
	})
}

// TestVersionIDNull: versionId=null addresses the current object on every
// operation that takes a version, authorised as the version action IAM
// names; any other version is AWS's answer for an unversioned bucket.
func TestVersionIDNull(t *testing.T) {
	bothBackends(t, func(t *testing.T, opt func(*Config)) {
		e := newEnv(t, opt)
		e.mustDo(t, 200, "AKALICE", "PUT", "/bkt", nil)
		e.mustDo(t, 200, "AKALICE", "PUT", "/bkt/obj", []byte("payload"))
		lastAction := func() string {
			t.Helper()
			reqs := e.authz.requests()
			return reqs[len(reqs)-1].Action
		}

		if r := e.mustDo(t, 200, "AKALICE", "GET", "/bkt/obj?versionId=null", nil); string(r.body) != "payload" ||
			lastAction() != "s3:GetObjectVersion" || e.log.last().Action != "s3:GetObjectVersion" {
			t.Errorf("GET versionId=null: %q, action %s", r.body, lastAction())
		}
		// s3fed sends no x-amz-version-id for unversioned objects, as AWS.
		if r := e.mustDo(t, 200, "AKALICE", "HEAD", "/bkt/obj?versionId=null", nil); lastAction() != "s3:GetObjectVersion" || r.h.Get("x-amz-version-id") != "" {
			t.Errorf("HEAD versionId=null: action %s, headers %v", lastAction(), r.h)
		}
		if e.mustDo(t, 200, "AKALICE", "GET", "/bkt/obj?acl&versionId=null", nil); lastAction() != "s3:GetObjectVersionAcl" {
			t.Errorf("GetObjectAcl versionId=null: action %s", lastAction())
		}
		e.mustDo(t, 404, "AKALICE", "GET", "/bkt/missing?versionId=null", nil)

		// Any other version id: 400 InvalidArgument naming it (what AWS
		// answers for an unversioned bucket), nothing changed.
		for _, m := range []string{"GET", "HEAD", "DELETE"} {
			r := e.mustDo(t, 400, "AKALICE", m, "/bkt/obj?versionId=3HL4kqtJlcpXroDTDmJ", nil)
			if m != "HEAD" && (r.errCode() != "InvalidArgument" || !bytes.Contains(r.body, []byte("<Message>Invalid version id specified</Message>")) ||
				!bytes.Contains(r.body, []byte("<ArgumentName>versionId</ArgumentName><ArgumentValue>3HL4kqtJlcpXroDTDmJ</ArgumentValue>"))) {
				t.Errorf("%s other version: %s", m, r.body)
			}
		}
		if r := e.mustDo(t, 400, "AKALICE", "GET", "/bkt/obj?versionId=", nil); !bytes.Contains(r.body, []byte("Version id cannot be the empty string")) {
			t.Errorf("empty version id: %s", r.body)
		}
		e.mustDo(t, 200, "AKALICE", "HEAD", "/bkt/obj", nil)

		// CopyObject and UploadPartCopy read a "null" source version with
		// s3:GetObjectVersion on the source.
		e.mustDo(t, 200, "AKALICE", "PUT", "/bkt/copy", nil, "x-amz-copy-source", "/bkt/obj?versionId=null")
		if r := e.mustDo(t, 200, "AKALICE", "GET", "/bkt/copy", nil); string(r.body) != "payload" {
			t.Errorf("copy of the null version: %q", r.body)
		}
		var copyActions []string
		for _, rq := range e.authz.requests() {
			if rq.Resource == "bkt/obj" {
				copyActions = append(copyActions, rq.Action)
			}
		}
		if copyActions[len(copyActions)-1] != "s3:GetObjectVersion" {
			t.Errorf("copy source authorised as %q", copyActions)
		}
		e.authz.deny["s3:GetObjectVersion"] = true
		if r := e.mustDo(t, 403, "AKALICE", "PUT", "/bkt/copy2", nil, "x-amz-copy-source", "/bkt/obj?versionId=null"); e.log.last().Action != "s3:GetObjectVersion" {
			t.Errorf("denied version copy audited as %+v: %s", e.log.last(), r.body)
		}
		e.mustDo(t, 403, "AKALICE", "GET", "/bkt/obj?versionId=null", nil)
		e.mustDo(t, 200, "AKALICE", "GET", "/bkt/obj", nil)
		delete(e.authz.deny, "s3:GetObjectVersion")
		if r := e.mustDo(t, 400, "AKALICE", "PUT", "/bkt/copy2", nil, "x-amz-copy-source", "/bkt/obj?versionId=3HL4kqtJlcpXroDTDmJ"); r.errCode() != "InvalidArgument" ||
			!bytes.Contains(r.body, []byte("Invalid version id specified")) {
			t.Errorf("copy of another version: %s", r.body)
		}
		r := e.mustDo(t, 200, "AKALICE", "POST", "/bkt/mp?uploads", nil)
		id := between(string(r.body), "<UploadId>", "</UploadId>")
		e.mustDo(t, 200, "AKALICE", "PUT", "/bkt/mp?partNumber=1&uploadId="+id, nil, "x-amz-copy-source", "bkt/obj?versionId=null")
		if lastAction() != "s3:GetObjectVersion" {
			t.Errorf("UploadPartCopy source authorised as %s", lastAction())
		}

		// DELETE versionId=null deletes the object, as s3:DeleteObjectVersion.
		e.mustDo(t, 204, "AKALICE", "DELETE", "/bkt/copy?versionId=null", nil)
		if lastAction() != "s3:DeleteObjectVersion" || e.log.last().Action != "s3:DeleteObjectVersion" {
			t.Errorf("DELETE versionId=null: action %s", lastAction())
		}
		e.mustDo(t, 404, "AKALICE", "HEAD", "/bkt/copy", nil)
		e.authz.deny["s3:DeleteObjectVersion"] = true
		e.mustDo(t, 403, "AKALICE", "DELETE", "/bkt/obj?versionId=null", nil)
		delete(e.authz.deny, "s3:DeleteObjectVersion")
		e.mustDo(t, 200, "AKALICE", "HEAD", "/bkt/obj", nil)
	})
}

// TestDeleteObjectsVersions: DeleteObjects entries with VersionId "null"
// delete the object (s3:DeleteObjectVersion, echoed in Deleted); another
// version id is NoSuchVersion for that entry, as AWS answers, and deletes
// nothing.
func TestDeleteObjectsVersions(t *testing.T) {
	bothBackends(t, func(t *testing.T, opt func(*Config)) {
		e := newEnv(t, opt)
		e.mustDo(t, 200, "AKALICE", "PUT", "/bkt", nil)
		for _, k := range []string{"a", "b", "c"} {
			e.mustDo(t, 200, "AKALICE", "PUT", "/bkt/"+k, []byte(k))
		}
		e.log = &memLog{}
		e.srv.accessLog = e.log
		doc := `<Delete><Object><Key>a</Key><VersionId>null</VersionId></Object>` +
			`<Object><Key>b</Key><VersionId>3HL4kqtJlcpXroDTDmJ</VersionId></Object><Object><Key>c</Key></Object></Delete>`
		r := e.mustDo(t, 200, "AKALICE", "POST", "/bkt?delete", []byte(doc), "Content-MD5", "x")
		want := `<DeleteResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">` +
			`<Deleted><Key>a</Key><VersionId>null</VersionId></Deleted><Deleted><Key>c</Key></Deleted>` +
			`<Error><Key>b</Key><VersionId>3HL4kqtJlcpXroDTDmJ</VersionId><Code>NoSuchVersion</Code><Message>The specified version does not exist.</Message></Error></DeleteResult>`
		if !strings.HasSuffix(string(r.body), want) {
			t.Errorf("result\n%s\nwant\n%s", r.body, want)
		}
		e.mustDo(t, 404, "AKALICE", "HEAD", "/bkt/a", nil)
		e.mustDo(t, 200, "AKALICE", "HEAD", "/bkt/b", nil)
		e.mustDo(t, 404, "AKALICE", "HEAD", "/bkt/c", nil)
		var actions []string
		for _, ev := range e.log.events() {
			if ev.Operation == "DeleteObjects" {
				actions = append(actions, ev.Resource+" "+ev.Action+" "+ev.Decision+" "+ev.ErrorCode)
			}
		}
		wantActions := []string{"bkt/a s3:DeleteObjectVersion Allow ", "bkt/b s3:DeleteObjectVersion Allow NoSuchVersion", "bkt/c s3:DeleteObject Allow "}
		if !slices.Equal(actions, wantActions) {
			t.Errorf("per-key events %q, want %q", actions, wantActions)
		}
		// A caller denied s3:DeleteObjectVersion cannot delete by version.
		e.authz.deny["s3:DeleteObjectVersion"] = true
		r = e.mustDo(t, 200, "AKALICE", "POST", "/bkt?delete", []byte(`<Delete><Object><Key>b</Key><VersionId>null</VersionId></Object></Delete>`), "Content-MD5", "x")
		if !bytes.Contains(r.body, []byte("<Key>b</Key><VersionId>null</VersionId><Code>AccessDenied</Code>")) {
			t.Errorf("denied version delete: %s", r.body)
		}
		e.mustDo(t, 200, "AKALICE", "HEAD", "/bkt/b", nil)
	})
}

// TestBucketVersioningConfiguration: GetBucketVersioning answers an empty
// configuration (never versioned); enabling or suspending is refused with
// NotImplemented, since s3fed keeps no versions and no versioning state.
func TestBucketVersioningConfiguration(t *testing.T) {
	e := newEnv(t)
	e.mustDo(t, 200, "AKALICE", "PUT", "/bkt", nil)
	r := e.mustDo(t, 200, "AKALICE", "GET", "/bkt?versioning", nil)
	if want := `<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"></VersioningConfiguration>`; !strings.HasSuffix(string(r.body), want) {
		t.Errorf("GetBucketVersioning: %s", r.body)
	}
	e.mustDo(t, 404, "AKALICE", "GET", "/nobkt?versioning", nil)
	for _, status := range []string{"Enabled", "Suspended"} {
		body := []byte(`<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Status>` + status + `</Status></VersioningConfiguration>`)
		r := e.mustDo(t, 501, "AKALICE", "PUT", "/bkt?versioning", body)
		if r.errCode() != "NotImplemented" || !bytes.Contains(r.body, []byte("unversioned")) {
			t.Errorf("PutBucketVersioning %s: %s", status, r.body)
		}
	}
	if r := e.mustDo(t, 200, "AKALICE", "GET", "/bkt?versioning", nil); bytes.Contains(r.body, []byte("Status")) {
		t.Errorf("versioning changed: %s", r.body)
	}
}

// TestSDKObjectVersions drives ListObjectVersions (with the SDK's
// paginator), versionId=null reads and deletes, and ceph/s3-tests' bucket
// clean-up through aws-sdk-go-v2.
func TestSDKObjectVersions(t *testing.T) {
	e := newLiveEnv(t, false, "")
	c := e.sdk(t, "AKIAALICE0000000", "")
	ctx := context.Background()
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	b := aws.String("versions")
	_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: b})
	must("CreateBucket", err)
	var all []string
	for i := 0; i < 7; i++ {
		k := fmt.Sprintf("d%d/k %d", i%2, i)
		all = append(all, k)
		_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: b, Key: aws.String(k), Body: strings.NewReader(k)})
		must("PutObject", err)
	}
	slices.Sort(all)

	var got []string
	pages := 0
	pg := s3.NewListObjectVersionsPaginator(c, &s3.ListObjectVersionsInput{Bucket: b, MaxKeys: aws.Int32(3)})
	for pg.HasMorePages() {
		page, err := pg.NextPage(ctx)
		must("ListObjectVersions page", err)
		pages++
		for _, v := range page.Versions {
			if aws.ToString(v.VersionId) != "null" || !aws.ToBool(v.IsLatest) || aws.ToInt64(v.Size) != int64(len(aws.ToString(v.Key))) ||
				v.LastModified == nil || v.Owner == nil || aws.ToString(v.Owner.ID) != "org1" {
				t.Errorf("version %+v", v)
			}
			got = append(got, aws.ToString(v.Key))
		}
		if len(page.DeleteMarkers) != 0 {
			t.Errorf("delete markers %+v", page.DeleteMarkers)
		}
	}
	if !slices.Equal(got, all) || pages != 3 {
		t.Errorf("paginated %d pages: %q, want %q", pages, got, all)
	}
	// With a delimiter, pages of one: two common prefixes.
	var prefixes []string
	pg = s3.NewListObjectVersionsPaginator(c, &s3.ListObjectVersionsInput{Bucket: b, Delimiter: aws.String("/"), MaxKeys: aws.Int32(1)})
	for pg.HasMorePages() {
		page, err := pg.NextPage(ctx)
		must("ListObjectVersions delimiter page", err)
		for _, p := range page.CommonPrefixes {
			prefixes = append(prefixes, aws.ToString(p.Prefix))
		}
	}
	if !slices.Equal(prefixes, []string{"d0/", "d1/"}) {
		t.Errorf("common prefixes %q", prefixes)
	}

	key := aws.String(all[0])
	g, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: b, Key: key, VersionId: aws.String("null")})
	must("GetObject versionId=null", err)
	body, _ := io.ReadAll(g.Body)
	g.Body.Close()
	if string(body) != all[0] {
		t.Errorf("GetObject versionId=null: %q", body)
	}
	_, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: b, Key: key, VersionId: aws.String("null")})
	must("HeadObject versionId=null", err)
	_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: b, Key: key, VersionId: aws.String("3HL4kqtJlcpXroDTDmJ")})
	if apiCode(err) != "InvalidArgument" {
		t.Errorf("GetObject other version: %v", err)
	}
	_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: b, Key: aws.String("copy"), CopySource: aws.String("versions/" + url.PathEscape(all[0]) + "?versionId=null")})
	must("CopyObject of the null version", err)
	_, err = c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: b, Key: aws.String("copy"), VersionId: aws.String("null")})
	must("DeleteObject versionId=null", err)
	if _, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: b, Key: aws.String("copy")}); err == nil {
		t.Error("object still there after DeleteObject versionId=null")
	}

	ver, err := c.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: b})
	must("GetBucketVersioning", err)
	if ver.Status != "" || ver.MFADelete != "" {
		t.Errorf("versioning %+v", ver)
	}
	for _, st := range []types.BucketVersioningStatus{types.BucketVersioningStatusEnabled, types.BucketVersioningStatusSuspended} {
		_, err = c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: b,
			VersioningConfiguration: &types.VersioningConfiguration{Status: st}})
		if apiCode(err) != "NotImplemented" {
			t.Errorf("PutBucketVersioning %s: %v", st, err)
		}
	}

	// ceph/s3-tests' clean-up: list versions in batches, delete each batch
	// by key and version id, then delete the (now empty) bucket.
	in := &s3.ListObjectVersionsInput{Bucket: b, MaxKeys: aws.Int32(2)}
	for {
		page, err := c.ListObjectVersions(ctx, in)
		must("ListObjectVersions", err)
		var ids []types.ObjectIdentifier
		for _, v := range page.Versions {
			ids = append(ids, types.ObjectIdentifier{Key: v.Key, VersionId: v.VersionId})
		}
		if len(ids) > 0 {
			out, err := c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: b, BypassGovernanceRetention: aws.Bool(true),
				Delete: &types.Delete{Objects: ids, Quiet: aws.Bool(true)}})
			must("DeleteObjects", err)
			if len(out.Errors) != 0 {
				t.Fatalf("DeleteObjects errors %+v", out.Errors)
			}
		}
		if !aws.ToBool(page.IsTruncated) {
			break
		}
		in.KeyMarker, in.VersionIdMarker = page.NextKeyMarker, page.NextVersionIdMarker
	}
	_, err = c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: b})
	must("DeleteBucket after the clean-up", err)
}
