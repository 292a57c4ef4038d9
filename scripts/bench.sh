#!/usr/bin/env bash
# Benchmarks of the simulation core (release build). Prints a markdown table
# and records it in docs/BENCHMARKS.md between the bench_core markers
# (WRITE_DOC=0 to only print). HTTP load benchmarks: scripts/bench_http.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/opt/swift/usr/bin:$PATH
swift build -c release --product mmsim-bench --scratch-path .build-release >/dev/null
OUT=$(.build-release/release/mmsim-bench)
echo "$OUT"
if [ "${WRITE_DOC:-1}" = 1 ]; then
  python3 - "$OUT" <<'PY'
import re, sys
p = "docs/BENCHMARKS.md"
s = open(p).read()
block = "<!-- bench_core:begin -->\n" + sys.argv[1].strip() + "\n<!-- bench_core:end -->"
s = re.sub(r"<!-- bench_core:begin -->.*?<!-- bench_core:end -->", lambda m: block, s, flags=re.S)
open(p, "w").write(s)
PY
fi
