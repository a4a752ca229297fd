#!/usr/bin/env bash
# Builds and runs every test: g++ 12 and clang 14 (debug; unit, stress, Relacy model checks with their
# expected-failure builds, the deque fuzzer, header compile checks, consumer projects, examples), then the whole
# suite under ThreadSanitizer and under AddressSanitizer + UndefinedBehaviorSanitizer + LeakSanitizer, then
# valgrind memcheck on the examples. Exits non-zero on the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
jobs=$(nproc)
for preset in debug clang tsan asan; do
  echo "=== taskforge: ${preset} ==="
  start=$(date +%s)
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset" -j "$jobs"
  ctest --preset "$preset" -j "$jobs"
  echo "=== ${preset}: $(( $(date +%s) - start )) s ==="
done
echo "=== valgrind memcheck on the examples ==="
for example in quickstart fib parallel_sum; do
  valgrind --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite,indirect -q \
    "build/debug/examples/example_${example}" >/dev/null
done
echo "=== taskforge: every test passed ==="
