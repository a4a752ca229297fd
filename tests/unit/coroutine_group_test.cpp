// `co_await group` (task.hpp; group_state.hpp [G7][G8]): a coroutine waits for a task_group without blocking a
// thread — results, exceptions, cancellation, rounds, many waiters at once, other pools, shutdown, misuse, and the
// group's lifetime against a blocking waiter that frees it.
#include <atomic>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <system_error>
#include <taskforge/taskforge.hpp>
#include <thread>
#include <vector>

#include "../support/catch.hpp"
#include "../support/sanitizers.hpp"

namespace {

using namespace std::chrono_literals;

struct gate {
    std::atomic<bool> open{false};
    void wait() const {
        while (!open.load()) std::this_thread::sleep_for(100us);
    }
};

// Spawns `count` tasks into a group declared here, each adding its index + 1, and awaits the group.
taskforge::task<long> sum_in_a_group(taskforge::scheduler& pool, int count) {
    co_await pool.schedule();
    std::atomic<long> total{0};
    taskforge::task_group group{pool};
    for (int i = 0; i < count; ++i) {
        group.spawn([&total, i] { total.fetch_add(i + 1, std::memory_order_relaxed); });
    }
    co_await group;
    co_return total.load(std::memory_order_relaxed);
}

// One level of a 200-deep chain of coroutines, each owning a group whose tasks run while deeper levels run:
// even levels await their group before descending, odd ones after the deeper levels returned; every third level
// waits by blocking instead (wait() inside a coroutine). Returns the number of group tasks that ran at or below it.
taskforge::task<long> nested_group_level(taskforge::scheduler& pool, int depth) {
    if (depth == 0) co_return 0;
    std::atomic<long> ran{0};
    taskforge::task_group group{pool};
    for (int i = 0; i < 3; ++i) group.spawn([&ran] { ran.fetch_add(1, std::memory_order_relaxed); });
    const bool blocking = depth % 3 == 0;
    long below = 0;
    if (depth % 2 == 0) {
        if (blocking) {
            group.wait();
        } else {
            co_await group;
        }
        below = co_await nested_group_level(pool, depth - 1);
    } else {
        below = co_await nested_group_level(pool, depth - 1);
        if (blocking) {
            group.wait();
        } else {
            co_await group;
        }
    }
    co_return below + ran.load(std::memory_order_relaxed);
}

}  // namespace

TEST_CASE("co_await group resumes once every task of the group finished", "[coroutine][group][unit]") {
    taskforge::scheduler pool{taskforge::options{.threads = 2}};
    CHECK(taskforge::sync_wait(sum_in_a_group(pool, 1000)) == 1000L * 1001 / 2);
    CHECK(pool.spawn(sum_in_a_group, std::ref(pool), 100).get() == 100L * 101 / 2);
}

TEST_CASE("co_await on a group with no unfinished task does not suspend", "[coroutine][group][unit]") {
    taskforge::scheduler pool{taskforge::options{.threads = 1}};
    taskforge::task_group group{pool};
    auto check = [&]() -> taskforge::task<std::thread::id> {
        co_await group;  // empty: goes on here, on the calling thread
        co_return std::this_thread::get_id();
    };
    CHECK(taskforge::sync_wait(check()) == std::this_thread::get_id());
}

TEST_CASE("co_await group suspends while a task runs elsewhere and resumes on its home pool",
          "[coroutine][group][unit]") {
    gate blocker;
    std::atomic<std::thread::id> home_worker{};
    taskforge::options home_options{.threads = 1};
    home_options.on_worker_start = [&home_worker](std::size_t) { home_worker = std::this_thread::get_id(); };
    taskforge::scheduler home{home_options};
    taskforge::scheduler other{taskforge::options{.threads = 1}};
    taskforge::task_group group{other};
    std::atomic<int> ran{0};
    group.spawn([&] {
        blocker.wait();
        ran = 1;
    });
    std::atomic<bool> suspended{false};
    std::atomic<int> seen{0};
    auto handle = home.spawn([&]() -> taskforge::task<std::thread::id> {
        suspended = true;
        co_await group;
        seen = ran.load();
        co_return std::this_thread::get_id();
    });
    while (!suspended.load()) std::this_thread::sleep_for(100us);
    std::this_thread::sleep_for(5ms);
    CHECK_FALSE(handle.ready());  // suspended, no thread blocked: the home pool's one worker is free
    CHECK(home.spawn([] { return 5; }).get() == 5);
    blocker.open = true;
    CHECK(handle.get() == home_worker.load());  // not the thread that finished the group's task
    CHECK(seen.load() == 1);
}

