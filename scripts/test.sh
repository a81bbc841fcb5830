#!/usr/bin/env bash
# The one test command (see README): installs what the tests need, then runs
# vet, the race-enabled test suite and short fuzz runs.
set -euo pipefail
cd "$(dirname "$0")/.."

# Each scripts/deps/*.sh installs one external dependency of the tests
# (slapd, node packages…). They are idempotent.
for f in scripts/deps/*.sh; do
  [ -e "$f" ] || continue
  echo "== deps: $f"
  bash "$f"
done

echo "== go vet"
go vet ./...

echo "== go test"
go test -race -count=1 -timeout 20m ./...

echo "== fuzz (short)"
for spec in $(cat scripts/fuzz-targets.txt 2>/dev/null | grep -v '^#' || true); do
  IFS=: read -r pkg target budget <<<"$spec"
  echo "-- $pkg $target $budget"
  go test -run '^$' -fuzz "^${target}\$" -fuzztime "${budget:-10000x}" "$pkg"
done
