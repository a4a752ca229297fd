// Coroutines on the pool (task.hpp): task<T>, co_await on handles and tasks, pool.schedule(), spawning coroutine
// functions, sync_wait; exceptions, shutdown, stack use, lifetimes.
#include <atomic>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <taskforge/taskforge.hpp>
#include <thread>
#include <vector>

#include "../support/catch.hpp"
#include "../support/sanitizers.hpp"

namespace {

using namespace std::chrono_literals;

int heavy(int x) { return x * 2; }

taskforge::task<int> plus_one(int x) { co_return x + 1; }

taskforge::task<int> compute(taskforge::scheduler& pool, int x) {
    co_await pool.schedule();
    auto h = pool.spawn(heavy, x);
    int a = co_await h;
    int b = co_await plus_one(x);
    auto [c, d] = co_await taskforge::when_all(pool.spawn([] { return 3; }), pool.spawn([] { return 4; }));
    co_return a + b + c + d;
}

taskforge::task<void> fails_after_a_hop(taskforge::scheduler& pool) {
    co_await pool.schedule();
    throw std::runtime_error("from the coroutine");
}

taskforge::task<long> sum_down(long n) {
    if (n == 0) co_return 0;
    co_return n + co_await sum_down(n - 1);
}

struct gate {
    std::atomic<bool> open{false};
    void wait() const {
        while (!open.load()) std::this_thread::sleep_for(100us);
    }
};

}  // namespace

TEST_CASE("the issue's example: schedule, await a handle, a task and when_all; spawn and sync_wait it",
          "[coroutine][unit]") {
    taskforge::scheduler pool{taskforge::options{.threads = 2}};
    auto handle = pool.spawn(compute, std::ref(pool), 7);
    CHECK(taskforge::sync_wait(compute(pool, 7)) == 14 + 8 + 3 + 4);
    CHECK(handle.get() == 29);
}

TEST_CASE("exceptions reach the awaiter, the handle and sync_wait", "[coroutine][unit]") {
    taskforge::scheduler pool{taskforge::options{.threads = 2}};
    CHECK_THROWS_WITH(taskforge::sync_wait(fails_after_a_hop(pool)), "from the coroutine");
    CHECK_THROWS_WITH(pool.spawn(fails_after_a_hop, std::ref(pool)).get(), "from the coroutine");
    auto awaiting = [&pool]() -> taskforge::task<std::string> {
        try {
            co_await pool.spawn([]() -> int { throw std::logic_error("from a task"); });
        } catch (const std::logic_error& error) {
            co_return std::string(error.what());
        }
        co_return std::string("not thrown");
    };
    CHECK(taskforge::sync_wait(awaiting()) == "from a task");
    auto cancelled = [&pool]() -> taskforge::task<bool> {
        gate blocker;
        taskforge::scheduler single{taskforge::options{.threads = 1}};
        auto busy = single.spawn([&blocker] { blocker.wait(); });
        auto victim = single.spawn([] { return 1; });
        victim.cancel();
        blocker.open = true;
        bool threw = false;
        try {
            co_await victim;
        } catch (const taskforge::task_cancelled&) {
            threw = true;
        }
        busy.get();
        co_await pool.schedule();
        co_return threw;
    };
    CHECK(taskforge::sync_wait(cancelled()));
}

TEST_CASE("awaiting an empty task or handle throws no_state", "[coroutine][unit][misuse]") {
    taskforge::scheduler pool{taskforge::options{.threads = 1}};
    taskforge::task<int> empty;
    CHECK_THROWS_AS(taskforge::sync_wait(std::move(empty)), std::future_error);
    auto awaits_empty_handle = []() -> taskforge::task<int> {
        taskforge::task_handle<int> none;
        co_return co_await none;
    };
    CHECK_THROWS_AS(taskforge::sync_wait(awaits_empty_handle()), std::future_error);
    auto awaits_moved_task = []() -> taskforge::task<int> {
        auto first = plus_one(1);
        auto second = std::move(first);
        (void)co_await second;
        co_return co_await first;  // moved from
    };
    CHECK_THROWS_AS(taskforge::sync_wait(awaits_moved_task()), std::future_error);
}

