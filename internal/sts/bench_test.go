package sts_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/s3fed/s3fed/internal/store/teststore"
)

// BenchmarkExchangeHTTP is the end-to-end exchange over HTTP on loopback:
// strict SAML validation, mapping, replay claim in SQLite, key record and
// audit event in one transaction. Responses are signed before the timer
// starts; 8 clients post concurrently. It reports exchanges/s and p50/p99.
func BenchmarkExchangeHTTP(b *testing.B) {
	e := newEnv(b, teststore.SQLite, false)
	bodies := make([][]byte, b.N)
	for i := range bodies {
		body, _ := json.Marshal(map[string]any{"orgId": "acme", "configId": e.cfgID, "samlResponse": e.sign(nil)})
		bodies[i] = body
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	lat := make([]time.Duration, b.N)
	var next atomic.Int64
	var wg sync.WaitGroup
	var failed atomic.Int64
	b.ResetTimer()
	start := time.Now()
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= b.N {
					return
				}
				t0 := time.Now()
				resp, err := client.Post(e.srv.URL+"/v1/cwobject/temporary-credentials/saml", "application/json", bytes.NewReader(bodies[i]))
				if err != nil {
					failed.Add(1)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					failed.Add(1)
				}
				lat[i] = time.Since(t0)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if n := failed.Load(); n > 0 {
		b.Fatalf("%d exchanges failed", n)
	}
	slices.Sort(lat)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "exchanges/s")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}
