#!/usr/bin/env bash
# Benchmarks of the simulation core (release build); prints a markdown table
# that docs/BENCHMARKS.md records. HTTP load benchmarks: scripts/bench_http.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/opt/swift/usr/bin:$PATH
swift build -c release --product mmsim-bench --scratch-path .build-release >/dev/null
.build-release/release/mmsim-bench
