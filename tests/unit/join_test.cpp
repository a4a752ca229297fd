// join(f, g) and parallel_invoke: results, exceptions, nesting, where it may be called from, stack use.
#include <atomic>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <taskforge/taskforge.hpp>
#include <thread>
#include <type_traits>
#include <variant>
#include <vector>

#include "../support/catch.hpp"
#include "../support/sanitizers.hpp"

namespace {

long join_fib(long n) {
    if (n < 2) return n;
    auto [left, right] = taskforge::join([n] { return join_fib(n - 1); }, [n] { return join_fib(n - 2); });
    return left + right;
}

long serial_fib(long n) { return n < 2 ? n : serial_fib(n - 1) + serial_fib(n - 2); }

// A binary tree of joins `depth` levels deep; returns the number of leaves.
long join_tree(int depth) {
    if (depth == 0) return 1;
    auto [left, right] =
        taskforge::join([depth] { return join_tree(depth - 1); }, [depth] { return join_tree(depth - 1); });
    return left + right;
}

long join_chain(long depth) {
    if (depth == 0) return 0;
    return taskforge::join([depth] { return join_chain(depth - 1); }, [] { return 1L; }).first + 1;
}

void spin_for(std::chrono::microseconds duration) {
    const auto end = std::chrono::steady_clock::now() + duration;
    while (std::chrono::steady_clock::now() < end) {
    }
}

}  // namespace

TEST_CASE("join returns both results as a pair", "[join][unit]") {
    taskforge::scheduler pool{taskforge::options{.threads = 2}};
    auto result = pool.join([] { return 40; }, [] { return std::string("two"); });
    CHECK(result.first == 40);
    CHECK(result.second == "two");
}

TEST_CASE("join spells void results std::monostate and works as a statement", "[join][unit]") {
    taskforge::scheduler pool{taskforge::options{.threads = 2}};
    int left = 0;
    int right = 0;
    auto both = pool.join([&] { left = 1; }, [&] { right = 2; });
    static_assert(std::is_same_v<decltype(both), std::pair<std::monostate, std::monostate>>);
    CHECK(left + right == 3);
    pool.join([&] { left = 5; }, [&] { right = 6; });
    CHECK(left + right == 11);
}

TEST_CASE("join moves move-only results out", "[join][unit]") {
    taskforge::scheduler pool{taskforge::options{.threads = 2}};
    auto [left, right] = pool.join([] { return std::make_unique<int>(7); }, [] { return std::make_unique<int>(8); });
    REQUIRE(left != nullptr);
    REQUIRE(right != nullptr);
    CHECK(*left + *right == 15);
}

TEST_CASE("join computes fib with the free function on 1, 2 and 8 workers", "[join][unit]") {
    for (const std::size_t threads : {std::size_t{1}, std::size_t{2}, std::size_t{8}}) {
        taskforge::scheduler pool{taskforge::options{.threads = threads}};
        CHECK(pool.spawn(join_fib, 22L).get() == serial_fib(22));
    }
}

TEST_CASE("nested joins 20 levels deep give every leaf on 1, 2 and 8 workers", "[join][unit]") {
    const int depth = TASKFORGE_TEST_TSAN ? 14 : 20;
    for (const std::size_t threads : {std::size_t{1}, std::size_t{2}, std::size_t{8}}) {
        taskforge::scheduler pool{taskforge::options{.threads = threads}};
        CHECK(pool.spawn(join_tree, depth).get() == (1L << depth));
    }
}

TEST_CASE("join from a thread that is not a worker runs inside the pool", "[join][unit]") {
    taskforge::scheduler pool{taskforge::options{.threads = 2}};
    std::atomic<int> on_workers{0};
    auto note = [&] {
        if (taskforge::scheduler::current() == &pool) on_workers.fetch_add(1);
        return 1;
    };
    auto [a, b] = pool.join(note, note);
    CHECK(a + b == 2);
    CHECK(on_workers.load() == 2);
}

TEST_CASE("a stolen second half runs on another worker and its result comes back", "[join][unit]") {
    taskforge::scheduler pool{taskforge::options{.threads = 2}};
    int stolen = 0;
    for (int round = 0; round < 50 && stolen == 0; ++round) {
        auto [caller, runner] = pool.join(
            [] {
                spin_for(std::chrono::milliseconds(2));  // time for the other worker to steal the second half
                return std::this_thread::get_id();
            },
            [] { return std::this_thread::get_id(); });
        if (caller != runner) ++stolen;
    }
    CHECK(stolen > 0);
}

