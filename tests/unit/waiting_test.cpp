// Waiting: group waits that never lose a wake-up, concurrent waiters, nested and cross-pool waits without a depth
// limit, help-while-wait that never buries a task under one that waits on it, fairness to injected work, deadlines
// and the "wait forever" idioms, and the latency of a waiter that has nothing to run (issue 9, findings 1-7 and 10).
//
// Every test case runs under a watchdog (support/watchdog.hpp): a hang fails fast and names the test.
// Timing bounds are generous (this suite runs on a noisy 2-core machine, and under sanitizers); each comment gives
// the figure the bound stands for.
//
// Do not use taskforge::spawn or default_scheduler() from a thread that is not a worker in this binary:
// lifetime_test.cpp forks children that must create the default scheduler themselves.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <future>
#include <random>
#include <stdexcept>
#include <string>
#include <system_error>
#include <taskforge/taskforge.hpp>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "../support/catch.hpp"
#include "../support/sanitizers.hpp"
#include "../support/watchdog.hpp"

using namespace std::chrono_literals;
using taskforge_test::sanitizer_slowdown;

namespace {

using clock_type = std::chrono::steady_clock;

double elapsed_ms(clock_type::time_point since) {
    return std::chrono::duration<double, std::milli>(clock_type::now() - since).count();
}

double microseconds_between(clock_type::time_point from, clock_type::time_point to) {
    return std::chrono::duration<double, std::micro>(to - from).count();
}

// Inside a task: waits for `flag` without holding a core (on 2 cores a spinning task would slow the rest).
void sleep_until_set(const std::atomic<bool>& flag) {
    while (!flag.load()) std::this_thread::sleep_for(50us);
}

// On the test's thread: true once done() holds, false after `limit`.
template <class Done>
bool eventually(Done done, std::chrono::milliseconds limit) {
    const auto end = clock_type::now() + limit;
    while (!done()) {
        if (clock_type::now() > end) return false;
        std::this_thread::sleep_for(100us);
    }
    return true;
}

// A task that runs on `pool` until released: occupies one worker, or stands for work that cannot finish yet.
struct held_task {
    explicit held_task(taskforge::scheduler& pool)
        : handle(pool.spawn([this] {
              started.store(true);
              sleep_until_set(released);
          })) {}
    held_task(const held_task&) = delete;
    held_task& operator=(const held_task&) = delete;
    ~held_task() { release(); }

    void wait_started() const {
        while (!started.load()) std::this_thread::yield();
    }
    void release() {
        released.store(true);
        if (handle.valid()) handle.wait();
    }

    std::atomic<bool> started{false};
    std::atomic<bool> released{false};
    taskforge::task_handle<void> handle;  // last: the task may start before the constructor returns
};

// One hop of a chain that alternates between pools: hop(n) runs on pools[n % size], spawns hop(n - 1) on the
// next pool and waits for it with get(). Every hop is a cross-pool wait.
int hop(std::vector<taskforge::scheduler*>* pools, int remaining) {
    if (remaining == 0) return 0;
    taskforge::scheduler& next = *(*pools)[static_cast<std::size_t>(remaining - 1) % pools->size()];
    return next.spawn(hop, pools, remaining - 1).get() + 1;
}

int run_hops(std::vector<taskforge::scheduler*>& pools, int hops) {
    return pools[static_cast<std::size_t>(hops) % pools.size()]->spawn(hop, &pools, hops).get();
}

// The same with a task_group per hop instead of a handle.
void group_hop(std::vector<taskforge::scheduler*>* pools, int remaining, std::atomic<int>* bottoms) {
    if (remaining == 0) {
        bottoms->fetch_add(1);
        return;
    }
    taskforge::task_group group{*(*pools)[static_cast<std::size_t>(remaining - 1) % pools->size()]};
    group.spawn(group_hop, pools, remaining - 1, bottoms);
    group.wait();
}

// A chain of spawn + get on the calling worker's own pool, `depth` waits deep; at the bottom it calls bottom().
template <class Bottom>
int nest(taskforge::scheduler* pool, int depth, Bottom* bottom) {
    if (depth == 0) return (*bottom)();
    return pool->spawn(nest<Bottom>, pool, depth - 1, bottom).get() + 1;
}

bool is_deadlock_error(const std::system_error& error) {
    return error.code() == std::errc::resource_deadlock_would_occur;
}

long process_threads() {
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line)) {
        if (line.rfind("Threads:", 0) == 0) return std::atol(line.c_str() + 8);
    }
    return -1;
}

// Stacks for the tests that make the pools start many spare threads: address space, not memory, but hundreds
// of the default 256 MiB reservations are pointless (and heavy under TSan). Plenty for 150 nested waits.
constexpr std::size_t chain_stack = std::size_t{8} << 20;

}  // namespace

// ---------------------------------------------------------------------------------------------------------------
// Finding 1: task_group::wait() lost its wake-up when a spawn landed between the finisher's wake and its clearing
// of the waiting bit; the waiter then slept forever on a group with no tasks.
// ---------------------------------------------------------------------------------------------------------------

