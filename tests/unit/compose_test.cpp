// then(), when_all(), when_any(): values, void, move-only types, exceptions, cancellation, attaching after
// completion, constant stack for long chains, and a diamond-shaped graph.
#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <numeric>
#include <stdexcept>
#include <string>
#include <taskforge/taskforge.hpp>
#include <thread>
#include <tuple>
#include <variant>
#include <vector>

#include "../support/catch.hpp"
#include "../support/sanitizers.hpp"

namespace {

using namespace std::chrono_literals;

// A task that does not finish before release() (so continuations attach to a running task).
struct gate {
    std::atomic<bool> open{false};
    void release() { open.store(true); }
    void wait() const {
        while (!open.load()) std::this_thread::sleep_for(50us);
    }
};

}  // namespace

TEST_CASE("then runs f with the value, consumes the handle, and chains", "[compose][unit]") {
    taskforge::scheduler pool{taskforge::options{.threads = 2}};
    auto first = pool.spawn([] { return 20; });
    auto second = first.then([](int x) { return x + 1; });
    CHECK_FALSE(first.valid());
    auto third = second.then([](int x) { return std::to_string(x * 2); });
    CHECK(third.get() == "42");
}

TEST_CASE("then on void tasks, to void tasks, and with move-only values", "[compose][unit]") {
    taskforge::scheduler pool{taskforge::options{.threads = 2}};
    std::atomic<int> order{0};
    auto done = pool.spawn([&] { order = 1; }).then([&] { return order.load() + 1; });
    CHECK(done.get() == 2);
    auto nothing = pool.spawn([] { return 3; }).then([&](int x) { order = x; });
    nothing.get();
    CHECK(order.load() == 3);
    auto owned = pool.spawn([] { return std::make_unique<int>(7); }).then([](std::unique_ptr<int> p) {
        return std::make_unique<long>(*p * 6);
    });
    CHECK(*owned.get() == 42);
}

TEST_CASE("then after the task completed is queued at once", "[compose][unit]") {
    taskforge::scheduler pool{taskforge::options{.threads = 1}};
    auto first = pool.spawn([] { return 5; });
    first.wait();
    auto next = first.then([](int x) { return x * 2; });
    CHECK(next.get() == 10);
}

TEST_CASE("a failed task's continuation fails with the same exception, and f never runs", "[compose][unit]") {
    taskforge::scheduler pool{taskforge::options{.threads = 2}};
    std::atomic<bool> ran{false};
    auto next = pool.spawn([]() -> int { throw std::runtime_error("boom"); }).then([&](int x) {
        ran = true;
        return x;
    });
    CHECK_THROWS_WITH(next.get(), "boom");
    CHECK_FALSE(ran.load());
}

TEST_CASE("a cancelled task's continuation is cancelled; a continuation can be cancelled before it fires",
          "[compose][unit]") {
    gate blocker;
    taskforge::scheduler pool{taskforge::options{.threads = 1}};
    auto busy = pool.spawn([&] { blocker.wait(); });  // keeps the only worker, so the next task stays pending
    auto victim = pool.spawn([] { return 1; });
    std::atomic<bool> ran{false};
    REQUIRE(victim.cancel());
    auto after_cancelled = victim.then([&](int x) {
        ran = true;
        return x;
    });
    auto pending_continuation = pool.spawn([] { return 2; }).then([&](int x) {
        ran = true;
        return x;
    });
    CHECK(pending_continuation.status() == taskforge::task_status::pending);
    CHECK(pending_continuation.cancel());
    blocker.release();
    CHECK_THROWS_AS(after_cancelled.get(), taskforge::task_cancelled);
    CHECK_THROWS_AS(pending_continuation.get(), taskforge::task_cancelled);
    busy.get();
    CHECK_FALSE(ran.load());
}