TEST_CASE("join rethrows the first callable's exception", "[join][unit]") {
    taskforge::scheduler pool{taskforge::options{.threads = 2}};
    std::atomic<int> second_ran{0};
    CHECK_THROWS_WITH(pool.join([]() -> int { throw std::runtime_error("first"); },
                                [&] {
                                    second_ran.fetch_add(1);
                                    return 2;
                                }),
                      "first");
    CHECK(second_ran.load() <= 1);
}

TEST_CASE("join rethrows the second callable's exception, also when it was stolen", "[join][unit]") {
    taskforge::scheduler pool{taskforge::options{.threads = 2}};
    for (int round = 0; round < 20; ++round) {
        CHECK_THROWS_WITH(pool.join(
                              [round] {
                                  if (round % 2 == 0) spin_for(std::chrono::microseconds(500));
                                  return 1;
                              },
                              []() -> int { throw std::runtime_error("second"); }),
                          "second");
    }
}

TEST_CASE("when both callables throw the first one's exception wins", "[join][unit]") {
    taskforge::scheduler pool{taskforge::options{.threads = 2}};
    for (int round = 0; round < 20; ++round) {
        CHECK_THROWS_WITH(pool.join(
                              [round]() -> int {
                                  if (round % 2 == 0) spin_for(std::chrono::microseconds(500));
                                  throw std::runtime_error("first");
                              },
                              []() -> int { throw std::logic_error("second"); }),
                          "first");
    }
}

TEST_CASE("a stolen second half finishes before the first half's exception leaves join", "[join][unit]") {
    taskforge::scheduler pool{taskforge::options{.threads = 2}};
    for (int round = 0; round < 10; ++round) {
        std::atomic<bool> second_done{false};
        std::atomic<bool> second_started{false};
        bool done_when_caught = false;
        try {
            pool.join(
                [&] {
                    const auto give_up = std::chrono::steady_clock::now() + std::chrono::milliseconds(50);
                    while (!second_started.load() && std::chrono::steady_clock::now() < give_up) {
                    }
                    throw std::runtime_error("first");
                },
                [&] {
                    second_started.store(true);
                    spin_for(std::chrono::milliseconds(2));
                    second_done.store(true);
                });
        } catch (const std::runtime_error&) {
            done_when_caught = second_done.load() || !second_started.load();
        }
        CHECK(done_when_caught);
    }
}

TEST_CASE("join inside task_group tasks, and a task_group inside join", "[join][unit]") {
    taskforge::scheduler pool{taskforge::options{.threads = 2}};
    std::atomic<long> leaves{0};
    taskforge::task_group group{pool};
    for (int i = 0; i < 20; ++i) group.spawn([&] { leaves.fetch_add(join_tree(6)); });
    group.wait();
    CHECK(leaves.load() == 20 * 64);

    auto [a, b] = pool.join(
        [&] {
            taskforge::task_group inner{pool};
            std::atomic<int> count{0};
            for (int i = 0; i < 50; ++i) inner.spawn([&] { count.fetch_add(1); });
            inner.wait();
            return count.load();
        },
        [] { return join_tree(8); });
    CHECK(a == 50);
    CHECK(b == 256);
}

TEST_CASE("parallel_invoke runs 1, 2, 3 and 17 callables exactly once each", "[join][unit]") {
    taskforge::scheduler pool{taskforge::options{.threads = 2}};
    std::atomic<int> calls[17] = {};
    auto call = [&](int index) { return [&calls, index] { calls[index].fetch_add(1); }; };
    pool.parallel_invoke(call(0));
    pool.parallel_invoke(call(1), call(2));
    pool.parallel_invoke(call(3), call(4), call(5));
    for (int i = 0; i < 6; ++i) CHECK(calls[i].load() == 1);
    for (auto& count : calls) count.store(0);
    pool.parallel_invoke(call(0), call(1), call(2), call(3), call(4), call(5), call(6), call(7), call(8), call(9),
                         call(10), call(11), call(12), call(13), call(14), call(15), call(16));
    for (auto& count : calls) CHECK(count.load() == 1);
}

