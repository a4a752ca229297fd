// Lifetimes and misuse around waiting (issue 9, findings 8 and 9): spawning from a thread_local destructor, a
// task_group outliving its scheduler, a group waiting on itself, the default scheduler after exit began, destroying
// a scheduler on another pool's worker, stack sizes below the minimum, fork(), and memory that goes back after a
// burst.
//
// Fork tests: the child does the thing and ends with an exit code; the parent checks it with waitpid. They are
// skipped under ThreadSanitizer (it does not support a multi-threaded process forking and then starting threads),
// like tests/unit/shutdown_test.cpp. Memory tests read VmRSS and run in plain builds only (sanitizers keep freed
// memory in quarantine); under AddressSanitizer the leak tests are checked by LeakSanitizer at exit instead.
//
// Do not use taskforge::spawn or default_scheduler() from a thread that is not a worker in this binary: the fork
// tests need a process in which the default scheduler does not exist yet.
#include <atomic>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <system_error>
#include <taskforge/taskforge.hpp>
#include <thread>
#include <vector>

#if defined(__unix__)
#include <pthread.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#endif
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "../support/catch.hpp"
#include "../support/sanitizers.hpp"
#include "../support/watchdog.hpp"

using namespace std::chrono_literals;

// Sanitizers keep freed memory in quarantine and replace malloc: resident and heap figures mean nothing there.
#if !TASKFORGE_TEST_ASAN && !TASKFORGE_TEST_TSAN
#define TASKFORGE_TEST_MEASURES_MEMORY 1
#else
#define TASKFORGE_TEST_MEASURES_MEMORY 0
#endif

namespace {

using clock_type = std::chrono::steady_clock;

#if TASKFORGE_TEST_MEASURES_MEMORY
long resident_kib() {
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line)) {
        if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
    }
    return -1;
}
#endif

template <class Done>
bool eventually(Done done, std::chrono::milliseconds limit) {
    const auto end = clock_type::now() + limit;
    while (!done()) {
        if (clock_type::now() > end) return false;
        std::this_thread::sleep_for(100us);
    }
    return true;
}

