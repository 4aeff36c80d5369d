#!/usr/bin/env bash
# check-tidy.sh — is go.mod/go.sum tidy, with an answer that does not depend on
# what the Go module proxy happens to serve today?
#
# `go mod tidy` also records checksums for the test-only dependencies of our
# dependencies (modernc.org/sqlite's tests import github.com/google/pprof). The
# proxy has refused such modules on some days and served them on others, so a
# plain `go mod tidy -diff` passes or fails with no change of ours. The rules:
#
#   - go.mod must be exactly what tidy wants. Its require set follows from the
#     packages our build imports, and the build itself needs every one of them,
#     so this part never depends on the day.
#   - go.sum must hold no line tidy would remove, except lines of a module tidy
#     could not load today (it drops those because it could not read them, not
#     because they are unused).
#   - Lines tidy would add to go.sum are not required: a line our build needs is
#     enforced by `go build`/`go test` (-mod=readonly fails on a missing one);
#     any other is a checksum of a dependency's test-only dependency, which the
#     proxy may or may not serve today.
#
# `go mod verify` then checks every downloaded module against go.sum.
set -euo pipefail
cd "$(dirname "$0")/.."

diff=$(mktemp)
errs=$(mktemp)
trap 'rm -f "$diff" "$errs"' EXIT

# -e: carry on past modules the proxy refuses; their names land in $errs.
go mod tidy -e -diff >"$diff" 2>"$errs" || true

problems=$(awk -v errs="$errs" '
	BEGIN {
		# module@version strings tidy reported as unloadable today.
		while ((getline line < errs) > 0) {
			n = split(line, f, /[ :]+/)
			for (i = 1; i <= n; i++) if (f[i] ~ /@v[0-9]/) bad[f[i]] = 1
		}
	}
	/^diff / { file = $2; sub(/^current\//, "", file); next }
	/^(---|\+\+\+|@@)/ { next }
	file == "go.mod" && /^[-+]/ { print "go.mod: " $0; next }
	file == "go.sum" && /^-/ {
		mv = substr($1, 2) "@" $2
		sub(/\/go\.mod$/, "", mv)
		if (!(mv in bad)) print "go.sum: " $0
	}
' "$diff")

if [ -n "$problems" ]; then
	echo "go.mod/go.sum are not tidy (run 'go mod tidy -e' and commit the result):"
	echo "$problems"
	exit 1
fi
go mod verify >/dev/null
echo "go.mod is tidy; go.sum has no unused line; every module verified"