TEST_CASE("group wait() looped on one thread while another thread keeps spawning never sleeps forever",
          "[waiting][group][unit]") {
    TASKFORGE_WATCHDOG();
    taskforge::scheduler pool{taskforge::options{.threads = 2}};
    taskforge::task_group group{pool};
    std::atomic<bool> stop{false};
    std::atomic<long> spawned{0};
    std::atomic<long> ran{0};
    std::atomic<long> waits{0};
    // Tasks long enough that the waiter goes to sleep on the word, short enough that the count often hits zero
    // while the spawner is about to add the next one: the window of the lost wake-up.
    std::thread spawner([&] {
        std::mt19937 random(1);
        const auto end = clock_type::now() + 1500ms;
        while (clock_type::now() < end) {
            const auto burst = 1 + random() % 3;
            for (unsigned long i = 0; i < burst; ++i) {
                spawned.fetch_add(1);
                const auto spin = random() % 400;
                group.spawn([&ran, spin] {
                    for (unsigned long s = 0; s < spin; ++s) std::atomic_signal_fence(std::memory_order_seq_cst);
                    ran.fetch_add(1);
                });
            }
            if (random() % 4 == 0) std::this_thread::sleep_for(std::chrono::microseconds(random() % 60));
        }
        stop.store(true);
    });
    std::thread waiter([&] {
        while (!stop.load()) {
            group.wait();
            waits.fetch_add(1);
        }
        group.wait();
    });
    spawner.join();
    waiter.join();
    group.wait();
    INFO(spawned.load() << " tasks, " << waits.load() << " waits returned");
    CHECK(ran.load() == spawned.load());
    CHECK(waits.load() > 0);
}

// ---------------------------------------------------------------------------------------------------------------
// Finding 2: several threads waiting on a group whose task threw raced on the stored exception (double free).
// Contract: exactly one of the waiters that return after the failure gets it; the others return normally.
// ---------------------------------------------------------------------------------------------------------------

TEST_CASE("several threads waiting on a group whose task threw: exactly one of them gets the exception",
          "[waiting][group][unit]") {
    TASKFORGE_WATCHDOG();
    taskforge::scheduler pool{taskforge::options{.threads = 2}};
    taskforge::scheduler waiters_pool{taskforge::options{.threads = 2}};  // 2 of the 4 waiters are its workers
    taskforge::task_group group{pool};
    // Old code: heap corruption (SIGABRT), a hang, or two waiters with the exception, in ~85% of runs of 1,000
    // rounds; under TSan a race report on the stored exception_ptr. 3,000 rounds take ~1.2 s in a debug build.
    const int rounds = 3000 / sanitizer_slowdown;
    constexpr int waiters = 4;
    for (int round = 0; round < rounds; ++round) {
        std::atomic<int> arrived{0};
        std::atomic<int> caught{0};
        std::atomic<int> returned{0};
        std::atomic<int> other{0};
        group.spawn([&arrived] {
            while (arrived.load() < waiters) std::this_thread::yield();
            std::this_thread::sleep_for(20us);  // let the waiters get into wait()
            throw std::runtime_error("round failed");
        });
        auto wait_once = [&] {
            arrived.fetch_add(1);
            try {
                group.wait();
                returned.fetch_add(1);
            } catch (const std::runtime_error&) {
                caught.fetch_add(1);
            } catch (...) {
                other.fetch_add(1);
            }
        };
        std::vector<std::thread> outside;
        for (int w = 0; w < waiters - 2; ++w) outside.emplace_back(wait_once);
        auto on_worker_1 = waiters_pool.spawn(wait_once);
        auto on_worker_2 = waiters_pool.spawn(wait_once);
        for (auto& thread : outside) thread.join();
        on_worker_1.get();
        on_worker_2.get();
        INFO("round " << round);
        REQUIRE(caught.load() == 1);
        REQUIRE(returned.load() == waiters - 1);
        REQUIRE(other.load() == 0);
    }
    group.wait();  // the exception was handed out once: the group is clean for reuse
}

// ---------------------------------------------------------------------------------------------------------------
// Finding 3: past 128 nested waits a worker only ran its own deque, so chains deeper than that hung.
// A chain of H hops across two pools leaves about H/2 waits blocked per pool, within the 256 spares per pool
// (plus the workers) that the contract allows.
// ---------------------------------------------------------------------------------------------------------------

TEST_CASE("a chain of spawn + get alternating between two 1-worker pools completes at 258 hops",
          "[waiting][nested][unit]") {
    TASKFORGE_WATCHDOG();
    taskforge::scheduler first{taskforge::options{.threads = 1, .stack_size = chain_stack}};
    taskforge::scheduler second{taskforge::options{.threads = 1, .stack_size = chain_stack}};
    std::vector<taskforge::scheduler*> pools{&first, &second};
    CHECK(run_hops(pools, 258) == 258);  // old code: hangs (129 waits per pool > 128)
}

