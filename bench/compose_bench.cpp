// bench/compose_bench.cpp — continuations (issue 13):
//   C1_then_chain  a chain of 10^6 then() links on one worker, attached before the first task completes (so the
//                  completion fires them one by one); timed from the release of the first task to the last value:
//                  ns per link = firing, queueing and running one continuation and freeing its predecessor.
//                  Goal: <= 100 ns per link. (Building the chain is excluded: attaching costs a frame each.)
//   C2_when_all    when_all over 64 tiny tasks from outside, then get(): the fan-in's round trip.
#include <benchmark/benchmark.h>

#include <atomic>
#include <taskforge/taskforge.hpp>
#include <thread>
#include <vector>

#include "settings.hpp"

namespace bench {
namespace {

constexpr long chain_links = 1'000'000;

void then_chain(benchmark::State& state) {
    taskforge::scheduler pool{taskforge::options{.threads = 1}};
    for (auto _ : state) {
        state.PauseTiming();  // building the chain (a burst of 10^6 frames from outside) is not what C1 measures
        std::atomic<bool> go{false};
        auto chain = pool.spawn([&go] {
            while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
            return 0L;
        });
        for (long i = 0; i < chain_links; ++i) chain = chain.then([](long x) { return x + 1; });
        state.ResumeTiming();
        go.store(true, std::memory_order_release);
        if (chain.get() != chain_links) state.SkipWithError("wrong chain result");
    }
    state.SetItemsProcessed(chain_links * state.iterations());
    state.counters["ns_per_link"] = benchmark::Counter(static_cast<double>(chain_links * state.iterations()),
                                                       benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

void when_all_fan_in(benchmark::State& state) {
    taskforge::scheduler pool{taskforge::options{.threads = static_cast<std::size_t>(bench_threads())}};
    constexpr int width = 64;
    for (auto _ : state) {
        std::vector<taskforge::task_handle<int>> inputs;
        inputs.reserve(width);
        for (int i = 0; i < width; ++i) inputs.push_back(pool.spawn([i] { return i; }));
        benchmark::DoNotOptimize(taskforge::when_all(std::move(inputs)).get());
    }
    state.SetItemsProcessed(width * state.iterations());
}

}  // namespace

void register_compose_benchmarks() {
    benchmark::RegisterBenchmark("C1_then_chain/taskforge", &then_chain)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime()
        ->Repetitions(repetitions())
        ->ReportAggregatesOnly(true);
    benchmark::RegisterBenchmark("C2_when_all64/taskforge", &when_all_fan_in)
        ->Unit(benchmark::kMicrosecond)
        ->UseRealTime()
        ->Repetitions(repetitions())
        ->ReportAggregatesOnly(true);
}

}  // namespace bench
