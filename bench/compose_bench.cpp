// bench/compose_bench.cpp — continuations (issue 13):
//   C1_then_chain  a chain of 10^6 then() links on one worker, attached before the first task completes (so the
//                  completion fires them one by one); timed from the release of the first task to the last value:
//                  ns per link = firing, queueing and running one continuation and freeing its predecessor.
//                  Goal: <= 100 ns per link. (Building the chain is excluded: attaching costs a frame each.)
//   C2_when_all    when_all over 64 tiny tasks from outside, then get(): the fan-in's round trip.
//   C3_cancel_skip a group holding 10^6 queued tasks (its pool's one worker busy), cancelled: from cancel() to
//                  wait()'s task_cancelled, per skipped task. Goal: <= 20 ns per task.
//   C4_stop_latency a task polls its stop token about every microsecond; from request_stop() to the task seeing
//                  it, median and p99 over 1,000 stops. Goal: p99 <= 50 us.
//   C5_diamond     a graph of 1,000 levels x 64 nodes, every node depending on every node of the level before
//                  (through one join per level): taskforge with then() + when_all(), oneTBB with a flow::graph of
//                  continue_nodes (64 per level and one join node per level), same thread count, from outside.
//                  Goal: within 1.5x of oneTBB.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <taskforge/taskforge.hpp>
#include <thread>
#include <vector>

#include "settings.hpp"

#if defined(TASKFORGE_BENCH_HAVE_TBB)
#include <oneapi/tbb/flow_graph.h>
#include <oneapi/tbb/task_arena.h>
#endif

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

void cancel_skip(benchmark::State& state) {
    taskforge::scheduler pool{taskforge::options{.threads = 1}};
    constexpr int queued = 1'000'000;
    for (auto _ : state) {
        state.PauseTiming();
        std::atomic<bool> go{false};
        auto busy = pool.spawn([&go] {
            while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
        });
        std::atomic<int> ran{0};
        taskforge::task_group group{pool};
        for (int i = 0; i < queued; ++i) group.spawn([&ran] { ran.fetch_add(1, std::memory_order_relaxed); });
        state.ResumeTiming();
        group.cancel();
        go.store(true, std::memory_order_release);
        try {
            group.wait();
            state.SkipWithError("wait() did not throw task_cancelled");
        } catch (const taskforge::task_cancelled&) {
        }
        state.PauseTiming();
        busy.get();
        if (ran.load() != 0) state.SkipWithError("a cancelled task ran");
        state.ResumeTiming();
    }
    state.counters["ns_per_task"] = benchmark::Counter(static_cast<double>(queued * state.iterations()),
                                                       benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

void stop_latency(benchmark::State& state) {
    using clock = std::chrono::steady_clock;
    taskforge::scheduler pool{taskforge::options{.threads = static_cast<std::size_t>(bench_threads())}};
    std::vector<double> latencies;
    for (auto _ : state) {
        latencies.clear();
        for (int stop = 0; stop < 1000; ++stop) {
            std::atomic<bool> started{false};
            auto poller = pool.spawn([&started](std::stop_token token) {
                started.store(true, std::memory_order_release);
                for (;;) {
                    const auto until = clock::now() + std::chrono::microseconds(1);
                    while (clock::now() < until) {
                    }
                    if (token.stop_requested()) return clock::now();
                }
            });
            while (!started.load(std::memory_order_acquire)) std::this_thread::yield();
            const auto asked = clock::now();
            poller.request_stop();
            latencies.push_back(std::chrono::duration<double, std::micro>(poller.get() - asked).count());
        }
    }
    std::sort(latencies.begin(), latencies.end());
    state.counters["median_us"] = latencies[latencies.size() / 2];
    state.counters["p99_us"] = latencies[latencies.size() * 99 / 100];
}

constexpr int diamond_levels = 1000;
constexpr int diamond_width = 64;

// The work of one node: a few hundred nanoseconds, the same for both.
long node_work(long seed) {
    long x = seed | 1;
    for (int i = 0; i < 100; ++i) x = x * 6364136223846793005L + 1442695040888963407L;
    return x;
}

void diamond_taskforge(benchmark::State& state) {
    taskforge::scheduler pool{taskforge::options{.threads = static_cast<std::size_t>(bench_threads())}};
    for (auto _ : state) {
        auto level = pool.spawn([] { return std::vector<long>(diamond_width, 1); });
        for (int l = 0; l < diamond_levels; ++l) {
            level = level.then([&pool](std::vector<long> values) {
                const long seed = values[0];
                std::vector<taskforge::task_handle<long>> nodes;
                nodes.reserve(diamond_width);
                for (int i = 0; i < diamond_width; ++i)
                    nodes.push_back(pool.spawn([seed, i] { return node_work(seed + i); }));
                return taskforge::when_all(std::move(nodes));
            });
        }
        benchmark::DoNotOptimize(level.get());
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(diamond_levels) * diamond_width * state.iterations());
}

#if defined(TASKFORGE_BENCH_HAVE_TBB)
void diamond_tbb(benchmark::State& state) {
    using namespace oneapi::tbb::flow;
    oneapi::tbb::task_arena arena(bench_threads());
    for (auto _ : state) {
        arena.execute([] {
            graph g;
            std::vector<std::unique_ptr<continue_node<continue_msg>>> nodes;
            std::vector<long> results(static_cast<std::size_t>(diamond_width));
            nodes.reserve(static_cast<std::size_t>(diamond_levels) * (diamond_width + 1) + 1);
            auto join = std::make_unique<continue_node<continue_msg>>(g, [](const continue_msg&) {});
            continue_node<continue_msg>* previous = join.get();
            nodes.push_back(std::move(join));
            for (int l = 0; l < diamond_levels; ++l) {
                auto next_join = std::make_unique<continue_node<continue_msg>>(g, [](const continue_msg&) {});
                for (int i = 0; i < diamond_width; ++i) {
                    auto node = std::make_unique<continue_node<continue_msg>>(g, [&results, i](const continue_msg&) {
                        results[static_cast<std::size_t>(i)] = node_work(results[0] + i);
                    });
                    make_edge(*previous, *node);
                    make_edge(*node, *next_join);
                    nodes.push_back(std::move(node));
                }
                previous = next_join.get();
                nodes.push_back(std::move(next_join));
            }
            nodes.front()->try_put(continue_msg());
            g.wait_for_all();
            benchmark::DoNotOptimize(results.data());
        });
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(diamond_levels) * diamond_width * state.iterations());
}
#endif

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
    benchmark::RegisterBenchmark("C3_cancel_skip1M/taskforge", &cancel_skip)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime()
        ->Iterations(3);
    benchmark::RegisterBenchmark("C5_diamond/taskforge", &diamond_taskforge)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime()
        ->Repetitions(repetitions())
        ->ReportAggregatesOnly(true);
#if defined(TASKFORGE_BENCH_HAVE_TBB)
    benchmark::RegisterBenchmark("C5_diamond/oneTBB", &diamond_tbb)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime()
        ->Repetitions(repetitions())
        ->ReportAggregatesOnly(true);
#endif
    benchmark::RegisterBenchmark("C4_stop_latency/taskforge", &stop_latency)
        ->Unit(benchmark::kMillisecond)
        ->Iterations(1);
}

}  // namespace bench
