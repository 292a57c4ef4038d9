#!/usr/bin/env bash
# Runs every test: unit and conformance tests (swift test, which also starts
# the real server for the API tests), the curl walk-through, the HTTP fuzz
# script and the headless-browser test of the visualizer.
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH=/opt/swift/usr/bin:$PATH
status=0
step() { echo; echo "== $*"; }

step "swift build"
swift build 2>&1 | tail -n 3 || exit 1

step "swift test"
swift test 2>&1 | tee /tmp/mmsim-swift-test.log | grep -vE '^(\[|Test Case .* (started|passed))' | tail -n 40
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1

step "e2e (README walk-through)"
scripts/e2e.sh .build/debug/mmsim || status=1

if [ -f scripts/fuzz_http.py ]; then
  step "HTTP fuzz"
  python3 scripts/fuzz_http.py --bin .build/debug/mmsim || status=1
fi

if [ -f scripts/browser_test.py ] && command -v chromium >/dev/null 2>&1; then
  step "browser test"
  python3 scripts/browser_test.py .build/debug/mmsim || status=1
elif [ -f scripts/browser_test.py ]; then
  echo "browser test: FAILED (chromium is not installed; .ci/run installs it)"; status=1
fi

echo
[ $status -eq 0 ] && echo "all test suites passed" || echo "some test suites FAILED"
exit $status