TEST_CASE("a finished handle is awaited without suspending; an unfinished one resumes on the pool",
          "[coroutine][unit]") {
    taskforge::scheduler pool{taskforge::options{.threads = 2}};
    auto done = pool.spawn([] { return 5; });
    done.wait();
    auto check = [&done]() -> taskforge::task<bool> {
        const auto before = std::this_thread::get_id();
        const int value = co_await done;
        co_return value == 5 && std::this_thread::get_id() == before;  // still the sync_wait thread
    };
    CHECK(taskforge::sync_wait(check()));
    auto later = [&pool]() -> taskforge::task<bool> {
        auto slow = pool.spawn([] {
            std::this_thread::sleep_for(5ms);
            return 1;
        });
        (void)co_await slow;
        co_return taskforge::scheduler::current() == &pool;  // resumed on a worker of the task's pool
    };
    CHECK(taskforge::sync_wait(later()));
}

TEST_CASE("awaits of finished work and deep chains of tasks do not grow the stack", "[coroutine][unit]") {
    constexpr long awaits = TASKFORGE_TEST_TSAN || TASKFORGE_TEST_ASAN ? 200'000 : 10'000'000;
    constexpr long depth = TASKFORGE_TEST_TSAN || TASKFORGE_TEST_ASAN ? 20'000 : 200'000;
    taskforge::options small{.threads = 1};
    small.stack_size = 256 << 10;  // a frame per await on the stack would overflow long before the end
    taskforge::scheduler pool{small};
    auto loop = [&pool]() -> taskforge::task<long> {
        co_await pool.schedule();
        auto finished = pool.spawn([] { return 1L; });
        finished.wait();
        const long one = co_await finished;
        long total = 0;
        for (long i = 0; i < awaits; ++i) total += co_await plus_one(0) * one;
        co_return total;
    };
    CHECK(pool.spawn(loop).get() == awaits);
    CHECK(pool.spawn([&pool]() -> taskforge::task<long> {
                  co_await pool.schedule();
                  co_return co_await sum_down(depth);
              })
              .get() == depth * (depth + 1) / 2);
}

TEST_CASE("a spawned coroutine lambda's captures live until it finishes (CP.51)", "[coroutine][unit]") {
    taskforge::scheduler pool{taskforge::options{.threads = 2}};
    std::vector<taskforge::task_handle<std::size_t>> handles;
    for (int i = 0; i < 200; ++i) {
        std::string text(100 + static_cast<std::size_t>(i), 'x');
        handles.push_back(pool.spawn([text, &pool]() -> taskforge::task<std::size_t> {
            co_await pool.schedule();
            auto other = pool.spawn([] { std::this_thread::yield(); });
            co_await other;
            co_return text.size();  // the lambda (and its capture) is still alive here
        }));
    }
    std::size_t total = 0;
    for (auto& handle : handles) total += handle.get();
    CHECK(total == 200 * 100 + 199 * 200 / 2);
}

TEST_CASE("a coroutine awaiting a task when its home pool shuts down resumes with scheduler_closed",
          "[coroutine][unit]") {
    gate blocker;
    taskforge::scheduler other{taskforge::options{.threads = 1}};
    taskforge::scheduler home{taskforge::options{.threads = 1}};
    std::atomic<bool> suspended{false};
    auto coroutine = home.spawn([&]() -> taskforge::task<int> {
        auto slow = other.spawn([&blocker] {
            blocker.wait();
            return 1;
        });
        suspended = true;
        co_return co_await slow;  // resumed on `home`, which by then refuses work
    });
    while (!suspended.load()) std::this_thread::sleep_for(100us);
    std::thread releaser([&blocker] {
        std::this_thread::sleep_for(20ms);
        blocker.open = true;
    });
    home.shutdown();  // refuses work from here on, and waits until the suspended coroutine finished [C4]
    CHECK(coroutine.ready());
    releaser.join();
    CHECK_THROWS_AS(coroutine.get(), taskforge::scheduler_closed);
    auto late = [&home]() -> taskforge::task<void> { co_await home.schedule(); };
    CHECK_THROWS_AS(taskforge::sync_wait(late()), taskforge::scheduler_closed);
}

