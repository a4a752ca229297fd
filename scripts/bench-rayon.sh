#!/usr/bin/env bash
# Same-session comparison of taskforge::join with Rayon's join (issue 10): fib(30) and the depth-20 tree, every
# call forks. Builds bench/rayon against Debian's librust-rayon-dev (offline) and the release benchmarks, then runs
# them alternately, three rounds. Needs cargo/rustc (Debian: `apt-get install cargo`).
set -euo pipefail
cd "$(dirname "$0")/.."
apt-get install -y --no-install-recommends librust-rayon-dev >/dev/null
(cd bench/rayon && cargo build --release --quiet)
cmake --workflow --preset release >/dev/null
for round in 1 2 3; do
  echo "== round $round"
  build/release/bench/taskforge_bench --benchmark_filter='W2_fib30/serial|W2_join_fib30/taskforge|W3_join_tree20/taskforge' \
    --benchmark_repetitions=5 --benchmark_report_aggregates_only=true 2>&1 | grep median
  bench/rayon/target/release/rayon_join_bench
done
