package s3

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// tool finds an external client; a missing one skips the test locally and
// fails it in CI (scripts/install-test-deps.sh installs them).
func tool(t *testing.T, preferred ...string) string {
	t.Helper()
	for _, p := range preferred {
		if filepath.IsAbs(p) {
			if _, err := os.Stat(p); err == nil {
				return p
			}
			continue
		}
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%v not installed (scripts/install-test-deps.sh installs it)", preferred)
	}
	t.Skipf("%v not installed", preferred)
	return ""
}

// run runs a client command with a bounded time and returns its stdout.
func run(t *testing.T, env []string, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\nstdout: %s\nstderr: %s", filepath.Base(name), strings.Join(args, " "), err, out.String(), errb.String())
	}
	return out.String()
}

// cliEnv is a minimal environment for a client: its own HOME, no proxy, no
// CA bundle override.
func cliEnv(t *testing.T, extra ...string) []string {
	home := t.TempDir()
	// awscli v1 (when it is the aws on PATH instead of Debian's v2)
	// presigns with SigV2 unless told otherwise; v2 ignores this.
	if err := os.MkdirAll(filepath.Join(home, ".aws"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, ".aws", "config"), []byte("[default]\ns3 =\n    signature_version = s3v4\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return append([]string{"HOME=" + home, "PATH=" + os.Getenv("PATH"), "LANG=C.UTF-8"}, extra...)
}

func writeRandomFile(t *testing.T, dir, name string, size int) (string, []byte) {
	data := randBytes(t, size)
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p, data
}

func sameFile(t *testing.T, path string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s: %d bytes differ from the %d uploaded", path, len(got), len(want))
	}
}

// TestAWSCLI drives Debian's awscli (v2) against the front door: make
// bucket, a multipart upload, list, download and compare, presign (fetched
// with net/http), delete.
func TestAWSCLI(t *testing.T) {
	aws := tool(t, "/usr/bin/aws", "aws")
	e := newLiveEnv(t, false, "")
	c := testCreds["AKIAALICE0000000"]
	env := cliEnv(t, "AWS_ACCESS_KEY_ID="+c.AccessKeyID, "AWS_SECRET_ACCESS_KEY="+c.SecretKey,
		"AWS_SESSION_TOKEN="+c.SessionToken, "AWS_DEFAULT_REGION=us-east-1", "AWS_EC2_METADATA_DISABLED=true",
		"AWS_PAGER=")
	ep := []string{"--endpoint-url", e.ts.URL}
	dir := t.TempDir()
	src, data := writeRandomFile(t, dir, "big file.bin", 12<<20)
	run(t, env, aws, append(ep, "s3", "mb", "s3://cli-bucket")...)
	run(t, env, aws, append(ep, "s3", "cp", src, "s3://cli-bucket/dir/big file.bin")...)
	small, _ := writeRandomFile(t, dir, "small", 1000)
	run(t, env, aws, append(ep, "s3", "cp", small, "s3://cli-bucket/dir/sub/ü small")...)
	ls := run(t, env, aws, append(ep, "s3", "ls", "--recursive", "s3://cli-bucket/")...)
	if !strings.Contains(ls, "dir/big file.bin") || !strings.Contains(ls, "dir/sub/ü small") || !strings.Contains(ls, "12582912") {
		t.Errorf("ls: %s", ls)
	}
	ls = run(t, env, aws, append(ep, "s3", "ls", "s3://cli-bucket/dir/")...)
	if !strings.Contains(ls, "PRE sub/") {
		t.Errorf("ls with prefixes: %s", ls)
	}
	dst := filepath.Join(dir, "downloaded")
	run(t, env, aws, append(ep, "s3", "cp", "s3://cli-bucket/dir/big file.bin", dst)...)
	sameFile(t, dst, data)
	head := run(t, env, aws, append(ep, "s3api", "head-object", "--bucket", "cli-bucket", "--key", "dir/big file.bin")...)
	if !strings.Contains(head, `-2\"`) { // 12 MiB in awscli's 8 MiB parts
		t.Errorf("head-object: %s", head)
	}
	url := strings.TrimSpace(run(t, env, aws, append(ep, "s3", "presign", "s3://cli-bucket/dir/sub/ü small", "--expires-in", "300")...))
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || len(body) != 1000 {
		t.Errorf("presigned GET: %d, %d bytes: %.200s", resp.StatusCode, len(body), body)
	}
	run(t, env, aws, append(ep, "s3", "rm", "--recursive", "s3://cli-bucket/")...)
	run(t, env, aws, append(ep, "s3", "rb", "s3://cli-bucket")...)
}

// TestS3cmd drives s3cmd (path-style, plain HTTP, SigV4).
func TestS3cmd(t *testing.T) {
	s3cmd := tool(t, "s3cmd")
	e := newLiveEnv(t, false, "")
	c := testCreds["AKIABOB000000000"]
	host := strings.TrimPrefix(e.ts.URL, "http://")
	args := func(a ...string) []string {
		return append([]string{"--config=/dev/null", "--host=" + host, "--host-bucket=" + host, "--no-ssl",
			"--access_key=" + c.AccessKeyID, "--secret_key=" + c.SecretKey, "--region=us-east-1",
			"--multipart-chunk-size-mb=5"}, a...)
	}
	env := cliEnv(t)
	dir := t.TempDir()
	src, data := writeRandomFile(t, dir, "file", 11<<20)
	run(t, env, s3cmd, args("mb", "s3://s3cmd-bucket")...)
	run(t, env, s3cmd, args("put", src, "s3://s3cmd-bucket/a b/file")...)
	ls := run(t, env, s3cmd, args("ls", "-r", "s3://s3cmd-bucket")...)
	if !strings.Contains(ls, "s3://s3cmd-bucket/a b/file") {
		t.Errorf("ls: %s", ls)
	}
	dst := filepath.Join(dir, "got")
	run(t, env, s3cmd, args("get", "s3://s3cmd-bucket/a b/file", dst)...)
	sameFile(t, dst, data)
	run(t, env, s3cmd, args("del", "s3://s3cmd-bucket/a b/file")...)
	run(t, env, s3cmd, args("rb", "s3://s3cmd-bucket")...)
}

// TestRclone drives rclone's S3 backend.
func TestRclone(t *testing.T) {
	rclone := tool(t, "rclone")
	e := newLiveEnv(t, false, "")
	c := testCreds["AKIABOB000000000"]
	env := cliEnv(t, "RCLONE_CONFIG_T_TYPE=s3", "RCLONE_CONFIG_T_PROVIDER=Other",
		"RCLONE_CONFIG_T_ACCESS_KEY_ID="+c.AccessKeyID, "RCLONE_CONFIG_T_SECRET_ACCESS_KEY="+c.SecretKey,
		"RCLONE_CONFIG_T_ENDPOINT="+e.ts.URL, "RCLONE_CONFIG_T_REGION=us-east-1", "RCLONE_CONFIG_T_FORCE_PATH_STYLE=true")
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	if err := os.MkdirAll(filepath.Join(src, "sub dir"), 0o700); err != nil {
		t.Fatal(err)
	}
	_, big := writeRandomFile(t, src, "big", 11<<20)
	writeRandomFile(t, filepath.Join(src, "sub dir"), "ü", 10)
	flags := []string{"--config", "/dev/null", "--s3-upload-cutoff", "5M", "--s3-chunk-size", "5M"}
	run(t, env, rclone, append(flags, "mkdir", "t:rclone-bucket")...)
	run(t, env, rclone, append(flags, "copy", src, "t:rclone-bucket/x")...)
	run(t, env, rclone, append(flags, "check", src, "t:rclone-bucket/x")...)
	ls := run(t, env, rclone, append(flags, "ls", "t:rclone-bucket")...)
	if !strings.Contains(ls, "x/big") || !strings.Contains(ls, "x/sub dir/ü") {
		t.Errorf("ls: %s", ls)
	}
	back := filepath.Join(dir, "back")
	run(t, env, rclone, append(flags, "copy", "t:rclone-bucket/x", back)...)
	sameFile(t, filepath.Join(back, "big"), big)
	run(t, env, rclone, append(flags, "purge", "t:rclone-bucket")...)
}