TEST_CASE("a chain of spawn + get alternating between two 2-worker pools completes at 510 hops",
          "[waiting][nested][unit]") {
    TASKFORGE_WATCHDOG();
    taskforge::scheduler first{taskforge::options{.threads = 2, .stack_size = chain_stack}};
    taskforge::scheduler second{taskforge::options{.threads = 2, .stack_size = chain_stack}};
    std::vector<taskforge::scheduler*> pools{&first, &second};
    // 255 blocked waits per pool: within 2 workers + 256 spares. Old code passes this too (2 x 129 nested waits
    // per pool fit under its depth limit): it guards that the new bound is not below the old capacity. The issue's
    // 600 hops need 300 per pool, past the contract's 256 spares: see the spare-bound tests below, which must throw.
    CHECK(run_hops(pools, 510) == 510);
}

TEST_CASE("a task 200 waits deep on a 1-worker pool completes its wait on a task a plain std::thread spawned",
          "[waiting][nested][unit]") {
    TASKFORGE_WATCHDOG();
    taskforge::scheduler pool{taskforge::options{.threads = 1}};
    std::atomic<bool> at_bottom{false};
    std::promise<taskforge::task_handle<int>> outside_task;
    std::future<taskforge::task_handle<int>> delivered = outside_task.get_future();
    auto bottom = [&]() -> int {
        at_bottom.store(true);
        return delivered.get().get();  // old code: the injected task never runs below 128 waits
    };
    auto chain = pool.spawn(nest<decltype(bottom)>, &pool, 200, &bottom);
    std::thread outsider([&] {
        while (!at_bottom.load()) std::this_thread::sleep_for(100us);
        outside_task.set_value(pool.spawn([] { return 7; }));
    });
    CHECK(chain.get() == 207);
    outsider.join();
}

TEST_CASE("a waiter 200 waits deep shares its group's 50 leaves with another thread instead of idling",
          "[waiting][nested][unit]") {
    TASKFORGE_WATCHDOG();
    taskforge::scheduler pool{taskforge::options{.threads = 2}};
    taskforge::task_group group{pool};
    std::atomic<bool> spawner_running{false};
    std::atomic<bool> at_bottom{false};
    std::atomic<bool> leaves_spawned{false};
    std::atomic<int> leaves_done{0};
    std::atomic<int> leaves_elsewhere{0};
    std::thread::id spawner_thread;
    // Occupies one worker until the other is 200 waits deep, then pushes the 50 leaves onto its own deque.
    auto spawner = pool.spawn([&] {
        spawner_thread = std::this_thread::get_id();
        spawner_running.store(true);
        sleep_until_set(at_bottom);
        for (int i = 0; i < 50; ++i) {
            group.spawn([&] {
                std::this_thread::sleep_for(2ms);
                if (std::this_thread::get_id() != spawner_thread) leaves_elsewhere.fetch_add(1);
                leaves_done.fetch_add(1);
            });
        }
        leaves_spawned.store(true);
    });
    while (!spawner_running.load()) std::this_thread::yield();
    double wait_ms = 0;
    auto bottom = [&]() -> int {
        at_bottom.store(true);
        sleep_until_set(leaves_spawned);
        const auto started = clock_type::now();
        group.wait();
        wait_ms = elapsed_ms(started);
        return 0;
    };
    auto chain = pool.spawn(nest<decltype(bottom)>, &pool, 200, &bottom);  // runs on the other worker
    CHECK(chain.get() == 200);
    spawner.get();
    INFO("group wait " << wait_ms << " ms; " << leaves_elsewhere.load() << " of 50 leaves ran on another thread");
    CHECK(leaves_done.load() == 50);
    // Old code: the waiter, past 128 waits, idles while the spawner's worker runs all 50 leaves alone (0 shared,
    // ~105 ms instead of ~55 ms). The waiter blocking and a spare (or the waiter's own help) sharing the leaves is
    // what the contract promises; the time bound is only a sanity bound.
    CHECK(leaves_elsewhere.load() > 0);
    CHECK(wait_ms < 2000.0 * sanitizer_slowdown);
}

TEST_CASE("a nest of group waits alternating between two 1-worker pools completes at 300 levels",
          "[waiting][nested][group][unit]") {
    TASKFORGE_WATCHDOG();
    taskforge::scheduler first{taskforge::options{.threads = 1, .stack_size = chain_stack}};
    taskforge::scheduler second{taskforge::options{.threads = 1, .stack_size = chain_stack}};
    std::vector<taskforge::scheduler*> pools{&first, &second};
    std::atomic<int> bottoms{0};
    taskforge::task_group root{first};
    root.spawn(group_hop, &pools, 300, &bottoms);  // 150 blocked group waits per pool; old code: hangs past 128
    root.wait();
    CHECK(bottoms.load() == 1);
}

