// bench/join_bench.cpp — fork-join on the caller's stack: W2 (fib 30) and W3 (tree 20) written with join, beside
// oneTBB's tbb::parallel_invoke, on 1 .. N threads. Same shapes as workloads.cpp's W2/W3 (every call forks, no
// cutoff), so the spawn/get and join figures of one run compare directly; W2_fib30/serial is the floor.
//
// Resizing a running pool (issue 17), on the same fork-join workload:
//   R1_resize/up, R1_resize/down   one resize() call between 1 and N workers (growing starts N - 1 threads;
//                                  shrinking posts retire requests and returns), per call
//   R2_join_fib30_resizing/0, /100 join fib(30) on N workers while another thread resizes the pool between N and
//                                  max(1, N / 2) workers 0 or 100 times a second: fib runs per second, same run
#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <taskforge/taskforge.hpp>
#include <thread>

#include "contenders.hpp"
#include "settings.hpp"

#if defined(TASKFORGE_BENCH_HAVE_TBB)
#include <oneapi/tbb/parallel_invoke.h>
#endif

namespace bench {
namespace {

constexpr long fib_n = 30;
constexpr int tree_depth = 20;

long join_fib(long n) {
    if (n < 2) return n;
    auto [left, right] = taskforge::join([n] { return join_fib(n - 1); }, [n] { return join_fib(n - 2); });
    return left + right;
}

long join_tree(int depth) {
    if (depth == 0) return 1;
    auto [left, right] =
        taskforge::join([depth] { return join_tree(depth - 1); }, [depth] { return join_tree(depth - 1); });
    return left + right + 1;
}

void taskforge_join_fib(benchmark::State& state) {
    taskforge::scheduler pool{taskforge::options{.threads = static_cast<std::size_t>(state.range(0))}};
    const long expected = serial_fib(fib_n);
    for (auto _ : state) {
        if (pool.spawn(&join_fib, fib_n).get() != expected) state.SkipWithError("wrong fib");
    }
    state.SetItemsProcessed(state.iterations());
}

void taskforge_join_tree(benchmark::State& state) {
    taskforge::scheduler pool{taskforge::options{.threads = static_cast<std::size_t>(state.range(0))}};
    const long nodes = (2L << tree_depth) - 1;
    for (auto _ : state) {
        if (pool.spawn(&join_tree, tree_depth).get() != nodes) state.SkipWithError("wrong node count");
    }
    state.SetItemsProcessed(nodes * state.iterations());
}

// R1: resize() from 1 to N workers (range 1) or back (range 0), timed per call.
void resize_call(benchmark::State& state) {
    const bool up = state.range(0) == 1;
    const auto wide = static_cast<std::size_t>(bench_threads());
    taskforge::scheduler pool{taskforge::options{.threads = up ? 1 : wide}};
    for (auto _ : state) {
        pool.resize(up ? wide : 1);
        state.PauseTiming();
        pool.resize(up ? 1 : wide);
        pool.spawn([] {}).get();  // let the pool settle between calls
        state.ResumeTiming();
    }
}

// R2: join fib(30) while a thread resizes the pool `state.range(0)` times a second.
void join_fib_while_resizing(benchmark::State& state) {
    const auto wide = static_cast<std::size_t>(bench_threads());
    taskforge::scheduler pool{taskforge::options{.threads = wide}};
    const long per_second = state.range(0);
    std::atomic<bool> stop{false};
    std::thread resizer([&] {
        if (per_second == 0) return;
        const auto period = std::chrono::microseconds(1'000'000 / per_second);
        for (std::size_t i = 0; !stop.load(std::memory_order_relaxed); ++i) {
            pool.resize(i % 2 == 0 ? std::max<std::size_t>(1, wide / 2) : wide);
            std::this_thread::sleep_for(period);
        }
    });
    const long expected = serial_fib(fib_n);
    for (auto _ : state) {
        if (pool.spawn(&join_fib, fib_n).get() != expected) state.SkipWithError("wrong fib");
    }
    stop = true;
    resizer.join();
    state.SetItemsProcessed(state.iterations());
}

#if defined(TASKFORGE_BENCH_HAVE_TBB)
long tbb_fib(long n) {
    if (n < 2) return n;
    long left = 0;
    long right = 0;
    tbb::parallel_invoke([&] { left = tbb_fib(n - 1); }, [&] { right = tbb_fib(n - 2); });
    return left + right;
}

long tbb_tree(int depth) {
    if (depth == 0) return 1;
    long left = 0;
    long right = 0;
    tbb::parallel_invoke([&] { left = tbb_tree(depth - 1); }, [&] { right = tbb_tree(depth - 1); });
    return left + right + 1;
}

void tbb_join_fib(benchmark::State& state) {
    tbb::task_arena arena(static_cast<int>(state.range(0)));
    const long expected = serial_fib(fib_n);
    for (auto _ : state) {
        long result = 0;
        arena.execute([&] { result = tbb_fib(fib_n); });
        if (result != expected) state.SkipWithError("wrong fib");
    }
    state.SetItemsProcessed(state.iterations());
}

void tbb_join_tree(benchmark::State& state) {
    tbb::task_arena arena(static_cast<int>(state.range(0)));
    const long nodes = (2L << tree_depth) - 1;
    for (auto _ : state) {
        long result = 0;
        arena.execute([&] { result = tbb_tree(tree_depth); });
        if (result != nodes) state.SkipWithError("wrong node count");
    }
    state.SetItemsProcessed(nodes * state.iterations());
}
#endif

void scale(benchmark::internal::Benchmark* bm) {
    bm->UseRealTime()->Unit(benchmark::kMillisecond)->Repetitions(repetitions())->ReportAggregatesOnly(true);
    for (int threads = 1; threads < bench_threads(); threads *= 2) bm->Arg(threads);
    bm->Arg(bench_threads());
}

}  // namespace

void register_join_benchmarks() {
    benchmark::RegisterBenchmark("R1_resize", &resize_call)
        ->ArgNames({"up"})
        ->Arg(1)
        ->Arg(0)
        ->UseRealTime()
        ->Unit(benchmark::kMicrosecond)
        ->Repetitions(repetitions())
        ->ReportAggregatesOnly(true);
    benchmark::RegisterBenchmark("R2_join_fib30_resizing", &join_fib_while_resizing)
        ->ArgNames({"per_second"})
        ->Arg(0)
        ->Arg(100)
        ->UseRealTime()
        ->Unit(benchmark::kMillisecond)
        ->Repetitions(repetitions())
        ->ReportAggregatesOnly(true);
    scale(benchmark::RegisterBenchmark("W2_join_fib30/taskforge", &taskforge_join_fib));
    scale(benchmark::RegisterBenchmark("W3_join_tree20/taskforge", &taskforge_join_tree));
#if defined(TASKFORGE_BENCH_HAVE_TBB)
    scale(benchmark::RegisterBenchmark("W2_join_fib30/oneTBB", &tbb_join_fib));
    scale(benchmark::RegisterBenchmark("W3_join_tree20/oneTBB", &tbb_join_tree));
#endif
}

}  // namespace bench
