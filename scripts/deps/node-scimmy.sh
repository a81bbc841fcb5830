#!/usr/bin/env bash
# Installs the npm packages of outbound/'s SCIM push test against an
# independent SCIM service provider (scimmy, scimmy-routers, express) from
# the committed package-lock.json. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/../../outbound/testdata/scimmy"
if ! command -v npm >/dev/null; then
  echo "node-scimmy: npm not found; outbound's scimmy test will skip (or fail when CI is set)" >&2
  exit 0
fi
npm ci --no-audit --no-fund --loglevel=error