namespace {
// The bound on spare threads per scheduler: the library's own figure where it declares one
// (options::max_spare_threads), else the 256 of the contract issue 9 was fixed against.
template <class Options>
constexpr std::size_t spare_bound_of() {
    if constexpr (requires { Options::max_spare_threads; }) {
        return Options::max_spare_threads;
    } else {
        return 256;
    }
}
constexpr std::size_t spare_bound = spare_bound_of<taskforge::options>();

// Runs a chain between two pools of `threads` workers that needs 50 more blocked waits per pool than the workers
// plus the spare bound; true if it ended with std::system_error(resource_unavailable_try_again), which travels up
// the chain through every get().
void ignore_unhandled(std::exception_ptr) noexcept {}

bool chain_runs_out_of_spares(std::size_t threads) {
    constexpr std::size_t small_stack = std::size_t{2} << 20;
    // A get() whose wait throws leaves its awaited hop detached; that hop fails too once its own wait fails, and
    // would be reported (printed) as unhandled: expected here, and silenced.
    const taskforge::options settings{
        .threads = threads, .stack_size = small_stack, .on_unhandled_exception = &ignore_unhandled};
    taskforge::scheduler first{settings};
    taskforge::scheduler second{settings};
    std::vector<taskforge::scheduler*> pools{&first, &second};
    const int hops = static_cast<int>(2 * (threads + spare_bound + 50));
    try {
        (void)run_hops(pools, hops);
    } catch (const std::system_error& error) {
        return error.code() == std::errc::resource_unavailable_try_again;
    }
    return false;
}
}  // namespace

TEST_CASE("a chain between two 1-worker pools past the spare-thread bound throws resource_unavailable_try_again",
          "[waiting][nested][unit][misuse]") {
    TASKFORGE_WATCHDOG();
    // Contract: a wait that would need a spare past the bound throws instead of hanging. With 256 spares: 614 hops
    // (old code: hangs at 258).
    CHECK(chain_runs_out_of_spares(1));
}

TEST_CASE("a chain between two 2-worker pools past the spare-thread bound throws resource_unavailable_try_again",
          "[waiting][nested][unit][misuse]") {
    TASKFORGE_WATCHDOG();
    // The 2-worker case (old code: hangs at 600 hops). With 256 spares: 616 hops, 308 blocked waits per
    // pool, past 2 workers + 256 spares, so it must end with the documented error rather than complete.
    CHECK(chain_runs_out_of_spares(2));
}

// ---------------------------------------------------------------------------------------------------------------
// Finding 4: while P waited for its stolen child, P's worker picked up E, which waits on P: E buried P on the same
// stack and E.get() threw resource_deadlock_would_occur (20 of 20 runs), though nothing waits in a cycle.
// ---------------------------------------------------------------------------------------------------------------

TEST_CASE("a task waiting on P while P waits on its stolen child completes without resource_deadlock_would_occur",
          "[waiting][help][unit]") {
    TASKFORGE_WATCHDOG();
    taskforge::scheduler pool{taskforge::options{.threads = 2}};
    const int runs = 20;
    int deadlock_errors = 0;
    int completed = 0;
    for (int run = 0; run < runs; ++run) {
        std::atomic<bool> child_started{false};
        std::atomic<bool> parent_waiting{false};
        auto parent = pool.spawn([&] {
            auto child = taskforge::spawn([&] {
                child_started.store(true);
                std::this_thread::sleep_for(20ms);  // runs on the other worker meanwhile
                return 1;
            });
            while (!child_started.load()) std::this_thread::yield();  // the other worker stole it
            parent_waiting.store(true);
            return child.get() + 1;
        });
        while (!parent_waiting.load()) std::this_thread::yield();
        std::this_thread::sleep_for(1ms);  // P is inside get(): its worker is the only one that could take E
        auto waits_on_parent = pool.spawn([&parent] {
            parent.wait();
            return 3;
        });
        try {
            completed += waits_on_parent.get() == 3 ? 1 : 0;
        } catch (const std::system_error& error) {
            if (is_deadlock_error(error)) ++deadlock_errors;
        }
        REQUIRE(parent.get() == 2);
    }
    CHECK(deadlock_errors == 0);  // old code: 20 of 20
    CHECK(completed == runs);
}

TEST_CASE("acyclic waits across three 1-worker pools complete where help-while-wait used to bury the awaited task",
          "[waiting][help][unit]") {
    TASKFORGE_WATCHDOG();
    taskforge::scheduler a{taskforge::options{.threads = 1}};
    taskforge::scheduler b{taskforge::options{.threads = 1}};
    taskforge::scheduler c{taskforge::options{.threads = 1}};
    for (int run = 0; run < 5; ++run) {
        std::atomic<bool> child_started{false};
        std::atomic<bool> parent_waiting{false};
        // P on a waits on its child on b; X on c waits on P; E on a waits on X. Nothing waits in a cycle.
        auto parent = a.spawn([&] {
            auto child = b.spawn([&] {
                child_started.store(true);
                std::this_thread::sleep_for(20ms);
                return 1;
            });
            while (!child_started.load()) std::this_thread::yield();
            parent_waiting.store(true);
            return child.get() + 1;
        });
        while (!parent_waiting.load()) std::this_thread::yield();
        std::this_thread::sleep_for(1ms);
        auto x = c.spawn([&parent] {
            parent.wait();
            return 5;
        });
        auto e = a.spawn([&x] {
            x.wait();  // old code: a's worker runs E on top of P, and waits here forever
            return 7;
        });
        INFO("run " << run);
        CHECK(e.get() == 7);
        CHECK(x.get() == 5);
        CHECK(parent.get() == 2);
    }
}