TEST_CASE("co_await group rethrows a task's exception, and the group is clean for the next round",
          "[coroutine][group][unit][exception]") {
    taskforge::scheduler pool{taskforge::options{.threads = 2}};
    taskforge::task_group group{pool};
    auto rounds = [&]() -> taskforge::task<int> {
        group.spawn([] { throw std::runtime_error("first round"); });
        group.spawn([] {});
        bool thrown = false;
        try {
            co_await group;
        } catch (const std::runtime_error& error) {
            thrown = std::string(error.what()) == "first round";
        }
        std::atomic<int> second{0};
        group.spawn([&second] { second = 2; });
        co_await group;  // no exception left over
        co_return thrown ? second.load() : -1;
    };
    CHECK(taskforge::sync_wait(rounds()) == 2);
}

TEST_CASE("co_await on a cancelled group throws task_cancelled", "[coroutine][group][unit][cancel]") {
    taskforge::scheduler pool{taskforge::options{.threads = 1}};
    gate blocker;
    auto busy = pool.spawn([&blocker] { blocker.wait(); });  // the one worker cannot start the group's task early
    taskforge::task_group group{pool};
    std::atomic<int> ran{0};
    auto cancels = [&]() -> taskforge::task<void> {
        group.spawn([&] { ++ran; });
        group.cancel();
        blocker.open = true;
        co_await group;
    };
    CHECK_THROWS_AS(taskforge::sync_wait(cancels()), taskforge::task_cancelled);
    CHECK(ran.load() == 0);  // skipped: it had not started
    busy.get();
}

TEST_CASE("a coroutine awaits one group over 2,000 rounds, each covering every task spawned before it",
          "[coroutine][group][unit]") {
    taskforge::scheduler pool{taskforge::options{.threads = 2}};
    auto rounds = [&]() -> taskforge::task<int> {
        co_await pool.schedule();
        taskforge::task_group group{pool};
        std::atomic<int> finished{0};
        int missing = 0;
        for (int round = 1; round <= 2000; ++round) {
            const int tasks = 1 + round % 5;
            for (int i = 0; i < tasks; ++i) group.spawn([&finished] { finished.fetch_add(1); });
            co_await group;
            missing += finished.exchange(0) != tasks ? 1 : 0;
        }
        co_return missing;
    };
    CHECK(pool.spawn(rounds).get() == 0);
}

TEST_CASE("many coroutines and blocking threads wait for one group at once", "[coroutine][group][unit]") {
    gate blocker;
    taskforge::scheduler pool{taskforge::options{.threads = 2}};
    taskforge::task_group group{pool};
    std::atomic<int> done{0};
    for (int i = 0; i < 8; ++i) {
        group.spawn([&] {
            blocker.wait();
            ++done;
        });
    }
    std::vector<taskforge::task_handle<int>> awaiting;
    for (int i = 0; i < 64; ++i) {
        awaiting.push_back(pool.spawn([&]() -> taskforge::task<int> {
            co_await group;
            co_return done.load();
        }));
    }
    std::atomic<int> seen_by_blocking{0};
    std::thread blocking([&] {
        group.wait();
        seen_by_blocking = done.load();
    });
    std::this_thread::sleep_for(2ms);
    blocker.open = true;
    for (auto& handle : awaiting) CHECK(handle.get() == 8);
    blocking.join();
    CHECK(seen_by_blocking.load() == 8);
}

TEST_CASE("co_await group from a coroutine that sync_wait runs on an outside thread", "[coroutine][group][unit]") {
    taskforge::scheduler pool{taskforge::options{.threads = 2}};
    taskforge::task_group group{pool};
    std::atomic<int> sum{0};
    auto outside = [&]() -> taskforge::task<int> {
        for (int i = 1; i <= 100; ++i) group.spawn([&sum, i] { sum += i; });
        co_await group;  // not on a worker: suspends, resumed on the group's pool
        co_return sum.load();
    };
    CHECK(taskforge::sync_wait(outside()) == 5050);
}

