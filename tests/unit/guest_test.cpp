// Outside threads that help while they wait (issue 11, detail/guest_slots.hpp): a thread that is not a worker and
// waits without a deadline takes a guest slot and runs the awaited task, its group's tasks and what they spawn;
// it leaves nothing behind; with every slot taken, with guest_slots = 0 or with a deadline it only waits.
//
// Most cases first hold every worker of a pool on a gate, so what can run runs on the waiting thread, and the
// gate's own time limit turns "the waiter only slept" (the behaviour before guests) into a failure, not a hang.
//
// Do not use taskforge::spawn or default_scheduler() from a thread that is not a worker in this binary (see
// lifetime_test.cpp, which forks): the cases name their scheduler.
#include <atomic>
#include <chrono>
#include <future>
#if defined(__GLIBC__)
#include <sys/mman.h>
#include <ucontext.h>
#endif
#include <set>
#include <stdexcept>
#include <taskforge/taskforge.hpp>
#include <thread>
#include <vector>

#include "../support/catch.hpp"
#include "../support/sanitizers.hpp"
#include "../support/watchdog.hpp"

using namespace std::chrono_literals;
using taskforge_test::sanitizer_slowdown;

namespace {

using clock_type = std::chrono::steady_clock;

// Holds every worker of `pool` until release() or until `limit` passed, whichever comes first.
class held_workers {
public:
    held_workers(taskforge::scheduler& pool, std::chrono::milliseconds limit) : limit_(limit) {
        for (std::size_t i = 0; i < pool.thread_count(); ++i) {
            holds_.push_back(pool.spawn([this] {
                started_.fetch_add(1);
                const auto end = clock_type::now() + limit_;
                while (!released_.load() && clock_type::now() < end) std::this_thread::sleep_for(100us);
                if (!released_.load()) timed_out_.store(true);
            }));
        }
        while (started_.load() < static_cast<int>(pool.thread_count())) std::this_thread::yield();
    }
    ~held_workers() {
        release();
        for (auto& hold : holds_) hold.wait();  // they read this object until they return
    }
    held_workers(const held_workers&) = delete;
    held_workers& operator=(const held_workers&) = delete;

    void release() { released_.store(true); }
    // True if the gate opened by its time limit: the test waited on work only a held worker could run.
    bool timed_out() const { return timed_out_.load(); }

private:
    std::chrono::milliseconds limit_;
    std::vector<taskforge::task_handle<void>> holds_;
    std::atomic<int> started_{0};
    std::atomic<bool> released_{false};
    std::atomic<bool> timed_out_{false};
};

constexpr auto gate_limit = 3000ms;

}  // namespace

TEST_CASE("an outside get() runs the awaited task on the calling thread when every worker is busy", "[guest][unit]") {
    TASKFORGE_WATCHDOG();
    taskforge::scheduler pool{taskforge::options{.threads = 2}};
    held_workers gate(pool, gate_limit);
    const auto caller = std::this_thread::get_id();
    auto handle = pool.spawn([] { return std::this_thread::get_id(); });
    const auto ran_on = handle.get();
    const bool before_the_gate = !gate.timed_out();
    gate.release();
    CHECK(ran_on == caller);
    CHECK(before_the_gate);  // old code: get() slept until the gate's limit freed a worker
}

TEST_CASE("a task run by a waiting outside thread sees its scheduler as current, and its spawns stay in the pool",
          "[guest][unit]") {
    TASKFORGE_WATCHDOG();
    taskforge::scheduler pool{taskforge::options{.threads = 1}};
    held_workers gate(pool, gate_limit);
    auto handle = pool.spawn([&pool] {
        const bool current = taskforge::scheduler::current() == &pool;
        // A nested spawn + get: the child goes to the guest's deque and is popped right back.
        const int child = taskforge::spawn([] { return 20; }).get();
        auto [left, right] = taskforge::join([] { return 1; }, [] { return 2; });
        return current && child + left + right == 23;
    });
    CHECK(handle.get());
    CHECK_FALSE(gate.timed_out());
    CHECK(taskforge::scheduler::current() == nullptr);  // the visit is over
}