TEST_CASE("waiting on a continuation that has not fired does not run it early", "[compose][unit]") {
    gate blocker;
    taskforge::scheduler pool{taskforge::options{.threads = 2}};
    std::atomic<bool> first_done{false};
    auto next = pool.spawn([&] {
                        blocker.wait();
                        first_done = true;
                    })
                    .then([&] { return first_done.load(); });
    std::thread opener([&] {
        std::this_thread::sleep_for(5ms);
        blocker.release();
    });
    // From a worker too: a waiting worker may claim a pending task, but never an unfired continuation.
    auto from_worker = pool.spawn([&] { return next.get(); });
    CHECK(from_worker.get());
    opener.join();
}

TEST_CASE("empty handles throw no_state from then, when_all and when_any", "[compose][unit]") {
    taskforge::task_handle<int> empty;
    CHECK_THROWS_AS(empty.then([](int x) { return x; }), std::future_error);
    taskforge::scheduler pool{taskforge::options{.threads = 1}};
    auto fine = pool.spawn([] { return 1; });
    CHECK_THROWS_AS(taskforge::when_all(fine, empty), std::future_error);
    CHECK(fine.valid());  // nothing consumed when an input is empty
    std::vector<taskforge::task_handle<int>> some;
    some.push_back(std::move(fine));
    some.emplace_back();
    CHECK_THROWS_AS(taskforge::when_any(std::move(some)), std::future_error);
    REQUIRE(some.size() == 2);  // the vector overloads validate before they consume
    CHECK(some[0].valid());
    CHECK_THROWS_AS(taskforge::when_all(std::move(some)), std::future_error);
    CHECK(some[0].valid());
    CHECK_THROWS_AS(taskforge::when_any(std::vector<taskforge::task_handle<int>>{}), std::invalid_argument);
}

TEST_CASE("when_all given the same handle twice throws invalid_argument and consumes nothing", "[compose][unit]") {
    taskforge::scheduler pool{taskforge::options{.threads = 1}};
    auto failing = pool.spawn([]() -> int { throw std::runtime_error("from the task"); });
    auto other = pool.spawn([] { return 2; });
    CHECK_THROWS_AS(taskforge::when_all(failing, failing), std::invalid_argument);
    CHECK_THROWS_AS(taskforge::when_all(other, failing, other), std::invalid_argument);
    REQUIRE(failing.valid());  // the task's exception is still there to be retrieved, not lost
    CHECK_THROWS_WITH(failing.get(), "from the task");
    CHECK(other.get() == 2);
}

TEST_CASE("a chain of 1,000,000 thens on one worker runs in constant stack", "[compose][unit]") {
    constexpr long links = TASKFORGE_TEST_TSAN || TASKFORGE_TEST_ASAN ? 100'000 : 1'000'000;
    gate blocker;
    taskforge::options small_stack{.threads = 1};
    small_stack.stack_size = 256 * 1024;  // recursion of even a few thousand links would overflow it
    taskforge::scheduler pool{small_stack};
    auto chain = pool.spawn([&] {
        blocker.wait();
        return 0L;
    });
    for (long i = 0; i < links; ++i) chain = chain.then([](long x) { return x + 1; });
    blocker.release();  // every link attached before the first completes: completion fires them one by one
    CHECK(chain.get() == links);
}

TEST_CASE("when_all of handles gives the tuple of values; void gives monostate", "[compose][unit]") {
    taskforge::scheduler pool{taskforge::options{.threads = 2}};
    auto a = pool.spawn([] { return 1; });
    auto b = pool.spawn([] { return std::string("two"); });
    auto c = pool.spawn([] {});
    auto d = pool.spawn([] { return std::make_unique<int>(4); });
    a.wait();  // one input finished before when_all: it counts at once
    auto all = taskforge::when_all(a, b, std::move(c), d);
    CHECK_FALSE(a.valid());
    CHECK_FALSE(d.valid());
    auto [one, two, three, four] = all.get();
    CHECK(one == 1);
    CHECK(two == "two");
    CHECK(std::is_same_v<decltype(three), std::monostate>);
    CHECK(*four == 4);
}

namespace {
std::atomic<int> unhandled{0};
void count_unhandled(std::exception_ptr) noexcept { ++unhandled; }
}  // namespace

