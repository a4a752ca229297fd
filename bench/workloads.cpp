// bench/workloads.cpp — W1, W2, W3 and spawn-from-worker as Google Benchmark suites, for every contender built in.
#include <benchmark/benchmark.h>

#include <atomic>
#include <thread>

#include "contenders.hpp"
#include "settings.hpp"

namespace bench {
namespace {

constexpr std::size_t w1_tasks = 1'000'000;
constexpr std::size_t async_tasks = 10'000;  // one thread per task: a million would take minutes
constexpr long w2_n = 30;
constexpr int w3_depth = 20;

template <class Contender>
void w1_external_spawn(benchmark::State& state) {
    const std::size_t tasks = std::is_same_v<Contender, async_contender> ? async_tasks : w1_tasks;
    Contender contender(bench_threads());
    std::atomic<long> counter{0};
    double spawn_seconds = 0;
    for (auto _ : state) spawn_seconds += contender.external_spawn(tasks, counter);
    const auto total = static_cast<std::int64_t>(tasks) * state.iterations();
    if (counter.load() != total) state.SkipWithError("lost tasks");
    state.SetItemsProcessed(total);
    state.counters["ns_per_spawn"] = spawn_seconds * 1e9 / static_cast<double>(total);
}

template <class Contender>
void w2_fib(benchmark::State& state) {
    Contender contender(static_cast<int>(state.range(0)));
    const long expected = serial_fib(w2_n);
    for (auto _ : state) {
        if (contender.fib(w2_n) != expected) state.SkipWithError("wrong fib");
    }
    state.SetItemsProcessed(state.iterations());
}

void w2_fib_serial(benchmark::State& state) {
    for (auto _ : state) benchmark::DoNotOptimize(serial_fib(w2_n));
}

template <class Contender>
void w3_tree(benchmark::State& state) {
    Contender contender(static_cast<int>(state.range(0)));
    const long nodes = (2L << w3_depth) - 1;
    for (auto _ : state) {
        if (contender.tree(w3_depth) != nodes) state.SkipWithError("wrong node count");
    }
    state.SetItemsProcessed(nodes * state.iterations());
}

void worker_spawn(benchmark::State& state) {
    taskforge_contender contender(bench_threads());
    std::atomic<long> counter{0};
    double spawn_seconds = 0;
    for (auto _ : state) spawn_seconds += contender.worker_spawn(w1_tasks, counter);
    const auto total = static_cast<std::int64_t>(w1_tasks) * state.iterations();
    state.SetItemsProcessed(total);
    state.counters["ns_per_spawn"] = spawn_seconds * 1e9 / static_cast<double>(total);
}

// One function registers a workload for every contender compiled in (peers only where installed).
template <template <class> class Register>
void for_each_contender() {
    Register<taskforge_contender>::apply();
#if defined(TASKFORGE_BENCH_HAVE_TBB)
    Register<tbb_contender>::apply();
#endif
#if defined(_OPENMP)
    Register<openmp_contender>::apply();
#endif
}

template <class Contender>
std::string label(const char* workload) {
    return std::string(workload) + "/" + Contender::name;
}

template <class Contender>
struct register_w1 {
    static void apply() {
        benchmark::RegisterBenchmark(label<Contender>("W1_external_spawn").c_str(), &w1_external_spawn<Contender>)
            ->UseRealTime()
            ->Unit(benchmark::kMillisecond)
            ->Repetitions(repetitions())
            ->ReportAggregatesOnly(true);
    }
};

template <class Contender>
struct register_w2_w3 {
    static void apply() {
        auto* fib = benchmark::RegisterBenchmark(label<Contender>("W2_fib30").c_str(), &w2_fib<Contender>);
        auto* tree = benchmark::RegisterBenchmark(label<Contender>("W3_tree20").c_str(), &w3_tree<Contender>);
        for (auto* bm : {fib, tree}) {
            bm->UseRealTime()->Unit(benchmark::kMillisecond)->Repetitions(repetitions())->ReportAggregatesOnly(true);
            // Thread scaling: 1, 2, 4, ... up to the hardware threads (always including them).
            for (int threads = 1; threads < bench_threads(); threads *= 2) bm->Arg(threads);
            bm->Arg(bench_threads());
        }
    }
};

}  // namespace

void register_workloads() {
    for_each_contender<register_w1>();
    benchmark::RegisterBenchmark("W1_external_spawn/std::async", &w1_external_spawn<async_contender>)
        ->UseRealTime()
        ->Unit(benchmark::kMillisecond)
        ->Repetitions(repetitions())
        ->ReportAggregatesOnly(true);
    benchmark::RegisterBenchmark("W2_fib30/serial", &w2_fib_serial)
        ->Unit(benchmark::kMillisecond)
        ->Repetitions(repetitions())
        ->ReportAggregatesOnly(true);
    for_each_contender<register_w2_w3>();
    // Tracing's cost (issue 14): W1 and W2 at full width with a trace recording throughout.
    register_w1<taskforge_traced_contender>::apply();
    benchmark::RegisterBenchmark("W2_fib30/taskforge_traced", &w2_fib<taskforge_traced_contender>)
        ->Arg(bench_threads())
        ->UseRealTime()
        ->Unit(benchmark::kMillisecond)
        ->Repetitions(repetitions())
        ->ReportAggregatesOnly(true);
    benchmark::RegisterBenchmark("worker_spawn/taskforge", &worker_spawn)
        ->UseRealTime()
        ->Unit(benchmark::kMillisecond)
        ->Repetitions(repetitions())
        ->ReportAggregatesOnly(true);
}

}  // namespace bench