TEST_CASE("an outside task_group::wait() runs the group's tasks itself when every worker is busy", "[guest][unit]") {
    TASKFORGE_WATCHDOG();
    taskforge::scheduler pool{taskforge::options{.threads = 2}};
    held_workers gate(pool, gate_limit);
    const auto caller = std::this_thread::get_id();
    std::atomic<int> on_caller{0};
    std::atomic<int> ran{0};
    taskforge::task_group group{pool};
    for (int i = 0; i < 100; ++i) {
        group.spawn([&] {
            if (std::this_thread::get_id() == caller) on_caller.fetch_add(1);
            ran.fetch_add(1);
        });
    }
    group.wait();
    CHECK_FALSE(gate.timed_out());
    CHECK(ran.load() == 100);
    CHECK(on_caller.load() == 100);
}

TEST_CASE("an outside fan-out into a group is shared between the waiting thread and the workers", "[guest][unit]") {
    TASKFORGE_WATCHDOG();
    taskforge::scheduler pool{taskforge::options{.threads = 2}};
    const auto caller = std::this_thread::get_id();
    std::mutex mutex;
    std::set<std::thread::id> runners;
    int rounds_with_the_caller = 0;
    for (int round = 0; round < 200; ++round) {
        runners.clear();
        taskforge::task_group group{pool};
        for (int i = 0; i < 16; ++i) {
            group.spawn([&] {
                const auto end = clock_type::now() + 20us;
                while (clock_type::now() < end) {
                }
                std::lock_guard lock(mutex);
                runners.insert(std::this_thread::get_id());
            });
        }
        group.wait();
        if (runners.count(caller) != 0) ++rounds_with_the_caller;
    }
    INFO("rounds in which the waiting thread ran some of the 16 tasks: " << rounds_with_the_caller << " of 200");
    CHECK(rounds_with_the_caller > 0);
}

TEST_CASE("detached tasks spawned by a task that a guest ran are handed back to the pool when it leaves",
          "[guest][unit]") {
    TASKFORGE_WATCHDOG();
    taskforge::scheduler pool{taskforge::options{.threads = 2}};
    const auto caller = std::this_thread::get_id();
    std::atomic<int> ran{0};
    std::atomic<int> on_caller{0};
    {
        held_workers gate(pool, gate_limit);
        auto parent = pool.spawn([&] {
            for (int i = 0; i < 100; ++i) {
                (void)taskforge::spawn([&] {
                    if (std::this_thread::get_id() == caller) on_caller.fetch_add(1);
                    ran.fetch_add(1);
                });
            }
            return std::this_thread::get_id();
        });
        CHECK(parent.get() == caller);  // ran here; its 100 children sit in the guest's deque
        CHECK(ran.load() == 0);         // nobody waited for them, so the guest ran none
    }
    const auto end = clock_type::now() + 10s * sanitizer_slowdown;
    while (ran.load() < 100 && clock_type::now() < end) std::this_thread::sleep_for(100us);
    CHECK(ran.load() == 100);  // handed back, not stranded in the empty slot (oneTBB #2056)
    CHECK(on_caller.load() == 0);
}

TEST_CASE("exceptions of tasks run by a waiting outside thread reach it", "[guest][unit]") {
    TASKFORGE_WATCHDOG();
    taskforge::scheduler pool{taskforge::options{.threads = 1}};
    held_workers gate(pool, gate_limit);
    auto failing = pool.spawn([]() -> int { throw std::runtime_error("task"); });
    CHECK_THROWS_WITH(failing.get(), "task");
    taskforge::task_group group{pool};
    group.spawn([] {});
    group.spawn([] { throw std::logic_error("member"); });
    group.spawn([] {});
    CHECK_THROWS_WITH(group.wait(), "member");
    CHECK_FALSE(gate.timed_out());
}

TEST_CASE("a cancelled task is not run by a waiting outside thread", "[guest][unit]") {
    TASKFORGE_WATCHDOG();
    taskforge::scheduler pool{taskforge::options{.threads = 1}};
    held_workers gate(pool, gate_limit);
    std::atomic<bool> ran{false};
    auto handle = pool.spawn([&] { ran.store(true); });
    CHECK(handle.cancel());
    CHECK_THROWS_AS(handle.get(), taskforge::task_cancelled);
    gate.release();
    CHECK_FALSE(ran.load());
}