namespace {
thread_local int waits_in_progress = 0;  // how many waits of the test below are open on this thread
}

TEST_CASE("a waiting worker never runs an unrelated task on top of its stack", "[waiting][help][unit]") {
    TASKFORGE_WATCHDOG();
    taskforge::scheduler a{taskforge::options{.threads = 1}};
    taskforge::scheduler b{taskforge::options{.threads = 1}};
    held_task blocker(b);
    std::atomic<bool> waiting{false};
    auto waiter = a.spawn([&] {
        ++waits_in_progress;
        waiting.store(true);
        blocker.handle.wait();
        --waits_in_progress;
    });
    while (!waiting.load()) std::this_thread::yield();
    std::this_thread::sleep_for(1ms);
    std::atomic<int> ran{0};
    std::atomic<int> ran_on_a_waiter{0};
    for (int i = 0; i < 20; ++i) {
        (void)a.spawn([&] {
            if (waits_in_progress > 0) ran_on_a_waiter.fetch_add(1);
            ran.fetch_add(1);
        });
    }
    const bool all_ran = eventually([&] { return ran.load() == 20; }, 3s);
    blocker.release();
    waiter.get();
    CHECK(all_ran);
    CHECK(ran_on_a_waiter.load() == 0);  // old code: all 20 ran inside the waiter's wait
}

// Contract 2: a waiter takes the blocking path, and the pool keeps its parallelism (spare threads).
TEST_CASE("a worker blocked in a cross-pool wait does not stop its pool from running other work",
          "[waiting][spare][unit]") {
    TASKFORGE_WATCHDOG();
    taskforge::scheduler a{taskforge::options{.threads = 1}};
    taskforge::scheduler b{taskforge::options{.threads = 1}};
    held_task blocker(b);
    std::atomic<bool> waiting{false};
    auto waiter = a.spawn([&] {
        waiting.store(true);
        blocker.handle.wait();
    });
    while (!waiting.load()) std::this_thread::yield();
    std::this_thread::sleep_for(1ms);
    std::atomic<int> ran{0};
    const int tasks = 200;
    for (int i = 0; i < tasks; ++i) (void)a.spawn([&] { ran.fetch_add(1); });
    // They all finish while a's only worker is still blocked, before the awaited task is released.
    const bool all_ran = eventually([&] { return ran.load() == tasks; }, 3s);
    blocker.release();
    waiter.get();
    CHECK(all_ran);
}

TEST_CASE("a worker blocked 150 waits deep in a cross-pool wait does not stop its pool from running other work",
          "[waiting][spare][nested][unit]") {
    TASKFORGE_WATCHDOG();
    taskforge::scheduler a{taskforge::options{.threads = 1}};
    taskforge::scheduler b{taskforge::options{.threads = 1}};
    held_task blocker(b);
    std::atomic<bool> at_bottom{false};
    auto bottom = [&]() -> int {
        at_bottom.store(true);
        blocker.handle.wait();
        return 0;
    };
    auto chain = a.spawn(nest<decltype(bottom)>, &a, 150, &bottom);
    while (!at_bottom.load()) std::this_thread::yield();
    std::this_thread::sleep_for(1ms);
    std::atomic<int> ran{0};
    const int tasks = 200;
    for (int i = 0; i < tasks; ++i) (void)a.spawn([&] { ran.fetch_add(1); });
    const bool all_ran = eventually([&] { return ran.load() == tasks; }, 3s);  // old code: none ran
    blocker.release();
    CHECK(chain.get() == 150);
    CHECK(all_ran);
}

TEST_CASE("spare threads started for blocked waits retire after about a second idle", "[waiting][spare][unit]") {
    TASKFORGE_WATCHDOG();
    taskforge::scheduler first{taskforge::options{.threads = 1, .stack_size = chain_stack}};
    taskforge::scheduler second{taskforge::options{.threads = 1, .stack_size = chain_stack}};
    std::vector<taskforge::scheduler*> pools{&first, &second};
    CHECK(run_hops(pools, 2) == 2);  // both pools warmed up
    const long before = process_threads();
    CHECK(run_hops(pools, 200) == 200);  // ~100 blocked waits per pool: spares
    const long after_chain = process_threads();
    long current = after_chain;
    const bool retired = eventually(
        [&] {
            current = process_threads();
            return current <= before;
        },
        5s * sanitizer_slowdown);  // contract: spares retire after ~1 s idle
    INFO("threads before " << before << ", right after the chain " << after_chain << ", at the end " << current);
    CHECK(retired);
    CHECK(run_hops(pools, 200) == 200);  // the retired spares' slots are reused: their threads joined first [R3]
}

