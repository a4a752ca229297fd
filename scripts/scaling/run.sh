#!/usr/bin/env bash
# scripts/scaling/run.sh — thread-scaling sweep of taskforge vs its peers, for the binary dirs .device-kit/base and
# .device-kit/new (whichever exist), interleaved per thread count (base then new at 1 thread, then at 2, ...).
#
#   bash scripts/scaling/run.sh          (from the repo root; results under $OUT, else .device-kit/out)
#
# Per thread count T (TASKFORGE_BENCH_THREADS=T sets every contender's threads, bench/settings.hpp) and binary dir,
# four taskforge_bench(_nofig) processes (groups join, fib, spawn, sum; a crash or hang loses one group only):
#   join                     W2_join_fib30 + W3_join_tree20 {taskforge,oneTBB}/T   (join / parallel_invoke)
#   fib                      W2_fib30 {taskforge,oneTBB,OpenMP}/T                  (spawn/get, task_group, omp task)
#   spawn                    W1_external_spawn {taskforge,oneTBB,OpenMP}           (1M spawns from outside)
#   sum                      L1_sum10M taskforge(default partition, same_total 0/1), oneTBB, OpenMP  (10^7 reduce)
#                            (at T=1 fib and sum also run the serial floors W2_fib30/serial, L1_sum10M/serial)
#   taskforge_fan_out        W7, default and --same-total, --rounds=$KIT_FAN_ROUNDS
# and first, once (it sweeps 1,2,4,.. up to the cores itself): rayon_join_bench (W2/W3 join with Rayon), if built.
# Outputs (4 files): $OUT/log.txt, $OUT/scaling-<dir>.tar.gz (JSON + console text + manifest.tsv per dir),
# $OUT/summary.txt (summarize.py, where python3 exists).
# Knobs (env): KIT_THREADS ("1 2 4 8 16"), KIT_REPS (3), KIT_MIN_TIME (0.1, seconds; Google Benchmark 1.7.1 syntax),
#   KIT_FAN_ROUNDS (1000), KIT_DEADLINE (330 s: no new run starts after it), KIT_RUN_TIMEOUT (90 s per process),
#   KIT_DIRS ("base new"), KIT_EXTRA_FILTER (a regex run as a fifth group, "extra", e.g. 'worker_spawn/taskforge').
set -u
set -o pipefail

SCRIPTS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
KIT=$(mkdir -p "${KIT_DIR:-.device-kit}" && cd "${KIT_DIR:-.device-kit}" && pwd)  # binaries and libraries (ignored by git)
OUT=${OUT:-$KIT/out}
mkdir -p "$OUT"
LOG=$OUT/log.txt
: >"$LOG"
THREADS=${KIT_THREADS:-1 2 4 8 16}
REPS=${KIT_REPS:-3}
MIN_TIME=${KIT_MIN_TIME:-0.1}
FAN_ROUNDS=${KIT_FAN_ROUNDS:-1000}
DEADLINE=${KIT_DEADLINE:-330}
RUN_TIMEOUT=${KIT_RUN_TIMEOUT:-90}
LOADER=("$KIT/lib/ld-linux-x86-64.so.2" --library-path "$KIT/lib")
WORK=$(mktemp -d /tmp/tf-kit-run.XXXXXX)
SECONDS=0

log() { printf '[%s +%4ds] %s\n' "$(date -u +%H:%M:%S)" "$SECONDS" "$*" | tee -a "$LOG"; }

dirs=()
for d in ${KIT_DIRS:-base new}; do
    if [[ -x $KIT/$d/taskforge_bench ]]; then dirs+=("$d"); mkdir -p "$WORK/scaling-$d"; fi
done

