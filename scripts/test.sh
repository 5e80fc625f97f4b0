#!/usr/bin/env bash
# The test command behind `npm test`: prepares the checkout, starts the real services (Temporal,
# Redis, Docker, the sandbox image) and runs every test with Node's test runner on the compiled
# output. `scripts/test.sh unit` runs only the unit tests, which need no services.
#   ARS_TEST_FILTER=<substring>  runs only the test files whose path contains it
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
suite=${1:-all}

bash scripts/prepare.sh

case "$suite" in
unit) dirs=(dist/test/unit dist/test/conformance) ;;
all)
  bash scripts/services.sh up
  dirs=(dist/test/unit dist/test/conformance dist/test/integration dist/test/e2e dist/test/fault)
  ;;
*)
  echo "unknown suite '$suite'; use unit or all" >&2
  exit 2
  ;;
esac

mapfile -t files < <(find "${dirs[@]}" -name '*.test.js' 2>/dev/null | sort | grep -F -- "${ARS_TEST_FILTER:-}")
if [ ${#files[@]} -eq 0 ]; then
  echo "no test files found under ${dirs[*]}" >&2
  exit 1
fi
# a test that hangs fails after 10 minutes instead of holding the run until CI kills it
exec node --enable-source-maps --unhandled-rejections=strict --test --test-concurrency=1 --test-timeout=600000 "${files[@]}"
