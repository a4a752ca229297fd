// bench/loop_bench.cpp — the parallel loops (issue 12) beside oneTBB's parallel_for/parallel_reduce and OpenMP's
// `parallel for` / `reduction`, same thread count (bench_threads()), all called from the benchmark's main thread:
//   L1_sum10M      sum of a cheap f(i) over 10^7 indices; taskforge with the default (adaptive) partition and with
//                  hand-picked min_chunk values, so "automatic vs best hand-picked" reads off one run;
//   L2_sum1000     the same over 1,000 indices: the cost of a small loop (serial is the floor);
//   L3_triangle    an imbalanced loop: iteration i costs ~i units; `efficiency` = serial / (threads x parallel);
//   L4_empty1M     10^6 empty iterations: ns per iteration is the loop's own overhead.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <taskforge/taskforge.hpp>

#include "settings.hpp"

#if defined(TASKFORGE_BENCH_HAVE_TBB)
#include <oneapi/tbb/blocked_range.h>
#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/parallel_reduce.h>
#include <oneapi/tbb/task_arena.h>
#endif
#if defined(_OPENMP)
#include <omp.h>
#endif

namespace bench {
namespace {

constexpr std::int64_t big = 10'000'000;
constexpr std::int64_t small = 1'000;
constexpr std::int64_t triangle = 20'000;  // 2 * 10^8 units in all
constexpr std::int64_t empty = 1'000'000;

// Cheap, not foldable into a closed form by the compiler.
inline std::uint64_t cheap(std::int64_t i) {
    auto x = static_cast<std::uint64_t>(i);
    x ^= x >> 7;
    return x * 0x9E3779B97F4A7C15ull >> 40;
}

// What the contenders call: a lambda, as users write it (a function pointer would cost an indirect call each).
constexpr auto cheap_body = [](std::int64_t i) { return cheap(i); };

// About `units` dependent multiply-adds.
inline std::uint64_t work(std::int64_t units) {
    std::uint64_t x = static_cast<std::uint64_t>(units) | 1;
    for (std::int64_t i = 0; i < units; ++i) x = x * 6364136223846793005ull + 1442695040888963407ull;
    return x;
}

constexpr auto work_body = [](std::int64_t units) { return work(units); };

std::uint64_t serial_sum(std::int64_t n) {
    std::uint64_t total = 0;
    for (std::int64_t i = 0; i < n; ++i) total += cheap(i);
    return total;
}

std::uint64_t serial_triangle() {
    std::uint64_t total = 0;
    for (std::int64_t i = 0; i < triangle; ++i) total += work(i);
    return total;
}

// --- serial floors --------------------------------------------------------------------------------------------

void serial_sum_bench(benchmark::State& state) {
    for (auto _ : state) benchmark::DoNotOptimize(serial_sum(state.range(0)));
    state.SetItemsProcessed(state.range(0) * state.iterations());
}

void serial_triangle_bench(benchmark::State& state) {
    for (auto _ : state) benchmark::DoNotOptimize(serial_triangle());
}

// --- taskforge --------------------------------------------------------------------------------------------------

// Args: n, min_chunk (0: the default partition), same_total (1: a pool of bench_threads() - 1 workers, so that with
// the helping caller as many threads run the loop as oneTBB's arena and OpenMP's team have).
void taskforge_sum(benchmark::State& state) {
    const auto workers = static_cast<std::size_t>(std::max(1, bench_threads() - static_cast<int>(state.range(2))));
    taskforge::scheduler pool{taskforge::options{.threads = workers}};
    const std::int64_t n = state.range(0);
    const auto chunk = static_cast<std::size_t>(state.range(1));
    const std::uint64_t expected = serial_sum(n);
    for (auto _ : state) {
        const std::uint64_t total =
            chunk == 0
                ? taskforge::parallel_reduce(pool, std::int64_t{0}, n, std::uint64_t{0}, std::plus<>{}, cheap_body)
                : taskforge::parallel_reduce(pool, std::int64_t{0}, n, std::uint64_t{0}, std::plus<>{}, cheap_body,
                                             taskforge::min_chunk{chunk});
        if (total != expected) state.SkipWithError("wrong sum");
    }
    state.SetItemsProcessed(n * state.iterations());
}

// L2 from a worker (a loop nested in a task): 100 loops per benchmark iteration, so one spawn/get is amortised.
void taskforge_sum_in_worker(benchmark::State& state) {
    taskforge::scheduler pool{taskforge::options{.threads = static_cast<std::size_t>(bench_threads())}};
    constexpr int loops = 100;
    const std::uint64_t expected = serial_sum(small) * loops;
    for (auto _ : state) {
        const std::uint64_t total = pool.spawn([] {
                                            std::uint64_t sum = 0;
                                            for (int loop = 0; loop < loops; ++loop) {
                                                sum +=
                                                    taskforge::parallel_reduce(std::int64_t{0}, small, std::uint64_t{0},
                                                                               std::plus<>{}, cheap_body);
                                            }
                                            return sum;
                                        })
                                        .get();
        if (total != expected) state.SkipWithError("wrong sum");
    }
    state.SetItemsProcessed(small * loops * state.iterations());
    state.counters["us_per_loop"] =
        benchmark::Counter(static_cast<double>(loops) * static_cast<double>(state.iterations()),
                           benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

void taskforge_triangle(benchmark::State& state) {
    taskforge::scheduler pool{taskforge::options{.threads = static_cast<std::size_t>(bench_threads())}};
    const std::uint64_t expected = serial_triangle();
    for (auto _ : state) {
        if (taskforge::parallel_reduce(pool, std::int64_t{0}, triangle, std::uint64_t{0}, std::plus<>{}, work_body) !=
            expected) {
            state.SkipWithError("wrong sum");
        }
    }
}

void taskforge_empty(benchmark::State& state) {
    taskforge::scheduler pool{taskforge::options{.threads = static_cast<std::size_t>(bench_threads())}};
    for (auto _ : state) {
        taskforge::parallel_for(pool, std::int64_t{0}, empty, [](std::int64_t i) { benchmark::DoNotOptimize(i); });
    }
    state.SetItemsProcessed(empty * state.iterations());
}

// --- oneTBB: default (auto) partitioner, in an arena of bench_threads() -----------------------------------------
#if defined(TASKFORGE_BENCH_HAVE_TBB)
template <class F>
std::uint64_t tbb_reduce(std::int64_t n, F f) {
    return tbb::parallel_reduce(
        tbb::blocked_range<std::int64_t>(0, n), std::uint64_t{0},
        [f](const tbb::blocked_range<std::int64_t>& range, std::uint64_t total) {
            for (std::int64_t i = range.begin(); i < range.end(); ++i) total += f(i);
            return total;
        },
        std::plus<>{});
}

void tbb_sum(benchmark::State& state) {
    tbb::task_arena arena(bench_threads());
    const std::int64_t n = state.range(0);
    const std::uint64_t expected = serial_sum(n);
    for (auto _ : state) {
        std::uint64_t total = 0;
        arena.execute([&] { total = tbb_reduce(n, cheap_body); });
        if (total != expected) state.SkipWithError("wrong sum");
    }
    state.SetItemsProcessed(n * state.iterations());
}

void tbb_triangle(benchmark::State& state) {
    tbb::task_arena arena(bench_threads());
    const std::uint64_t expected = serial_triangle();
    for (auto _ : state) {
        std::uint64_t total = 0;
        arena.execute([&] { total = tbb_reduce(triangle, work_body); });
        if (total != expected) state.SkipWithError("wrong sum");
    }
}

void tbb_empty(benchmark::State& state) {
    tbb::task_arena arena(bench_threads());
    for (auto _ : state) {
        arena.execute(
            [] { tbb::parallel_for(std::int64_t{0}, empty, [](std::int64_t i) { benchmark::DoNotOptimize(i); }); });
    }
    state.SetItemsProcessed(empty * state.iterations());
}
#endif

// --- OpenMP: `parallel for`, static schedule for the uniform loops, dynamic for the imbalanced one -------------
#if defined(_OPENMP)
void omp_sum(benchmark::State& state) {
    const std::int64_t n = state.range(0);
    const std::uint64_t expected = serial_sum(n);
    const int threads = bench_threads();
    for (auto _ : state) {
        std::uint64_t total = 0;
#pragma omp parallel for num_threads(threads) reduction(+ : total) schedule(static)
        for (std::int64_t i = 0; i < n; ++i) total += cheap(i);
        if (total != expected) state.SkipWithError("wrong sum");
    }
    state.SetItemsProcessed(n * state.iterations());
}

void omp_triangle(benchmark::State& state) {
    const std::uint64_t expected = serial_triangle();
    const int threads = bench_threads();
    for (auto _ : state) {
        std::uint64_t total = 0;
#pragma omp parallel for num_threads(threads) reduction(+ : total) schedule(dynamic, 64)
        for (std::int64_t i = 0; i < triangle; ++i) total += work(i);
        if (total != expected) state.SkipWithError("wrong sum");
    }
}

void omp_empty(benchmark::State& state) {
    const int threads = bench_threads();
    for (auto _ : state) {
#pragma omp parallel for num_threads(threads) schedule(static)
        for (std::int64_t i = 0; i < empty; ++i) benchmark::DoNotOptimize(i);
    }
    state.SetItemsProcessed(empty * state.iterations());
}
#endif

benchmark::internal::Benchmark* settle(benchmark::internal::Benchmark* bm) {
    return bm->UseRealTime()->Unit(benchmark::kMicrosecond)->Repetitions(repetitions())->ReportAggregatesOnly(true);
}

}  // namespace

void register_loop_benchmarks() {
    settle(benchmark::RegisterBenchmark("L1_sum10M/serial", &serial_sum_bench))->Arg(big);
    settle(benchmark::RegisterBenchmark("L1_sum10M/taskforge", &taskforge_sum))
        ->Args({big, 0, 0})
        ->Args({big, 1024, 0})
        ->Args({big, 16384, 0})
        ->Args({big, 262144, 0})
        ->Args({big, 0, 1})
        ->ArgNames({"n", "min_chunk", "same_total"});
    settle(benchmark::RegisterBenchmark("L2_sum1000/serial", &serial_sum_bench))->Arg(small);
    settle(benchmark::RegisterBenchmark("L2_sum1000/taskforge", &taskforge_sum))->Args({small, 0, 0});
    settle(benchmark::RegisterBenchmark("L2_sum1000/taskforge_in_worker_x100", &taskforge_sum_in_worker));
    settle(benchmark::RegisterBenchmark("L3_triangle/serial", &serial_triangle_bench));
    settle(benchmark::RegisterBenchmark("L3_triangle/taskforge", &taskforge_triangle));
    settle(benchmark::RegisterBenchmark("L4_empty1M/taskforge", &taskforge_empty));
#if defined(TASKFORGE_BENCH_HAVE_TBB)
    settle(benchmark::RegisterBenchmark("L1_sum10M/oneTBB", &tbb_sum))->Arg(big);
    settle(benchmark::RegisterBenchmark("L2_sum1000/oneTBB", &tbb_sum))->Arg(small);
    settle(benchmark::RegisterBenchmark("L3_triangle/oneTBB", &tbb_triangle));
    settle(benchmark::RegisterBenchmark("L4_empty1M/oneTBB", &tbb_empty));
#endif
#if defined(_OPENMP)
    settle(benchmark::RegisterBenchmark("L1_sum10M/OpenMP", &omp_sum))->Arg(big);
    settle(benchmark::RegisterBenchmark("L2_sum1000/OpenMP", &omp_sum))->Arg(small);
    settle(benchmark::RegisterBenchmark("L3_triangle/OpenMP", &omp_triangle));
    settle(benchmark::RegisterBenchmark("L4_empty1M/OpenMP", &omp_empty));
#endif
}

}  // namespace bench