TEST_CASE("co_await on a group from inside one of its own tasks throws resource_deadlock_would_occur",
          "[coroutine][group][unit][misuse]") {
    taskforge::scheduler pool{taskforge::options{.threads = 2}};
    taskforge::task_group group{pool};
    std::atomic<bool> refused{false};
    group.spawn([&] {
        auto inner = [&]() -> taskforge::task<void> { co_await group; };
        try {
            taskforge::sync_wait(inner());
        } catch (const std::system_error& error) {
            refused = error.code() == std::errc::resource_deadlock_would_occur;
        }
    });
    group.wait();
    CHECK(refused.load());
}

TEST_CASE("a coroutine awaiting a group when its home pool shuts down resumes with scheduler_closed",
          "[coroutine][group][unit]") {
    gate blocker;
    taskforge::scheduler other{taskforge::options{.threads = 1}};
    taskforge::task_group group{other};
    group.spawn([&blocker] { blocker.wait(); });
    taskforge::scheduler home{taskforge::options{.threads = 1}};
    std::atomic<bool> suspended{false};
    auto coroutine = home.spawn([&]() -> taskforge::task<void> {
        suspended = true;
        co_await group;  // resumed on `home`, which by then refuses work
    });
    while (!suspended.load()) std::this_thread::sleep_for(100us);
    std::thread releaser([&blocker] {
        std::this_thread::sleep_for(20ms);
        blocker.open = true;
    });
    home.shutdown();  // waits until the suspended coroutine finished (coroutine_frame.hpp [C4])
    releaser.join();
    CHECK_THROWS_AS(coroutine.get(), taskforge::scheduler_closed);
    group.wait();
}

TEST_CASE("a coroutine may destroy its group as soon as co_await returns: the finisher is done with it",
          "[coroutine][group][unit][lifetime]") {
    taskforge::scheduler pool{taskforge::options{.threads = 4}};  // two blocked tasks leave room for the coroutine
    const int rounds = (TASKFORGE_TEST_TSAN || TASKFORGE_TEST_ASAN) ? 200 : 1000;
    for (int round = 0; round < rounds; ++round) {
        gate blocker;
        std::atomic<bool> suspending{false};
        auto awaiting = pool.spawn([&]() -> taskforge::task<int> {
            auto group = std::make_unique<taskforge::task_group>(pool);
            std::atomic<int> done{0};
            for (int i = 0; i < 2; ++i) {
                group->spawn([&] {
                    blocker.wait();
                    ++done;
                });
            }
            suspending = true;
            co_await *group;
            group.reset();  // resumed on another thread than the finisher, which may still be returning [G8]
            co_return done.load();
        });
        while (!suspending.load()) std::this_thread::yield();
        blocker.open = true;
        CHECK(awaiting.get() == 2);
    }
}

TEST_CASE("co_await group while other threads keep spawning into it", "[coroutine][group][unit][stress]") {
    taskforge::scheduler pool{taskforge::options{.threads = 2}};
    taskforge::task_group group{pool};
    std::atomic<bool> stop{false};
    std::atomic<long> extra{0};
    std::atomic<long> bursts{0};
    std::thread spawner([&] {  // in short bursts: a spawner that never pauses could keep the count from zero
        while (!stop.load()) {
            for (int i = 0; i < 3; ++i) group.spawn([&extra] { ++extra; });
            ++bursts;
            std::this_thread::sleep_for(20us);
        }
    });
    while (bursts.load() == 0) std::this_thread::yield();
    auto awaits = [&]() -> taskforge::task<int> {
        co_await pool.schedule();
        int missing = 0;
        for (int round = 0; round < 300; ++round) {
            std::atomic<int> mine{0};
            for (int i = 0; i < 4; ++i) group.spawn([&mine] { ++mine; });
            co_await group;  // covers our four; the spawner's may or may not be covered
            missing += mine.load() != 4 ? 1 : 0;
        }
        co_return missing;
    };
    std::vector<taskforge::task_handle<int>> coroutines;
    for (int i = 0; i < 4; ++i) coroutines.push_back(pool.spawn(awaits));
    for (auto& handle : coroutines) CHECK(handle.get() == 0);
    stop = true;
    spawner.join();
    group.wait();
    CHECK(extra.load() == 3 * bursts.load());  // every task the spawner added ran
}

