#!/usr/bin/env bash
# check-tidy-test.sh — proves that scripts/check-tidy.sh gives the same answer
# whether or not the module proxy serves a dependency's test-only dependency
# (github.com/google/pprof, imported by modernc.org/sqlite's tests), and that it
# still catches what it is for (an unused require, a stale go.sum line).
#
# It runs the check in a clone of HEAD against two local file:// proxies made
# from this machine's module cache (hard links, so it is cheap): one complete,
# one without pprof. No network is used. Run by scripts/test.
set -euo pipefail
cd "$(dirname "$0")/.."

work=$(mktemp -d)
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
src=$(go env GOMODCACHE)/cache/download
[ -d "$src/github.com/google/pprof" ] || go mod download github.com/google/pprof >/dev/null 2>&1 || true

mkdir -p "$work/full" "$work/nopprof"
cp -al "$src/." "$work/full/"
cp -al "$src/." "$work/nopprof/"
rm -rf "$work/nopprof/github.com/google/pprof"

git clone -q . "$work/src"
# The working tree's go.mod/go.sum and script, so uncommitted edits are tested too.
cp go.mod go.sum "$work/src/"
cp scripts/check-tidy.sh "$work/src/scripts/"

fails=0
run() { # name proxy want-exit
	local got=0
	(cd "$work/src" && GOMODCACHE="$work/cache-$1" GOPROXY="file://$work/$2" GOSUMDB=off GOFLAGS=-mod=mod \
		./scripts/check-tidy.sh >"$work/$1.out" 2>&1) || got=$?
	chmod -R u+w "$work/cache-$1" 2>/dev/null || true
	if [ "$got" != "$3" ]; then
		echo "check-tidy-test: $1: exit $got, want $3"; cat "$work/$1.out"; fails=1
	else
		echo "check-tidy-test: $1: ok (exit $got)"
	fi
}
run served full 0
run refused nopprof 0
(cd "$work/src" && echo 'github.com/example/unused v1.0.0 h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=' >>go.sum)
run stale-sum full 1
(cd "$work/src" && cp "$OLDPWD/go.sum" go.sum && go mod edit -require=github.com/davecgh/go-spew@v1.1.1)
run unused-require full 1
exit $fails
