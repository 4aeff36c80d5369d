#!/usr/bin/env bash
# End-to-end with real S3 clients from Debian (awscli, s3cmd, rclone) against a
# real `s3fed serve`: keys come from a real SAML exchange (the JSON endpoint)
# and from `aws sts assume-role-with-saml`; each client makes a bucket,
# uploads a 20 MiB file (multipart), lists, downloads and compares, presigns,
# deletes; rclone also copies 600 small files, the server is killed (-9) and
# restarted, and rclone checks every file. Then the whole path again on
# `serve --database-url` (a fresh PostgreSQL schema, dropped after): exchange,
# S3 with awscli, revocation (the keys stop working), audit. Run by
# scripts/test; needs the binary path as $1 (or builds it). PostgreSQL is
# S3FED_TEST_POSTGRES or the machine's; unreachable, that part is skipped,
# or fails under CI=true.
set -euo pipefail
cd "$(dirname "$0")/../.."

BIN=${1:-}
WORK=$(mktemp -d)
SERVER_PID=
PG_SCHEMA=
cleanup() {
	if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
	if [ -n "$PG_SCHEMA" ]; then psql "$PGBASE" -qc "DROP SCHEMA $PG_SCHEMA CASCADE" >/dev/null 2>&1 || true; fi
	rm -rf "$WORK"
}
trap cleanup EXIT
if [ -z "$BIN" ]; then
	BIN="$WORK/s3fed"
	go build -o "$BIN" ./cmd/s3fed
fi

need() {
	for t in "$@"; do
		if ! command -v "$t" >/dev/null 2>&1; then
			echo "e2e: missing tool $t (run scripts/install-test-deps.sh)" >&2
			exit 1
		fi
	done
}
# Debian's clients, not whatever a pyenv shim provides.
AWS=/usr/bin/aws
[ -x "$AWS" ] || AWS=$(command -v aws)
need "$AWS" s3cmd rclone curl cmp

# start_server API_ADDR S3_ADDR [SERVE_FLAG...]: runs s3fed on $WORK/data
# (or the --data-dir among the flags) and waits until it listens; $line is
# its "API on …, S3 on …" banner line.
start_server() {
	: >"$WORK/serve.out"
	"$BIN" serve --data-dir "$WORK/data" --api-addr "$1" --s3-addr "$2" "${@:3}" >"$WORK/serve.out" 2>>"$WORK/serve.log" &
	SERVER_PID=$!
	for _ in $(seq 1 200); do
		grep -q '^s3fed: API on' "$WORK/serve.out" 2>/dev/null && break
		kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/serve.log" >&2; exit 1; }
		sleep 0.05
	done
	line=$(grep '^s3fed: API on' "$WORK/serve.out") || { echo "e2e: server did not start" >&2; cat "$WORK/serve.log" >&2; exit 1; }
}
start_server 127.0.0.1:0 127.0.0.1:0
API=$(echo "$line" | sed -n 's/^s3fed: API on \([^,]*\), S3 on \([^,]*\),.*/\1/p')
S3=$(echo "$line" | sed -n 's/^s3fed: API on \([^,]*\), S3 on \([^,]*\),.*/\2/p')
export S3FED_API=$API S3FED_PUBLIC_URL=$API
export S3FED_TOKEN=$(grep -o 's3fed_[A-Za-z0-9_-]*' "$WORK/serve.out" | head -1)
S3HOSTPORT=${S3#http://}
echo "e2e: API $API, S3 $S3"

cd "$WORK"
"$BIN" admin org create acme >/dev/null
"$BIN" idp keygen >/dev/null
CONFIG=$("$BIN" admin config create-saml --org acme --name e2e --idp-entity-id s3fed-test-idp --cert idp-cert.pem |
	sed -n 's/.*"configId": "\(.*\)".*/\1/p')
cat >policy.json <<'JSON'
{"version": "v1alpha1", "name": "e2e",
 "statements": [{"name": "writers", "effect": "Allow", "actions": ["*"], "resources": ["*"], "principals": ["role/writer-role"]}]}
JSON
"$BIN" admin policy put --org acme policy.json >/dev/null

# Keys from the JSON exchange.
eval "$("$BIN" idp sign --org acme --principal e2e@example.com --role writer-role |
	"$BIN" creds saml --org acme --config "$CONFIG" --saml-response-file - --format env)"
unset AWS_CA_BUNDLE AWS_PROFILE
export AWS_DEFAULT_REGION=us-east-1 AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null

head -c $((20 << 20)) /dev/urandom >big.bin