TEST_CASE("the finisher of a round hands each coroutine its outcome and never touches the group after the zero",
          "[coroutine][group][unit][lifetime]") {
    // group_state.hpp [G8], seen from outside: here the owner frees the group as soon as its own wait() returned,
    // while the coroutine's resumption may still be on its way. (The public rule is stricter — destroy a group once
    // every wait and co_await on it returned — but nothing of the resumption may need the group.)
    taskforge::scheduler pool{taskforge::options{.threads = 4}};  // two blocked tasks leave room for the coroutine
    const int rounds = (TASKFORGE_TEST_TSAN || TASKFORGE_TEST_ASAN) ? 200 : 1000;
    for (int round = 0; round < rounds; ++round) {
        auto group = std::make_unique<taskforge::task_group>(pool);
        gate blocker;
        std::atomic<int> done{0};
        for (int i = 0; i < 2; ++i) {
            group->spawn([&] {
                blocker.wait();
                ++done;
            });
        }
        std::atomic<bool> suspending{false};
        auto awaiting = pool.spawn([&]() -> taskforge::task<int> {
            taskforge::task_group& awaited = *group;
            suspending = true;
            co_await awaited;  // the outcome comes with the resumption [G8]: the group may be gone by then
            co_return done.load();
        });
        while (!suspending.load()) std::this_thread::yield();
        blocker.open = true;
        group->wait();
        group.reset();
        CHECK(awaiting.get() == 2);
    }
}

TEST_CASE("a coroutine gets its own round's outcome, not the next round's exception",
          "[coroutine][group][unit][exception]") {
    taskforge::scheduler pool{taskforge::options{.threads = 1}};
    taskforge::task_group group{pool};
    gate first_round;
    group.spawn([&first_round] { first_round.wait(); });  // round 1 ends without an exception
    std::atomic<bool> suspended{false};
    std::atomic<int> coroutine_outcome{0};  // 1: returned, 2: threw
    std::thread outside([&] {
        auto awaits = [&]() -> taskforge::task<void> {
            suspended = true;
            co_await group;
        };
        try {
            taskforge::sync_wait(awaits());
            coroutine_outcome = 1;
        } catch (const std::runtime_error&) {
            coroutine_outcome = 2;
        }
    });
    while (!suspended.load()) std::this_thread::sleep_for(100us);
    std::this_thread::sleep_for(5ms);  // linked: it suspended on round 1
    gate hold_worker;
    std::atomic<bool> holding{false};
    auto holder = pool.spawn([&] {
        holding = true;
        hold_worker.wait();
    });
    first_round.open = true;  // round 1's zero: the resumption is queued behind `holder`
    while (!holding.load()) std::this_thread::sleep_for(100us);
    group.spawn(taskforge::priority::high, [] { throw std::runtime_error("round 2"); });
    hold_worker.open = true;
    outside.join();
    CHECK(coroutine_outcome.load() == 1);
    CHECK_THROWS_AS(group.wait(), std::runtime_error);  // round 2's waiter gets round 2's exception
    holder.get();
}

TEST_CASE("a refused resumption run on top of another group's task may co_await that group",
          "[coroutine][group][unit]") {
    taskforge::scheduler groups_pool{taskforge::options{.threads = 1}};
    auto home = std::make_unique<taskforge::scheduler>(taskforge::options{.threads = 1});
    taskforge::task_group first{groups_pool};
    taskforge::task_group second{groups_pool};
    gate proceed;
    std::atomic<bool> second_running{false};
    second.spawn([&] {
        first.spawn([] {});  // on this worker's own queue: the wait below runs it
        second_running = true;
        proceed.wait();
        first.wait();  // this thread finishes `first`'s last task, and resumes the coroutine inline [C2]
    });
    while (!second_running.load()) std::this_thread::sleep_for(100us);
    std::atomic<bool> suspended{false};
    std::atomic<int> first_outcome{0};   // 1: scheduler_closed
    std::atomic<int> second_outcome{0};  // 1: returned, 2: resource_deadlock_would_occur
    auto coroutine = home->spawn([&]() -> taskforge::task<void> {
        suspended = true;
        try {
            co_await first;
        } catch (const taskforge::scheduler_closed&) {
            first_outcome = 1;
        }
        try {
            co_await second;  // suspends (refused again: resumed by the thread that ends `second`)
            second_outcome = 1;
        } catch (const taskforge::scheduler_closed&) {
            second_outcome = 1;
        } catch (const std::system_error&) {
            second_outcome = 2;
        }
    });
    while (!suspended.load()) std::this_thread::sleep_for(100us);
    std::this_thread::sleep_for(5ms);
    std::thread closer([&] { home->shutdown(); });  // waits for the suspended coroutine [C4]
    std::this_thread::sleep_for(5ms);
    proceed.open = true;
    closer.join();
    second.wait();
    coroutine.wait();
    CHECK(first_outcome.load() == 1);
    CHECK(second_outcome.load() == 1);
}