TEST_CASE("when a scheduler's destructor returns, every thread it started has exited, spares included",
          "[waiting][spare][lifetime][unit]") {
    TASKFORGE_WATCHDOG();
    const long before = process_threads();
    long during = 0;
    for (int round = 0; round < 3; ++round) {
        taskforge::scheduler first{taskforge::options{.threads = 1, .stack_size = chain_stack}};
        taskforge::scheduler second{taskforge::options{.threads = 1, .stack_size = chain_stack}};
        std::vector<taskforge::scheduler*> pools{&first, &second};
        CHECK(run_hops(pools, 200) == 200);  // ~100 spares per pool, all still alive at destruction
        during = process_threads();
    }
    // No eventually(): old code detached its spares, which were still exiting here (and a program returning from
    // main() at this point crashed in ThreadSanitizer's and glibc's thread teardown).
    const long after = process_threads();
    INFO("threads before " << before << ", with the pools " << during << ", after destruction " << after);
    CHECK(during > before + 2);
    CHECK(after <= before);  // fewer when a thread of an earlier test (not one of these pools') ended meanwhile
}

// ---------------------------------------------------------------------------------------------------------------
// Finding 5 / contract 3: workers that always had local work never read the injection queue.
// ---------------------------------------------------------------------------------------------------------------

namespace {
struct respawning {
    std::atomic<bool> stop{false};
    std::atomic<long> runs{0};
};

void respawn(respawning* state) {
    for (int spin = 0; spin < 200; ++spin) std::atomic_signal_fence(std::memory_order_seq_cst);  // ~0.2-1 us
    state->runs.fetch_add(1, std::memory_order_relaxed);
    if (!state->stop.load(std::memory_order_relaxed)) (void)taskforge::spawn(respawn, state);  // own deque
}
}  // namespace

TEST_CASE("a task spawned from outside starts promptly while every worker runs self-respawning local tasks",
          "[waiting][fairness][unit]") {
    TASKFORGE_WATCHDOG();
    respawning state;
    std::vector<double> latency_ms;
    bool starved = false;
    {
        taskforge::scheduler pool{taskforge::options{.threads = 2}};
        (void)pool.spawn(respawn, &state);
        (void)pool.spawn(respawn, &state);
        std::this_thread::sleep_for(50ms);  // one respawning chain settles on each worker
        for (int probe = 0; probe < 5 && !starved; ++probe) {
            const auto spawned_at = clock_type::now();
            auto started_at = pool.spawn([] { return clock_type::now(); });
            if (started_at.wait_for(3s) == std::future_status::timeout) {
                starved = true;  // old code: still not started after 3 s
            } else {
                latency_ms.push_back(std::chrono::duration<double, std::milli>(started_at.get() - spawned_at).count());
            }
        }
        state.stop.store(true);
    }
    REQUIRE_FALSE(starved);
    const double worst = *std::max_element(latency_ms.begin(), latency_ms.end());
    std::printf("outside spawn start latency while workers are busy: worst of 5 %.3f ms\n", worst);
    // Contract: within ~1 ms (61 local tasks of ~1 us); measured ~0.1 ms. 50 ms absorbs a noisy machine.
    CHECK(worst < 50.0 * sanitizer_slowdown);
    CHECK(state.runs.load() > 1000);
}

// ---------------------------------------------------------------------------------------------------------------
// Finding 6 / contract 4: a worker with a deadline must not pick up unbounded work.
// ---------------------------------------------------------------------------------------------------------------

TEST_CASE("wait_for(5ms) on a worker returns near its deadline although a 300 ms task is pending in its pool",
          "[waiting][deadline][unit]") {
    TASKFORGE_WATCHDOG();
    taskforge::scheduler a{taskforge::options{.threads = 1}};
    taskforge::scheduler b{taskforge::options{.threads = 1}};
    held_task blocker(b);
    auto probe = a.spawn([&] {
        (void)taskforge::spawn([] { std::this_thread::sleep_for(300ms); });  // pending on this worker's deque
        const auto started = clock_type::now();
        const std::future_status status = blocker.handle.wait_for(5ms);
        return std::pair{status, elapsed_ms(started)};
    });
    const auto [status, took_ms] = probe.get();
    INFO("wait_for(5ms) took " << took_ms << " ms");
    CHECK(status == std::future_status::timeout);
    CHECK(took_ms < 100.0 * sanitizer_slowdown);  // old code: ~300 ms (it ran the pending task); expected ~5 ms
}

TEST_CASE("wait_for on a worker does not run the awaited task either", "[waiting][deadline][unit]") {
    TASKFORGE_WATCHDOG();
    taskforge::scheduler pool{taskforge::options{.threads = 1}};
    auto probe = pool.spawn([] {
        auto awaited = taskforge::spawn([] {
            std::this_thread::sleep_for(300ms);
            return 4;
        });
        const auto started = clock_type::now();
        const std::future_status status = awaited.wait_for(5ms);
        const double took = elapsed_ms(started);
        const int value = awaited.get();  // without a deadline: may run it now
        return std::tuple{status, took, value};
    });
    const auto [status, took_ms, value] = probe.get();
    INFO("wait_for(5ms) took " << took_ms << " ms");
    CHECK(status == std::future_status::timeout);
    CHECK(took_ms < 100.0 * sanitizer_slowdown);  // old code: ~300 ms
    CHECK(value == 4);
}

