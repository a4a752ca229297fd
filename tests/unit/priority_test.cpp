// Task priorities (issue 17): levels order what a worker takes next, children inherit their parent's level, lower
// levels are not starved (at least 1 in 33 dequeues under a continuous higher load), nothing is lost or run twice
// at any level (shutdown, resize, guests), and misuse is refused.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <stdexcept>
#include <string>
#include <taskforge/taskforge.hpp>
#include <thread>
#include <vector>

#include "../support/catch.hpp"

using namespace std::chrono_literals;
using taskforge::priority;

namespace {

// One worker, no guest slots: the order tasks run in is the order the worker takes them.
taskforge::options one_worker() { return taskforge::options{.threads = 1, .guest_slots = 0}; }

// Holds the pool's only worker until open() — so that everything spawned meanwhile waits in the queues.
class gate {
public:
    void hold(taskforge::scheduler& pool) {
        pool.spawn([this] {
            held_.store(true);
            while (!open_.load()) std::this_thread::sleep_for(100us);
        });
        while (!held_.load()) std::this_thread::sleep_for(100us);
    }
    void open() { open_.store(true); }

private:
    std::atomic<bool> held_{false};
    std::atomic<bool> open_{false};
};

// The order tasks ran in, by name.
struct journal {
    std::mutex mutex;
    std::vector<std::string> entries;
    std::atomic<int> count{0};
    void add(std::string name) {
        std::lock_guard lock(mutex);
        entries.push_back(std::move(name));
        count.fetch_add(1);
    }
    void wait_for(int expected) {
        const auto deadline = std::chrono::steady_clock::now() + 20s;
        while (count.load() < expected && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(1ms);
    }
};

}  // namespace

TEST_CASE("outside spawns are taken high first, then normal, then low", "[priority]") {
    taskforge::scheduler pool{one_worker()};
    gate busy;
    busy.hold(pool);
    journal ran;
    for (int i = 0; i < 2; ++i) {
        pool.spawn(priority::low, [&ran] { ran.add("low"); });
        pool.spawn([&ran] { ran.add("normal"); });
        pool.spawn(priority::high, [&ran] { ran.add("high"); });
    }
    busy.open();
    ran.wait_for(6);
    REQUIRE(ran.entries == std::vector<std::string>{"high", "high", "normal", "normal", "low", "low"});
}

TEST_CASE("a worker's own spawns are taken high first, then normal, then low", "[priority]") {
    taskforge::scheduler pool{one_worker()};
    journal ran;
    pool.spawn([&] {
            taskforge::spawn(priority::low, [&ran] { ran.add("low"); });
            taskforge::spawn(priority::normal, [&ran] { ran.add("normal"); });
            taskforge::spawn(priority::high, [&ran] { ran.add("high"); });
        })
        .get();
    ran.wait_for(3);
    REQUIRE(ran.entries == std::vector<std::string>{"high", "normal", "low"});
}

TEST_CASE("spawned work waiting in the pool's queue at a higher level goes before the worker's own", "[priority]") {
    taskforge::scheduler pool{one_worker()};
    journal ran;
    std::atomic<bool> outside_spawned{false};
    pool.spawn([&] {
            for (int i = 0; i < 3; ++i) taskforge::spawn([&ran] { ran.add("own normal"); });
            std::thread outside([&] {
                pool.spawn(priority::high, [&ran] { ran.add("injected high"); });
                outside_spawned.store(true);
            });
            outside.join();
        })
        .get();
    ran.wait_for(4);
    REQUIRE(outside_spawned.load());
    REQUIRE(ran.entries.front() == "injected high");
}

TEST_CASE("children inherit their parent's level unless given one", "[priority]") {
    // One worker: each child stays on its lane until the parent's get() pops it there. (With a thief, a child
    // taken from the lane but not yet started may be claimed in place by get(), which runs it at the waiter's
    // level: documented in priority.hpp.)
    taskforge::scheduler pool{taskforge::options{.threads = 1}};
    REQUIRE(taskforge::this_task::current_priority() == priority::normal);
    auto parent = pool.spawn(priority::high, [&pool] {
        const priority own = taskforge::this_task::current_priority();
        const priority child = pool.spawn([] { return taskforge::this_task::current_priority(); }).get();
        const priority free_child = taskforge::spawn([] { return taskforge::this_task::current_priority(); }).get();
        const priority lowered =
            pool.spawn(priority::low, [] { return taskforge::this_task::current_priority(); }).get();
        return std::vector<priority>{own, child, free_child, lowered};
    });
    parent.wait_for(30s);  // a deadline never runs work here: get() must not claim the task at our level
    const auto observed = parent.get();
    REQUIRE(observed == std::vector<priority>{priority::high, priority::high, priority::high, priority::low});
    // From outside, finished before get(): a task that get() claims in place runs at the waiter's level.
    const auto level_from_outside = [&pool](auto... level) {
        std::atomic<bool> done{false};
        auto handle = pool.spawn(level..., [&done] {
            const priority seen = taskforge::this_task::current_priority();
            done.store(true);
            return seen;
        });
        while (!done.load()) std::this_thread::sleep_for(100us);
        return handle.get();
    };
    REQUIRE(level_from_outside() == priority::normal);
    REQUIRE(level_from_outside(priority::low) == priority::low);
    REQUIRE(level_from_outside(priority::high) == priority::high);
}

TEST_CASE("a task_group made with a level spawns at it; spawn(level, f) overrides it", "[priority]") {
    taskforge::scheduler pool{taskforge::options{.threads = 2}};
    std::atomic<int> low_seen{0};
    std::atomic<int> high_seen{0};
    {
        taskforge::task_group background{pool, priority::low};
        for (int i = 0; i < 50; ++i) {
            background.spawn([&] {
                if (taskforge::this_task::current_priority() == priority::low) low_seen.fetch_add(1);
            });
            background.spawn(priority::high, [&] {
                if (taskforge::this_task::current_priority() == priority::high) high_seen.fetch_add(1);
            });
        }
        background.wait();
    }
    // Tasks the waiting test thread ran itself (as a guest) report its level, normal: count only what workers ran.
    REQUIRE(low_seen.load() + high_seen.load() <= 100);
    REQUIRE(low_seen.load() > 0);
    REQUIRE(high_seen.load() > 0);
}

TEST_CASE("a group's tasks run at the group's level, also on top of the worker's wait", "[priority]") {
    taskforge::scheduler pool{one_worker()};
    std::atomic<int> low{0};
    std::atomic<int> other{0};
    pool.spawn([&] {
            taskforge::task_group background{pool, priority::low};
            for (int i = 0; i < 20; ++i) {
                background.spawn(
                    [&] { (taskforge::this_task::current_priority() == priority::low ? low : other).fetch_add(1); });
            }
            background.wait();  // the only worker runs them here, from its low lane
            REQUIRE(taskforge::this_task::current_priority() == priority::normal);  // its own level is back
        })
        .get();
    REQUIRE(low.load() == 20);
    REQUIRE(other.load() == 0);
}

TEST_CASE("low-level work is not starved: at least 1 in 33 dequeues under a continuous high load", "[priority]") {
    taskforge::scheduler pool{one_worker()};
    constexpr int lows = 40;
    constexpr int highs = 33 * lows;
    std::mutex mutex;
    std::vector<char> order;  // 'h' or 'l', in the order the single worker ran them
    std::atomic<int> done{0};
    // A chain of high tasks, each spawning the next: the high lane is never empty while the chain runs.
    struct chain {
        static void link(std::mutex& m, std::vector<char>& log, std::atomic<int>& finished, int left) {
            {
                std::lock_guard lock(m);
                log.push_back('h');
            }
            if (left > 0) {
                taskforge::spawn(priority::high, [&m, &log, &finished, left] { link(m, log, finished, left - 1); });
            } else {
                finished.fetch_add(1);
            }
        }
    };
    pool.spawn([&] {
        for (int i = 0; i < lows; ++i) {
            taskforge::spawn(priority::low, [&] {
                std::lock_guard lock(mutex);
                order.push_back('l');
            });
        }
        taskforge::spawn(priority::high, [&] { chain::link(mutex, order, done, highs); });
    });
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    for (;;) {
        {
            std::lock_guard lock(mutex);
            if (order.size() >= static_cast<std::size_t>(lows + highs + 1)) break;
        }
        REQUIRE(std::chrono::steady_clock::now() < deadline);
        std::this_thread::sleep_for(1ms);
    }
    std::lock_guard lock(mutex);
    // While low tasks were left, no run of more than 32 high tasks in a row.
    int low_count = 0;
    int streak = 0;
    int longest = 0;
    for (char entry : order) {
        if (low_count == lows) break;
        if (entry == 'l') {
            ++low_count;
            streak = 0;
        } else {
            longest = std::max(longest, ++streak);
        }
    }
    REQUIRE(low_count == lows);
    REQUIRE(longest <= 32);
    REQUIRE(longest >= 30);  // and priorities did work: highs went first, 32 at a time
}

TEST_CASE("every level's queued work runs exactly once at shutdown", "[priority]") {
    std::atomic<int> ran{0};
    {
        taskforge::scheduler pool{taskforge::options{.threads = 2}};
        for (int i = 0; i < 3000; ++i) {
            pool.spawn(static_cast<priority>(i % 3), [&ran, &pool, i] {
                ran.fetch_add(1);
                if (i % 7 == 0) pool.spawn(priority::low, [&ran] { ran.fetch_add(1); });
            });
        }
    }
    REQUIRE(ran.load() == 3000 + (3000 + 6) / 7);
}

TEST_CASE("work queued at every level survives shrinking the pool", "[priority][resize]") {
    taskforge::scheduler pool{taskforge::options{.threads = 4, .guest_slots = 0}};
    std::atomic<int> ran{0};
    std::vector<taskforge::task_handle<void>> handles;
    for (int round = 0; round < 20; ++round) {
        for (int i = 0; i < 60; ++i) {
            handles.push_back(pool.spawn(static_cast<priority>(i % 3), [&ran, &pool, i] {
                ran.fetch_add(1);
                for (int c = 0; c < 3; ++c)
                    pool.spawn(static_cast<priority>((i + c) % 3), [&ran] { ran.fetch_add(1); });
            }));
        }
        pool.resize(round % 2 == 0 ? 1 : 4);
    }
    for (auto& handle : handles) handle.get();
    pool.resize(2);
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    while (ran.load() < 20 * 60 * 4 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(1ms);
    REQUIRE(ran.load() == 20 * 60 * 4);
}

TEST_CASE("an outside thread waiting on a high-level group helps and returns", "[priority][guest]") {
    taskforge::scheduler pool{taskforge::options{.threads = 1}};
    std::atomic<int> ran{0};
    for (int round = 0; round < 200; ++round) {
        taskforge::task_group urgent{pool, priority::high};
        for (int i = 0; i < 8; ++i) urgent.spawn([&ran] { ran.fetch_add(1); });
        urgent.wait();
    }
    REQUIRE(ran.load() == 1600);
}

TEST_CASE("waits on tasks of any level, from workers, neither hang nor lose work", "[priority]") {
    taskforge::scheduler pool{taskforge::options{.threads = 2}};
    const auto tree = [&pool](auto& self, int depth) -> int {
        if (depth == 0) return 1;
        auto left = pool.spawn(static_cast<priority>(depth % 3), [&self, depth] { return self(self, depth - 1); });
        taskforge::task_group rest{pool, static_cast<priority>((depth + 1) % 3)};
        std::atomic<int> right{0};
        rest.spawn([&] { right.store(self(self, depth - 1)); });
        rest.wait();
        return left.get() + right.load();
    };
    REQUIRE(pool.spawn([&] { return tree(tree, 10); }).get() == 1024);
}

TEST_CASE("priorities are refused where spawning is: a closed pool, a level that is not one", "[priority][misuse]") {
    taskforge::scheduler pool{taskforge::options{.threads = 1}};
    REQUIRE_THROWS_AS(pool.spawn(static_cast<priority>(7), [] {}), std::invalid_argument);
    REQUIRE_THROWS_AS((taskforge::task_group{pool, static_cast<priority>(3)}), std::invalid_argument);
    taskforge::task_group group{pool};
    REQUIRE_THROWS_AS(group.spawn(static_cast<priority>(3), [] {}), std::invalid_argument);
    pool.shutdown();
    REQUIRE_THROWS_AS(pool.spawn(priority::high, [] {}), taskforge::scheduler_closed);
    REQUIRE_THROWS_AS(pool.spawn(priority::low, [] {}), taskforge::scheduler_closed);
    REQUIRE_THROWS_AS(group.spawn(priority::high, [] {}), taskforge::scheduler_closed);
    taskforge::task_group low_group{pool, priority::low};
    REQUIRE_THROWS_AS(low_group.spawn([] {}), taskforge::scheduler_closed);
}

namespace {

// The longest run of entries other than `low` while some of the `lows` low entries were still to come.
int longest_without(const std::vector<std::string>& entries, const std::string& low, int lows) {
    int seen = 0;
    int streak = 0;
    int longest = 0;
    for (const auto& entry : entries) {
        if (seen == lows) break;
        if (entry == low) {
            ++seen;
            streak = 0;
        } else {
            longest = std::max(longest, ++streak);
        }
    }
    return longest;
}

}  // namespace

TEST_CASE("low work in the pool's queue is not starved by a stream of work at higher levels", "[priority]") {
    // Everything spawned from outside while the only worker is held: it all waits in the pool's queues, and the
    // batches the worker takes from there move into its own lanes. Never more than 32 others while low waits.
    for (const char* mix : {"normal", "high", "high and normal"}) {
        INFO(mix);
        taskforge::scheduler pool{one_worker()};
        gate busy;
        busy.hold(pool);
        journal ran;
        constexpr int lows = 40;
        constexpr int others = 2000;
        for (int i = 0; i < lows; ++i) pool.spawn(priority::low, [&ran] { ran.add("low"); });
        for (int i = 0; i < others; ++i) {
            const bool high = std::string(mix) == "high" || (std::string(mix) == "high and normal" && i % 2 == 0);
            pool.spawn(high ? priority::high : priority::normal, [&ran] { ran.add("other"); });
        }
        busy.open();
        ran.wait_for(lows + others);
        std::lock_guard lock(ran.mutex);
        REQUIRE(ran.entries.size() == static_cast<std::size_t>(lows + others));
        REQUIRE(longest_without(ran.entries, "low", lows) <= 32);
        REQUIRE(longest_without(ran.entries, "low", lows) >= 30);  // and the others did go first
    }
}

TEST_CASE("the fairness check for outside spawns keeps the order of levels", "[priority]") {
    // A low task in the pool's queue and 40 high tasks on the worker's own lane: the worker's periodic look at the
    // pool's queue (every 61 tasks) must not take the low task early, whatever the tick count when it comes.
    for (int filler = 0; filler < 62; ++filler) {
        taskforge::scheduler pool{one_worker()};
        std::atomic<int> filled{0};
        pool.spawn([&] {
            for (int i = 0; i < filler; ++i) taskforge::spawn([&filled] { filled.fetch_add(1); });
        });
        while (filled.load() < filler) std::this_thread::sleep_for(100us);
        gate busy;
        busy.hold(pool);
        journal ran;
        pool.spawn(priority::low, [&ran] { ran.add("low"); });
        pool.spawn(priority::high, [&ran] {
            for (int i = 0; i < 40; ++i) taskforge::spawn(priority::high, [&ran] { ran.add("high"); });
        });
        busy.open();
        ran.wait_for(41);
        std::lock_guard lock(ran.mutex);
        INFO("filler " << filler);
        const auto low_at = std::find(ran.entries.begin(), ran.entries.end(), "low") - ran.entries.begin();
        REQUIRE(low_at >= 31);  // the seeding high task counts as one of the 32
    }
}

TEST_CASE("a join inside a high task leaves a task spawned at normal at normal", "[priority][join]") {
    for (priority outer : {priority::high, priority::low}) {
        taskforge::scheduler pool{one_worker()};
        std::atomic<int> seen{-1};
        pool.spawn(outer,
                   [&] {
                       pool.join(
                           [&] {
                               pool.spawn(priority::normal, [&seen] {
                                   seen.store(static_cast<int>(taskforge::this_task::current_priority()));
                               });
                           },
                           [] {});
                   })
            .get();
        pool.shutdown();
        REQUIRE(seen.load() == static_cast<int>(priority::normal));
    }
}

namespace {

taskforge::task<std::vector<priority>> levels_across_suspensions(taskforge::scheduler& pool, priority other) {
    std::vector<priority> seen{taskforge::this_task::current_priority()};
    std::atomic<bool> release{false};
    auto elsewhere = pool.spawn(other, [&release] {
        while (!release.load()) std::this_thread::sleep_for(100us);
        return 1;
    });
    std::thread opener([&release] {
        std::this_thread::sleep_for(20ms);
        release.store(true);
    });
    std::this_thread::sleep_for(5ms);  // the other worker starts it: the co_await suspends
    co_await elsewhere;
    opener.join();
    seen.push_back(taskforge::this_task::current_priority());
    seen.push_back(co_await pool.spawn([] { return taskforge::this_task::current_priority(); }));
    co_await pool.schedule();
    seen.push_back(taskforge::this_task::current_priority());
    co_return seen;
}

}  // namespace

TEST_CASE("a coroutine resumes at its own level after awaiting work of another level", "[priority][coroutine]") {
    for (auto [mine, other] : {std::pair{priority::high, priority::normal}, std::pair{priority::low, priority::high}}) {
        taskforge::scheduler pool{taskforge::options{.threads = 2}};
        auto handle = pool.spawn(mine, levels_across_suspensions, std::ref(pool), other);
        handle.wait_for(30s);  // a deadline never runs work here: get() must not claim the coroutine at our level
        const auto seen = handle.get();
        REQUIRE(seen == std::vector<priority>(4, mine));
    }
}

TEST_CASE("a 200-deep chain of nested waits alternating levels, waited on by two outside threads", "[priority]") {
    taskforge::scheduler pool{taskforge::options{.threads = 2}};
    struct chain {
        static int down(taskforge::scheduler& pool, int depth) {
            if (depth == 0) return 0;
            const auto level = static_cast<priority>(depth % 3);
            if (depth % 2 == 0) {
                return pool.spawn(level, [&pool, depth] { return down(pool, depth - 1); }).get() + 1;
            }
            std::atomic<int> below{0};
            taskforge::task_group group{pool, level};
            group.spawn([&pool, &below, depth] { below.store(down(pool, depth - 1)); });
            group.wait();
            return below.load() + 1;
        }
    };
    std::atomic<int> results{0};
    std::vector<std::thread> waiters;
    for (int t = 0; t < 2; ++t) {
        waiters.emplace_back([&pool, &results, t] {
            const int depth =
                pool.spawn(t == 0 ? priority::high : priority::low, [&pool] { return chain::down(pool, 200); }).get();
            if (depth == 200) results.fetch_add(1);
        });
    }
    for (auto& waiter : waiters) waiter.join();
    REQUIRE(results.load() == 2);
}

// Adversarial finding: the second half of a join, stolen by another worker, ran at the level of the lane it was
// stolen from (normal), so what it spawned dropped to normal too; run by the forking worker itself, it kept the
// task's level. It now runs at the forking task's level wherever it runs.
TEST_CASE("a stolen join half runs at the forking task's level, and so does what it spawns", "[priority]") {
    taskforge::scheduler pool{taskforge::options{.threads = 2}};
    std::atomic<bool> second_started{false};
    auto levels = pool.spawn(taskforge::priority::high, [&] {
        auto [first, second] = taskforge::join(
            [&] {
                while (!second_started.load()) std::this_thread::yield();  // so the other worker steals it
                return taskforge::this_task::current_priority();
            },
            [&] {
                second_started = true;
                auto child = taskforge::spawn([] { return taskforge::this_task::current_priority(); });
                return std::pair{taskforge::this_task::current_priority(), child.get()};
            });
        return std::tuple{first, second.first, second.second, taskforge::this_task::current_priority()};
    });
    const auto [first, second, child, after] = levels.get();
    CHECK(first == taskforge::priority::high);
    CHECK(second == taskforge::priority::high);
    CHECK(child == taskforge::priority::high);
    CHECK(after == taskforge::priority::high);
}
