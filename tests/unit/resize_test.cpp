// scheduler::resize (issue 17): growing starts workers that take work at once, shrinking retires workers between
// tasks after they hand their queued tasks to the pool (nothing lost, nothing run twice), hooks run for workers
// added and retired, misuse is refused, and resize racing shutdown has a defined outcome.
#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <stdexcept>
#include <system_error>
#include <taskforge/taskforge.hpp>
#include <thread>
#include <vector>

#include "../support/catch.hpp"
#include "../support/sanitizers.hpp"

using namespace std::chrono_literals;

namespace {

// Threads the pool has now, as its hooks tell: started minus stopped.
struct thread_census {
    std::mutex mutex;
    std::multiset<std::size_t> running;
    std::size_t started_total = 0;

    taskforge::options options(std::size_t threads) {
        // No guest slots: a waiting test thread would run tasks itself.
        taskforge::options settings{.threads = threads, .guest_slots = 0};
        settings.on_worker_start = [this](std::size_t index) {
            std::lock_guard lock(mutex);
            running.insert(index);
            ++started_total;
        };
        settings.on_worker_stop = [this](std::size_t index) {
            std::lock_guard lock(mutex);
            running.erase(running.find(index));
        };
        return settings;
    }
    std::size_t count() {
        std::lock_guard lock(mutex);
        return running.size();
    }
    bool settles_at(std::size_t expected) {
        const auto deadline = std::chrono::steady_clock::now() + 20s;
        while (count() != expected && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(1ms);
        return count() == expected;
    }
};

// `width` tasks that each wait until all `width` run at once (or 20 s pass): true if they all met.
bool run_side_by_side(taskforge::scheduler& pool, int width) {
    std::atomic<int> arrived{0};
    std::atomic<int> met{0};
    std::vector<taskforge::task_handle<void>> handles;
    for (int i = 0; i < width; ++i) {
        handles.push_back(pool.spawn([&] {
            arrived.fetch_add(1);
            const auto deadline = std::chrono::steady_clock::now() + 20s;
            while (arrived.load() < width && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
            if (arrived.load() >= width) met.fetch_add(1);
        }));
    }
    for (auto& handle : handles) handle.get();
    return met.load() == width;
}

// resize(n): thread_count() says n at once, and the threads follow (their hooks tell).
bool resize_and_settle(taskforge::scheduler& pool, thread_census& census, std::size_t threads) {
    pool.resize(threads);
    return pool.thread_count() == threads && census.settles_at(threads);
}

}  // namespace

TEST_CASE("growing starts workers that take work at once", "[resize][unit]") {
    thread_census census;
    taskforge::scheduler pool{census.options(1)};
    REQUIRE(census.settles_at(1));
    CHECK(resize_and_settle(pool, census, 4));
    CHECK(run_side_by_side(pool, 4));  // four workers at once
}

TEST_CASE("shrinking retires workers; the pool keeps running tasks", "[resize][unit]") {
    thread_census census;
    taskforge::scheduler pool{census.options(4)};
    REQUIRE(census.settles_at(4));
    CHECK(resize_and_settle(pool, census, 1));
    std::atomic<int> ran{0};
    for (int i = 0; i < 100; ++i) pool.spawn([&] { ran.fetch_add(1); }).get();
    CHECK(ran.load() == 100);
    CHECK(resize_and_settle(pool, census, 3));
    CHECK(run_side_by_side(pool, 3));
}

TEST_CASE("tasks queued on retiring workers run exactly once, and their handles stay valid", "[resize][unit]") {
    taskforge::scheduler pool{taskforge::options{.threads = 4, .guest_slots = 0}};
    constexpr int children = 2'000;
    std::vector<std::atomic<int>> runs(children);
    std::atomic<bool> gate{false};
    // Each worker's deque fills with children spawned by a task that then holds on the gate.
    auto parent = pool.spawn([&] {
        std::vector<taskforge::task_handle<int>> handles;
        for (int i = 0; i < children; ++i) {
            handles.push_back(taskforge::spawn([&runs, i] {
                runs[static_cast<std::size_t>(i)].fetch_add(1);
                return i;
            }));
        }
        while (!gate.load()) std::this_thread::yield();
        long sum = 0;
        for (auto& handle : handles) sum += handle.get();
        return sum;
    });
    std::this_thread::sleep_for(5ms);
    pool.resize(1);
    gate = true;
    CHECK(parent.get() == static_cast<long>(children) * (children - 1) / 2);
    int wrong = 0;
    for (auto& count : runs) wrong += count.load() != 1 ? 1 : 0;
    CHECK(wrong == 0);
}

TEST_CASE("resize misuse is refused and leaves the pool as it was", "[resize][unit][misuse]") {
    taskforge::scheduler pool{taskforge::options{.threads = 2}};
    CHECK_THROWS_AS(pool.resize(0), std::invalid_argument);
    CHECK_THROWS_AS(pool.resize(taskforge::options::max_threads + 1), std::invalid_argument);
    CHECK(pool.thread_count() == 2);
    auto from_task = pool.spawn([&pool] {
        try {
            pool.resize(3);
        } catch (const std::system_error& error) {
            return error.code() == std::errc::resource_deadlock_would_occur;
        }
        return false;
    });
    CHECK(from_task.get());
    CHECK(pool.thread_count() == 2);
    pool.shutdown();
    CHECK_THROWS_AS(pool.resize(3), taskforge::scheduler_closed);
    CHECK(pool.thread_count() == 2);
}

TEST_CASE("resize racing shutdown either takes effect before it or throws scheduler_closed", "[resize][unit]") {
    for (int round = 0; round < (TASKFORGE_TEST_TSAN ? 10 : 50); ++round) {
        thread_census census;
        auto pool = std::make_unique<taskforge::scheduler>(census.options(2));
        std::atomic<int> refused{0};
        std::atomic<bool> stop{false};
        std::thread resizer([&] {
            for (std::size_t n = 1; !stop.load(); n = n % 6 + 1) {
                try {
                    pool->resize(n);
                } catch (const taskforge::scheduler_closed&) {
                    refused.fetch_add(1);
                    return;
                }
            }
        });
        std::vector<taskforge::task_handle<void>> handles;
        for (int i = 0; i < 200; ++i) handles.push_back(pool->spawn([] { std::this_thread::sleep_for(10us); }));
        pool->shutdown();
        for (auto& handle : handles) handle.get();  // every accepted task ran
        stop = true;
        resizer.join();
        CHECK(census.count() == 0);  // every thread it ever started has stopped
        pool.reset();
    }
}

TEST_CASE("workers added by resize run on_worker_start; retired ones run on_worker_stop", "[resize][unit][hooks]") {
    thread_census census;
    {
        taskforge::scheduler pool{census.options(1)};
        pool.resize(5);
        pool.resize(2);
        CHECK(census.settles_at(2));
    }
    CHECK(census.count() == 0);
    CHECK(census.started_total >= 5);
}

TEST_CASE("growing after retire requests made stale by blocked workers starts every thread it needs",
          "[resize][unit]") {
    thread_census census;
    taskforge::scheduler pool{census.options(4)};
    REQUIRE(census.settles_at(4));
    std::atomic<bool> go_wait{false};
    std::atomic<bool> release{false};
    std::atomic<int> running{0};
    taskforge::task_group group{pool};
    group.spawn([&] {  // holds one worker
        running.fetch_add(1);
        while (!release.load()) std::this_thread::yield();
    });
    std::vector<taskforge::task_handle<void>> waiters;
    for (int i = 0; i < 3; ++i) {
        waiters.push_back(pool.spawn([&] {
            running.fetch_add(1);
            while (!go_wait.load()) std::this_thread::yield();
            group.wait();  // blocks: the group's task runs on another worker
        }));
    }
    while (running.load() < 4) std::this_thread::yield();
    pool.resize(1);  // every worker busy: three requests wait to be taken
    go_wait = true;  // three workers block instead; the requests are stale
    std::this_thread::sleep_for(100ms);
    pool.resize(4);
    CHECK(run_side_by_side(pool, 3));  // one worker holds the group's task, three more run side by side
    release = true;
    for (auto& waiter : waiters) waiter.get();
}

TEST_CASE("shutdown() and resize() from a placement hook are refused, not a hang", "[resize][unit][hooks][misuse]") {
    std::atomic<int> refused{0};
    taskforge::scheduler* self = nullptr;
    taskforge::options settings{.threads = 2, .guest_slots = 0};
    auto try_both = [&] {
        for (int call = 0; call < 2; ++call) {
            try {
                if (call == 0) self->shutdown();
                if (call == 1) self->resize(3);
            } catch (const std::system_error& error) {
                if (error.code() == std::errc::resource_deadlock_would_occur) refused.fetch_add(1);
            }
        }
    };
    std::atomic<bool> ready{false};
    settings.on_worker_stop = [&](std::size_t) {
        if (ready.load()) try_both();
    };
    {
        taskforge::scheduler pool{settings};
        self = &pool;
        ready = true;
        pool.resize(1);  // the retiring worker's stop hook tries both
        const auto deadline = std::chrono::steady_clock::now() + 20s;
        while (refused.load() < 2 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(1ms);
        CHECK(refused.load() == 2);
    }  // and at shutdown, the remaining worker's hook is refused too
    CHECK(refused.load() == 4);
}