echo "== awscli"
aws3() { "$AWS" --endpoint-url "$S3" "$@"; }
aws3 s3 mb s3://e2e-aws
aws3 s3 cp --only-show-errors big.bin s3://e2e-aws/dir/big.bin
aws3 s3 ls s3://e2e-aws/dir/ | grep -q 'big.bin'
aws3 s3 cp --only-show-errors s3://e2e-aws/dir/big.bin back-aws.bin
cmp big.bin back-aws.bin
url=$(aws3 s3 presign s3://e2e-aws/dir/big.bin --expires-in 300)
curl -sSf -o back-presigned.bin "$url"
cmp big.bin back-presigned.bin
aws3 s3 rm --only-show-errors s3://e2e-aws/dir/big.bin
aws3 s3 rb s3://e2e-aws

echo "== awscli sts assume-role-with-saml"
AWSRESP=$("$BIN" idp sign --org acme --principal e2e@example.com --role writer-role \
	--attribute "https://aws.amazon.com/SAML/Attributes/Role=arn:aws:iam::acme:role/writer-role,arn:aws:iam::acme:saml-provider/$CONFIG" \
	--attribute "https://aws.amazon.com/SAML/Attributes/RoleSessionName=e2e-session")
STSOUT=$(env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_SESSION_TOKEN "$AWS" --endpoint-url "$S3" sts assume-role-with-saml \
	--role-arn arn:aws:iam::acme:role/writer-role --principal-arn "arn:aws:iam::acme:saml-provider/$CONFIG" \
	--saml-assertion "$AWSRESP" --duration-seconds 900 --output text \
	--query 'Credentials.[AccessKeyId,SecretAccessKey,SessionToken]')
read -r STS_AK STS_SK STS_TOK <<<"$STSOUT"
AWS_ACCESS_KEY_ID=$STS_AK AWS_SECRET_ACCESS_KEY=$STS_SK AWS_SESSION_TOKEN=$STS_TOK aws3 s3 mb s3://e2e-sts
AWS_ACCESS_KEY_ID=$STS_AK AWS_SECRET_ACCESS_KEY=$STS_SK AWS_SESSION_TOKEN=$STS_TOK aws3 s3 rb s3://e2e-sts

echo "== s3cmd"
cat >s3cfg <<CFG
[default]
access_key = $AWS_ACCESS_KEY_ID
secret_key = $AWS_SECRET_ACCESS_KEY
host_base = $S3HOSTPORT
host_bucket = $S3HOSTPORT
use_https = False
signature_v2 = False
bucket_location = us-east-1
multipart_chunk_size_mb = 5
CFG
s3c() { s3cmd -c s3cfg --no-progress "$@"; }
s3c mb s3://e2e-s3cmd
s3c put big.bin s3://e2e-s3cmd/dir/big.bin >/dev/null
s3c ls s3://e2e-s3cmd/dir/ | grep -q 'big.bin'
s3c get s3://e2e-s3cmd/dir/big.bin back-s3cmd.bin >/dev/null
cmp big.bin back-s3cmd.bin
# (s3cmd signurl makes SigV2 URLs, which s3fed refuses by design; presigning
# is covered with awscli above.)
s3c del s3://e2e-s3cmd/dir/big.bin >/dev/null
s3c rb s3://e2e-s3cmd >/dev/null

echo "== rclone"
export RCLONE_CONFIG_S3FED_TYPE=s3 RCLONE_CONFIG_S3FED_PROVIDER=Other RCLONE_CONFIG_S3FED_ENDPOINT=$S3 \
	RCLONE_CONFIG_S3FED_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID RCLONE_CONFIG_S3FED_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY \
	RCLONE_CONFIG_S3FED_REGION=us-east-1 RCLONE_CONFIG_S3FED_FORCE_PATH_STYLE=true
rc() { rclone --config /dev/null "$@"; }
rc mkdir s3fed:e2e-rclone
rc copyto --s3-upload-cutoff 5M --s3-chunk-size 5M big.bin s3fed:e2e-rclone/dir/big.bin
rc lsf s3fed:e2e-rclone/dir/ | grep -q '^big.bin$'
rc copyto s3fed:e2e-rclone/dir/big.bin back-rclone.bin
cmp big.bin back-rclone.bin
rc md5sum s3fed:e2e-rclone/dir/big.bin | grep -q "$(md5sum big.bin | cut -d" " -f1)"
rc deletefile s3fed:e2e-rclone/dir/big.bin

echo "== rclone: 600 small files, kill -9, restart, check"
# Sizes 0..24 KiB: objects up to 16 KiB live in the index (made durable by
# its journal), larger ones are files. Everything rclone was told is stored
# must be there, intact, after the server is killed and restarted.
mkdir tree
for i in $(seq 1 600); do head -c $(((i * 4099) % 24577)) /dev/urandom >"tree/f$i.bin"; done
rc copy --transfers 8 tree s3fed:e2e-rclone/tree
rc check --one-way tree s3fed:e2e-rclone/tree
kill -9 "$SERVER_PID"
wait "$SERVER_PID" 2>/dev/null || true
start_server "${API#http://}" "$S3HOSTPORT"
rc check tree s3fed:e2e-rclone/tree
rc purge s3fed:e2e-rclone

echo "== audit"
"$BIN" admin audit --org acme --limit 1000 >audit.json # (grep -q on a pipe would SIGPIPE the writer)
grep -q '"s3:PutObject"' audit.json

echo "== PostgreSQL: exchange, S3, revocation, audit on serve --database-url"
PGBASE=${S3FED_TEST_POSTGRES:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}
if ! command -v psql >/dev/null 2>&1 || ! psql "$PGBASE" -qtAc 'SELECT 1' >/dev/null 2>&1; then
	if [ "${CI:-}" = true ]; then
		echo "e2e: PostgreSQL not reachable at $PGBASE (psql: $(command -v psql || echo missing)); CI requires it" >&2
		exit 1
	fi
	echo "e2e: SKIP PostgreSQL part: not reachable at $PGBASE (CI requires it)"
	echo "e2e: 5 passed, 0 failed, 1 skipped"
	exit 0
fi
PG_SCHEMA=s3fed_e2e_$$_$RANDOM
psql "$PGBASE" -qc "CREATE SCHEMA $PG_SCHEMA" >/dev/null
case $PGBASE in *\?*) PGURL="$PGBASE&search_path=$PG_SCHEMA&pool_max_conns=4" ;; *) PGURL="$PGBASE?search_path=$PG_SCHEMA&pool_max_conns=4" ;; esac
kill "$SERVER_PID"
wait "$SERVER_PID" 2>/dev/null || true
unset S3FED_API S3FED_PUBLIC_URL S3FED_TOKEN # the first server's, which serve would take
start_server 127.0.0.1:0 127.0.0.1:0 --data-dir "$WORK/pgdata" --database-url "$PGURL"
API=$(echo "$line" | sed -n 's/^s3fed: API on \([^,]*\), S3 on \([^,]*\),.*/\1/p')
S3=$(echo "$line" | sed -n 's/^s3fed: API on \([^,]*\), S3 on \([^,]*\),.*/\2/p')
export S3FED_API=$API S3FED_PUBLIC_URL=$API
export S3FED_TOKEN=$(grep -o 's3fed_[A-Za-z0-9_-]*' "$WORK/serve.out" | head -1)
[ ! -e "$WORK/pgdata/state.db" ] || { echo "e2e: --database-url server made a SQLite state file" >&2; exit 1; }
"$BIN" admin org create acme >/dev/null
CONFIG=$("$BIN" admin config create-saml --org acme --name e2e-pg --idp-entity-id s3fed-test-idp --cert idp-cert.pem |
	sed -n 's/.*"configId": "\(.*\)".*/\1/p')