TEST_CASE("wait_for from an outside thread never runs the task: it returns on time", "[guest][unit]") {
    TASKFORGE_WATCHDOG();
    taskforge::scheduler pool{taskforge::options{.threads = 1}};
    held_workers gate(pool, gate_limit);
    auto handle = pool.spawn([] { return 1; });
    const auto start = clock_type::now();
    CHECK(handle.wait_for(20ms) == std::future_status::timeout);
    CHECK(clock_type::now() - start < 20ms + 1s * sanitizer_slowdown);
    CHECK(handle.status() == taskforge::task_status::pending);  // the deadline wait ran nothing (rules [W3])
    CHECK_FALSE(gate.timed_out());
    gate.release();
    CHECK(handle.get() == 1);
}

TEST_CASE("with guest_slots = 0 an outside waiter never runs tasks", "[guest][unit]") {
    TASKFORGE_WATCHDOG();
    taskforge::scheduler pool{taskforge::options{.threads = 1, .guest_slots = 0}};
    const auto caller = std::this_thread::get_id();
    for (int i = 0; i < 200; ++i) CHECK(pool.spawn([] { return std::this_thread::get_id(); }).get() != caller);
    taskforge::task_group group{pool};
    std::atomic<int> on_caller{0};
    for (int i = 0; i < 200; ++i) {
        group.spawn([&] {
            if (std::this_thread::get_id() == caller) on_caller.fetch_add(1);
        });
    }
    group.wait();
    CHECK(on_caller.load() == 0);
}

TEST_CASE("guest_slots above max_guest_slots is refused", "[guest][unit]") {
    CHECK_THROWS_AS(taskforge::scheduler(taskforge::options{.guest_slots = taskforge::options::max_guest_slots + 1}),
                    std::invalid_argument);
    taskforge::scheduler most{taskforge::options{.threads = 1, .guest_slots = taskforge::options::max_guest_slots}};
    CHECK(most.spawn([] { return 7; }).get() == 7);
}

TEST_CASE("more outside waiters than guest slots: the ones without a slot wait, and every wait completes",
          "[guest][unit]") {
    TASKFORGE_WATCHDOG();
    taskforge::scheduler pool{taskforge::options{.threads = 1, .guest_slots = 2}};
    constexpr int waiters = 6;
    constexpr int rounds = 300;
    std::atomic<long> total{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < waiters; ++t) {
        threads.emplace_back([&pool, &total] {
            for (int round = 0; round < rounds; ++round) {
                taskforge::task_group group{pool};
                std::atomic<int> ran{0};
                for (int i = 0; i < 8; ++i) group.spawn([&ran] { ran.fetch_add(1); });
                group.wait();
                total.fetch_add(ran.load());
                total.fetch_add(pool.spawn([] { return 1; }).get());
            }
        });
    }
    for (auto& thread : threads) thread.join();
    CHECK(total.load() == long{waiters} * rounds * 9);
}

TEST_CASE("a loop and a join called from an outside thread run partly on it", "[guest][loop][join][unit]") {
    TASKFORGE_WATCHDOG();
    taskforge::scheduler pool{taskforge::options{.threads = 2}};
    held_workers gate(pool, gate_limit);
    const auto caller = std::this_thread::get_id();
    std::atomic<int> on_caller{0};
    taskforge::parallel_for(pool, 0, 1000, [&](int) {
        if (std::this_thread::get_id() == caller) on_caller.fetch_add(1);
    });
    CHECK(on_caller.load() == 1000);
    auto [left, right] =
        pool.join([] { return std::this_thread::get_id(); }, [] { return std::this_thread::get_id(); });
    CHECK(left == caller);
    CHECK(right == caller);
    CHECK_FALSE(gate.timed_out());
}

namespace {
long deep_join(taskforge::scheduler& pool, long depth) {
    if (depth == 0) return 0;
    auto [below, one] = pool.join([&pool, depth] { return deep_join(pool, depth - 1); }, [] { return 1L; });
    return below + one;
}
}  // namespace

