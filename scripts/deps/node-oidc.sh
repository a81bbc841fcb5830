#!/usr/bin/env bash
# Installs the npm packages of oidc/'s relying-party tests (openid-client)
# from the committed package-lock.json. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/../../oidc/testdata/node"
if ! command -v npm >/dev/null; then
  echo "node-oidc: npm not found; oidc's node tests will skip (or fail when CI is set)" >&2
  exit 0
fi
npm ci --no-audit --no-fund --loglevel=error