TEST_CASE("wait_for and wait_until on an outside thread return near their deadlines", "[waiting][deadline][unit]") {
    TASKFORGE_WATCHDOG();
    taskforge::scheduler pool{taskforge::options{.threads = 1}};
    held_task pending(pool);
    auto started = clock_type::now();
    CHECK(pending.handle.wait_for(20ms) == std::future_status::timeout);
    double took = elapsed_ms(started);
    CHECK(took >= 19.0);
    CHECK(took < 20.0 + 100.0 * sanitizer_slowdown);
    started = clock_type::now();
    CHECK(pending.handle.wait_until(std::chrono::system_clock::now() + 20ms) == std::future_status::timeout);
    took = elapsed_ms(started);
    CHECK(took >= 19.0);
    CHECK(took < 20.0 + 100.0 * sanitizer_slowdown);
}

// ---------------------------------------------------------------------------------------------------------------
// Finding 7 / contract 4: the "wait forever" idioms overflowed the deadline arithmetic and returned timeout at
// once (UBSan: signed overflow). Like std::future they must wait; zero, negative and past deadlines poll.
// ---------------------------------------------------------------------------------------------------------------

namespace {

// Each wait below is tried on a task that completes after 20 ms: from an outside thread and from a worker of
// another pool. Returns the number of results that were not `ready`.
template <class Wait>
int count_not_ready(taskforge::scheduler& pool, taskforge::scheduler& other, Wait wait) {
    int not_ready = 0;
    {
        auto task = pool.spawn([] {
            std::this_thread::sleep_for(20ms);
            return 1;
        });
        if (wait(task) != std::future_status::ready) ++not_ready;
        if (task.get() != 1) ++not_ready;
    }
    auto from_worker = other.spawn([&pool, wait] {
        auto task = pool.spawn([] {
            std::this_thread::sleep_for(20ms);
            return 1;
        });
        const bool ready = wait(task) == std::future_status::ready;
        return ready && task.get() == 1;
    });
    if (!from_worker.get()) ++not_ready;
    return not_ready;
}

// Each wait below is tried on a task that has not started (its pool's only worker is occupied), from an outside
// thread and from a worker of another pool. Returns the number of results that were not an immediate timeout.
template <class Wait>
int count_not_timeout_at_once(taskforge::scheduler& pool, taskforge::scheduler& other, Wait wait) {
    int wrong = 0;
    held_task occupier(pool);
    occupier.wait_started();
    auto pending = pool.spawn([] {});
    auto started = clock_type::now();
    if (wait(pending) != std::future_status::timeout) ++wrong;
    if (elapsed_ms(started) > 50.0 * sanitizer_slowdown) ++wrong;
    auto from_worker = other.spawn([&pending, wait] {
        const auto begun = clock_type::now();
        const bool timeout = wait(pending) == std::future_status::timeout;
        return timeout && elapsed_ms(begun) <= 50.0 * sanitizer_slowdown;
    });
    if (!from_worker.get()) ++wrong;
    if (pending.status() != taskforge::task_status::pending) ++wrong;  // a poll never runs it
    occupier.release();
    pending.get();
    return wrong;
}

}  // namespace

TEST_CASE("wait_until(time_point::max()) waits until the task completes, with steady_clock and system_clock",
          "[waiting][deadline][unit]") {
    TASKFORGE_WATCHDOG();
    taskforge::scheduler pool{taskforge::options{.threads = 1}};
    taskforge::scheduler other{taskforge::options{.threads = 1}};
    CHECK(count_not_ready(pool, other, [](auto& task) {
              return task.wait_until(std::chrono::steady_clock::time_point::max());
          }) == 0);
    CHECK(count_not_ready(pool, other, [](auto& task) {
              return task.wait_until(std::chrono::system_clock::time_point::max());
          }) == 0);
    using coarse_steady = std::chrono::time_point<std::chrono::steady_clock, std::chrono::hours>;
    CHECK(count_not_ready(pool, other, [](auto& task) { return task.wait_until(coarse_steady::max()); }) == 0);
}

TEST_CASE("wait_for(duration::max()) waits until the task completes, for several duration types",
          "[waiting][deadline][unit]") {
    TASKFORGE_WATCHDOG();
    taskforge::scheduler pool{taskforge::options{.threads = 1}};
    taskforge::scheduler other{taskforge::options{.threads = 1}};
    CHECK(count_not_ready(pool, other, [](auto& task) { return task.wait_for(std::chrono::hours::max()); }) == 0);
    CHECK(count_not_ready(pool, other, [](auto& task) { return task.wait_for(std::chrono::seconds::max()); }) == 0);
    CHECK(count_not_ready(pool, other, [](auto& task) { return task.wait_for(std::chrono::milliseconds::max()); }) ==
          0);
    CHECK(count_not_ready(pool, other, [](auto& task) { return task.wait_for(std::chrono::nanoseconds::max()); }) == 0);
    CHECK(count_not_ready(pool, other, [](auto& task) { return task.wait_for(std::chrono::hours(1'000'000)); }) == 0);
}