TEST_CASE("when_all of a vector: values in order, void, empty, and the first failure in order", "[compose][unit]") {
    taskforge::options counting{.threads = 2};
    counting.on_unhandled_exception = &count_unhandled;
    taskforge::scheduler pool{counting};
    unhandled = 0;
    std::vector<taskforge::task_handle<int>> inputs;
    for (int i = 0; i < 1000; ++i) inputs.push_back(pool.spawn([i] { return i; }));
    std::vector<int> expected(1000);
    std::iota(expected.begin(), expected.end(), 0);
    CHECK(taskforge::when_all(std::move(inputs)).get() == expected);

    std::atomic<int> ran{0};
    std::vector<taskforge::task_handle<void>> chores;
    for (int i = 0; i < 10; ++i) chores.push_back(pool.spawn([&] { ++ran; }));
    taskforge::when_all(std::move(chores)).get();
    CHECK(ran.load() == 10);

    CHECK(taskforge::when_all(std::vector<taskforge::task_handle<int>>{}).get().empty());

    std::vector<taskforge::task_handle<int>> mixed;
    mixed.push_back(pool.spawn([] { return 1; }));
    mixed.push_back(pool.spawn([]() -> int {
        std::this_thread::sleep_for(2ms);
        throw std::runtime_error("second");
    }));
    mixed.push_back(pool.spawn([]() -> int { throw std::logic_error("third"); }));
    CHECK_THROWS_WITH(taskforge::when_all(std::move(mixed)).get(), "second");
    CHECK(unhandled.load() == 0);  // the third input's exception is replaced by the result's, not reported
}

TEST_CASE("when_all with a cancelled input is cancelled", "[compose][unit]") {
    gate blocker;
    taskforge::scheduler pool{taskforge::options{.threads = 1}};
    auto busy = pool.spawn([&] { blocker.wait(); });
    auto victim = pool.spawn([] { return 1; });
    REQUIRE(victim.cancel());
    auto fine = pool.spawn([] { return 2; });
    auto all = taskforge::when_all(fine, victim);
    blocker.release();
    CHECK_THROWS_AS(all.get(), taskforge::task_cancelled);
    busy.get();
}

TEST_CASE("when_any gives the first to finish; the others finish normally", "[compose][unit]") {
    gate slow_gate;
    taskforge::scheduler pool{taskforge::options{.threads = 2}};
    std::atomic<int> finished{0};
    std::vector<taskforge::task_handle<std::string>> replicas;
    replicas.push_back(pool.spawn([&] {
        slow_gate.wait();
        ++finished;
        return std::string("slow");
    }));
    replicas.push_back(pool.spawn([&] {
        ++finished;
        return std::string("fast");
    }));
    auto any = taskforge::when_any(std::move(replicas));
    auto [index, value] = any.get();
    CHECK(index == 1);
    CHECK(value == "fast");
    slow_gate.release();
    while (finished.load() < 2) std::this_thread::sleep_for(100us);  // the loser still runs to the end

    std::vector<taskforge::task_handle<void>> chores;
    chores.push_back(pool.spawn([] {}));
    CHECK(taskforge::when_any(std::move(chores)).get() == 0);

    std::vector<taskforge::task_handle<int>> failing;
    failing.push_back(pool.spawn([]() -> int { throw std::runtime_error("first to finish, by failing"); }));
    CHECK_THROWS_WITH(taskforge::when_any(std::move(failing)).get(), "first to finish, by failing");
}

TEST_CASE("64 chains of 1,000 thens joined by when_all give the right result", "[compose][unit]") {
    constexpr int links = TASKFORGE_TEST_TSAN ? 200 : 1000;
    constexpr int width = 64;
    taskforge::scheduler pool{taskforge::options{.threads = 2}};
    std::vector<taskforge::task_handle<long>> chains;
    for (int i = 0; i < width; ++i) {
        auto chain = pool.spawn([i] { return long{i}; });
        for (int l = 0; l < links; ++l) chain = chain.then([](long x) { return x + 1; });
        chains.push_back(std::move(chain));
    }
    auto total = taskforge::when_all(std::move(chains)).then([](std::vector<long> values) {
        return std::accumulate(values.begin(), values.end(), 0L);
    });
    CHECK(total.get() == long{width} * links + long{width} * (width - 1) / 2);
}

