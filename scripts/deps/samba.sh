#!/usr/bin/env bash
# Installs a Samba Active Directory domain controller, which the AD tests of
# package ldap provision and start privately (ldap/ldaptest/samba.go).
# Idempotent: does nothing when samba and samba-tool are already on PATH (or
# in /usr/sbin). Installing needs root (it does in CI).
#
# The packages are installed without starting anything: a policy-rc.d that
# refuses every start keeps a system samba from taking ports 389/636, which
# the tests' own DC needs (there is no systemd here either), and any samba
# daemon left running by the install is reported as an error.
set -euo pipefail
export PATH="$PATH:/usr/sbin:/sbin"
if command -v samba >/dev/null && command -v samba-tool >/dev/null; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "samba.sh: samba missing and not root; install it with: apt-get install samba samba-ad-dc samba-ad-provision samba-dsdb-modules" >&2
  exit 1
fi
. "$(dirname "${BASH_SOURCE[0]}")/../lib/apt-quiet.sh"
apt_install_no_services samba samba-ad-dc samba-ad-provision samba-dsdb-modules
if pgrep -x samba >/dev/null || pgrep -x smbd >/dev/null || pgrep -x nmbd >/dev/null; then
  echo "samba.sh: the install started a system samba daemon; stop it before running the tests" >&2
  exit 1
fi