TEST_CASE("tasks destroyed unstarted free their frames; dropped coroutine handles still run",
          "[coroutine][unit][lifetime]") {
    taskforge::scheduler pool{taskforge::options{.threads = 2}};
    for (int i = 0; i < 100; ++i) {
        auto never = compute(pool, i);  // lazy: never started, freed here (ASan's leak check)
        CHECK(never.valid());
    }
    std::atomic<int> ran{0};
    for (int i = 0; i < 100; ++i) {
        (void)pool.spawn([&ran, &pool]() -> taskforge::task<void> {
            co_await pool.schedule();
            ++ran;
        });
    }
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (ran.load() < 100 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(1ms);
    CHECK(ran.load() == 100);
}

TEST_CASE("a coroutine function taking a stop token gets one; request_stop reaches it", "[coroutine][unit]") {
    taskforge::scheduler pool{taskforge::options{.threads = 2}};
    std::atomic<bool> started{false};
    auto stoppable = pool.spawn([&](std::stop_token stop) -> taskforge::task<bool> {
        co_await pool.schedule();
        started = true;
        while (!stop.stop_requested()) std::this_thread::sleep_for(100us);
        co_return true;
    });
    while (!started.load()) std::this_thread::sleep_for(100us);
    CHECK_FALSE(stoppable.request_stop());  // running: its token is stopped
    CHECK(stoppable.get());
}

// Polls this_task::stop_token() across hops until it is stopped; counts its polls.
taskforge::task<int> hop_until_stopped(taskforge::scheduler& pool, std::atomic<bool>& started) {
    int polls = 0;
    for (;;) {
        std::stop_token stop = co_await taskforge::this_task::stop_token();
        if (stop.stop_requested()) co_return polls;
        ++polls;
        started = true;
        co_await pool.schedule();
    }
}

taskforge::task<bool> nested_stop_possible(int depth) {
    if (depth == 0) co_return (co_await taskforge::this_task::stop_token()).stop_possible();
    co_return co_await nested_stop_possible(depth - 1);
}

TEST_CASE("this_task::stop_token() gives awaited tasks, at any depth, their spawned task's token",
          "[coroutine][unit][cancel]") {
    taskforge::scheduler pool{taskforge::options{.threads = 2}};
    std::atomic<bool> started{false};
    std::atomic<bool> same_token{false};
    std::atomic<bool> handed_down{false};
    auto outer = pool.spawn([&](std::stop_token stop) -> taskforge::task<int> {
        std::stop_token seen = co_await taskforge::this_task::stop_token();
        same_token = seen == stop;                        // the argument and this_task's token are one token
        handed_down = co_await nested_stop_possible(50);  // handed down through 50 awaits
        co_return co_await hop_until_stopped(pool, started);
    });
    while (!started.load()) std::this_thread::sleep_for(100us);
    outer.request_stop();
    CHECK(outer.get() >= 1);  // returns only because the nested task saw the stop
    CHECK(same_token.load());
    CHECK(handed_down.load());
}

TEST_CASE("this_task::stop_token() is empty without a spawned stoppable task", "[coroutine][unit][cancel]") {
    taskforge::scheduler pool{taskforge::options{.threads = 2}};
    CHECK_FALSE(taskforge::sync_wait(nested_stop_possible(3)));  // sync_wait: no task to stop
    CHECK_FALSE(pool.spawn([]() -> taskforge::task<bool> { co_return co_await nested_stop_possible(3); }).get());
    CHECK_FALSE(pool.spawn(nested_stop_possible, 2).get());  // a function without a std::stop_token parameter
}

TEST_CASE("10,000 coroutines each awaiting 10 short tasks on 2 workers", "[coroutine][unit]") {
    constexpr int coroutines = TASKFORGE_TEST_TSAN ? 1'000 : 10'000;
    taskforge::scheduler pool{taskforge::options{.threads = 2}};
    auto one = [&pool](int base) -> taskforge::task<long> {
        long total = 0;
        for (int i = 0; i < 10; ++i) total += co_await pool.spawn([base, i] { return static_cast<long>(base + i); });
        co_return total;
    };
    std::vector<taskforge::task_handle<long>> handles;
    handles.reserve(coroutines);
    for (int c = 0; c < coroutines; ++c) handles.push_back(pool.spawn(one, c));
    long total = 0;
    for (auto& handle : handles) total += handle.get();
    const long expected = 10L * (static_cast<long>(coroutines) * (coroutines - 1) / 2) + 45L * coroutines;
    CHECK(total == expected);
}

TEST_CASE("destroying the home scheduler waits for a coroutine suspended on another pool's task",
          "[coroutine][unit][lifetime]") {
    gate blocker;
    taskforge::scheduler other{taskforge::options{.threads = 1}};
    std::atomic<bool> suspended{false};
    taskforge::task_handle<int> handle;
    std::thread releaser;
    {
        taskforge::scheduler home{taskforge::options{.threads = 1}};
        handle = home.spawn([&]() -> taskforge::task<int> {
            auto slow = other.spawn([&blocker] {
                blocker.wait();
                return 1;
            });
            suspended = true;
            co_return co_await slow;
        });
        while (!suspended.load()) std::this_thread::sleep_for(100us);
        releaser = std::thread([&blocker] {
            std::this_thread::sleep_for(20ms);
            blocker.open = true;
        });
    }  // ~scheduler: shut down, then waits until the coroutine no longer needs its runtime [C4]
    releaser.join();
    CHECK_THROWS_AS(handle.get(), taskforge::scheduler_closed);
}

TEST_CASE("refused resumptions of a long chain of coroutines run in constant stack", "[coroutine][unit]") {
    constexpr int chain = TASKFORGE_TEST_TSAN || TASKFORGE_TEST_ASAN ? 5'000 : 50'000;
    gate blocker;
    taskforge::options small{.threads = 1};
    small.stack_size = 1 << 20;  // the chain resumes on this pool's worker: recursion would overflow it
    taskforge::scheduler other{small};
    taskforge::scheduler home{taskforge::options{.threads = 1}};
    std::atomic<int> suspended{0};
    auto first = home.spawn([&]() -> taskforge::task<int> {
        auto slow = other.spawn([&blocker] {
            blocker.wait();
            return 0;
        });
        ++suspended;
        co_return co_await slow;
    });
    std::vector<taskforge::task_handle<int>> links;
    links.reserve(chain);  // each coroutine awaits the handle before it in place: no reallocation
    links.push_back(std::move(first));
    for (int i = 1; i < chain; ++i) {
        links.push_back(home.spawn([&suspended, &previous = links.back()]() -> taskforge::task<int> {
            ++suspended;
            co_return 1 + co_await previous;
        }));
    }
    while (suspended.load() < chain) std::this_thread::sleep_for(100us);
    std::thread releaser([&blocker] {
        std::this_thread::sleep_for(20ms);
        blocker.open = true;
    });
    home.shutdown();  // waits for the chain [C4], which resumes on `other`'s worker, refused here
    releaser.join();
    for (auto& link : links) CHECK_THROWS_AS(link.get(), taskforge::scheduler_closed);
}

TEST_CASE("waiting on a suspended coroutine's handle from the thread that started it is no deadlock",
          "[coroutine][unit]") {
    gate blocker;
    taskforge::scheduler other{taskforge::options{.threads = 1}};
    taskforge::scheduler pool{taskforge::options{.threads = 1}};
    std::atomic<bool> suspended{false};
    auto coroutine = pool.spawn([&]() -> taskforge::task<int> {
        suspended = true;
        co_return co_await other.spawn([&blocker] {
            blocker.wait();
            return 3;
        });
    });
    while (!suspended.load()) std::this_thread::sleep_for(100us);
    auto waiter = pool.spawn([&coroutine] { return coroutine.get(); });  // same worker thread, a plain wait
    std::this_thread::sleep_for(5ms);
    blocker.open = true;
    CHECK(waiter.get() == 3);
}

TEST_CASE("co_await pool.schedule() from an outside thread: the pool may be destroyed once the coroutine runs on it",
          "[coroutine][unit][lifetime]") {
    const int rounds = (TASKFORGE_TEST_TSAN || TASKFORGE_TEST_ASAN) ? 50 : 200;
    for (int round = 0; round < rounds; ++round) {
        auto pool = std::make_unique<taskforge::scheduler>(taskforge::options{.threads = 1});
        std::atomic<bool> on_pool{false};
        std::thread outside([&] {
            auto hop = [&]() -> taskforge::task<void> {
                co_await pool->schedule();
                on_pool = true;  // from here the owner may destroy the pool, while submit() may still be returning
            };
            taskforge::sync_wait(hop());
        });
        while (!on_pool.load()) std::this_thread::yield();
        pool.reset();
        outside.join();
    }
}