// Old code (guests without this): SIGSEGV from ~30,000 levels on an 8 MiB main stack (release build).
TEST_CASE("a join recursion from an outside thread deeper than its stack goes on on a worker's stack",
          "[guest][join][unit]") {
    TASKFORGE_WATCHDOG();
    constexpr long depth = TASKFORGE_TEST_TSAN ? 5'000 : 50'000;  // TSan: its shadow call stack is bounded
    taskforge::scheduler pool{taskforge::options{.threads = 2}};
    CHECK(deep_join(pool, depth) == depth);
}

TEST_CASE("shutdown while outside threads wait as guests: every accepted task runs, every wait returns",
          "[guest][lifetime][unit]") {
    TASKFORGE_WATCHDOG();
    for (int round = 0; round < 20; ++round) {
        auto pool = std::make_unique<taskforge::scheduler>(taskforge::options{.threads = 2});
        std::atomic<long> ran{0};
        std::atomic<long> accepted{0};
        std::atomic<bool> stop{false};
        std::vector<std::thread> waiters;
        for (int t = 0; t < 3; ++t) {
            waiters.emplace_back([&] {
                while (!stop.load()) {
                    taskforge::task_group group{*pool};
                    try {
                        for (int i = 0; i < 8; ++i) {
                            group.spawn([&ran] {
                                ran.fetch_add(1);
                                // A spawn from inside a task is accepted during shutdown's drain.
                                (void)taskforge::spawn([&ran] { ran.fetch_add(1); });
                            });
                            accepted.fetch_add(2);
                        }
                    } catch (const taskforge::scheduler_closed&) {
                        stop.store(true);
                    }
                    group.wait();
                }
            });
        }
        std::this_thread::sleep_for(2ms);
        pool->shutdown();
        stop.store(true);
        for (auto& thread : waiters) thread.join();
        pool.reset();
        CHECK(ran.load() == accepted.load());
    }
}

TEST_CASE("destroying a scheduler while an outside thread waits on one of its handles is safe",
          "[guest][lifetime][unit]") {
    TASKFORGE_WATCHDOG();
    for (int round = 0; round < 200; ++round) {
        auto pool = std::make_unique<taskforge::scheduler>(taskforge::options{.threads = 1});
        auto handle = pool->spawn([] {
            std::this_thread::sleep_for(50us);
            return 5;
        });
        std::thread destroyer([&pool] { pool.reset(); });
        CHECK(handle.get() == 5);  // the destructor drains it; the wait must not touch a freed scheduler [V5]
        destroyer.join();
    }
}

#if defined(__GLIBC__) && !TASKFORGE_TEST_TSAN && !TASKFORGE_TEST_ASAN  // the sanitizers do not follow swapcontext
namespace {
struct fiber_wait {
    taskforge::scheduler* pool = nullptr;
    std::thread::id ran_on;
    ucontext_t caller{};
    ucontext_t fiber{};
    static void body(fiber_wait* self) {
        self->ran_on = self->pool->spawn([] { return std::this_thread::get_id(); }).get();
        swapcontext(&self->fiber, &self->caller);
    }
};
}  // namespace

TEST_CASE("a wait on a stack the thread was not created with (a fiber's) never runs the task there", "[guest][unit]") {
    TASKFORGE_WATCHDOG();
    taskforge::scheduler pool{taskforge::options{.threads = 1}};
    held_workers gate(pool, 200ms);  // the task can only run once the gate opens: on the worker
    // Mapped before the thread starts, so it lies above the thread's own stack (mappings grow downwards): a floor
    // computed for the thread's stack alone would say "room" here.
    constexpr std::size_t size = 256 * 1024;
    void* stack = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    REQUIRE(stack != MAP_FAILED);
    fiber_wait state;
    state.pool = &pool;
    std::thread::id thread_id;
    std::thread([&] {
        thread_id = std::this_thread::get_id();
        getcontext(&state.fiber);
        state.fiber.uc_stack.ss_sp = stack;
        state.fiber.uc_stack.ss_size = size;
        state.fiber.uc_link = &state.caller;
        makecontext(&state.fiber, reinterpret_cast<void (*)()>(&fiber_wait::body), 1, &state);
        swapcontext(&state.caller, &state.fiber);
    }).join();
    munmap(stack, size);
    CHECK(state.ran_on != thread_id);  // a fiber stack of unknown size: the waiter only waited
}
#endif
