// Guest slots under contention (issue 11, detail/guest_slots.hpp): more outside waiters than slots, each mixing
// group fan-outs (with nested spawns, detached spawns and throwing tasks), spawn + get, join and loops, all
// seeded; every task must run exactly once, every exception reach its waiter, and nothing be left behind when a
// guest leaves. Volume: TASKFORGE_STRESS_SCALE (environment), like the other stress suites.
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <random>
#include <stdexcept>
#include <taskforge/taskforge.hpp>
#include <thread>
#include <vector>

#include "../support/catch.hpp"
#include "../support/sanitizers.hpp"
#include "../support/stress_scale.hpp"
#include "../support/watchdog.hpp"

using namespace std::chrono_literals;

namespace {

struct tally {
    std::atomic<long> expected{0};
    std::atomic<long> ran{0};
    std::atomic<long> failing_rounds{0};
    std::atomic<long> errors_seen{0};
    std::atomic<long> wrong_results{0};  // Catch2 assertions are not thread-safe: counted, checked at the end
};

// One outside thread's seeded round: a group fan-out whose tasks may spawn into the group, spawn detached tasks
// or throw; then a spawn + get, a join and a small loop.
void round_trip(taskforge::scheduler& pool, std::mt19937_64& random, tally& counts) {
    taskforge::task_group group{pool};
    const int tasks = static_cast<int>(random() % 16) + 1;
    bool threw = false;
    for (int i = 0; i < tasks; ++i) {
        const unsigned kind = static_cast<unsigned>(random() % 8);
        counts.expected.fetch_add(1);
        if (kind == 0) counts.expected.fetch_add(2);  // two nested group tasks
        if (kind == 1) counts.expected.fetch_add(1);  // one detached task
        if (kind == 2) threw = true;
        group.spawn([kind, &group, &counts] {
            counts.ran.fetch_add(1);
            if (kind == 0) {
                for (int j = 0; j < 2; ++j) group.spawn([&counts] { counts.ran.fetch_add(1); });
            } else if (kind == 1) {
                (void)taskforge::spawn([&counts] { counts.ran.fetch_add(1); });
            } else if (kind == 2) {
                throw std::runtime_error("member");
            }
        });
    }
    try {
        group.wait();
    } catch (const std::runtime_error&) {
        counts.errors_seen.fetch_add(1);
    }
    if (threw) counts.failing_rounds.fetch_add(1);  // exactly one exception per failing round reaches the waiter
    const long value = static_cast<long>(random() % 1000);
    counts.expected.fetch_add(1);
    if (pool.spawn([value, &counts] {
                counts.ran.fetch_add(1);
                return value;
            })
            .get() != value) {
        counts.wrong_results.fetch_add(1);
    }
    auto [left, right] = pool.join([] { return 1; }, [] { return 2; });
    if (left + right != 3) counts.wrong_results.fetch_add(1);
    std::atomic<int> iterations{0};
    taskforge::parallel_for(pool, 0, 64, [&iterations](int) { iterations.fetch_add(1); });
    if (iterations.load() != 64) counts.wrong_results.fetch_add(1);
}

void run_waiters(std::size_t workers, std::size_t slots, int waiters, int rounds) {
    tally counts;
    {
        taskforge::scheduler pool{taskforge::options{.threads = workers, .guest_slots = slots}};
        std::vector<std::thread> threads;
        for (int t = 0; t < waiters; ++t) {
            threads.emplace_back([&pool, &counts, t, rounds] {
                std::mt19937_64 random(static_cast<std::uint64_t>(t) * 7919 + 1);
                for (int round = 0; round < rounds; ++round) round_trip(pool, random, counts);
            });
        }
        for (auto& thread : threads) thread.join();
    }  // the destructor drains the detached tasks
    INFO("workers " << workers << ", guest slots " << slots << ", waiters " << waiters);
    CHECK(counts.ran.load() == counts.expected.load());
    CHECK(counts.failing_rounds.load() > 0);
    CHECK(counts.errors_seen.load() == counts.failing_rounds.load());
    CHECK(counts.wrong_results.load() == 0);
}

}  // namespace

