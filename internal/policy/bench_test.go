package policy

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// Realistic vocabularies for the benchmarks: S3 action names and the
// wildcards admins write, buckets with prefixes.
var (
	benchActionPats = []string{"s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:ListBucket",
		"s3:GetObjectTagging", "s3:PutObjectTagging", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts",
		"s3:GetBucketPolicy", "s3:PutBucketPolicy", "s3:GetBucketLocation", "s3:ListBucketMultipartUploads",
		"s3:Get*", "s3:List*", "s3:Put*", "s3:*Object", "s3:*"}
	benchActions = []string{"s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:ListBucket", "s3:GetObjectTagging",
		"s3:AbortMultipartUpload", "s3:GetBucketPolicy", "s3:ListAllMyBuckets", "s3:HeadObject", "s3:PutObjectTagging"}
)

// benchEngine builds n statements over 100 roles in documents of 100
// statements, and a cycle of 1024 requests against them.
func benchEngine(b *testing.B, n int) (*Engine, []Request) {
	b.Helper()
	r := rand.New(rand.NewPCG(1, uint64(n)))
	const roles, buckets, perDoc = 100, 50, 100
	var docs []*Document
	for i := 0; i < n; i += perDoc {
		d := &Document{Version: Version, Name: fmt.Sprintf("policy-%05d", i/perDoc)}
		for j := 0; j < perDoc && i+j < n; j++ {
			eff := Allow
			if r.IntN(5) == 0 {
				eff = Deny
			}
			bucket := fmt.Sprintf("bucket-%02d", r.IntN(buckets))
			var res []string
			switch r.IntN(4) {
			case 0:
				res = []string{bucket, bucket + "/*"}
			case 1:
				res = []string{fmt.Sprintf("%s/team-%d/*", bucket, r.IntN(10))}
			case 2:
				res = []string{bucket + "/*"}
			default:
				res = []string{fmt.Sprintf("%s/logs/*.gz", bucket)}
			}
			acts := []string{pick(r, benchActionPats)}
			if r.IntN(2) == 0 {
				acts = append(acts, pick(r, benchActionPats))
			}
			princ := []string{fmt.Sprintf("role/role-%03d", r.IntN(roles))}
			if r.IntN(10) == 0 {
				princ = append(princ, fmt.Sprintf("group/group-%d", r.IntN(20)))
			}
			d.Statements = append(d.Statements, Statement{
				Name: fmt.Sprintf("stmt-%d", j), Effect: eff, Actions: acts, Resources: res, Principals: princ,
			})
		}
		docs = append(docs, d)
	}
	e, err := Compile(testOrg, docs)
	if err != nil {
		b.Fatal(err)
	}
	reqs := make([]Request, 1024)
	for i := range reqs {
		bucket := fmt.Sprintf("bucket-%02d", r.IntN(buckets))
		res := fmt.Sprintf("%s/team-%d/data/part-%05d.parquet", bucket, r.IntN(10), r.IntN(100000))
		switch r.IntN(5) {
		case 0:
			res = bucket
		case 1:
			res = fmt.Sprintf("%s/logs/2026-11-22.gz", bucket)
		}
		reqs[i] = Request{
			OrgID:         testOrg,
			PrincipalName: fmt.Sprintf("saml/user%d@example.com", i),
			Role:          fmt.Sprintf("role-%03d", r.IntN(roles)),
			Groups:        []string{fmt.Sprintf("group-%d", r.IntN(20))},
			Action:        pick(r, benchActions),
			Resource:      res,
		}
	}
	return e, reqs
}

func benchmarkDecide(b *testing.B, n int) {
	e, reqs := benchEngine(b, n)
	b.ReportAllocs()
	allowed := 0
	i := 0
	cpu0, cpuOK := processCPUTime()
	for b.Loop() {
		if e.Decide(reqs[i&1023]).Allowed() {
			allowed++
		}
		i++
	}
	if cpu1, ok := processCPUTime(); ok && cpuOK && i > 0 {
		b.ReportMetric(float64(cpu1-cpu0)/float64(i), "cpu-ns/op")
	}
	if allowed == 0 || allowed == i {
		b.Fatalf("benchmark decides everything the same way (%d of %d allowed)", allowed, i)
	}
}

// BenchmarkDecide1000 is the target: 1,000 statements over 100
// roles, goal ≤ 1 µs and 0 allocations per decision.
func BenchmarkDecide1000(b *testing.B) { benchmarkDecide(b, 1000) }

// BenchmarkDecide10000 shows growth at ten times the statements.
func BenchmarkDecide10000(b *testing.B) { benchmarkDecide(b, 10000) }

// BenchmarkExplain1000 is the allocating, scanning path, for comparison.
func BenchmarkExplain1000(b *testing.B) {
	e, reqs := benchEngine(b, 1000)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		_ = e.Explain(reqs[i&1023])
		i++
	}
}