TEST_CASE("zero, negative, past and minimal deadlines poll: timeout at once on a pending task",
          "[waiting][deadline][unit]") {
    TASKFORGE_WATCHDOG();
    taskforge::scheduler pool{taskforge::options{.threads = 1}};
    taskforge::scheduler other{taskforge::options{.threads = 1}};
    CHECK(count_not_timeout_at_once(pool, other, [](auto& task) { return task.wait_for(0ms); }) == 0);
    CHECK(count_not_timeout_at_once(pool, other, [](auto& task) { return task.wait_for(-5ms); }) == 0);
    CHECK(count_not_timeout_at_once(pool, other,
                                    [](auto& task) { return task.wait_for(std::chrono::nanoseconds::min()); }) == 0);
    CHECK(count_not_timeout_at_once(pool, other, [](auto& task) { return task.wait_for(std::chrono::hours::min()); }) ==
          0);
    CHECK(count_not_timeout_at_once(
              pool, other, [](auto& task) { return task.wait_until(std::chrono::steady_clock::now() - 1s); }) == 0);
    CHECK(count_not_timeout_at_once(
              pool, other, [](auto& task) { return task.wait_until(std::chrono::system_clock::now() - 1h); }) == 0);
    CHECK(count_not_timeout_at_once(pool, other, [](auto& task) {
              return task.wait_until(std::chrono::steady_clock::time_point::min());
          }) == 0);
    CHECK(count_not_timeout_at_once(pool, other, [](auto& task) {
              return task.wait_until(std::chrono::system_clock::time_point::min());
          }) == 0);
    using coarse_steady = std::chrono::time_point<std::chrono::steady_clock, std::chrono::hours>;
    CHECK(count_not_timeout_at_once(pool, other, [](auto& task) { return task.wait_until(coarse_steady::min()); }) ==
          0);
}

// ---------------------------------------------------------------------------------------------------------------
// Finding 10 / contract 7: a waiter with nothing to run napped up to 1.28 ms and was not woken by new stealable
// work, so a child pushed by another worker waited for the nap to end.
// ---------------------------------------------------------------------------------------------------------------

TEST_CASE("while a worker waits with nothing to run, a child pushed by another worker starts promptly",
          "[waiting][latency][unit]") {
    TASKFORGE_WATCHDOG();
    taskforge::scheduler pool{taskforge::options{.threads = 2}};
    const std::size_t samples = 200;
    std::vector<double> latency_us(samples);
    std::atomic<bool> producer_running{false};
    std::atomic<bool> waiter_running{false};
    // The producer keeps one worker busy and pushes one child at a time onto its own deque; it never runs them.
    auto producer = pool.spawn([&] {
        producer_running.store(true);
        sleep_until_set(waiter_running);
        std::mt19937 random(10);
        for (std::size_t i = 0; i < samples; ++i) {
            // Old code: meanwhile the waiter's naps grow to their 1.28 ms cap; a random gap puts the spawn at a
            // random point of a nap (a fixed gap can stay in phase with the nap's end).
            std::this_thread::sleep_for(std::chrono::microseconds(2000 + random() % 3000));
            std::atomic<bool> started{false};
            clock_type::time_point started_at{};
            const auto spawned_at = clock_type::now();
            auto child = taskforge::spawn([&] {
                started_at = clock_type::now();
                started.store(true, std::memory_order_release);
            });
            while (!started.load(std::memory_order_acquire)) std::this_thread::yield();
            latency_us[i] = microseconds_between(spawned_at, started_at);
            child.get();
        }
    });
    while (!producer_running.load()) std::this_thread::yield();
    // The other worker takes this task and waits on the producer: a waiter with nothing it may run.
    auto waiter = pool.spawn([&] {
        waiter_running.store(true);
        producer.wait();
    });
    waiter.get();
    producer.get();
    std::sort(latency_us.begin(), latency_us.end());
    const double median = latency_us[samples / 2];
    const double p99 = latency_us[samples * 99 / 100];
    std::printf("child start latency while a worker waits: median %.1f us, p99 %.1f us\n", median, p99);
    INFO("median " << median << " us, p99 " << p99 << " us");
    // Old code: median ~600 us, p99 ~1,300 us (the nap). A waiter blocked on the word, with a parked spare woken by
    // the push: median ~20-60 us on this machine. Bounds leave room for a noisy 2-core box. Under the sanitizers
    // (5-20x slower, and run beside other tests in CI) a latency says nothing about the nap: there the test only
    // exercises the path (ASan measured a 1.4 ms median on a loaded machine).
    if (sanitizer_slowdown == 1) {
        CHECK(median < 250.0);
        CHECK(p99 < 20'000.0);
    }
}