TEST_CASE("a task that takes a std::stop_token stops when asked, and get() gives what it returned", "[cancel][unit]") {
    taskforge::scheduler pool{taskforge::options{.threads = 2}};
    std::atomic<bool> started{false};
    auto worker = pool.spawn(
        [&](std::stop_token stop, int base) {
            started = true;
            long polls = 0;
            while (!stop.stop_requested()) ++polls;
            return base + (polls > 0 ? 1 : 0);
        },
        41);
    while (!started.load()) std::this_thread::yield();
    CHECK_FALSE(worker.request_stop());  // running: a stop request, not a cancellation
    CHECK(worker.get() == 42);
}

TEST_CASE("request_stop cancels a task that has not started; on a token-less running task it changes nothing",
          "[cancel][unit]") {
    gate blocker;
    taskforge::scheduler pool{taskforge::options{.threads = 1}};
    std::atomic<bool> started{false};
    auto busy = pool.spawn([&] {
        started = true;
        blocker.wait();
        return 7;
    });
    std::atomic<bool> ran{false};
    auto queued = pool.spawn([&](std::stop_token) { ran = true; });
    while (!started.load()) std::this_thread::yield();
    CHECK(queued.request_stop());
    CHECK_FALSE(busy.request_stop());
    blocker.release();
    CHECK(busy.get() == 7);
    CHECK_THROWS_AS(queued.get(), taskforge::task_cancelled);
    CHECK_FALSE(ran.load());
    taskforge::task_handle<int> empty;
    CHECK_THROWS_AS(empty.request_stop(), std::future_error);
}

TEST_CASE("stop tokens work with move-only arguments, free spawn and continuations", "[cancel][unit]") {
    taskforge::scheduler pool{taskforge::options{.threads = 2}};
    auto owned = pool.spawn([](std::stop_token stop, std::unique_ptr<int> p) { return stop.stop_requested() ? 0 : *p; },
                            std::make_unique<int>(5));
    CHECK(owned.then([](int x) { return x * 2; }).get() == 10);
    auto free_spawned =
        pool.spawn([] { return taskforge::spawn([](std::stop_token stop) { return stop.stop_possible(); }).get(); });
    CHECK(free_spawned.get());
}