bool is_deadlock_error(const std::system_error& error) {
    return error.code() == std::errc::resource_deadlock_would_occur;
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------------
// Spawning from a thread_local destructor: the thread's frame cache is already gone; old code installed a new one
// that nobody ever released (LeakSanitizer: 857 KB over 200 threads).
// ---------------------------------------------------------------------------------------------------------------

namespace {

struct spawn_at_thread_exit {
    taskforge::scheduler* pool = nullptr;
    std::atomic<int>* ran = nullptr;
    ~spawn_at_thread_exit() {
        if (pool == nullptr) return;
        std::atomic<int>* counter = ran;
        pool->spawn([counter] { counter->fetch_add(1); }).get();  // freed on this thread
        (void)pool->spawn([counter] { counter->fetch_add(1); });  // detached: freed on a worker
    }
};

thread_local spawn_at_thread_exit exit_spawner;

// One thread: arms its thread_local first, then spawns (which creates the thread's frame cache after it), so at
// exit the cache goes first and the thread_local's destructor spawns without one.
void thread_spawning_at_exit(taskforge::scheduler& pool, std::atomic<int>& ran) {
    std::thread([&pool, &ran] {
        exit_spawner.pool = &pool;
        exit_spawner.ran = &ran;
        pool.spawn([&ran] { ran.fetch_add(1); }).get();
    }).join();
}

#if defined(__GLIBC__) && TASKFORGE_TEST_MEASURES_MEMORY
long heap_in_use() { return static_cast<long>(mallinfo2().uordblks); }
#endif

}  // namespace

TEST_CASE("spawning from a thread_local destructor leaks nothing", "[lifetime][unit][memory]") {
    TASKFORGE_WATCHDOG();
    taskforge::scheduler pool{taskforge::options{.threads = 2}};
    std::atomic<int> ran{0};
    for (int t = 0; t < 20; ++t) thread_spawning_at_exit(pool, ran);  // warm-up: the workers' caches fill
    REQUIRE(eventually([&] { return ran.load() == 20 * 3; }, 5s));
#if defined(__GLIBC__) && TASKFORGE_TEST_MEASURES_MEMORY
    const long before = heap_in_use();
#endif
    const int threads = 200;
    for (int t = 0; t < threads; ++t) thread_spawning_at_exit(pool, ran);
    CHECK(eventually([&] { return ran.load() == (20 + threads) * 3; }, 5s));
#if defined(__GLIBC__) && TASKFORGE_TEST_MEASURES_MEMORY
    std::this_thread::sleep_for(20ms);  // the last detached frames travel home
    const long grown = heap_in_use() - before;
    INFO("heap in use grew by " << grown / 1024 << " KiB over " << threads << " threads");
    CHECK(grown < 100 * 1024);  // old code: ~850 KiB (a frame cache and its blocks per thread)
#else
    SUCCEED("under a sanitizer LeakSanitizer checks this at exit");
#endif
}

// ---------------------------------------------------------------------------------------------------------------
// A task_group may outlive its scheduler (contract 1). Old code called the dead scheduler's handler through a
// dangling reference when a task had thrown.
// ---------------------------------------------------------------------------------------------------------------

namespace {
std::atomic<int> outlived_reports{0};
void count_outlived_report(std::exception_ptr) noexcept { outlived_reports.fetch_add(1); }
}  // namespace

TEST_CASE("a task_group whose task threw may outlive its scheduler: the handler gets the exception once",
          "[lifetime][group][unit]") {
    TASKFORGE_WATCHDOG();
    outlived_reports.store(0);
    auto pool = std::make_unique<taskforge::scheduler>(
        taskforge::options{.threads = 2, .on_unhandled_exception = &count_outlived_report});
    auto group = std::make_unique<taskforge::task_group>(*pool);
    for (int i = 0; i < 10; ++i) group->spawn([] { std::this_thread::sleep_for(100us); });
    group->spawn([] { throw std::runtime_error("nobody waited"); });
    pool.reset();   // shutdown ran every accepted task
    group.reset();  // no wait(): the destructor reports through the handler the scheduler had
    CHECK(outlived_reports.load() == 1);
}

TEST_CASE("wait() on a task_group after its scheduler was destroyed returns at once and delivers the error once",
          "[lifetime][group][unit]") {
    TASKFORGE_WATCHDOG();
    outlived_reports.store(0);
    auto pool = std::make_unique<taskforge::scheduler>(
        taskforge::options{.threads = 2, .on_unhandled_exception = &count_outlived_report});
    auto group = std::make_unique<taskforge::task_group>(*pool);
    std::atomic<int> ran{0};
    for (int i = 0; i < 10; ++i) group->spawn([&] { ran.fetch_add(1); });
    group->spawn([] { throw std::runtime_error("late"); });
    pool.reset();
    CHECK(ran.load() == 10);
    // The contract leaves open whether wait() rethrows here or the destructor reports: exactly one of them does.
    int rethrown = 0;
    const auto started = clock_type::now();
    try {
        group->wait();
    } catch (const std::runtime_error&) {
        ++rethrown;
    }
    CHECK(clock_type::now() - started < 1s);
    group->wait();  // and again: nothing left
    group.reset();
    CHECK(rethrown + outlived_reports.load() == 1);
}

// ---------------------------------------------------------------------------------------------------------------
// A group waiting on itself is reported like a handle waiting on itself (old code: hung silently).
// ---------------------------------------------------------------------------------------------------------------

TEST_CASE("group.wait() from the group's own task throws resource_deadlock_would_occur", "[lifetime][group][misuse]") {
    TASKFORGE_WATCHDOG();
    for (std::size_t threads : {std::size_t{1}, std::size_t{2}}) {
        taskforge::scheduler pool{taskforge::options{.threads = threads}};
        taskforge::task_group group{pool};
        std::atomic<int> deadlock_errors{0};
        group.spawn([&] {
            try {
                group.wait();
            } catch (const std::system_error& error) {
                if (is_deadlock_error(error)) deadlock_errors.fetch_add(1);
            }
        });
        group.wait();
        INFO(threads << " workers");
        CHECK(deadlock_errors.load() == 1);
    }
}

TEST_CASE("group.wait() from a task the group's task waits on inline throws resource_deadlock_would_occur",
          "[lifetime][group][misuse]") {
    TASKFORGE_WATCHDOG();
    taskforge::scheduler pool{taskforge::options{.threads = 1}};  // the nested task runs on the same thread
    taskforge::task_group group{pool};
    std::atomic<int> deadlock_errors{0};
    group.spawn([&] {
        pool.spawn([&] {
                try {
                    group.wait();
                } catch (const std::system_error& error) {
                    if (is_deadlock_error(error)) deadlock_errors.fetch_add(1);
                }
            })
            .get();
    });
    group.wait();
    CHECK(deadlock_errors.load() == 1);
}

TEST_CASE("group.wait() from a join half or loop piece of the group's own task throws wherever the piece runs",
          "[lifetime][group][misuse]") {
    // Old code: a half stolen by another worker did not see the group task's record there and blocked on the group,
    // whose task waited for that half: a hang (adversarial finding).
    TASKFORGE_WATCHDOG();
    taskforge::scheduler pool{taskforge::options{.threads = 2, .guest_slots = 0}};
    const auto wait_on = [](taskforge::task_group& group, std::atomic<int>& deadlock_errors) {
        try {
            group.wait();
        } catch (const std::system_error& error) {
            if (is_deadlock_error(error)) deadlock_errors.fetch_add(1);
        }
    };
    taskforge::task_group group{pool};
    std::atomic<int> deadlock_errors{0};
    std::atomic<bool> stolen{false};
    group.spawn([&] {
        const auto forker = std::this_thread::get_id();
        const auto half = [&] {
            if (std::this_thread::get_id() != forker) {
                stolen.store(true);
            } else {
                eventually([&] { return stolen.load(); }, 10s);  // leave the other half to the idle worker
            }
            wait_on(group, deadlock_errors);
        };
        taskforge::join(half, half);
        taskforge::parallel_for(0, 64, [&](int) { wait_on(group, deadlock_errors); });
    });
    group.wait();
    REQUIRE(stolen.load());
    CHECK(deadlock_errors.load() == 2 + 64);
}

// ---------------------------------------------------------------------------------------------------------------
// Destroying a scheduler inside another scheduler's task while the inner pool's tasks need the outer pool: old
// code deadlocked (the outer pool's only worker was blocked joining the inner pool).
// ---------------------------------------------------------------------------------------------------------------

TEST_CASE("destroying a scheduler inside another scheduler's task works while its tasks need the outer pool",
          "[lifetime][unit]") {
    TASKFORGE_WATCHDOG();
    taskforge::scheduler outer{taskforge::options{.threads = 1}};
    auto result = outer.spawn([&outer] {
        std::atomic<int> sum{0};
        {
            taskforge::scheduler inner{taskforge::options{.threads = 1}};
            for (int i = 0; i < 4; ++i) {
                (void)inner.spawn([&outer, &sum] { sum.fetch_add(outer.spawn([] { return 1; }).get()); });
            }
        }  // ~scheduler joins the inner worker, whose tasks wait on tasks of the outer pool
        return sum.load();
    });
    CHECK(result.get() == 4);
}

// ---------------------------------------------------------------------------------------------------------------
// options::stack_size below the platform minimum: old code silently used the default instead.
// ---------------------------------------------------------------------------------------------------------------

#if defined(__unix__)
TEST_CASE("stack_size below the platform minimum throws invalid_argument; 0 means the default",
          "[lifetime][unit][misuse]") {
    TASKFORGE_WATCHDOG();
    const auto minimum = static_cast<std::size_t>(PTHREAD_STACK_MIN);
    auto make = [](std::size_t stack_size) {
        taskforge::scheduler pool{taskforge::options{.threads = 1, .stack_size = stack_size}};
        return pool.spawn([] { return 1; }).get();
    };
    CHECK_THROWS_AS(make(1), std::invalid_argument);
    CHECK_THROWS_AS(make(minimum - 1), std::invalid_argument);
    CHECK_THROWS_AS(make(minimum / 2), std::invalid_argument);
    CHECK(make(0) == 1);
    CHECK(make(std::size_t{1} << 20) == 1);
}

namespace {
thread_local char per_thread_scratch[16 * 1024];  // static TLS, which glibc carves out of each thread's stack

int small_stack_chain(taskforge::scheduler& pool, int depth) {
    if (depth == 0) return 0;
    return pool.spawn([&pool, depth] {
                   per_thread_scratch[static_cast<std::size_t>(depth) % sizeof per_thread_scratch] = 1;
                   return small_stack_chain(pool, depth - 1);
               })
               .get() +
           1;
}
}  // namespace

// Adversarial finding: the stack reserve was measured from the requested size, not from the real bounds, so
// thread-local storage inside the stack block let a chain of inline runs overflow a small (legal) stack.
TEST_CASE("a chain of nested waits on a small stack with thread-locals blocks before the stack's end",
          "[lifetime][unit]") {
    TASKFORGE_WATCHDOG();
    taskforge::scheduler pool{taskforge::options{.threads = 1, .stack_size = 64 * 1024}};
    CHECK(small_stack_chain(pool, TASKFORGE_TEST_TSAN || TASKFORGE_TEST_ASAN ? 40 : 200) ==
          (TASKFORGE_TEST_TSAN || TASKFORGE_TEST_ASAN ? 40 : 200));
}
#endif

// ---------------------------------------------------------------------------------------------------------------
// fork(): the child of a process that used schedulers exits normally and gets scheduler_closed from inherited
// ones; spawning after the default scheduler was destroyed at exit throws scheduler_closed.
// ---------------------------------------------------------------------------------------------------------------

#if defined(__unix__) && !TASKFORGE_TEST_TSAN
namespace {

// Exit code of the current forked process. Under AddressSanitizer a forked child must not run LeakSanitizer at
// exit: the caches of the parent's threads, which do not exist in the child, are reachable only from those
// threads' TLS, which LeakSanitizer does not scan there. Registered with atexit before the schedulers under test
// exist, quiet_exit runs after their destructors (that is what the tests exercise) and before LeakSanitizer's check.
int child_exit_code = 0;
void quiet_exit() {
    if (TASKFORGE_TEST_ASAN) _exit(child_exit_code);
}
[[noreturn]] void exit_child(int code) {
    child_exit_code = code;
    std::exit(code);
}

// First thing in every forked child: a child that hangs dies of SIGALRM instead of hanging its parent's waitpid.
void arm_child_alarm() { alarm(static_cast<unsigned>(10 * taskforge_test::sanitizer_slowdown)); }

int wait_for_child(pid_t child) {
    int status = 0;
    if (waitpid(child, &status, 0) != child) return -1;
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 1000 + WTERMSIG(status);
    return -2;
}

// In a forked child: 0 if `call` threw scheduler_closed; `bit` if it returned (it ran, or it would have hung:
// nobody in this process runs an inherited pool's tasks); `bit << 4` if it threw anything else.
template <class Call>
int closed_or(int bit, Call& call) {
    try {
        call();
        return bit;
    } catch (const taskforge::scheduler_closed&) {
        return 0;
    } catch (...) {
        return bit << 4;
    }
}

// Only ever called in forked children.
taskforge::scheduler& static_pool() {
    static taskforge::scheduler pool{taskforge::options{.threads = 2}};
    return pool;
}

void spawn_after_default_scheduler_is_gone() {
    int closed = 0;
    try {
        (void)taskforge::spawn([] {});
    } catch (const taskforge::scheduler_closed&) {
        ++closed;
    } catch (...) {
    }
    try {
        (void)taskforge::default_scheduler().spawn([] {});
    } catch (const taskforge::scheduler_closed&) {
        ++closed;
    } catch (...) {
    }
    _exit(closed == 2 ? 42 : 10 + closed);
}

}  // namespace

TEST_CASE("spawning from an atexit handler after the default scheduler was destroyed throws scheduler_closed",
          "[lifetime][fork][misuse]") {
    TASKFORGE_WATCHDOG();
    std::fflush(nullptr);  // or the child flushes a copy of the parent's buffered output at exit
    const pid_t child = fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        arm_child_alarm();
        std::atexit(&spawn_after_default_scheduler_is_gone);  // before first use: runs after its destructor
        const int value = taskforge::spawn([] { return 5; }).get();
        exit_child(value == 5 ? 0 : 1);
    }
    const int code = wait_for_child(child);
    INFO("child: exit code, or 1000 + signal: " << code << " (42: both spawns threw scheduler_closed)");
    CHECK(code == 42);  // old code: reads the destroyed scheduler (SIGSEGV or a sanitizer report)
}

