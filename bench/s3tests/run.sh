#!/usr/bin/env bash
# Measure S3 compatibility with the ceph/s3-tests suite (issue 18): s3fed and,
# in the same run for comparison, versitygw v1.8.0 (posix backend) on the same
# selection of tests. A measurement, not part of CI.
#
#   bench/s3tests/run.sh SUITE_DIR [PYTEST_ARG...]
#
# SUITE_DIR is a checkout of github.com/ceph/s3-tests (kept outside this
# repository). Extra arguments go to pytest after the selection, e.g.
# `-k test_post_object` to rerun a few tests, or a test file/node id to
# replace the default target s3tests/functional/test_s3.py.
#
# s3fed runs for real: `s3fed serve` on SQLite in a temp dir, three orgs
# (main, alt, tenant) each with a SAML config trusting the test IdP of
# `s3fed idp keygen`, an access policy allowing every S3 action to the
# suite's role, and keys minted by real SAML exchanges (`s3fed idp sign` |
# `s3fed creds saml`). [s3 alt] and [s3 tenant] are principals of other orgs,
# which is s3fed's tenancy model: they reach main's buckets only where a
# bucket policy grants their org.
#
# Environment:
#   S3FED_BIN   s3fed binary (default: built from this checkout)
#   VERSITYGW   versitygw binary (default: ~/.cache/s3fed-peers/versitygw-v1.8.0/versitygw,
#               installed there with `go install …@v1.8.0` when missing)
#   SKIP_VERSITYGW=1   measure s3fed only
#   PORT_BASE   first of the 4 loopback ports used (default 20100)
#   PYTEST_TIMEOUT     per-test timeout in seconds (default 300)
#   KEEP=1      keep the work dir (server logs, junit XML) for inspection
#
# Python: Debian's /usr/bin/python3 with python3-boto3, python3-pytest,
# python3-munch, python3-gevent, python3-isodate, python3-tz,
# python3-requests, python3-dateutil, python3-httplib2, python3-yaml,
# python3-lxml and python3-pytest-timeout.
set -euo pipefail

