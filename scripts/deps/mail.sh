#!/usr/bin/env bash
# Installs Mailpit, the SMTP server the mail tests deliver to (mail/*_test.go
# start it on 127.0.0.1 and read what arrived through its HTTP API).
# Debian has no package for it, so it is built from its Go module at a
# pinned version. Idempotent: does nothing when mailpit is on PATH or in
# $(go env GOPATH)/bin.
set -euo pipefail
version=v1.33.1
if command -v mailpit >/dev/null || [ -x "$(go env GOPATH)/bin/mailpit" ]; then
  exit 0
fi
echo "mail.sh: installing mailpit $version into $(go env GOPATH)/bin"
GOFLAGS=-buildvcs=false go install "github.com/axllent/mailpit@${version}"