TEST_CASE("a coroutine whose home pool refused its resumption still gets its round's exception",
          "[coroutine][group][unit][exception]") {
    taskforge::scheduler groups_pool{taskforge::options{.threads = 1}};
    taskforge::task_group group{groups_pool};
    gate fail_now;
    group.spawn([&fail_now] {
        fail_now.wait();
        throw std::logic_error("the round's failure");
    });
    taskforge::scheduler home{taskforge::options{.threads = 1}};
    std::atomic<bool> suspended{false};
    auto coroutine = home.spawn([&]() -> taskforge::task<int> {
        suspended = true;
        try {
            co_await group;
        } catch (const std::logic_error&) {
            co_return 1;  // this waiter got the round's exception
        } catch (const taskforge::scheduler_closed&) {
            co_return 2;
        }
        co_return 0;
    });
    while (!suspended.load()) std::this_thread::sleep_for(100us);
    std::this_thread::sleep_for(5ms);
    std::thread closer([&home] { home.shutdown(); });  // waits for the suspended coroutine [C4]
    std::this_thread::sleep_for(5ms);
    fail_now.open = true;
    closer.join();
    CHECK(coroutine.get() == 1);
    CHECK_NOTHROW(group.wait());  // exactly one waiter gets it: it went to the coroutine
}

TEST_CASE("co_await group in a chain of 200 nested coroutines, each owning a group, mixed with blocking waits",
          "[coroutine][group][unit][nesting]") {
    constexpr int depth = 200;
    for (const std::size_t threads : {std::size_t{1}, std::size_t{2}, std::size_t{4}}) {
        taskforge::scheduler pool{taskforge::options{.threads = threads}};
        for (int round = 0; round < 20; ++round) {
            CHECK(pool.spawn(nested_group_level, std::ref(pool), depth).get() == 3L * depth);
            CHECK(taskforge::sync_wait(nested_group_level(pool, depth)) == 3L * depth);
        }
    }
}

// Adversarial finding: a worker ran a group's last task, whose finish it holds back until it runs its next job
// (group_state.hpp [G4]), and then a coroutine's resumption — which did not release that finish first. The group's
// waiter slept for as long as the coroutine ran; here the coroutine waits for that waiter, so it never woke.
TEST_CASE("a coroutine resumed right after a group's last task does not hold back that group's wait()",
          "[coroutine][group][unit]") {
    taskforge::scheduler pool{taskforge::options{.threads = 1, .guest_slots = 0}};
    taskforge::task_group group{pool};
    std::atomic<bool> about_to_await{false};
    std::atomic<bool> attached{false};
    std::atomic<bool> waiter_returned{false};
    std::atomic<bool> saw_waiter_return{false};
    std::atomic<bool> started{false};
    taskforge::task_handle<void> awaited;
    // Holds the only worker until the coroutine awaits `awaited`, then claims and runs it here (its finish queues
    // the resumption on this worker's deque), then spawns the group's only task on top of that resumption.
    auto driver = pool.spawn([&] {
        started = true;
        while (!attached.load()) std::this_thread::yield();
        awaited.wait();
        group.spawn([] {});
    });
    while (!started.load()) std::this_thread::yield();
    awaited = pool.spawn([] {});  // queued behind the driver, not started
    std::thread coroutine_thread([&] {
        taskforge::sync_wait([&]() -> taskforge::task<void> {
            about_to_await = true;
            co_await awaited;  // resumed on the worker, right after the group's task
            const auto limit = std::chrono::steady_clock::now() + 10s;
            while (!waiter_returned.load() && std::chrono::steady_clock::now() < limit)
                std::this_thread::sleep_for(1ms);
            saw_waiter_return = waiter_returned.load();
        }());
    });
    while (!about_to_await.load()) std::this_thread::yield();
    std::this_thread::sleep_for(20ms);  // suspended by now (if not, the test passes without proving much)
    attached = true;
    driver.get();
    group.wait();
    waiter_returned = true;
    coroutine_thread.join();
    CHECK(saw_waiter_return.load());
}