if [ $# -lt 1 ] || [ ! -f "$1/s3tests/functional/test_s3.py" ]; then
	echo "usage: $0 S3TESTS_CHECKOUT [PYTEST_ARG...]  (a checkout of github.com/ceph/s3-tests)" >&2
	exit 2
fi
SUITE=$(cd "$1" && pwd)
shift
REPO=$(cd "$(dirname "$0")/../.." && pwd)
PORT_BASE=${PORT_BASE:-20100}
PY=/usr/bin/python3
TIMEOUT=${PYTEST_TIMEOUT:-300}

# The selection of issue 18.
MARKS="not fails_on_aws and not auth_aws2 and not lifecycle and not sse_s3 and not encryption and not versioning and not tagging and not object_lock and not s3select and not bucket_logging and not cors and not website and not acl"
KEYWORDS="not versioning and not acl and not cors and not website and not object_lock"
TARGET=(s3tests/functional/test_s3.py)
for a in "$@"; do
	case $a in s3tests/*) TARGET=() ;; esac
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/s3tests-run.XXXXXX")
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do
		kill "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	if [ "${KEEP:-}" = 1 ]; then
		echo "work dir kept: $WORK"
	else
		rm -rf "$WORK"
	fi
}
trap cleanup EXIT

for m in boto3 pytest munch gevent isodate pytz requests dateutil httplib2 yaml lxml pytest_timeout; do
	"$PY" -c "import $m" 2>/dev/null || { echo "missing Python module $m for $PY (Debian python3-${m//_/-})" >&2; exit 1; }
done

BIN=${S3FED_BIN:-}
if [ -z "$BIN" ]; then
	BIN="$WORK/s3fed"
	(cd "$REPO" && go build -o "$BIN" ./cmd/s3fed)
fi

# wait_port HOST:PORT PID: until something listens there (or PID exits).
wait_port() {
	local hp=$1 pid=$2
	for _ in $(seq 1 600); do
		if (exec 3<>"/dev/tcp/${hp%:*}/${hp#*:}") 2>/dev/null; then return 0; fi
		kill -0 "$pid" 2>/dev/null || return 1
		sleep 0.1 # polling a port of another process; nothing to wait on
	done
	return 1
}

# write_conf FILE PORT MAIN_AK MAIN_SK MAIN_ID ALT_AK ALT_SK ALT_ID TEN_AK TEN_SK TEN_ID
write_conf() {
	cat >"$1" <<CONF
[DEFAULT]
host = 127.0.0.1
port = $2
is_secure = False
ssl_verify = False

[fixtures]
bucket prefix = s3t-{random}-

[s3 main]
display_name = $5
user_id = $5
email = main@example.com
# The suite skips test_bucket_get_location without api_name: us-east-1 has
# no location constraint to return.
api_name =
access_key = $3
secret_key = $4

[s3 alt]
display_name = $8
user_id = $8
email = alt@example.com
access_key = $6
secret_key = $7

[s3 tenant]
display_name = ${11}
user_id = ${11}
email = tenant@example.com
access_key = $9
secret_key = ${10}
tenant = ${11}

# Read unconditionally by the suite's configure(); the IAM tests are not in
# the selection.
[iam]
display_name = iam
user_id = iam
email = iam@example.com
access_key = unused
secret_key = unused

[iam root]
user_id = iamroot
email = iamroot@example.com
access_key = unused
secret_key = unused

[iam alt root]
user_id = iamaltroot
email = iamaltroot@example.com
access_key = unused
secret_key = unused
CONF
}

# run_suite NAME CONF: runs the selection, writes $WORK/NAME.xml and the
# pytest output to $WORK/NAME.log.
run_suite() {
	local name=$1 conf=$2
	shift 2
	echo "== $name: running the suite (output in $WORK/$name.log)"
	(cd "$SUITE" && S3TEST_CONF="$conf" "$PY" -m pytest -p no:cacheprovider -q -rN \
		--timeout "$TIMEOUT" --junitxml "$WORK/$name.xml" \
		-m "$MARKS" -k "$KEYWORDS" "${TARGET[@]}" "$@" >"$WORK/$name.log" 2>&1) || true
	[ -s "$WORK/$name.xml" ] || { echo "$name: pytest wrote no results; tail of its output:" >&2; tail -30 "$WORK/$name.log" >&2; exit 1; }
}

# The extra pytest arguments, kept for run_suite.
EXTRA=("$@")

# ---------------------------------------------------------------- s3fed
API_ADDR=127.0.0.1:$PORT_BASE
S3_ADDR=127.0.0.1:$((PORT_BASE + 1))
mkdir -p "$WORK/s3fed"
"$BIN" serve --data-dir "$WORK/s3fed/data" --api-addr "$API_ADDR" --s3-addr "$S3_ADDR" \
	>"$WORK/s3fed/serve.out" 2>"$WORK/s3fed/serve.log" &
PIDS+=($!)
wait_port "$S3_ADDR" "${PIDS[-1]}" && wait_port "$API_ADDR" "${PIDS[-1]}" ||
	{ echo "s3fed did not start:" >&2; cat "$WORK/s3fed/serve.log" >&2; exit 1; }
for _ in $(seq 1 100); do grep -q 's3fed_' "$WORK/s3fed/serve.out" && break; sleep 0.1; done
export S3FED_API=http://$API_ADDR S3FED_PUBLIC_URL=http://$API_ADDR
S3FED_TOKEN=$(grep -o 's3fed_[A-Za-z0-9_-]*' "$WORK/s3fed/serve.out" | head -1)
export S3FED_TOKEN
(
	cd "$WORK/s3fed"
	"$BIN" idp keygen >/dev/null
	cat >policy.json <<'JSON'
{"version": "v1alpha1", "name": "s3tests",
 "statements": [{"name": "suite", "effect": "Allow", "actions": ["s3:*"], "resources": ["*"], "principals": ["role/s3tests"]}]}
JSON
	for org in main alt tenant; do
		"$BIN" admin org create "$org" >/dev/null
		cfg=$("$BIN" admin config create-saml --org "$org" --name s3tests --idp-entity-id s3fed-test-idp --cert idp-cert.pem |
			sed -n 's/.*"configId": "\(.*\)".*/\1/p')
		"$BIN" admin policy put --org "$org" policy.json >/dev/null
		"$BIN" idp sign --org "$org" --principal "$org@example.com" --role s3tests |
			"$BIN" creds saml --org "$org" --config "$cfg" --saml-response-file - --duration 43200 --format env >"$org.env"
	done
)
keys() { (. "$WORK/s3fed/$1.env" && echo "$AWS_ACCESS_KEY_ID $AWS_SECRET_ACCESS_KEY"); }
read -r MAK MSK <<<"$(keys main)"
read -r AAK ASK <<<"$(keys alt)"
read -r TAK TSK <<<"$(keys tenant)"
write_conf "$WORK/s3fed.conf" "$((PORT_BASE + 1))" "$MAK" "$MSK" main "$AAK" "$ASK" alt "$TAK" "$TSK" tenant
run_suite s3fed "$WORK/s3fed.conf" "${EXTRA[@]}"