TEST_CASE("in a forked child, join and the parallel loops on an inherited scheduler throw scheduler_closed",
          "[lifetime][fork][misuse][loop]") {
    TASKFORGE_WATCHDOG();
    taskforge::scheduler pool{taskforge::options{.threads = 2}};
    CHECK(taskforge::parallel_reduce(pool, 0, 1000, 0L, std::plus<>{}, [](int i) { return long{i}; }) == 499'500);
    std::fflush(nullptr);  // or the child flushes a copy of the parent's buffered output at exit
    const pid_t child = fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        arm_child_alarm();
        std::atexit(&quiet_exit);
        int code = 0;
        const auto refused = [&code](int bit, auto&& call) { code |= closed_or(bit, call); };
        refused(1, [&] { taskforge::parallel_for(pool, 0, 100, [](int) {}); });
        refused(2, [&] { (void)taskforge::parallel_reduce(pool, 0, 100, 0, std::plus<>{}, [](int i) { return i; }); });
        refused(4, [&] { (void)pool.join([] { return 1; }, [] { return 2; }); });
        exit_child(code);
    }
    const int code = wait_for_child(child);
    INFO("child: exit code, or 1000 + signal: " << code << " (0: every call threw scheduler_closed)");
    CHECK(code == 0);
}

TEST_CASE("a forked child gets scheduler_closed from an inherited scheduler and exits normally",
          "[lifetime][fork][misuse]") {
    TASKFORGE_WATCHDOG();
    taskforge::scheduler pool{taskforge::options{.threads = 2}};
    CHECK(pool.spawn([] { return 1; }).get() == 1);
    std::fflush(nullptr);  // or the child flushes a copy of the parent's buffered output at exit
    const pid_t child = fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        arm_child_alarm();
        std::atexit(&quiet_exit);
        int code = 0;
        try {
            (void)pool.spawn([] {});
            code |= 1;  // accepted: a task that no thread of this process will ever run
        } catch (const taskforge::scheduler_closed&) {
        } catch (...) {
            code |= 2;
        }
        try {
            taskforge::task_group group{pool};
            group.spawn([] {});
            code |= 4;
        } catch (const taskforge::scheduler_closed&) {
        } catch (...) {
            code |= 8;
        }
        try {
            pool.resize(3);  // must not take a lock a parent's thread may have held at fork()
            code |= 16;
        } catch (const taskforge::scheduler_closed&) {
        } catch (...) {
            code |= 32;
        }
        exit_child(code);
    }
    const int code = wait_for_child(child);
    INFO("child: exit code, or 1000 + signal: "
         << code << " (1: spawn accepted, 4: group spawn accepted, 16: resize accepted)");
    CHECK(code == 0);
    CHECK(pool.spawn([] { return 2; }).get() == 2);  // the parent's pool is unaffected
}

