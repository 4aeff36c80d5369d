package s3

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/s3fed/s3fed/internal/identity"
	"github.com/s3fed/s3fed/internal/s3/sigv4"
	"github.com/s3fed/s3fed/internal/storage"
)

// memBuckets is an in-memory Buckets for tests.
type memBuckets struct {
	mu       sync.Mutex
	recs     map[string]BucketRecord
	policies map[string][]byte
}

func newMemBuckets() *memBuckets {
	return &memBuckets{recs: map[string]BucketRecord{}, policies: map[string][]byte{}}
}

func (m *memBuckets) Owner(_ context.Context, b string) (BucketRecord, []byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.recs[b]
	if !ok {
		return BucketRecord{}, nil, ErrNoSuchBucket
	}
	return r, m.policies[b], nil
}

func (m *memBuckets) Create(_ context.Context, r BucketRecord) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.recs[r.Name]; ok {
		return fmt.Errorf("create %q: %w", r.Name, ErrBucketExists)
	}
	m.recs[r.Name] = r
	return nil
}

func (m *memBuckets) Delete(_ context.Context, b string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.recs[b]; !ok {
		return ErrNoSuchBucket
	}
	delete(m.recs, b)
	delete(m.policies, b)
	return nil
}

func (m *memBuckets) List(_ context.Context, org string) ([]BucketRecord, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []BucketRecord
	for _, r := range m.recs {
		if r.OrgID == org {
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (m *memBuckets) SetPolicy(_ context.Context, b string, p []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.recs[b]; !ok {
		return ErrNoSuchBucket
	}
	m.policies[b] = slices.Clone(p)
	return nil
}

func (m *memBuckets) SetPublicAccessBlock(_ context.Context, b string, pab *PublicAccessBlock) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.recs[b]
	if !ok {
		return ErrNoSuchBucket
	}
	if pab != nil {
		c := *pab
		pab = &c
	}
	r.PublicAccessBlock = pab
	m.recs[b] = r
	return nil
}

func (m *memBuckets) DeletePolicy(_ context.Context, b string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.policies, b)
	return nil
}

// memBackend is a small in-memory storage.Backend, used until (and beside)
// the fs backend, so front-door tests do not depend on disk behaviour.
type memBackend struct {
	mu      sync.Mutex
	buckets map[string]*memBucket
	nextID  int
	now     func() time.Time
}

type memBucket struct {
	created time.Time
	objects map[string]memObject
	uploads map[string]*memUpload
}

type memObject struct {
	info storage.ObjectInfo
	data []byte
}

type memUpload struct {
	up    storage.Upload
	opts  storage.PutOptions
	parts map[int]memObject
}

func newMemBackend() *memBackend {
	return &memBackend{buckets: map[string]*memBucket{}, now: time.Now}
}

func (m *memBackend) bucket(b string) (*memBucket, error) {
	mb, ok := m.buckets[b]
	if !ok {
		return nil, storage.ErrBucketNotFound
	}
	return mb, nil
}

func (m *memBackend) CreateBucket(_ context.Context, b string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.buckets[b]; ok {
		return storage.ErrBucketExists
	}
	m.buckets[b] = &memBucket{created: m.now(), objects: map[string]memObject{}, uploads: map[string]*memUpload{}}
	return nil
}

func (m *memBackend) DeleteBucket(_ context.Context, b string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	mb, err := m.bucket(b)
	if err != nil {
		return err
	}
	if len(mb.objects) > 0 {
		return storage.ErrBucketNotEmpty
	}
	delete(m.buckets, b)
	return nil
}

func (m *memBackend) HeadBucket(_ context.Context, b string) (storage.BucketInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	mb, err := m.bucket(b)
	if err != nil {
		return storage.BucketInfo{}, err
	}
	return storage.BucketInfo{Name: b, Created: mb.created}, nil
}

func (m *memBackend) ListBuckets(context.Context) ([]storage.BucketInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []storage.BucketInfo
	for n, b := range m.buckets {
		out = append(out, storage.BucketInfo{Name: n, Created: b.created})
	}
	return out, nil
}

func md5hex(b []byte) string { s := md5.Sum(b); return hex.EncodeToString(s[:]) }

func (m *memBackend) PutObject(_ context.Context, b, k string, body io.Reader, opts storage.PutOptions) (storage.ObjectInfo, error) {
	data, err := io.ReadAll(body)
	if err != nil {
		return storage.ObjectInfo{}, fmt.Errorf("read body: %w", err)
	}
	if opts.Size >= 0 && int64(len(data)) != opts.Size {
		return storage.ObjectInfo{}, storage.ErrIncompleteBody
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	mb, err := m.bucket(b)
	if err != nil {
		return storage.ObjectInfo{}, err
	}
	if _, ok := mb.objects[k]; ok && opts.IfNoneMatch {
		return storage.ObjectInfo{}, storage.ErrPreconditionFailed
	}
	info := storage.ObjectInfo{Key: k, Size: int64(len(data)), ETag: md5hex(data), LastModified: m.now(),
		ContentType: opts.ContentType, Metadata: maps.Clone(opts.Metadata)}
	mb.objects[k] = memObject{info: info, data: data}
	return info, nil
}

func (m *memBackend) object(b, k string) (memObject, error) {
	mb, err := m.bucket(b)
	if err != nil {
		return memObject{}, err
	}
	o, ok := mb.objects[k]
	if !ok {
		return memObject{}, storage.ErrObjectNotFound
	}
	return o, nil
}

func (m *memBackend) GetObject(_ context.Context, b, k string, rng *storage.Range) (storage.ObjectInfo, io.ReadCloser, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	o, err := m.object(b, k)
	if err != nil {
		return storage.ObjectInfo{}, nil, err
	}
	data := o.data
	if rng != nil {
		if rng.Start+rng.Length > int64(len(data)) {
			return storage.ObjectInfo{}, nil, storage.ErrInvalidRange
		}
		data = data[rng.Start : rng.Start+rng.Length]
	}
	return o.info, io.NopCloser(bytes.NewReader(data)), nil
}

func (m *memBackend) HeadObject(_ context.Context, b, k string) (storage.ObjectInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	o, err := m.object(b, k)
	return o.info, err
}

func (m *memBackend) DeleteObject(_ context.Context, b, k string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	mb, err := m.bucket(b)
	if err != nil {
		return err
	}
	delete(mb.objects, k)
	return nil
}

func (m *memBackend) ListObjects(_ context.Context, b string, opts storage.ListOptions) (storage.ListResult, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	mb, err := m.bucket(b)
	if err != nil {
		return storage.ListResult{}, err
	}
	max := opts.MaxKeys
	if max == 0 {
		max = 1000
	}
	keys := slices.Sorted(maps.Keys(mb.objects))
	var res storage.ListResult
	seen := map[string]bool{}
	n := 0
	for _, k := range keys {
		if !strings.HasPrefix(k, opts.Prefix) || k <= opts.StartAfter {
			continue
		}
		entry := k
		isPrefix := false
		if opts.Delimiter != "" {
			if i := strings.Index(k[len(opts.Prefix):], opts.Delimiter); i >= 0 {
				entry = k[:len(opts.Prefix)+i+len(opts.Delimiter)]
				isPrefix = true
				if seen[entry] || entry <= opts.StartAfter {
					continue
				}
			}
		}
		if n == max {
			res.Truncated = true
			break
		}
		n++
		res.NextStartAfter = entry
		if isPrefix {
			seen[entry] = true
			res.CommonPrefixes = append(res.CommonPrefixes, entry)
		} else {
			res.Objects = append(res.Objects, mb.objects[k].info)
		}
	}
	if !res.Truncated {
		res.NextStartAfter = ""
	}
	return res, nil
}

func (m *memBackend) CopyObject(_ context.Context, sb, sk, db, dk string, opts *storage.PutOptions) (storage.ObjectInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	src, err := m.object(sb, sk)
	if err != nil {
		return storage.ObjectInfo{}, err
	}
	dst, err := m.bucket(db)
	if err != nil {
		return storage.ObjectInfo{}, err
	}
	info := src.info
	info.Key = dk
	info.LastModified = m.now()
	if opts != nil {
		info.ContentType = opts.ContentType
		info.Metadata = maps.Clone(opts.Metadata)
	}
	dst.objects[dk] = memObject{info: info, data: src.data}
	return info, nil
}

func (m *memBackend) CreateMultipartUpload(_ context.Context, b, k string, opts storage.PutOptions) (storage.Upload, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	mb, err := m.bucket(b)
	if err != nil {
		return storage.Upload{}, err
	}
	m.nextID++
	up := storage.Upload{UploadID: fmt.Sprintf("up%04d", m.nextID), Key: k, Initiated: m.now()}
	mb.uploads[up.UploadID] = &memUpload{up: up, opts: opts, parts: map[int]memObject{}}
	return up, nil
}

func (m *memBackend) upload(b, k, id string) (*memBucket, *memUpload, error) {
	mb, err := m.bucket(b)
	if err != nil {
		return nil, nil, err
	}
	u, ok := mb.uploads[id]
	if !ok || u.up.Key != k {
		return nil, nil, storage.ErrUploadNotFound
	}
	return mb, u, nil
}

func (m *memBackend) UploadPart(_ context.Context, b, k, id string, part int, body io.Reader, size int64) (storage.PartInfo, error) {
	data, err := io.ReadAll(body)
	if err != nil {
		return storage.PartInfo{}, fmt.Errorf("read part: %w", err)
	}
	if size >= 0 && int64(len(data)) != size {
		return storage.PartInfo{}, storage.ErrIncompleteBody
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	_, u, err := m.upload(b, k, id)
	if err != nil {
		return storage.PartInfo{}, err
	}
	pi := storage.PartInfo{PartNumber: part, Size: int64(len(data)), ETag: md5hex(data), LastModified: m.now()}
	u.parts[part] = memObject{info: storage.ObjectInfo{ETag: pi.ETag, Size: pi.Size, LastModified: pi.LastModified}, data: data}
	return pi, nil
}

func (m *memBackend) UploadPartCopy(ctx context.Context, b, k, id string, part int, sb, sk string, rng *storage.Range) (storage.PartInfo, error) {
	_, rc, err := m.GetObject(ctx, sb, sk, rng)
	if err != nil {
		return storage.PartInfo{}, err
	}
	defer rc.Close()
	return m.UploadPart(ctx, b, k, id, part, rc, -1)
}

func (m *memBackend) CompleteMultipartUpload(_ context.Context, b, k, id string, parts []storage.CompletePart) (storage.ObjectInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	mb, u, err := m.upload(b, k, id)
	if err != nil {
		return storage.ObjectInfo{}, err
	}
	var data, sums []byte
	for i, p := range parts {
		got, ok := u.parts[p.PartNumber]
		if !ok || got.info.ETag != p.ETag {
			return storage.ObjectInfo{}, storage.ErrInvalidPart
		}
		if i < len(parts)-1 && got.info.Size < storage.MinPartSize {
			return storage.ObjectInfo{}, storage.ErrEntityTooSmall
		}
		data = append(data, got.data...)
		s, _ := hex.DecodeString(got.info.ETag)
		sums = append(sums, s...)
	}
	info := storage.ObjectInfo{Key: k, Size: int64(len(data)), ETag: fmt.Sprintf("%s-%d", md5hex(sums), len(parts)),
		LastModified: m.now(), ContentType: u.opts.ContentType, Metadata: maps.Clone(u.opts.Metadata)}
	mb.objects[k] = memObject{info: info, data: data}
	delete(mb.uploads, id)
	return info, nil
}

func (m *memBackend) AbortMultipartUpload(_ context.Context, b, k, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	mb, _, err := m.upload(b, k, id)
	if err != nil {
		return err
	}
	delete(mb.uploads, id)
	return nil
}

func (m *memBackend) ListParts(_ context.Context, b, k, id string, marker, max int) ([]storage.PartInfo, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, u, err := m.upload(b, k, id)
	if err != nil {
		return nil, false, err
	}
	var out []storage.PartInfo
	for _, n := range slices.Sorted(maps.Keys(u.parts)) {
		if n <= marker {
			continue
		}
		if len(out) == max {
			return out, true, nil
		}
		p := u.parts[n]
		out = append(out, storage.PartInfo{PartNumber: n, Size: p.info.Size, ETag: p.info.ETag, LastModified: p.info.LastModified})
	}
	return out, false, nil
}

func (m *memBackend) ListMultipartUploads(_ context.Context, b, prefix string) ([]storage.Upload, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	mb, err := m.bucket(b)
	if err != nil {
		return nil, err
	}
	var out []storage.Upload
	for _, u := range mb.uploads {
		if strings.HasPrefix(u.up.Key, prefix) {
			out = append(out, u.up)
		}
	}
	return out, nil
}

// fakeAuth authenticates "Authorization: TEST <access key>" against a map
// of identities; it stands in for the SigV4 verifier in routing tests.
type fakeAuth struct {
	keys map[string]identity.Identity
}

func (f *fakeAuth) Verify(r *http.Request) (*sigv4.Result, error) {
	key, ok := strings.CutPrefix(r.Header.Get("Authorization"), "TEST ")
	if !ok {
		return nil, &sigv4.Error{Code: "AccessDenied", Status: http.StatusForbidden, Message: "bad test auth"}
	}
	id, ok := f.keys[key]
	if !ok {
		return nil, &sigv4.Error{Code: "InvalidAccessKeyId", Status: http.StatusForbidden, Message: "unknown key", Err: sigv4.ErrUnknownAccessKey}
	}
	return &sigv4.Result{Credential: sigv4.Credential{AccessKeyID: key, Identity: id}, Body: r.Body}, nil
}

// testAuthz allows everything to the bucket's owner org (and to callers of
// any org on missing buckets), except actions listed in deny, which a
// statement "org/deny-<action>" denies. Other orgs are denied implicitly
// unless grant names their org for the bucket. It records every request.
type testAuthz struct {
	mu    sync.Mutex
	deny  map[string]bool
	grant map[string]string // bucket -> org granted by bucket policy
	reqs  []AuthzRequest
}

func (a *testAuthz) Authorize(_ context.Context, req AuthzRequest) AuthzDecision {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.reqs = append(a.reqs, req)
	if a.deny[req.Action] {
		return AuthzDecision{Statement: "org-policy/deny-" + strings.TrimPrefix(req.Action, "s3:"), Reason: "explicit deny"}
	}
	if req.BucketOwnerOrg != "" && req.BucketOwnerOrg != req.Identity.OrgID && a.grant[req.Bucket] != req.Identity.OrgID {
		return AuthzDecision{Reason: "other org"}
	}
	return AuthzDecision{Allowed: true, Statement: "org-policy/allow-all"}
}

func (a *testAuthz) requests() []AuthzRequest {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.reqs)
}

// memLog collects access events.
type memLog struct {
	mu  sync.Mutex
	evs []AccessEvent
}

func (l *memLog) LogAccess(_ context.Context, ev AccessEvent) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.evs = append(l.evs, ev)
}

func (l *memLog) events() []AccessEvent {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.evs)
}

func (l *memLog) last() AccessEvent {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.evs) == 0 {
		return AccessEvent{}
	}
	return l.evs[len(l.evs)-1]
}
