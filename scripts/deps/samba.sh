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
# policy-rc.d exit 101 = "action forbidden": invoke-rc.d starts no service.
own_policy=
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
  chmod 755 /usr/sbin/policy-rc.d
  own_policy=1
fi
cleanup() { if [ -n "$own_policy" ]; then rm -f /usr/sbin/policy-rc.d; fi; }
trap cleanup EXIT
apt-get update
DEBIAN_FRONTEND=noninteractive apt-get install -y samba samba-ad-dc samba-ad-provision samba-dsdb-modules
if pgrep -x samba >/dev/null || pgrep -x smbd >/dev/null || pgrep -x nmbd >/dev/null; then
  echo "samba.sh: the install started a system samba daemon; stop it before running the tests" >&2
  exit 1
fi