// Not in the contract notes but in the README's table: a wait there would never return.
TEST_CASE("in a forked child, waiting on an unfinished task of an inherited scheduler throws scheduler_closed",
          "[lifetime][fork][misuse]") {
    TASKFORGE_WATCHDOG();
    taskforge::scheduler pool{taskforge::options{.threads = 1}};
    std::atomic<bool> release{false};
    std::atomic<bool> started{false};
    auto unfinished = pool.spawn([&] {
        started.store(true);
        while (!release.load()) std::this_thread::sleep_for(100us);
        return 1;
    });
    while (!started.load()) std::this_thread::yield();
    std::fflush(nullptr);  // or the child flushes a copy of the parent's buffered output at exit
    const pid_t child = fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        arm_child_alarm();
        std::atexit(&quiet_exit);
        int code = 0;
        try {
            unfinished.wait();  // its worker does not exist here: it would never finish
            code |= 1;
        } catch (const taskforge::scheduler_closed&) {
        } catch (...) {
            code |= 2;
        }
        exit_child(code);
    }
    const int code = wait_for_child(child);
    release.store(true);
    INFO("child: exit code, or 1000 + signal: " << code << " (1014: SIGALRM, the wait hung)");
    CHECK(code == 0);
    CHECK(unfinished.get() == 1);
}

