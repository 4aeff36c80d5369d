// Package s3gw benchmarks s3fed's S3 gateway against versitygw v1.8.0's posix
// gateway, both running as separate processes on loopback and driven by the
// same aws-sdk-go-v2 client, so the figures compare servers and not clients.
// It lives in the bench module so the product never depends on versitygw or
// on benchmark-only code; CI does not run it.
//
//	GOBIN=/tmp/s3fed-bench/bin go install github.com/versity/versitygw/cmd/versitygw@v1.8.0
//	go -C bench test ./s3gw -bench . -run '^$'
//
// The numbers are not like for like on durability: s3fed fsyncs every
// acknowledged object before answering, versitygw does not.
package s3gw