TEST_CASE("seeded: 6 outside waiters share 2 guest slots of a 1-worker pool; every task runs once", "[guest][stress]") {
    TASKFORGE_WATCHDOG();
    run_waiters(1, 2, 6, 300 * stress_scale() / taskforge_test::sanitizer_slowdown);
}

TEST_CASE("seeded: 8 outside waiters share 1 guest slot of a 3-worker pool; every task runs once", "[guest][stress]") {
    TASKFORGE_WATCHDOG();
    run_waiters(3, 1, 8, 200 * stress_scale() / taskforge_test::sanitizer_slowdown);
}

TEST_CASE("seeded: 4 outside waiters, each with its own slot, on a 2-worker pool; every task runs once",
          "[guest][stress]") {
    TASKFORGE_WATCHDOG();
    run_waiters(2, 4, 4, 300 * stress_scale() / taskforge_test::sanitizer_slowdown);
}

TEST_CASE("seeded: schedulers destroyed while outside threads are inside their guest slots", "[guest][stress]") {
    TASKFORGE_WATCHDOG();
    const int cycles = 30 * stress_scale() / taskforge_test::sanitizer_slowdown + 1;
    for (int cycle = 0; cycle < cycles; ++cycle) {
        tally counts;
        auto pool = std::make_unique<taskforge::scheduler>(taskforge::options{.threads = 2, .guest_slots = 2});
        std::vector<taskforge::task_handle<int>> handles;
        for (int i = 0; i < 8; ++i) {
            handles.push_back(pool->spawn([i, &counts] {
                counts.ran.fetch_add(1);
                std::this_thread::sleep_for(20us);
                return i;
            }));
        }
        std::vector<std::thread> waiters;
        std::atomic<long> sum{0};
        for (int t = 0; t < 4; ++t) {
            waiters.emplace_back([&handles, &sum, t] {
                sum.fetch_add(handles[static_cast<std::size_t>(t)].get() +
                              handles[static_cast<std::size_t>(t) + 4].get());
            });
        }
        pool.reset();  // drains: every accepted task runs; the waiters return
        for (auto& waiter : waiters) waiter.join();
        CHECK(counts.ran.load() == 8);
        CHECK(sum.load() == 28);
    }
}

namespace {
// A chain of waits `depth` deep that alternates between two pools; it starts on the thread that calls it.
int cross_chain(taskforge::scheduler* here, taskforge::scheduler* there, int depth) {
    if (depth == 0) return 0;
    return there->spawn(&cross_chain, there, here, depth - 1).get() + 1;
}
}  // namespace

TEST_CASE("outside guests of one pool run tasks that wait 200 deep across two pools, two waiters on one group",
          "[guest][stress]") {
    TASKFORGE_WATCHDOG();
    taskforge::scheduler first{taskforge::options{.threads = 1, .stack_size = std::size_t{16} << 20}};
    taskforge::scheduler second{taskforge::options{.threads = 1, .stack_size = std::size_t{16} << 20}};
    const int depth = TASKFORGE_TEST_TSAN ? 60 : 200;
    for (int round = 0; round < 5; ++round) {
        taskforge::task_group group{first};
        std::atomic<long> total{0};
        for (int i = 0; i < 4; ++i) {
            group.spawn([&] { total.fetch_add(cross_chain(&first, &second, depth)); });
        }
        std::atomic<int> waited{0};
        std::thread other([&] {  // a second outside thread waits on the same group, racing the first
            group.wait();
            waited.fetch_add(1);
        });
        group.wait();
        other.join();
        CHECK(waited.load() == 1);
        CHECK(total.load() == 4L * depth);
    }
}