namespace {
taskforge::task<int> await_handle(taskforge::task_handle<int>& handle) { co_return co_await handle; }
taskforge::task<void> await_group(taskforge::task_group& group) { co_await group; }
}  // namespace

// Adversarial finding: the blocking waits refused an inherited scheduler's unfinished work, co_await did not — the
// coroutine stayed suspended for a resumption nobody in the child would queue, and sync_wait hung.
TEST_CASE("in a forked child, co_await on an inherited scheduler's unfinished task or group throws scheduler_closed",
          "[lifetime][fork][misuse][coroutine]") {
    TASKFORGE_WATCHDOG();
    taskforge::scheduler pool{taskforge::options{.threads = 2}};
    std::atomic<bool> release{false};
    std::atomic<int> started{0};
    auto unfinished = pool.spawn([&] {
        ++started;
        while (!release.load()) std::this_thread::sleep_for(100us);
        return 1;
    });
    taskforge::task_group group{pool};
    group.spawn([&] {
        ++started;
        while (!release.load()) std::this_thread::sleep_for(100us);
    });
    while (started.load() < 2) std::this_thread::yield();
    std::fflush(nullptr);  // or the child flushes a copy of the parent's buffered output at exit
    const pid_t child = fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        arm_child_alarm();
        std::atexit(&quiet_exit);
        int code = 0;
        const auto refused = [&code](int bit, auto&& call) { code |= closed_or(bit, call); };
        refused(1, [&] { (void)taskforge::sync_wait(await_handle(unfinished)); });
        refused(2, [&] { taskforge::sync_wait(await_group(group)); });
        refused(4, [&] {  // from a coroutine on a scheduler made in the child
            taskforge::scheduler fresh{taskforge::options{.threads = 1}};
            (void)fresh.spawn([&]() -> taskforge::task<int> { co_return co_await unfinished; }).get();
        });
        exit_child(code);
    }
    const int code = wait_for_child(child);
    release.store(true);
    INFO("child: exit code, or 1000 + signal: " << code << " (1014: SIGALRM, a co_await hung)");
    CHECK(code == 0);
    CHECK(unfinished.get() == 1);
    group.wait();
}

// Adversarial finding: after a task forked, the child's copy of its worker went on to run the tasks queued in the
// parent's pool, which the parent runs too: every side effect twice. The thread now ends when the task returns.
TEST_CASE("fork() inside a task: the child runs none of the tasks queued in the parent", "[lifetime][fork][misuse]") {
    TASKFORGE_WATCHDOG();
    const pid_t parent = getpid();
    std::atomic<int> ran{0};
    std::fflush(nullptr);
    int code = -1;
    {
        taskforge::scheduler pool{taskforge::options{.threads = 1, .guest_slots = 0}};
        code = pool.spawn([&]() -> int {
                       for (int i = 0; i < 3; ++i) {
                           pool.spawn([&ran, parent] {
                               if (getpid() != parent) _exit(7);  // ran in the child
                               ++ran;
                           });
                       }
                       const pid_t child = fork();
                       if (child != 0) return child < 0 ? -1 : wait_for_child(child);
                       arm_child_alarm();
                       std::atexit(&quiet_exit);
                       return 0;  // in the child: the task returns, and its thread, the child's only one, ends
                   })
                   .get();
    }
    INFO("child: exit code, or 1000 + signal: " << code << " (7: a parent's queued task ran in the child)");
    CHECK(code == 0);
    CHECK(ran.load() == 3);
}