TEST_CASE("cancelling an unfired continuation wakes its waiters at once", "[compose][unit]") {
    gate blocker;
    taskforge::scheduler pool{taskforge::options{.threads = 2}};
    auto continuation = pool.spawn([&] {
                                blocker.wait();
                                return 1;
                            })
                            .then([](int x) { return x + 1; });
    std::atomic<bool> woke{false};
    std::thread waiter([&] {
        continuation.wait();  // sleeps: the predecessor is blocked
        woke = true;
    });
    std::this_thread::sleep_for(20ms);
    REQUIRE(continuation.cancel());
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (!woke.load() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(1ms);
    CHECK(woke.load());  // before the predecessor ends
    blocker.release();
    waiter.join();
    CHECK_THROWS_AS(continuation.get(), taskforge::task_cancelled);
}

TEST_CASE("a task_cancelled thrown by user code is a failure downstream, not a cancellation", "[compose][unit]") {
    taskforge::scheduler pool{taskforge::options{.threads = 2}};
    auto next = pool.spawn([]() -> int { throw taskforge::task_cancelled(); }).then([](int x) { return x; });
    next.wait();
    CHECK(next.status() == taskforge::task_status::failed);
    CHECK_THROWS_AS(next.get(), taskforge::task_cancelled);
}

TEST_CASE("a chain refused by a shut-down scheduler is cancelled link by link in constant stack", "[compose][unit]") {
    constexpr int links = TASKFORGE_TEST_TSAN || TASKFORGE_TEST_ASAN ? 20'000 : 100'000;
    gate blocker;
    taskforge::scheduler closed{taskforge::options{.threads = 1}};
    taskforge::options small_stack{.threads = 1};
    small_stack.stack_size = 1 << 20;
    taskforge::scheduler other{small_stack};
    auto here = closed.spawn([] { return 1; });
    auto there = other.spawn([&] {
        blocker.wait();
        return 2;
    });
    auto chain = taskforge::when_all(here, there).then([](std::tuple<int, int> parts) {
        return std::get<0>(parts) + std::get<1>(parts);
    });
    for (int i = 0; i < links; ++i) chain = chain.then([](int x) { return x + 1; });
    closed.shutdown();
    blocker.release();  // `there` finishes on other's worker and fires a result that `closed` refuses
    CHECK_THROWS_AS(chain.get(), taskforge::task_cancelled);
}

TEST_CASE("task_group::cancel skips tasks not started; wait() then throws task_cancelled", "[cancel][unit]") {
    gate blocker;
    taskforge::scheduler pool{taskforge::options{.threads = 1}};
    auto busy = pool.spawn([&] { blocker.wait(); });  // the only worker: every group task stays queued
    std::atomic<int> ran{0};
    taskforge::task_group group{pool};
    for (int i = 0; i < 1000; ++i) group.spawn([&] { ++ran; });
    group.cancel();
    blocker.release();
    CHECK_THROWS_AS(group.wait(), taskforge::task_cancelled);
    CHECK(ran.load() == 0);
    group.spawn([&] { ++ran; });  // a group stays cancelled
    CHECK_THROWS_AS(group.wait(), taskforge::task_cancelled);
    CHECK(ran.load() == 0);
    busy.get();
}

TEST_CASE("task_group::cancel requests a stop on running tasks that take a stop token", "[cancel][unit]") {
    taskforge::scheduler pool{taskforge::options{.threads = 2}};
    taskforge::task_group group{pool};
    std::atomic<int> started{0};
    std::atomic<int> stopped{0};
    for (int i = 0; i < 2; ++i) {
        group.spawn([&](std::stop_token stop) {
            ++started;
            while (!stop.stop_requested()) std::this_thread::yield();
            ++stopped;
        });
    }
    while (started.load() < 2) std::this_thread::yield();
    group.cancel();
    CHECK_THROWS_AS(group.wait(), taskforge::task_cancelled);
    CHECK(stopped.load() == 2);
}

TEST_CASE("a group made inside a task of a cancelled group sees the cancellation", "[cancel][unit]") {
    taskforge::scheduler pool{taskforge::options{.threads = 2}};
    taskforge::task_group outer{pool};
    std::atomic<int> inner_ran{0};
    std::atomic<int> inner_outcome{0};  // 1: returned normally, 2: threw task_cancelled
    outer.spawn([&] {
        taskforge::task_group inner{pool};
        outer.cancel();  // from inside one of its own tasks
        for (int i = 0; i < 10; ++i) inner.spawn([&] { ++inner_ran; });
        try {
            inner.wait();
            inner_outcome = 1;
        } catch (const taskforge::task_cancelled&) {
            inner_outcome = 2;
        }
    });
    CHECK_THROWS_AS(outer.wait(), taskforge::task_cancelled);
    CHECK(inner_outcome.load() == 2);  // not a silent return with its work skipped (oneTBB #253)
    CHECK(inner_ran.load() == 0);
}

TEST_CASE("a cancelled group's destructor reports nothing; an uncancelled one is unaffected", "[cancel][unit]") {
    taskforge::options counting{.threads = 2};
    counting.on_unhandled_exception = &count_unhandled;
    taskforge::scheduler pool{counting};
    unhandled = 0;
    {
        taskforge::task_group group{pool};
        group.spawn([] {});
        group.cancel();
    }
    CHECK(unhandled.load() == 0);
    taskforge::task_group fine{pool};
    std::atomic<int> ran{0};
    fine.spawn([&] { ++ran; });
    fine.wait();
    CHECK(ran.load() == 1);
}

TEST_CASE("then whose function returns a task_handle is unwrapped: values, void, errors, cancellation",
          "[compose][unit]") {
    taskforge::scheduler pool{taskforge::options{.threads = 2}};
    auto tens = pool.spawn([] { return 3; }).then([&pool](int n) { return pool.spawn([n] { return n * 10; }); });
    static_assert(std::is_same_v<decltype(tens), taskforge::task_handle<int>>);
    CHECK(tens.get() == 30);

    std::atomic<bool> inner_ran{false};
    auto nothing = pool.spawn([] {}).then([&] { return pool.spawn([&] { inner_ran = true; }); });
    nothing.get();
    CHECK(inner_ran.load());

    auto inner_fails = pool.spawn([] { return 1; }).then([&pool](int) {
        return pool.spawn([]() -> int { throw std::runtime_error("inner"); });
    });
    CHECK_THROWS_WITH(inner_fails.get(), "inner");
    auto outer_fails = pool.spawn([] { return 1; }).then([](int) -> taskforge::task_handle<int> {
        throw std::runtime_error("outer");
    });
    CHECK_THROWS_WITH(outer_fails.get(), "outer");
    auto empty_inner = pool.spawn([] { return 1; }).then([](int) { return taskforge::task_handle<int>{}; });
    CHECK_THROWS_AS(empty_inner.get(), std::future_error);
}

TEST_CASE("an unwrapped continuation is cancelled with its predecessor, and can be cancelled itself",
          "[compose][unit]") {
    gate blocker;
    taskforge::scheduler pool{taskforge::options{.threads = 1}};
    auto busy = pool.spawn([&] { blocker.wait(); });
    auto victim = pool.spawn([] { return 1; });
    REQUIRE(victim.cancel());
    std::atomic<int> calls{0};
    auto after_cancelled = victim.then([&](int x) {
        ++calls;
        return pool.spawn([x] { return x; });
    });
    auto dropped = pool.spawn([] { return 2; }).then([&](int x) {
        ++calls;
        return pool.spawn([x] { return x; });
    });
    CHECK(dropped.cancel());
    blocker.release();
    CHECK_THROWS_AS(after_cancelled.get(), taskforge::task_cancelled);
    CHECK_THROWS_AS(dropped.get(), taskforge::task_cancelled);
    CHECK(calls.load() <= 1);  // the cancelled one's function may run; its inner task's result is dropped
    busy.get();
}

TEST_CASE("a diamond graph, 1,000 levels x 64 wide, from when_all and then gives the right result", "[compose][unit]") {
    constexpr int levels = TASKFORGE_TEST_TSAN || TASKFORGE_TEST_ASAN ? 200 : 1000;
    constexpr int width = 64;
    taskforge::scheduler pool{taskforge::options{.threads = 2}};
    // Every level: 64 tasks, each reading all 64 values of the level before (fan-out), joined by when_all
    // (fan-in); each node adds 1 to the average of the level before, so the last level holds `levels`.
    auto level = pool.spawn([] { return std::vector<long>(width, 0); });
    for (int l = 0; l < levels; ++l) {
        level = level.then([&pool](std::vector<long> values) {
            auto before = std::make_shared<const std::vector<long>>(std::move(values));
            std::vector<taskforge::task_handle<long>> nodes;
            for (int i = 0; i < width; ++i) {
                nodes.push_back(
                    pool.spawn([before] { return std::accumulate(before->begin(), before->end(), 0L) / width + 1; }));
            }
            return taskforge::when_all(std::move(nodes));
        });
    }
    CHECK(level.get() == std::vector<long>(width, levels));
}

TEST_CASE("cancelling an outer group stops the tokens of tasks in groups nested inside its tasks", "[cancel][unit]") {
    taskforge::scheduler pool{taskforge::options{.threads = 2}};
    taskforge::task_group outer{pool};
    std::atomic<bool> inside{false};
    outer.spawn([&] {
        taskforge::task_group middle{pool};
        middle.spawn([&] {
            taskforge::task_group inner{pool};
            inner.spawn([&](std::stop_token stop) {
                inside = true;
                while (!stop.stop_requested()) std::this_thread::yield();
            });
            inner.wait();
        });
        middle.wait();
    });
    while (!inside.load()) std::this_thread::yield();
    outer.cancel();
    CHECK_THROWS_AS(outer.wait(), taskforge::task_cancelled);
}

TEST_CASE("groups made in loop bodies and join halves forked from a cancelled group's task are cancelled too",
          "[cancel][unit]") {
    taskforge::scheduler pool{taskforge::options{.threads = 2}};
    taskforge::task_group outer{pool};
    std::atomic<int> normal{0};
    std::atomic<int> cancelled{0};
    const auto make_and_wait = [&] {
        taskforge::task_group inner{pool};
        inner.spawn([] {});
        try {
            inner.wait();
            ++normal;
        } catch (const taskforge::task_cancelled&) {
            ++cancelled;
        }
    };
    outer.spawn([&] {
        outer.cancel();
        taskforge::parallel_for(0, 64, [&](int) {
            make_and_wait();
            std::this_thread::sleep_for(200us);  // long enough for the other worker to steal pieces
        });
        taskforge::join([] { std::this_thread::sleep_for(5ms); }, make_and_wait);
    });
    CHECK_THROWS_AS(outer.wait(), taskforge::task_cancelled);
    CHECK(normal.load() == 0);
    CHECK(cancelled.load() == 65);
}

TEST_CASE("a group made by a plain task spawned from a group task does not nest in that group", "[cancel][unit]") {
    taskforge::scheduler pool{taskforge::options{.threads = 2}};
    std::unique_ptr<taskforge::task_group> made;
    auto outer = std::make_unique<taskforge::task_group>(pool);
    outer->spawn([&] {
        auto maker = pool.spawn([&] { return std::make_unique<taskforge::task_group>(pool); });
        made = maker.get();  // often run inline right here, on top of the group task
        outer->cancel();
    });
    CHECK_THROWS_AS(outer->wait(), taskforge::task_cancelled);
    outer.reset();  // the plain task's group must not point at it
    std::atomic<int> ran{0};
    made->spawn([&] { ++ran; });
    made->wait();
    CHECK(ran.load() == 1);
}

// Adversarial finding (AddressSanitizer: heap-use-after-free): an unwrapped then() whose function returned a task
// of another scheduler fired into its own scheduler after that was destroyed. The destructor now waits until the
// inner task finished; the continuation then finds its scheduler shut down and ends cancelled (or completed, when
// the inner task finished before the shutdown began). Both schedulers here are destroyed with work in flight.
TEST_CASE("an unwrapped then() into another scheduler's task keeps its own scheduler alive until it is due",
          "[compose][unit][lifetime]") {
    for (int round = 0; round < 30; ++round) {
        taskforge::scheduler inner_pool{taskforge::options{.threads = 1}};
        std::atomic<bool> started{false};
        std::atomic<bool> go{false};
        auto outer_pool = std::make_unique<taskforge::scheduler>(taskforge::options{.threads = 1, .guest_slots = 0});
        auto result = outer_pool->spawn([] { return 1; }).then([&](int value) {
            return inner_pool.spawn([&started, &go, value] {
                started = true;
                while (!go.load()) std::this_thread::yield();
                return value + 1;
            });
        });
        while (!started.load()) std::this_thread::yield();
        std::thread releaser([&go, round] {
            std::this_thread::sleep_for(std::chrono::milliseconds(round % 3));
            go = true;
        });
        outer_pool.reset();  // waits for the inner task: its continuation must still reach this scheduler
        releaser.join();
        int outcome = 0;
        try {
            outcome = result.get();
        } catch (const taskforge::task_cancelled&) {
            outcome = -1;
        }
        CHECK((outcome == 2 || outcome == -1));
    }
}