finish() {
    for d in "${dirs[@]}"; do
        cp -f "$LOG" "$WORK/scaling-$d/log.txt" 2>/dev/null
        tar -C "$WORK" -czf "$OUT/scaling-$d.tar.gz" "scaling-$d" && log "wrote $OUT/scaling-$d.tar.gz"
    done
    if command -v python3 >/dev/null && [[ -f $SCRIPTS/summarize.py ]] && ((${#dirs[@]})); then
        python3 "$SCRIPTS/summarize.py" "$WORK"/scaling-* >"$OUT/summary.txt" 2>&1 &&
            log "wrote $OUT/summary.txt" || log "summarize.py failed (see $OUT/summary.txt)"
    fi
    log "total ${SECONDS}s"
    rm -rf "$WORK"
}
trap finish EXIT

log "taskforge device kit: dirs: ${dirs[*]:-none}; threads: $THREADS; reps $REPS; min_time ${MIN_TIME}s; fan-out rounds $FAN_ROUNDS; deadline ${DEADLINE}s"
((${#dirs[@]})) || { log "ERROR: no .device-kit/base or .device-kit/new with taskforge_bench"; exit 1; }
log "nproc: $(nproc)"
{
    lscpu | head -20
    uname -a
    for d in "${dirs[@]}"; do [[ -f $KIT/$d/BUILD-INFO.txt ]] && sed "s/^/$d: /" "$KIT/$d/BUILD-INFO.txt" | head -4; done
    "${LOADER[0]}" --version | head -1
} 2>&1 | tee -a "$LOG"

# run <dir> <label> <binary> [args...]: one binary run, under a timeout, console text to <label>.txt; the outcome
# is logged and recorded in manifest.tsv; a crash or a timeout never stops the sweep.
run() {
    local d=$1 label=$2 bin=$3
    shift 3
    local dest=$WORK/scaling-$d
    if ((SECONDS >= DEADLINE)); then
        log "SKIP  $d $label (deadline ${DEADLINE}s passed)"
        printf '%s\t%s\tskipped\t0\n' "$label" "$bin" >>"$dest/manifest.tsv"
        return
    fi
    local start=$SECONDS rc
    timeout -k 5 "$RUN_TIMEOUT" "${LOADER[@]}" "$KIT/$d/$bin" "$@" >"$dest/$label.txt" 2>&1
    rc=$?
    printf '%s\t%s\t%s\t%s\n' "$label" "$bin" "$rc" "$((SECONDS - start))" >>"$dest/manifest.tsv"
    if ((rc == 0)); then
        log "ok    $d $label ($((SECONDS - start))s)"
    else
        log "FAIL  $d $label rc=$rc ($((SECONDS - start))s)$( ((rc == 124 || rc == 137)) && echo ' TIMEOUT'); last lines:"
        tail -5 "$dest/$label.txt" | sed -e 's/\x1b\[[0-9;]*m//g' -e 's/^/        /' | tee -a "$LOG"
    fi
}

# Rayon (a peer for join; independent of taskforge's tree): once, from the first dir that has it.
for d in "${dirs[@]}"; do
    if [[ -x $KIT/$d/rayon_join_bench ]]; then
        run "$d" rayon rayon_join_bench
        sed 's/^/        /' "$WORK/scaling-$d/rayon.txt" | tee -a "$LOG"
        break
    fi
done

for T in $THREADS; do
    # Four groups, one process each, so that a crash or a hang loses one group only.
    groups=(
        "join:W2_join_fib30/(taskforge|oneTBB)/$T|W3_join_tree20/(taskforge|oneTBB)/$T"
        "fib:W2_fib30/(taskforge|oneTBB|OpenMP)/$T$([[ $T == 1 ]] && echo '|W2_fib30/serial')"
        "spawn:W1_external_spawn/(taskforge|oneTBB|OpenMP)"
        "sum:L1_sum10M/(taskforge/n:10000000/min_chunk:0/same_total:[01]|oneTBB/10000000|OpenMP/10000000$([[ $T == 1 ]] && echo '|serial/10000000'))"
    )
    [[ -n ${KIT_EXTRA_FILTER:-} ]] && groups+=("extra:$KIT_EXTRA_FILTER")
    for d in "${dirs[@]}"; do
        bench=taskforge_bench
        [[ -x $KIT/$d/taskforge_bench_nofig ]] && bench=taskforge_bench_nofig
        export TASKFORGE_BENCH_THREADS=$T TASKFORGE_BENCH_REPETITIONS=$REPS
        for group in "${groups[@]}"; do
            g=${group%%:*}
            run "$d" "bench-$g-t$T" "$bench" --benchmark_filter="^(${group#*:})(/|$)" --benchmark_min_time="$MIN_TIME" \
                --benchmark_out="$WORK/scaling-$d/bench-$g-t$T.json" --benchmark_out_format=json
            # The medians, for the log.
            [[ -f $WORK/scaling-$d/bench-$g-t$T.txt ]] || continue
            sed 's/\x1b\[[0-9;]*m//g' "$WORK/scaling-$d/bench-$g-t$T.txt" | grep -E '_median' |
                sed -e 's|/repeats:[0-9]*||' -e 's|/real_time||' | awk '{printf "        %-72s %10s %s\n", $1, $2, $3}' |
                tee -a "$LOG"
        done
        run "$d" "fan_out-t$T" taskforge_fan_out --rounds="$FAN_ROUNDS"
        run "$d" "fan_out_same_total-t$T" taskforge_fan_out --rounds="$FAN_ROUNDS" --same-total
        unset TASKFORGE_BENCH_THREADS TASKFORGE_BENCH_REPETITIONS
    done
done
