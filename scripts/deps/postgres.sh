#!/usr/bin/env bash
# Installs PostgreSQL's server binaries (initdb, postgres), which the tests
# of package store/postgres start privately (store/postgres/pgtest: a
# temporary cluster on 127.0.0.1, run as nobody when the tests run as root).
# Idempotent: does nothing when initdb and postgres are already there. No
# service is started (policy-rc.d refuses it while installing). Installing
# needs root (it does in CI).
set -euo pipefail
for d in /usr/lib/postgresql/*/bin; do
  if [ -x "$d/initdb" ] && [ -x "$d/postgres" ]; then
    exit 0
  fi
done
if command -v initdb >/dev/null && command -v postgres >/dev/null; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "postgres.sh: PostgreSQL missing and not root; install it with: apt-get install postgresql" >&2
  exit 1
fi
# Keep the package from starting (and enabling) its own cluster service.
. "$(dirname "${BASH_SOURCE[0]}")/../lib/apt-quiet.sh"
apt_install_no_services --no-install-recommends postgresql
