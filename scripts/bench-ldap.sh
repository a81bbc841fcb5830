#!/usr/bin/env bash
# LDAP sync benchmark (package ldap), one command:
#
#   scripts/bench-ldap.sh                      # 100,000 users, 5,000 groups, 100 changes
#   scripts/bench-ldap.sh -users 20000 -groups 1000 -changes 100 [-pairs 5] [-keep]
#
# Generates the directory as LDIF (ldap/ldaptest.Generate), bulk-loads it
# with `slapadd -q` into a private slapd on 127.0.0.1, and reports in one run:
#   - with the directory warm (one untimed search of everything first),
#     -pairs alternating pairs of a raw paged `ldapsearch -E
#     pr=1000/noprompt` of the same entries with every user attribute
#     (users, then groups) and Roster's full sync into a fresh bbolt store
#     (a child process each time); the MEDIAN of the pairs' ratios (target
#     <= 2x) with the load average before and after,
#   - an incremental sync after 100 changes (target < 1 s),
#   - a full run with nothing to change (read and diff only),
#   - the sync process's peak RSS (VmHWM; target < 400 MiB), overall and
#     after the first full sync,
#   - then the change-to-claim latency (see the block at the end).
# Needs slapd and ldap-utils (scripts/deps/slapd.sh). Heavy: about two
# minutes of both cores; run it alone, and note the load average with the
# figures.
#
# Knobs, from the environment of the sync process:
#   GOMEMLIMIT=256MiB              the soft memory limit recommended for
#                                  large directories (see package ldap doc)
#   LDAPBENCH_BULK=N               Config.BulkBatchSize (default 10000)
#   LDAPBENCH_HUGEHEAP=N           Config.HugePageHeap in bytes (default 320 MiB;
#                                  -1: none)
#   LDAPBENCH_CPUPROFILE=FILE      CPU profile of the last child's three runs;
#                                  FILE.pairN of pair N's fresh full sync
#   LDAPBENCH_VERBOSE=1            the pairs' children log to stderr, and each
#                                  child's user and system CPU and minor faults
#   LDAPBENCH_MEMPROFILE=FILE      heap profile at 90% of the first run's users
#   LDAPBENCH_AB=BINARY            each pair also times BINARY's full sync (an
#                                  ldapbench built from another commit: go build
#                                  -o /tmp/old ./ldap/ldaptest/cmd/ldapbench),
#                                  in alternating order, against the same raw
#                                  search; reported as B
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/sbin:/sbin"
bash scripts/deps/slapd.sh
bin=$(mktemp -d)/ldapbench
trap 'rm -rf "$(dirname "$bin")"' EXIT
go build -o "$bin" ./ldap/ldaptest/cmd/ldapbench
"$bin" "$@"

# --- Change-to-claim latency (cmd/roster BenchmarkChangeToClaim) ---------
# The time from a membership change in the directory to the changed groups
# claim at /userinfo of a running roster, end to end: p50 and p99 of 20
# changes (joins and leaves) for slapd followed with syncrepl, and 389
# Directory Server and Samba AD polled every second. Needs 389-ds-base and
# Samba (scripts/deps/389ds.sh, samba.sh). Skip it with BENCH_CLAIM=0.
if [ "${BENCH_CLAIM:-1}" != 0 ]; then
  bash scripts/deps/389ds.sh
  bash scripts/deps/samba.sh
  echo "== change to claim (load before: $(cut -d' ' -f1-3 /proc/loadavg))"
  go test -run '^$' -bench '^BenchmarkChangeToClaim$' -benchtime=20x ./cmd/roster |
    awk '/^BenchmarkChangeToClaim/ { sub(/-[0-9]+$/, "", $1); sub(/^BenchmarkChangeToClaim\//, "", $1); printf "%-6s p50 %s ms  p99 %s ms\n", $1, $5, $7; next }
         /FAIL|SKIP|skipping/ { print }'
  echo "   (load after: $(cut -d' ' -f1-3 /proc/loadavg))"
fi
