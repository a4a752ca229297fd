// shutdown(): loses nothing, refuses outsiders, is idempotent, and detects self-joins.
#include <atomic>
#include <chrono>
#include <system_error>
#include <taskforge/taskforge.hpp>
#include <thread>
#include <vector>

#if defined(__unix__)
#include <sys/wait.h>
#include <unistd.h>
#endif

#include "../support/catch.hpp"
#include "../support/sanitizers.hpp"
#include "../support/watchdog.hpp"

TEST_CASE("spawn after shutdown throws scheduler_closed", "[shutdown][unit][misuse]") {
    taskforge::scheduler pool{taskforge::options{.threads = 2}};
    pool.shutdown();
    CHECK_THROWS_AS(pool.spawn([] {}), taskforge::scheduler_closed);
    taskforge::task_group group{pool};
    CHECK_THROWS_AS(group.spawn([] {}), taskforge::scheduler_closed);
    group.wait();  // the refused task was not counted
}

TEST_CASE("shutdown is idempotent and may run concurrently", "[shutdown][unit]") {
    taskforge::scheduler pool{taskforge::options{.threads = 2}};
    std::vector<std::thread> closers;
    for (int i = 0; i < 4; ++i) closers.emplace_back([&] { pool.shutdown(); });
    for (auto& closer : closers) closer.join();
    pool.shutdown();
}

TEST_CASE("shutdown runs every accepted task, children spawned during shutdown included", "[shutdown][unit]") {
    std::atomic<int> ran{0};
    taskforge::scheduler pool{taskforge::options{.threads = 2}};
    for (int i = 0; i < 200; ++i) {
        (void)pool.spawn([&] {
            std::this_thread::sleep_for(std::chrono::microseconds(20));
            for (int c = 0; c < 5; ++c) (void)taskforge::spawn([&] { ran.fetch_add(1); });
            ran.fetch_add(1);
        });
    }
    pool.shutdown();
    CHECK(ran.load() == 200 * 6);
}

TEST_CASE("shutdown from one of the pool's own workers throws instead of joining itself", "[shutdown][unit][misuse]") {
    taskforge::scheduler pool{taskforge::options{.threads = 2}};
    auto attempt = pool.spawn([&] {
        try {
            pool.shutdown();
        } catch (const std::system_error& error) {
            return error.code() == std::errc::resource_deadlock_would_occur;
        }
        return false;
    });
    CHECK(attempt.get());
}

// ThreadSanitizer does not support a multi-threaded process forking and then starting threads.
#if defined(__unix__) && !TASKFORGE_TEST_TSAN
TEST_CASE("destroying the scheduler from its own worker terminates with a message", "[shutdown][unit][misuse]") {
    const pid_t child = fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        std::freopen("/dev/null", "w", stderr);
        auto* pool = new taskforge::scheduler(taskforge::options{.threads = 1});
        (void)pool->spawn([pool] { delete pool; });
        std::this_thread::sleep_for(std::chrono::seconds(5));
        _exit(0);  // not reached when terminate() fires
    }
    int status = 0;
    REQUIRE(waitpid(child, &status, 0) == child);
    CHECK(WIFSIGNALED(status));
    CHECK(WTERMSIG(status) == SIGABRT);
}
#endif

// Adversarial finding: two tasks of pool A shut down pool B at once, and B's last task needs A. The second caller
// waited for the first one's shutdown on a plain mutex without a stand-in, so A had no thread left to run what B
// waited for: a deadlock. Both callers now block compensated from the start.
TEST_CASE("two tasks of one pool shutting down another pool, whose last task needs the first, both return",
          "[shutdown][unit]") {
    TASKFORGE_WATCHDOG();
    taskforge::scheduler first{taskforge::options{.threads = 1, .guest_slots = 0}};
    auto second = std::make_unique<taskforge::scheduler>(taskforge::options{.threads = 1});
    std::atomic<int> entered{0};
    auto needs_first = second->spawn([&] {
        while (entered.load() < 2) std::this_thread::yield();
        std::this_thread::sleep_for(std::chrono::milliseconds(50));  // both shutdowns are under way
        return first.spawn([] { return 42; }).get();
    });
    auto one = first.spawn([&] {
        ++entered;
        second->shutdown();
    });
    auto other = first.spawn([&] {
        ++entered;
        second->shutdown();
    });
    one.get();
    other.get();
    CHECK(needs_first.get() == 42);
    second.reset();
}
