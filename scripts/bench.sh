#!/usr/bin/env bash
# Builds in Release and runs the benchmark binary: W1-W6 for taskforge and the installed peers, the deque
# micro-benchmarks, thread scaling, then the target verdict. Exits non-zero when a target FAILs (--check).
# Extra arguments go to the binary (Google Benchmark flags, e.g. --benchmark_filter=W2).
# Results: build/release/bench.json (Google Benchmark), figures.json (W4-W6), bench.txt (this output), fan_out.txt (W7);
# scripts/charts.py renders them into docs/.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake --workflow --preset release
build/release/bench/taskforge_bench --check --benchmark_out=build/release/bench.json \
  --benchmark_out_format=json --figures_out=build/release/figures.json "$@" 2>&1 | tee build/release/bench.txt
status="${PIPESTATUS[0]}"
# W7: an outside thread's fan-out/fan-in (issue 11), at the pool's size and at oneTBB's thread total.
{ build/release/bench/taskforge_fan_out; build/release/bench/taskforge_fan_out --same-total; } 2>&1 |
  tee build/release/fan_out.txt
exit "$status"
