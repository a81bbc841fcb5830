#!/usr/bin/env bash
# Installs OpenLDAP's slapd and the ldap-utils client tools, which the tests
# of package ldap start privately (ldap/ldaptest). Idempotent: does nothing
# when slapd, slapadd and ldapsearch are already on PATH (or in /usr/sbin).
# Installing needs root (it does in CI).
set -euo pipefail
export PATH="$PATH:/usr/sbin:/sbin"
if command -v slapd >/dev/null && command -v slapadd >/dev/null && command -v ldapsearch >/dev/null; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "slapd.sh: slapd/ldap-utils missing and not root; install them with: apt-get install slapd ldap-utils" >&2
  exit 1
fi
apt-get update
DEBIAN_FRONTEND=noninteractive apt-get install -y slapd ldap-utils