"$BIN" admin policy put --org acme policy.json >/dev/null
eval "$("$BIN" idp sign --org acme --principal pg@example.com --role writer-role |
	"$BIN" creds saml --org acme --config "$CONFIG" --saml-response-file - --format env)"
head -c $((1 << 20)) /dev/urandom >pg.bin
aws3 s3 mb s3://e2e-pg
aws3 s3 cp --only-show-errors pg.bin s3://e2e-pg/pg.bin
aws3 s3 cp --only-show-errors s3://e2e-pg/pg.bin back-pg.bin
cmp pg.bin back-pg.bin
[ "$(psql "$PGBASE" -qtAc "SELECT count(*) FROM $PG_SCHEMA.access_keys")" = 1 ] ||
	{ echo "e2e: the issued key is not in PostgreSQL" >&2; exit 1; }
"$BIN" admin keys revoke-principal saml/pg@example.com --org acme >/dev/null
if aws3 s3 ls s3://e2e-pg/ >pg-ls.out 2>&1; then
	echo "e2e: a revoked key still lists the bucket" >&2; exit 1
fi
grep -q InvalidAccessKeyId pg-ls.out || { cat pg-ls.out >&2; exit 1; }
"$BIN" admin audit --org acme --limit 1000 >pg-audit.json
grep -q '"s3:PutObject"' pg-audit.json
grep -q '"access-key.revoke"' pg-audit.json
kill "$SERVER_PID"
wait "$SERVER_PID" 2>/dev/null || true
SERVER_PID=
echo "e2e: 6 passed, 0 failed"