// Adversarial finding: fork() called by a task. In the child the forking thread is no longer a worker, so its
// spawns and waits take the outside path, which refuses the inherited scheduler.
TEST_CASE("fork() inside a task: the child gets scheduler_closed and exits normally", "[lifetime][fork][misuse]") {
    TASKFORGE_WATCHDOG();
    taskforge::scheduler pool{taskforge::options{.threads = 2}};
    std::atomic<bool> release{false};
    std::atomic<bool> started{false};
    auto elsewhere = pool.spawn([&] {
        started.store(true);
        while (!release.load()) std::this_thread::sleep_for(100us);
        return 1;
    });
    while (!started.load()) std::this_thread::yield();
    std::fflush(nullptr);
    const int code = pool.spawn([&]() -> int {
                             const pid_t child = fork();
                             if (child != 0) return child < 0 ? -1 : wait_for_child(child);
                             arm_child_alarm();
                             int flags = 0;
                             try {
                                 (void)pool.spawn([] {});
                                 flags |= 1;
                             } catch (const taskforge::scheduler_closed&) {
                             }
                             try {
                                 taskforge::task_group group{pool};
                                 group.spawn([] {});
                                 flags |= 2;
                             } catch (const taskforge::scheduler_closed&) {
                             }
                             try {
                                 elsewhere.wait();  // running on a worker that does not exist here
                                 flags |= 4;
                             } catch (const taskforge::scheduler_closed&) {
                             }
                             _exit(flags);
                         })
                         .get();
    release.store(true);
    INFO("child: exit code, or 1000 + signal: " << code << " (1/2: spawn accepted, 4: wait returned)");
    CHECK(code == 0);
    CHECK(elsewhere.get() == 1);
}

// Issue 16, point 6: under an address-space limit a pool whose stacks do not fit fails with a message that says
// what to change. (Not under AddressSanitizer: its shadow memory needs far more address space than the limit.)
#if !TASKFORGE_TEST_ASAN
TEST_CASE("a pool whose worker stacks exceed the address-space limit fails with a message naming stack_size",
          "[lifetime][fork][unit]") {
    TASKFORGE_WATCHDOG();
    std::fflush(nullptr);
    const pid_t child = fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        arm_child_alarm();
        const rlimit limit{std::size_t{3} << 30, std::size_t{3} << 30};  // 3 GiB
        if (setrlimit(RLIMIT_AS, &limit) != 0) _exit(2);
        try {
            taskforge::scheduler pool{taskforge::options{.threads = 16}};  // 16 x 256 MiB of stacks: 4 GiB
            _exit(3);
        } catch (const std::system_error& error) {
            _exit(std::string(error.what()).find("options::stack_size") != std::string::npos ? 0 : 4);
        } catch (...) {
            _exit(5);
        }
    }
    const int code = wait_for_child(child);
    INFO("child: 0 = the message names options::stack_size, 3 = the pool started, 4 = another message");
    CHECK(code == 0);
}
#endif

// Adversarial finding (issue 11 review): a child inherited the process-wide count of waiters registered to enter
// a guest slot, including those of the parent's other threads, and a scheduler it created waited for them in its
// destructor forever (7-16% of children hung).
TEST_CASE("a child forked while other threads wait as guests can create, use and destroy a scheduler",
          "[lifetime][fork][guest][unit]") {
    TASKFORGE_WATCHDOG();
    taskforge::scheduler pool{taskforge::options{.threads = 1}};
    std::atomic<bool> stop{false};
    std::vector<std::thread> waiters;
    for (int t = 0; t < 3; ++t) {
        waiters.emplace_back([&] {
            while (!stop.load()) (void)pool.spawn([] { return 1; }).get();
        });
    }
    int failed = 0;
    for (int child_index = 0; child_index < 40; ++child_index) {
        std::fflush(nullptr);
        const pid_t child = fork();
        REQUIRE(child >= 0);
        if (child == 0) {
            arm_child_alarm();
            int value = 0;
            {
                taskforge::scheduler fresh{taskforge::options{.threads = 1}};
                value = fresh.spawn([] { return 7; }).get();
            }  // destroyed: must not wait for the parent's threads
            _exit(value == 7 ? 0 : 1);
        }
        if (wait_for_child(child) != 0) ++failed;
    }
    stop.store(true);
    for (auto& waiter : waiters) waiter.join();
    CHECK(failed == 0);  // old code: a hung child dies of SIGALRM (1014)
}

