// bench/priority_bench.cpp — what task priorities buy (issue 17): how soon an urgent task starts on a pool whose
// every worker is busy with a stream of 1 ms background tasks.
//
//   P1_urgent_start/high    background tasks at priority::low, the urgent task spawned from outside at high
//   P1_urgent_start/none    priorities unused: background and urgent task all at normal (today's behaviour)
// Each iteration spawns one urgent task after a random 0-1 ms pause and records how long it took to start; the
// time reported per iteration is that latency (manual time), with p50_us and p99_us over the run as counters.
// Goal: p99 within one background task (1 ms) plus a wake-up, with `high`.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <random>
#include <taskforge/taskforge.hpp>
#include <thread>
#include <vector>

#include "settings.hpp"

namespace bench {
namespace {

using steady = std::chrono::steady_clock;

void spin_for(std::chrono::microseconds length) {
    const auto end = steady::now() + length;
    while (steady::now() < end) {
    }
}

// Keeps every worker of `pool` busy: each background task spins 1 ms and spawns its successor (inheriting its
// level), twice as many chains as workers, until `stop`.
struct background_load {
    background_load(taskforge::scheduler& pool, taskforge::priority level, int chains) {
        for (int i = 0; i < chains; ++i) pool.spawn(level, [this] { link(); });
    }
    void link() {
        spin_for(std::chrono::microseconds(1000));
        if (!stop.load(std::memory_order_relaxed)) {
            taskforge::spawn([this] { link(); });
            return;
        }
        finished.fetch_add(1, std::memory_order_relaxed);
    }
    void end(int chains) {
        stop.store(true, std::memory_order_relaxed);
        while (finished.load(std::memory_order_relaxed) < chains)
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    std::atomic<bool> stop{false};
    std::atomic<int> finished{0};
};

double percentile(std::vector<double> values, double fraction) {
    std::sort(values.begin(), values.end());
    const auto index = static_cast<std::size_t>(fraction * static_cast<double>(values.size() - 1));
    return values[index];
}

template <bool Prioritised>
void urgent_start(benchmark::State& state) {
    const int threads = bench_threads();
    taskforge::scheduler pool{taskforge::options{.threads = static_cast<std::size_t>(threads), .guest_slots = 0}};
    const int chains = 2 * threads;
    background_load load(pool, Prioritised ? taskforge::priority::low : taskforge::priority::normal, chains);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // every worker busy, queues filled
    std::mt19937 random(7);
    std::vector<double> latencies;
    for (auto _ : state) {
        spin_for(std::chrono::microseconds(random() % 1000));
        std::atomic<std::int64_t> started{0};
        const auto spawned = steady::now();
        pool.spawn(Prioritised ? taskforge::priority::high : taskforge::priority::normal,
                   [&started] { started.store(steady::now().time_since_epoch().count(), std::memory_order_release); });
        std::int64_t at = 0;
        while ((at = started.load(std::memory_order_acquire)) == 0) std::this_thread::yield();
        const double seconds =
            std::chrono::duration<double>(steady::time_point(steady::duration(at)) - spawned).count();
        latencies.push_back(seconds * 1e6);
        state.SetIterationTime(seconds);
    }
    load.end(chains);
    state.counters["p50_us"] = percentile(latencies, 0.5);
    state.counters["p99_us"] = percentile(latencies, 0.99);
    state.counters["threads"] = threads;
}

}  // namespace

void register_priority_benchmarks() {
    // Without priorities the urgent task may wait for a fairness check (61 tasks of 1 ms): fewer iterations.
    benchmark::RegisterBenchmark("P1_urgent_start/high", urgent_start<true>)
        ->UseManualTime()
        ->Iterations(400)
        ->Unit(benchmark::kMicrosecond);
    benchmark::RegisterBenchmark("P1_urgent_start/none", urgent_start<false>)
        ->UseManualTime()
        ->Iterations(60)
        ->Unit(benchmark::kMicrosecond);
}

}  // namespace bench
