#!/usr/bin/env bash
# Makes a checkout runnable: installs npm dependencies when they are missing or stale, then builds
# (TypeScript → dist/, plus the prebuilt workflow bundle). Idempotent and quick when nothing changed.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

say() { printf 'ars: %s\n' "$*" >&2; }

major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$major" -lt 20 ]; then
  say "error: Node.js 20 or newer is required (found $(node --version 2>/dev/null || echo none)); install it and rerun"
  exit 1
fi

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing npm dependencies"
  # `npm install` honours package-lock.json. (`npm ci` refuses lock files that leave out other
  # platforms' optional binaries, which some npm configurations write.)
  npm install --no-audit --no-fund --loglevel=error
fi

say "building"
npm run --silent build
