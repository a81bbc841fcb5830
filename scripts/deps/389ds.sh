#!/usr/bin/env bash
# Installs 389 Directory Server (Debian's 389-ds-base: ns-slapd, and
# dscreate from python3-lib389), which the tests of package ldap start
# privately under a temporary PREFIX (ldap/ldaptest/ds389.go), plus the
# ldap-utils client tools. Idempotent: does nothing when dscreate, ns-slapd
# and ldapmodify are already there. Installing needs root (it does in CI).
set -euo pipefail
export PATH="$PATH:/usr/sbin:/sbin"
if command -v dscreate >/dev/null && command -v ns-slapd >/dev/null && command -v ldapmodify >/dev/null &&
  [ -f /usr/share/dirsrv/inf/defaults.inf ]; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "389ds.sh: 389-ds-base/ldap-utils missing and not root; install them with: apt-get install 389-ds-base ldap-utils" >&2
  exit 1
fi
apt-get update
DEBIAN_FRONTEND=noninteractive apt-get install -y 389-ds-base ldap-utils
