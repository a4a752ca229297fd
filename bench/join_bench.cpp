// bench/join_bench.cpp — fork-join on the caller's stack: W2 (fib 30) and W3 (tree 20) written with join, beside
// oneTBB's tbb::parallel_invoke, on 1 .. N threads. Same shapes as workloads.cpp's W2/W3 (every call forks, no
// cutoff), so the spawn/get and join figures of one run compare directly; W2_fib30/serial is the floor.
#include <benchmark/benchmark.h>

#include <cstddef>
#include <taskforge/taskforge.hpp>

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
    scale(benchmark::RegisterBenchmark("W2_join_fib30/taskforge", &taskforge_join_fib));
    scale(benchmark::RegisterBenchmark("W3_join_tree20/taskforge", &taskforge_join_tree));
#if defined(TASKFORGE_BENCH_HAVE_TBB)
    scale(benchmark::RegisterBenchmark("W2_join_fib30/oneTBB", &tbb_join_fib));
    scale(benchmark::RegisterBenchmark("W3_join_tree20/oneTBB", &tbb_join_tree));
#endif
}

}  // namespace bench