# ---------------------------------------------------------------- versitygw
if [ "${SKIP_VERSITYGW:-}" != 1 ]; then
	VGW=${VERSITYGW:-$HOME/.cache/s3fed-peers/versitygw-v1.8.0/versitygw}
	if [ ! -x "$VGW" ]; then
		echo "== installing versitygw v1.8.0 into $(dirname "$VGW")"
		mkdir -p "$(dirname "$VGW")"
		GOBIN=$(dirname "$VGW") GOFLAGS=-mod=mod go install github.com/versity/versitygw/cmd/versitygw@v1.8.0
	fi
	VADDR=127.0.0.1:$((PORT_BASE + 2))
	VROOT_AK=s3testsrootaccess VROOT_SK=s3testsrootsecret0123456789abcdef
	mkdir -p "$WORK/vgw/data" "$WORK/vgw/iam"
	ROOT_ACCESS_KEY_ID=$VROOT_AK ROOT_SECRET_ACCESS_KEY=$VROOT_SK "$VGW" --port "$VADDR" \
		--region us-east-1 --iam-dir "$WORK/vgw/iam" --quiet posix "$WORK/vgw/data" \
		>"$WORK/vgw/serve.log" 2>&1 &
	PIDS+=($!)
	wait_port "$VADDR" "${PIDS[-1]}" || { echo "versitygw did not start:" >&2; cat "$WORK/vgw/serve.log" >&2; exit 1; }
	for u in alt tenant; do
		"$VGW" admin --access "$VROOT_AK" --secret "$VROOT_SK" --endpoint-url "http://$VADDR" \
			create-user --access "vgw$u" --secret "vgw${u}secret0123456789abcdef" --role user >/dev/null
	done
	write_conf "$WORK/vgw.conf" "$((PORT_BASE + 2))" "$VROOT_AK" "$VROOT_SK" "$VROOT_AK" \
		vgwalt vgwaltsecret0123456789abcdef vgwalt vgwtenant vgwtenantsecret0123456789abcdef vgwtenant
	run_suite versitygw "$WORK/vgw.conf" "${EXTRA[@]}"
fi

# ---------------------------------------------------------------- report
"$PY" - "$WORK" <<'PY'
import sys, os, datetime
import xml.etree.ElementTree as ET
work = sys.argv[1]
results = {}
for name in ("s3fed", "versitygw"):
    path = os.path.join(work, name + ".xml")
    if not os.path.exists(path):
        continue
    out = {"passed": [], "failed": [], "error": [], "skipped": []}
    for tc in ET.parse(path).iter("testcase"):
        tname = tc.get("name")
        kinds = [c.tag for c in tc]
        if "error" in kinds:
            out["error"].append(tname)
        elif "failure" in kinds:
            out["failed"].append(tname)
        elif "skipped" in kinds:
            out["skipped"].append(tname)
        else:
            out["passed"].append(tname)
    results[name] = out
print()
print("ceph/s3-tests, %s" % datetime.date.today().isoformat())
for name, out in results.items():
    print("%-10s passed %3d  failed %3d  errors %3d  skipped %3d" % (name, len(out["passed"]), len(out["failed"]), len(out["error"]), len(out["skipped"])))
for name, out in results.items():
    bad = sorted(out["failed"] + out["error"])
    print()
    print("%s: %d not passing" % (name, len(bad)))
    for t in bad:
        print("  " + t + (" (error)" if t in out["error"] else ""))
if "s3fed" in results and "versitygw" in results:
    sp, vp = set(results["s3fed"]["passed"]), set(results["versitygw"]["passed"])
    print()
    print("passing on versitygw, not on s3fed: %d" % len(vp - sp))
    for t in sorted(vp - sp):
        print("  " + t)
PY
