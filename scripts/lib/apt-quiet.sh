# Sourced by scripts/deps/*.sh (not run on its own).
#
# apt_install_no_services ARGS… runs apt-get update, then apt-get install -y
# ARGS… with a policy-rc.d that refuses every start (exit 101, "action
# forbidden"), so that no package starts or enables a system service of its
# own: the tests start their servers privately. A policy-rc.d already there
# is left as it was; the one this puts there is removed afterwards.
apt_install_no_services() {
  local own_policy=
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    own_policy=1
  fi
  local rc=0
  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y "$@" || rc=$?
  if [ -n "$own_policy" ]; then
    rm -f /usr/sbin/policy-rc.d
  fi
  return "$rc"
}