// Adversarial finding (issue 11 review): fork() inside a task that a waiting outside thread ran as a guest. In the
// child the thread went on in the guest's wait for work that only the parent's worker could finish, and hung.
TEST_CASE("fork() inside a task run by a waiting outside thread: the child's wait throws scheduler_closed",
          "[lifetime][fork][guest][misuse]") {
    TASKFORGE_WATCHDOG();
    const pid_t parent = getpid();
    taskforge::scheduler pool{taskforge::options{.threads = 1}};
    std::atomic<bool> release{false};
    std::atomic<bool> started{false};
    pid_t child = 0;
    taskforge::task_group group{pool};
    group.spawn([&] {  // keeps the only worker busy: what else the group holds runs on this (waiting) thread
        started.store(true);
        while (!release.load()) std::this_thread::sleep_for(100us);
    });
    while (!started.load()) std::this_thread::yield();
    group.spawn([&] {
        std::fflush(nullptr);
        child = fork();
        if (child == 0) arm_child_alarm();
        if (child != 0) release.store(true);
    });
    try {
        group.wait();
    } catch (const taskforge::scheduler_closed&) {
        if (getpid() != parent) _exit(42);  // the child: its wait refused the inherited scheduler
    }
    if (getpid() != parent) _exit(1);  // the child's wait returned: it waited for a task of the parent's worker
    REQUIRE(child > 0);
    const int code = wait_for_child(child);
    INFO("child: exit code, or 1000 + signal: " << code << " (42: scheduler_closed)");
    CHECK(code == 42);
}

// Adversarial finding: a child forked while another thread was inside shutdown() (holding its lock, joining a
// busy worker) hung in exit() on that lock.
TEST_CASE("a child forked while another thread is inside shutdown() exits normally", "[lifetime][fork][unit]") {
    TASKFORGE_WATCHDOG();
    std::fflush(nullptr);
    const pid_t outer = fork();  // the scheduler under test must be a static of a process we may end with exit()
    REQUIRE(outer >= 0);
    if (outer == 0) {
        arm_child_alarm();
        std::atexit(&quiet_exit);
        std::atomic<bool> started{false};
        (void)static_pool().spawn([&] {
            started.store(true);
            std::this_thread::sleep_for(300ms);
        });
        while (!started.load()) std::this_thread::yield();
        std::thread closer([] { static_pool().shutdown(); });  // blocks in shutdown, joining the busy worker
        std::this_thread::sleep_for(50ms);
        const pid_t inner = fork();
        if (inner == 0) {
            arm_child_alarm();
            exit_child(0);  // runs ~scheduler of the static pool, inherited mid-shutdown
        }
        const int inner_code = inner < 0 ? -1 : wait_for_child(inner);
        closer.join();
        exit_child(inner_code == 0 ? 0 : 3);
    }
    const int code = wait_for_child(outer);
    INFO("child: exit code, or 1000 + signal: " << code << " (3: the grandchild failed to exit)");
    CHECK(code == 0);
}

TEST_CASE("a forked child of a process that used the default and a static scheduler exits normally with exit()",
          "[lifetime][fork][unit]") {
    TASKFORGE_WATCHDOG();
    std::fflush(nullptr);        // or the child flushes a copy of the parent's buffered output at exit
    const pid_t owner = fork();  // the process that uses the schedulers; this test binary's process stays clean
    REQUIRE(owner >= 0);
    if (owner == 0) {
        arm_child_alarm();
        std::atexit(&quiet_exit);  // before the schedulers exist: runs after their destructors
        int used = taskforge::spawn([] { return 1; }).get();
        used += static_pool().spawn([] { return 1; }).get();
        std::fflush(nullptr);
        const pid_t child = fork();
        if (child == 0) {
            arm_child_alarm();
            int code = 0;
            try {
                (void)taskforge::spawn([] {});
                code |= 1;
            } catch (const taskforge::scheduler_closed&) {
            } catch (...) {
                code |= 2;
            }
            try {
                (void)static_pool().spawn([] {});
                code |= 4;
            } catch (const taskforge::scheduler_closed&) {
            } catch (...) {
                code |= 8;
            }
            exit_child(code);  // static destructors run: both inherited schedulers, whose threads are not here
        }
        if (child < 0 || used != 2) exit_child(90);
        const int child_code = wait_for_child(child);
        exit_child(child_code >= 0 && child_code < 90 ? child_code : 100);
    }
    const int code = wait_for_child(owner);
    INFO("exit code, or 1000 + signal: " << code
                                         << " (1/4: spawn on the inherited default/static scheduler accepted, 100:"
                                            " the grandchild crashed, e.g. joining threads that do not exist)");
    CHECK(code == 0);
}
#endif

