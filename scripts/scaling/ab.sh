#!/usr/bin/env bash
# (Copy of the device kit: binaries land in .device-kit/, which .gitignore lists; run from the repository root.)
# A/B of base vs new on the hot paths priorities must not slow (issue 17: W1 and fib within 2 %), interleaved:
# for each thread count, 4 rounds of (base, new) or (new, base), each a fresh process.
set -u
SCRIPTS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
KIT=$(mkdir -p "${KIT_DIR:-.device-kit}" && cd "${KIT_DIR:-.device-kit}" && pwd)  # binaries and libraries (ignored by git)
OUT=${OUT:-$KIT/out}
mkdir -p "$OUT"
L=("$KIT/lib/ld-linux-x86-64.so.2" --library-path "$KIT/lib")
FILTER='^(W2_fib30/taskforge|W2_join_fib30/taskforge|W3_join_tree20/taskforge|W1_external_spawn/taskforge)(/|$)'
SECONDS=0
echo "nproc $(nproc)" | tee "$OUT/ab.txt"
for T in ${AB_THREADS:-1 2 4 16}; do
  for round in 1 2 3 4; do
    order="base new"; ((round % 2 == 0)) && order="new base"
    for d in $order; do
      ((SECONDS > ${AB_DEADLINE:-300})) && break 3
      TASKFORGE_BENCH_THREADS=$T TASKFORGE_BENCH_REPETITIONS=5 timeout 60 "${L[@]}" "$KIT/$d/taskforge_bench_nofig" \
        --benchmark_filter="$FILTER" --benchmark_min_time=0.2 2>&1 | sed 's/\x1b\[[0-9;]*m//g' | grep '_median' |
        awk -v d=$d -v t=$T -v r=$round '{print d, t, r, $1, $2, $3}' | tee -a "$OUT/ab.txt"
    done
  done
done
echo "total ${SECONDS}s" | tee -a "$OUT/ab.txt"
