// bench/deque_bench.cpp — chase_lev_deque micro-benchmarks: owner push+pop, uncontended steal, push vs. thieves.
#include <benchmark/benchmark.h>

#include <atomic>
#include <cstdint>
#include <taskforge/deque.hpp>
#include <thread>
#include <vector>

#include "settings.hpp"

namespace bench {
namespace {

void deque_push_pop_pair(benchmark::State& state) {
    taskforge::chase_lev_deque<std::intptr_t> deque;
    std::intptr_t value = 0;
    for (auto _ : state) {
        deque.push(++value);
        benchmark::DoNotOptimize(deque.pop());
    }
    state.SetItemsProcessed(state.iterations());
}

void deque_uncontended_steal(benchmark::State& state) {
    taskforge::chase_lev_deque<std::intptr_t> deque;
    constexpr int batch = 1024;
    for (auto _ : state) {
        state.PauseTiming();
        for (int i = 0; i < batch; ++i) deque.push(i);
        state.ResumeTiming();
        for (int i = 0; i < batch; ++i) benchmark::DoNotOptimize(deque.steal());
    }
    state.SetItemsProcessed(state.iterations() * batch);
}

// The owner pushes and pops while `thieves` threads steal continuously; reports owner operations per second.
void deque_push_with_thieves(benchmark::State& state) {
    taskforge::chase_lev_deque<std::intptr_t> deque;
    std::atomic<bool> stop{false};
    std::vector<std::thread> thieves;
    for (int t = 0; t < state.range(0); ++t) {
        thieves.emplace_back([&] {
            while (!stop.load(std::memory_order_relaxed)) benchmark::DoNotOptimize(deque.steal());
        });
    }
    std::intptr_t value = 0;
    for (auto _ : state) {
        for (int i = 0; i < 64; ++i) deque.push(++value);
        for (int i = 0; i < 32; ++i) benchmark::DoNotOptimize(deque.pop());
    }
    stop.store(true);
    for (auto& thief : thieves) thief.join();
    state.SetItemsProcessed(state.iterations() * 96);
}

}  // namespace

void register_deque_benchmarks() {
    benchmark::RegisterBenchmark("deque/push_pop_pair", &deque_push_pop_pair)
        ->Repetitions(repetitions())
        ->ReportAggregatesOnly(true);
    benchmark::RegisterBenchmark("deque/uncontended_steal", &deque_uncontended_steal)
        ->Repetitions(repetitions())
        ->ReportAggregatesOnly(true);
    benchmark::RegisterBenchmark("deque/push_pop_with_thieves", &deque_push_with_thieves)
        ->Arg(1)
        ->Arg(2)
        ->UseRealTime()
        ->Repetitions(repetitions())
        ->ReportAggregatesOnly(true);
}

}  // namespace bench