#if defined(__GLIBC__) && TASKFORGE_TEST_MEASURES_MEMORY
TEST_CASE("schedulers that started spare threads leave no heap behind when destroyed", "[lifetime][memory][unit]") {
    TASKFORGE_WATCHDOG();
    auto cycle = [] {
        taskforge::scheduler first{taskforge::options{.threads = 1, .stack_size = std::size_t{4} << 20}};
        taskforge::scheduler second{taskforge::options{.threads = 1, .stack_size = std::size_t{4} << 20}};
        // A chain of cross-pool waits: each pool blocks ~50 waits and stands in for them with spare threads.
        struct chain {
            static int hop(taskforge::scheduler* here, taskforge::scheduler* there, int remaining) {
                if (remaining == 0) return 0;
                return there->spawn(&chain::hop, there, here, remaining - 1).get() + 1;
            }
        };
        return first.spawn(&chain::hop, &first, &second, 100).get();
    };
    REQUIRE(cycle() == 100);  // warm-up: one-time allocations (thread bookkeeping, iostreams)
    const long before = heap_in_use();
    for (int round = 0; round < 10; ++round) REQUIRE(cycle() == 100);
    const long grown = heap_in_use() - before;
    INFO("heap in use grew by " << grown / 1024 << " KiB over 10 schedulers pairs");
    CHECK(grown < 256 * 1024);  // under AddressSanitizer, LeakSanitizer checks the same at exit
}
#endif

// ---------------------------------------------------------------------------------------------------------------
// Finding 9 / contract 6: memory of a burst goes back. Old code kept every frame of the burst in the spawning
// thread's cache: 5M detached tasks left 576 MiB resident, 5M consumed handles 690 MiB. One million (all in flight
// at once) shows the same on old code (~100+ MiB kept) and keeps each test at a few seconds.
// ---------------------------------------------------------------------------------------------------------------

#if TASKFORGE_TEST_MEASURES_MEMORY
TEST_CASE("after a burst of 1M detached tasks and 1 s idle, resident memory is back within 32 MiB",
          "[lifetime][memory][unit]") {
    TASKFORGE_WATCHDOG();
    constexpr long tasks = 1'000'000;
    taskforge::scheduler pool{taskforge::options{.threads = 2}};
    std::atomic<bool> open{false};
    std::atomic<int> held{0};
    for (int w = 0; w < 2; ++w) {
        (void)pool.spawn([&] {
            held.fetch_add(1);
            while (!open.load()) std::this_thread::sleep_for(100us);
        });
    }
    REQUIRE(eventually([&] { return held.load() == 2; }, 5s));  // both workers held: the burst is all in flight
    const long start = resident_kib();
    std::atomic<long> ran{0};
    for (long i = 0; i < tasks; ++i) (void)pool.spawn([&ran] { ran.fetch_add(1, std::memory_order_relaxed); });
    const long peak = resident_kib();
    open.store(true);
    REQUIRE(eventually([&] { return ran.load() == tasks; }, 20s));
    std::this_thread::sleep_for(1s);
    long now = resident_kib();
    eventually(  // up to 2 s more for the pool to give memory back
        [&] {
            now = resident_kib();
            return now - start < 32 * 1024;
        },
        2s);
    INFO("resident: " << start / 1024 << " MiB before, " << peak / 1024 << " MiB at the peak, " << now / 1024
                      << " MiB after 1 s idle");
    CHECK(now - start < 32 * 1024);
}

TEST_CASE("1M handles consumed by the spawning thread leave nothing resident after the scheduler is destroyed",
          "[lifetime][memory][unit]") {
    TASKFORGE_WATCHDOG();
    constexpr int tasks = 1'000'000;
    const long start = resident_kib();
    long peak = 0;
    {
        taskforge::scheduler pool{taskforge::options{.threads = 2}};
        std::vector<taskforge::task_handle<int>> handles;
        handles.reserve(tasks);
        for (int i = 0; i < tasks; ++i) handles.push_back(pool.spawn([i] { return i & 1; }));
        long odd = 0;
        for (auto& handle : handles) odd += handle.get();  // every frame is freed here, on the spawning thread
        CHECK(odd == tasks / 2);
        peak = resident_kib();
        std::vector<taskforge::task_handle<int>>().swap(handles);
    }
    long now = resident_kib();
    eventually(
        [&] {
            now = resident_kib();
            return now - start < 32 * 1024;
        },
        2s);
    INFO("resident: " << start / 1024 << " MiB before, " << peak / 1024 << " MiB at the peak, " << now / 1024
                      << " MiB after the scheduler was destroyed");
    CHECK(now - start < 32 * 1024);
}
#endif
