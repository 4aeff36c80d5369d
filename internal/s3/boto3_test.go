package s3

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// boto3Script drives the front door with boto3 the way Python users and
// ceph/s3-tests do. It raises (non-zero exit) on the first wrong answer.
const boto3Script = `
import os, sys
import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

c = boto3.client("s3", endpoint_url=os.environ["ENDPOINT"], region_name="us-east-1",
    aws_access_key_id=os.environ["AK"], aws_secret_access_key=os.environ["SK"],
    aws_session_token=os.environ["ST"],
    # No retries: a stalled answer must fail, not pass on a second try.
    config=Config(signature_version="s3v4", s3={"addressing_style": "path"}, retries={"max_attempts": 0},
        read_timeout=20))

def expect(what, got, want):
    if got != want:
        raise AssertionError("%s: got %r, want %r" % (what, got, want))

def error_code(fn, **kw):
    try:
        fn(**kw)
    except ClientError as e:
        return e.response["Error"]["Code"]
    raise AssertionError("%s%r succeeded" % (fn.__name__, kw))

b = "boto-bucket"
c.create_bucket(Bucket=b)

# User metadata comes back under lowercase names, whatever case was sent.
c.put_object(Bucket=b, Key="obj", Body=b"hello", Metadata={"Color": "blue", "two-Words": "a b"})
want = {"color": "blue", "two-words": "a b"}
expect("head_object Metadata", c.head_object(Bucket=b, Key="obj")["Metadata"], want)
g = c.get_object(Bucket=b, Key="obj")
expect("get_object Metadata", g["Metadata"], want)
expect("get_object Metadata['color']", g["Metadata"]["color"], "blue")
c.copy_object(Bucket=b, Key="copy", CopySource={"Bucket": b, "Key": "obj"})
expect("COPY Metadata", c.head_object(Bucket=b, Key="copy")["Metadata"], want)
c.copy_object(Bucket=b, Key="replaced", CopySource={"Bucket": b, "Key": "obj"},
    MetadataDirective="REPLACE", Metadata={"Shape": "Round"})
expect("REPLACE Metadata", c.head_object(Bucket=b, Key="replaced")["Metadata"], {"shape": "Round"})
up = c.create_multipart_upload(Bucket=b, Key="mp", Metadata={"Owner": "Alice"})
p = c.upload_part(Bucket=b, Key="mp", UploadId=up["UploadId"], PartNumber=1, Body=b"part")
c.complete_multipart_upload(Bucket=b, Key="mp", UploadId=up["UploadId"],
    MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": p["ETag"]}]})
expect("multipart Metadata", c.head_object(Bucket=b, Key="mp")["Metadata"], {"owner": "Alice"})

# An unversioned bucket: no versioning status, one "null" version per object.
expect("versioning Status", c.get_bucket_versioning(Bucket=b).get("Status"), None)
# An empty put_object, then more on the same connection: botocore of this
# era misreads the next answer unless the empty one got 100 Continue.
for i in range(5):
    c.put_object(Bucket=b, Key="dir/k%d" % i, Body=b"x" * i)
keys = []
for page in c.get_paginator("list_object_versions").paginate(Bucket=b, PaginationConfig={"PageSize": 2}):
    for v in page.get("Versions", []):
        expect("VersionId of " + v["Key"], v["VersionId"], "null")
        expect("IsLatest of " + v["Key"], v["IsLatest"], True)
        keys.append(v["Key"])
    expect("DeleteMarkers", page.get("DeleteMarkers"), None)
expect("listed keys", keys, ["copy", "dir/k0", "dir/k1", "dir/k2", "dir/k3", "dir/k4", "mp", "obj", "replaced"])
r = c.list_object_versions(Bucket=b, Delimiter="/", MaxKeys=1000)
expect("CommonPrefixes", [p["Prefix"] for p in r["CommonPrefixes"]], ["dir/"])

# versionId=null addresses the current object; any other version does not exist.
expect("get null", c.get_object(Bucket=b, Key="obj", VersionId="null")["Body"].read(), b"hello")
c.head_object(Bucket=b, Key="obj", VersionId="null")
expect("get other version", error_code(c.get_object, Bucket=b, Key="obj", VersionId="3HL4kqtJlcpXroDTDmJ"), "InvalidArgument")
expect("put versioning", error_code(c.put_bucket_versioning, Bucket=b,
    VersioningConfiguration={"Status": "Enabled"}), "NotImplemented")

# ceph/s3-tests' bucket clean-up: list versions in batches, delete each
# batch by key and VersionId, then delete the bucket.
kwargs = {"Bucket": b, "MaxKeys": 4}
truncated = True
while truncated:
    listing = c.list_object_versions(**kwargs)
    kwargs["KeyMarker"] = listing.get("NextKeyMarker")
    kwargs["VersionIdMarker"] = listing.get("NextVersionIdMarker")
    truncated = listing["IsTruncated"]
    objs = listing.get("Versions", []) + listing.get("DeleteMarkers", [])
    if objs:
        d = c.delete_objects(Bucket=b, Delete={"Objects": [{"Key": o["Key"], "VersionId": o["VersionId"]} for o in objs], "Quiet": True},
            BypassGovernanceRetention=True)
        expect("delete_objects Errors", d.get("Errors"), None)
c.delete_bucket(Bucket=b)
print("OK")
`

// TestBoto3 drives Debian's python3-boto3: user metadata names as AWS
// returns them, ListObjectVersions and versionId=null on an unversioned
// bucket, and ceph/s3-tests' bucket clean-up.
func TestBoto3(t *testing.T) {
	py := tool(t, "/usr/bin/python3")
	if err := exec.Command(py, "-c", "import boto3").Run(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("python3-boto3 is not installed (scripts/install-test-deps.sh installs it): %v", err)
		}
		t.Skipf("python3-boto3 is not installed: %v", err)
	}
	e := newLiveEnv(t, false, "")
	c := testCreds["AKIAALICE0000000"]
	env := cliEnv(t, "ENDPOINT="+e.ts.URL, "AK="+c.AccessKeyID, "SK="+c.SecretKey, "ST="+c.SessionToken,
		"AWS_EC2_METADATA_DISABLED=true", "AWS_CONFIG_FILE=/dev/null")
	if out := run(t, env, py, "-c", boto3Script); strings.TrimSpace(out) != "OK" {
		t.Errorf("boto3 script: %s", out)
	}
}
