#!/usr/bin/env bash
# Installs Debian's headless-capable Chromium for the portal's browser tests
# (portal/browser_test.go, driven by chromedp). Idempotent: does nothing
# when chromium is already on PATH. Installing needs root (it does in CI).
set -euo pipefail
if command -v chromium >/dev/null || command -v chromium-browser >/dev/null; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "chromium.sh: chromium missing and not root; install it with: apt-get install chromium" >&2
  exit 1
fi
apt-get update
DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium fonts-dejavu-core
