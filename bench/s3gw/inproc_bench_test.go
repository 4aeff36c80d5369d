package s3gw

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/s3fed/s3fed/internal/server"
)

// startInProcess runs s3fed inside the benchmark process (server.New +
// Serve), so `-cpuprofile` sees the gateway's own hot spots; the binary has
// no /debug/pprof. Client and server share the process, so read the profile
// with -focus on s3fed packages or net/http.(*conn).serve.
func startInProcess(b *testing.B) *s3.Client {
	b.Helper()
	b.Setenv("AWS_CA_BUNDLE", "")
	cfg := server.Defaults()
	cfg.DataDir = b.TempDir()
	cfg.APIAddr, cfg.S3Addr = "127.0.0.1:0", "127.0.0.1:0"
	cfg.RootToken = rootToken
	cfg.Log = slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelWarn}))
	cfg.Out = io.Discard
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := server.New(ctx, cfg)
	if err != nil {
		cancel()
		b.Fatalf("server.New: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	b.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			b.Errorf("serve: %v", err)
		}
	})
	ak, sk, err := s3fedKeys("http://" + srv.APIAddr())
	if err != nil {
		b.Fatal(err)
	}
	c := newClient("http://"+srv.S3Addr(), ak, sk)
	if err := createBucket(c, bucket, nil); err != nil {
		b.Fatal(err)
	}
	return c
}

// BenchmarkInProcess is the profiling twin of BenchmarkPut4K and
// BenchmarkGet4K for s3fed alone, in process:
//
//	go -C bench test ./s3gw -bench InProcess -run '^$' -cpuprofile /tmp/s3gw.cpu
func BenchmarkInProcess(b *testing.B) {
	c := startInProcess(b)
	for i := range getKeys {
		if _, err := c.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(bucket),
			Key: aws.String(getKey(i)), Body: bytes.NewReader(payload4K)}); err != nil {
			b.Fatalf("seed %s: %v", getKey(i), err)
		}
	}
	for _, conc := range concurrencies {
		b.Run(fmt.Sprintf("Put4K/c%d", conc), func(b *testing.B) {
			round := putRound.Add(1)
			runConcurrent(b, conc, 0, func(ctx context.Context, i int) error {
				key := fmt.Sprintf("put/r%d/%08d", round, i)
				_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(payload4K)})
				if err != nil {
					return fmt.Errorf("put %s: %w", key, err)
				}
				return nil
			})
		})
		b.Run(fmt.Sprintf("Get4K/c%d", conc), func(b *testing.B) {
			runConcurrent(b, conc, 0, func(ctx context.Context, i int) error {
				out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(getKey(i))})
				if err != nil {
					return fmt.Errorf("get %s: %w", getKey(i), err)
				}
				n, err := io.Copy(io.Discard, out.Body)
				out.Body.Close()
				if err != nil || n != smallSize {
					return fmt.Errorf("get %s: %d bytes, %v", getKey(i), n, err)
				}
				return nil
			})
		})
	}
}
