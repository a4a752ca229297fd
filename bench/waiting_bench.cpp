// bench/waiting_bench.cpp — what blocking waits cost the pool (issue 9): a worker blocked in a cross-pool wait must
// not take its share of the pool's throughput with it (detail/waiting.hpp [W2], runtime.hpp [R1]).
//
//   cross_pool_wait/unblocked  an outside thread pushes 200,000 tiny tasks through a task_group and waits
//   cross_pool_wait/blocked    the same, while one of the pool's workers sits in a wait for a task of another
//                              pool that finishes only after the burst: the pool starts a spare in its place
// Compare the two items/s figures of one run; the ratio is the throughput the blocked worker costs.
#include <benchmark/benchmark.h>

#include <atomic>
#include <chrono>
#include <taskforge/taskforge.hpp>
#include <thread>

#include "settings.hpp"

namespace bench {
namespace {

constexpr long burst_tasks = 200'000;

void burst(taskforge::scheduler& pool, std::atomic<long>& counter) {
    taskforge::task_group group{pool};
    for (long i = 0; i < burst_tasks; ++i) group.spawn([&counter] { counter.fetch_add(1, std::memory_order_relaxed); });
    group.wait();
}

template <bool Blocked>
void cross_pool_wait(benchmark::State& state) {
    taskforge::scheduler pool{taskforge::options{.threads = static_cast<std::size_t>(bench_threads())}};
    taskforge::scheduler other{taskforge::options{.threads = 1}};
    std::atomic<long> counter{0};
    for (auto _ : state) {
        std::atomic<bool> release{false};
        std::atomic<bool> waiting{false};
        taskforge::task_handle<void> blocker;
        if constexpr (Blocked) {
            auto gate = other.spawn([&release] {
                while (!release.load(std::memory_order_acquire))
                    std::this_thread::sleep_for(std::chrono::microseconds(50));
            });
            blocker = pool.spawn([&waiting, gate = std::move(gate)]() mutable {
                waiting.store(true, std::memory_order_release);
                gate.get();  // a worker of `pool` blocked on a task of `other`
            });
            while (!waiting.load(std::memory_order_acquire)) std::this_thread::yield();
        }
        burst(pool, counter);
        release.store(true, std::memory_order_release);
        if constexpr (Blocked) blocker.get();
    }
    if (counter.load() != burst_tasks * state.iterations()) state.SkipWithError("lost tasks");
    state.SetItemsProcessed(burst_tasks * state.iterations());
}

}  // namespace

void register_waiting_benchmarks() {
    benchmark::RegisterBenchmark("cross_pool_wait/unblocked", &cross_pool_wait<false>)
        ->UseRealTime()
        ->Unit(benchmark::kMillisecond)
        ->Repetitions(repetitions())
        ->ReportAggregatesOnly(true);
    benchmark::RegisterBenchmark("cross_pool_wait/blocked", &cross_pool_wait<true>)
        ->UseRealTime()
        ->Unit(benchmark::kMillisecond)
        ->Repetitions(repetitions())
        ->ReportAggregatesOnly(true);
}

}  // namespace bench
