// bench/coroutine_bench.cpp — coroutines on the pool (issue 15):
//   K1_schedule_hop  co_await pool.schedule() in a loop on a pool of one worker: ns per hop (a push and a pop of
//                    the coroutine's resume job on that worker). Goal: <= 50 ns.
//   K2_fib30         fib(30) as task<long> coroutines that co_await a spawned child (spawn/get's shape), on
//                    bench_threads() workers, beside W2's spawn/get and join in the same run. Goal: within 2x of
//                    join.
//   K3_server        10^5 coroutines each awaiting 10 short tasks in turn, on bench_threads() workers; the same
//                    written as tasks that block in get() for each of their 10 tasks. Items: the 10^6 short tasks.
//   K4_fan_in        10^5 coroutines each spawning 10 short tasks into a task_group and awaiting the group
//                    (`co_await group`); the same written as tasks that block in group.wait(). Items: the 10^6 short
//                    tasks.
#include <benchmark/benchmark.h>

#include <atomic>
#include <functional>
#include <taskforge/taskforge.hpp>
#include <vector>

#include "settings.hpp"

namespace bench {
namespace {

constexpr int hops = 1'000'000;
constexpr long fib_n = 30;
constexpr int server_requests = 100'000;
constexpr int calls_per_request = 10;

void schedule_hop(benchmark::State& state) {
    taskforge::scheduler pool{taskforge::options{.threads = 1}};
    auto hop_loop = [&pool](int count) -> taskforge::task<int> {
        int done = 0;
        for (int i = 0; i < count; ++i) {
            co_await pool.schedule();
            ++done;
        }
        co_return done;
    };
    for (auto _ : state) {
        if (pool.spawn(hop_loop, hops).get() != hops) state.SkipWithError("lost hops");
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(hops) * state.iterations());
    state.counters["ns_per_hop"] =
        benchmark::Counter(static_cast<double>(hops) * static_cast<double>(state.iterations()),
                           benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

taskforge::task<long> coroutine_fib(long n) {
    if (n < 2) co_return n;
    auto left = taskforge::spawn(&coroutine_fib, n - 1);
    const long right = co_await coroutine_fib(n - 2);
    co_return co_await left + right;
}

void fib_coroutines(benchmark::State& state) {
    taskforge::scheduler pool{taskforge::options{.threads = static_cast<std::size_t>(bench_threads())}};
    for (auto _ : state) {
        if (pool.spawn(&coroutine_fib, fib_n).get() != 832040) state.SkipWithError("wrong fib");
    }
}

long short_call(int request, int call) { return request + call; }

// K3's driver: spawns every request from outside, then gets them all; `request(pool, id)` makes one request.
template <class Request>
void serve(benchmark::State& state, Request request) {
    taskforge::scheduler pool{taskforge::options{.threads = static_cast<std::size_t>(bench_threads())}};
    for (auto _ : state) {
        std::vector<taskforge::task_handle<long>> requests;
        requests.reserve(server_requests);
        for (int id = 0; id < server_requests; ++id) requests.push_back(pool.spawn(request, std::ref(pool), id));
        long total = 0;
        for (auto& handle : requests) total += handle.get();
        benchmark::DoNotOptimize(total);
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(server_requests) * calls_per_request * state.iterations());
}

void server_coroutines(benchmark::State& state) {
    serve(state, [](taskforge::scheduler& pool, int id) -> taskforge::task<long> {
        long total = 0;
        for (int call = 0; call < calls_per_request; ++call) total += co_await pool.spawn(short_call, id, call);
        co_return total;
    });
}

void server_blocking(benchmark::State& state) {
    serve(state, [](taskforge::scheduler& pool, int id) {
        long total = 0;
        for (int call = 0; call < calls_per_request; ++call) total += pool.spawn(short_call, id, call).get();
        return total;
    });
}

void fan_in_coroutines(benchmark::State& state) {
    serve(state, [](taskforge::scheduler& pool, int id) -> taskforge::task<long> {
        std::atomic<long> total{0};
        taskforge::task_group group{pool};
        for (int call = 0; call < calls_per_request; ++call) {
            group.spawn([&total, id, call] { total.fetch_add(short_call(id, call), std::memory_order_relaxed); });
        }
        co_await group;
        co_return total.load(std::memory_order_relaxed);
    });
}

void fan_in_blocking(benchmark::State& state) {
    serve(state, [](taskforge::scheduler& pool, int id) {
        std::atomic<long> total{0};
        taskforge::task_group group{pool};
        for (int call = 0; call < calls_per_request; ++call) {
            group.spawn([&total, id, call] { total.fetch_add(short_call(id, call), std::memory_order_relaxed); });
        }
        group.wait();
        return total.load(std::memory_order_relaxed);
    });
}

}  // namespace

void register_coroutine_benchmarks() {
    benchmark::RegisterBenchmark("K1_schedule_hop/taskforge", &schedule_hop)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime()
        ->Repetitions(repetitions())
        ->ReportAggregatesOnly(true);
    benchmark::RegisterBenchmark("K2_fib30/coroutines", &fib_coroutines)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime()
        ->Repetitions(repetitions())
        ->ReportAggregatesOnly(true);
    for (auto* server : {benchmark::RegisterBenchmark("K3_server/coroutines", &server_coroutines),
                         benchmark::RegisterBenchmark("K3_server/blocking_get", &server_blocking),
                         benchmark::RegisterBenchmark("K4_fan_in/co_await_group", &fan_in_coroutines),
                         benchmark::RegisterBenchmark("K4_fan_in/blocking_wait", &fan_in_blocking)}) {
        server->Unit(benchmark::kMillisecond)->UseRealTime()->Repetitions(repetitions())->ReportAggregatesOnly(true);
    }
}

}  // namespace bench
