package fs_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"strings"

	"github.com/s3fed/s3fed/internal/storage"
	"github.com/s3fed/s3fed/internal/storage/fs"
)

// The server opens one Store on <data-dir>/objects and hands it to the S3
// front door as a storage.Backend.
func ExampleOpen() {
	dir, err := os.MkdirTemp("", "s3fed-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	var backend storage.Backend
	store, err := fs.Open(dir, fs.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	backend = store

	ctx := context.Background()
	if err := backend.CreateBucket(ctx, "photos"); err != nil {
		log.Fatal(err)
	}
	body := "hello"
	info, err := backend.PutObject(ctx, "photos", "../not/a/path", strings.NewReader(body),
		storage.PutOptions{ContentType: "text/plain", Size: int64(len(body))})
	if err != nil {
		log.Fatal(err)
	}
	_, rc, err := backend.GetObject(ctx, "photos", "../not/a/path", &storage.Range{Start: 1, Length: 3})
	if err != nil {
		log.Fatal(err)
	}
	defer rc.Close()
	part, _ := io.ReadAll(rc)
	fmt.Println(info.ETag, info.Size, string(part))
	// Output: 5d41402abc4b2a76b9719d911017c592 5 ell
}
