#!/usr/bin/env bash
# readme.sh — follows the README's "Five minutes with the built-in test IdP"
# walkthrough literally, against a real `s3fed serve` on non-default ports, the
# way a newcomer would: the fenced sh block is run as written, with only what the
# README tells the reader to fill in replaced (the root token the server printed,
# and the two addresses on the "Where the server listens" line). `go build` is
# replaced by the binary under test. A line ending in `# fails: CODE` must fail
# and print CODE. Any README change that breaks the walkthrough fails this script.
# Run by scripts/test; needs the binary path as $1 (or builds it).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD

BIN=${1:-}
WORK=$(mktemp -d)
SERVER_PID=
cleanup() {
	if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
	rm -rf "$WORK"
}
trap cleanup EXIT
if [ -z "$BIN" ]; then
	BIN="$WORK/s3fed-bin"
	go build -o "$BIN" ./cmd/s3fed
fi
for t in /usr/bin/aws curl cmp; do
	command -v "$t" >/dev/null || { echo "readme: missing tool $t (run scripts/install-test-deps.sh)" >&2; exit 1; }
done

# The server, on ports the kernel picks (never 9000/9001).
"$BIN" serve --data-dir "$WORK/data" --api-addr 127.0.0.1:0 --s3-addr 127.0.0.1:0 >"$WORK/serve.out" 2>"$WORK/serve.log" &
SERVER_PID=$!
for _ in $(seq 1 400); do
	grep -q '^s3fed: API on' "$WORK/serve.out" 2>/dev/null && break
	kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/serve.log" >&2; exit 1; }
	sleep 0.05
done
line=$(grep '^s3fed: API on' "$WORK/serve.out") || { echo "readme: server did not start" >&2; cat "$WORK/serve.log" >&2; exit 1; }
API=$(echo "$line" | sed -n 's/^s3fed: API on \([^,]*\), S3 on \([^,]*\),.*/\1/p')
S3=$(echo "$line" | sed -n 's/^s3fed: API on \([^,]*\), S3 on \([^,]*\),.*/\2/p')
TOKEN=$(grep -o 's3fed_[A-Za-z0-9_-]*' "$WORK/serve.out" | head -1)
case "$API$S3" in *:9000*|*:9001*) echo "readme: got a default port by chance; rerun" >&2; exit 1 ;; esac

# The walkthrough block: the first ```sh fence after its heading.
awk '/^## Five minutes with the built-in test IdP/ {h=1} h && /^```sh$/ && !b {b=1; next} b && /^```$/ {exit} b {print}' \
	README.md >"$WORK/walkthrough.sh"

# Replace exactly what the README asks the reader to fill in; each must be there once.
substitute() { # pattern replacement
	local n
	n=$(grep -c -- "$1" "$WORK/walkthrough.sh" || true)
	[ "$n" = 1 ] || { echo "readme: expected one line matching '$1' in the walkthrough, found $n" >&2; exit 1; }
	PAT=$1 REP=$2 perl -0pi -e 's/^\Q$ENV{PAT}\E$/$ENV{REP}/m' "$WORK/walkthrough.sh"
}
substitute 'go build -o s3fed ./cmd/s3fed' "cp '$BIN' ./s3fed"
substitute 'export S3FED_TOKEN=s3fed_...            # the root token from the first start' "export S3FED_TOKEN=$TOKEN"
substitute 'export S3FED_API=http://127.0.0.1:9001 S3=http://127.0.0.1:9000' "export S3FED_API=$API S3=$S3"
# `CMD   # fails: CODE` must fail and say CODE.
perl -pi -e 's/^(.*\S)\s+# fails: (\S+)$/if ( $1 ) >readme-fail.out 2>&1; then echo "readme: expected $2 from: $1" >&2; exit 1; fi; grep -q "$2" readme-fail.out || { cat readme-fail.out >&2; exit 1; }; echo "refused as the README says: $2"/' "$WORK/walkthrough.sh"
[ "$(grep -c '# fails:' "$WORK/walkthrough.sh" || true)" = 0 ] || { echo "readme: a '# fails:' line was not understood" >&2; exit 1; }

mkdir "$WORK/run"
cp README.md "$WORK/run/"
cd "$WORK/run"
# A clean environment: nothing of the caller's AWS or S3FED settings leaks in.
env -i PATH="/usr/bin:/bin:/usr/local/bin" HOME="$WORK/run" bash -euo pipefail "$WORK/walkthrough.sh" >"$WORK/transcript" 2>&1 || {
	echo "readme: the walkthrough failed; transcript:" >&2; cat "$WORK/transcript" >&2
	echo "server log:" >&2; tail -20 "$WORK/serve.log" >&2; exit 1
}
for want in "presigned GET: same bytes" "refused as the README says: replayed_assertion" \
	"refused as the README says: InvalidAccessKeyId" "\"AccessKeyId\"" ; do
	grep -qF "$want" "$WORK/transcript" || { echo "readme: transcript lacks '$want'" >&2; cat "$WORK/transcript" >&2; exit 1; }
done
echo "readme: the walkthrough ran as written against API $API, S3 $S3"