// A callable to the right of one that threw runs only if it had already been stolen (join's rule for `g`).
TEST_CASE("parallel_invoke rethrows the leftmost exception", "[join][unit]") {
    taskforge::scheduler pool{taskforge::options{.threads = 2}};
    std::atomic<int> ran{0};
    auto fine = [&] { ran.fetch_add(1); };
    CHECK_THROWS_WITH(
        pool.parallel_invoke(
            fine, [] { throw std::runtime_error("second"); }, fine, [] { throw std::runtime_error("fourth"); }),
        "second");
    CHECK(ran.load() >= 1);  // the leftmost callable ran; the third one may not have
    CHECK(ran.load() <= 2);
}

TEST_CASE("a 10,000-deep recursion of join fits an ordinary 8 MiB worker stack", "[join][unit]") {
    const long depth = TASKFORGE_TEST_TSAN || TASKFORGE_TEST_ASAN ? 2'000 : 10'000;
    for (const std::size_t threads : {std::size_t{1}, std::size_t{2}}) {
        taskforge::scheduler pool{taskforge::options{.threads = threads, .stack_size = std::size_t{8} << 20}};
        CHECK(pool.spawn(join_chain, depth).get() == depth);
    }
}

// Rayon issue #854's shape: many tasks in flight at once, each waiting on a fork-join of its own. A waiter runs
// only its own subtree, so the stack stays shallow however many tasks are queued.
TEST_CASE("10,000 tasks each waiting on a fork-join of their own fit an 8 MiB stack", "[join][unit]") {
    const int tasks = TASKFORGE_TEST_TSAN ? 1'000 : 10'000;
    taskforge::scheduler pool{taskforge::options{.threads = 2, .stack_size = std::size_t{8} << 20}};
    std::atomic<long> leaves{0};
    taskforge::task_group group{pool};
    for (int i = 0; i < tasks; ++i) group.spawn([&] { leaves.fetch_add(join_tree(4)); });
    group.wait();
    CHECK(leaves.load() == 16L * tasks);
}

// Adversarial finding: a thief that ran a group's task, then took a stolen join half, held the group's finish
// (deferred, group_state.hpp [G4]) until the half returned: g.wait() waited for unrelated work.
TEST_CASE("a stolen join half never holds back another group's finished task", "[join][unit]") {
    using clock = std::chrono::steady_clock;
    taskforge::scheduler pool{taskforge::options{.threads = 2}};
    taskforge::task_group group{pool};
    std::atomic<bool> pushed{false};
    std::atomic<bool> member_done{false};
    std::atomic<bool> released{false};
    const auto start = clock::now();
    auto until = [](clock::time_point from, std::chrono::milliseconds limit) { return clock::now() - from < limit; };
    auto busy = pool.spawn([&] {
        while (!pushed.load() && until(start, std::chrono::seconds(2))) {
        }
    });
    auto parent = pool.spawn([&] {
        group.spawn([&] { member_done.store(true); });
        pool.join(
            [&] {
                taskforge::spawn([] {});  // detached, left above the second half
                pushed.store(true);
                while (!member_done.load() && until(start, std::chrono::seconds(3))) {
                }
            },
            [&] {
                const auto begun = clock::now();
                while (!released.load() && until(begun, std::chrono::seconds(5))) {
                }
            });
    });
    while (!member_done.load()) std::this_thread::yield();
    const auto before = clock::now();
    group.wait();
    const auto waited = clock::now() - before;
    released.store(true);
    parent.get();
    busy.get();
    CHECK(waited < std::chrono::seconds(1));  // 5 s (the half's own limit) before the fix
}

// Adversarial finding: with `f` leaving a detached spawn on top of the second half, join used to block on the half
// (a spare ran it) instead of taking it back from under the spawn.
TEST_CASE("join takes its second half back from under jobs that the first half left", "[join][unit]") {
    // One worker and no guest slot: a caller helping as a guest (waiting.hpp [W4]) would be a second thread that
    // may steal the second half itself (seen once in CI under tsan).
    taskforge::options one_worker{.threads = 1};
    one_worker.guest_slots = 0;
    taskforge::scheduler pool{one_worker};
    std::atomic<int> detached{0};
    auto [first_thread, second_thread] = pool.join(
        [&] {
            for (int i = 0; i < 3; ++i) (void)taskforge::spawn([&] { detached.fetch_add(1); });
            return std::this_thread::get_id();
        },
        [] { return std::this_thread::get_id(); });
    CHECK(first_thread == second_thread);
    pool.spawn([] {}).get();
    while (detached.load() != 3) std::this_thread::yield();  // the detached ones still ran
}
