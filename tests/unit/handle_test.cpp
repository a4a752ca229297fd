// task_handle<T>: the std::future-like contract, errors that travel, cancellation, detaching, misuse.
#include <atomic>
#include <chrono>
#include <future>
#include <stdexcept>
#include <taskforge/taskforge.hpp>
#include <thread>

#include "../support/catch.hpp"

using namespace std::chrono_literals;

namespace {

bool is_no_state(const std::future_error& error) { return error.code() == std::future_errc::no_state; }

// Occupies the only worker of a one-thread pool until released, so later tasks stay pending.
struct blocked_worker {
    explicit blocked_worker(taskforge::scheduler& pool)
        : handle(pool.spawn([this] {
              started.store(true);
              while (!released.load()) std::this_thread::yield();
          })) {
        while (!started.load()) std::this_thread::yield();
    }
    ~blocked_worker() { release(); }
    void release() {
        released.store(true);
        if (handle.valid()) handle.wait();
    }
    std::atomic<bool> started{false};
    std::atomic<bool> released{false};
    taskforge::task_handle<void> handle;
};

std::atomic<int> unhandled_reports{0};
void count_unhandled(std::exception_ptr) noexcept { unhandled_reports.fetch_add(1); }

struct not_a_std_exception {
    int code;
};

}  // namespace

TEST_CASE("an empty handle throws future_error(no_state) on every operation", "[handle][unit][misuse]") {
    taskforge::task_handle<int> empty;
    CHECK_FALSE(empty.valid());
    CHECK_THROWS_MATCHES(empty.get(), std::future_error, Catch::Predicate<std::future_error>(is_no_state));
    CHECK_THROWS_MATCHES(empty.wait(), std::future_error, Catch::Predicate<std::future_error>(is_no_state));
    CHECK_THROWS_MATCHES(empty.wait_for(1ms), std::future_error, Catch::Predicate<std::future_error>(is_no_state));
    CHECK_THROWS_MATCHES(empty.ready(), std::future_error, Catch::Predicate<std::future_error>(is_no_state));
    CHECK_THROWS_MATCHES(empty.status(), std::future_error, Catch::Predicate<std::future_error>(is_no_state));
    CHECK_THROWS_MATCHES(empty.cancel(), std::future_error, Catch::Predicate<std::future_error>(is_no_state));
}

TEST_CASE("a moved-from handle is empty and the moved-to one owns the task", "[handle][unit][misuse]") {
    taskforge::scheduler pool{taskforge::options{.threads = 2}};
    auto first = pool.spawn([] { return 3; });
    auto second = std::move(first);
    CHECK_FALSE(first.valid());  // NOLINT(bugprone-use-after-move): the contract under test
    CHECK_THROWS_AS(first.get(), std::future_error);
    CHECK(second.get() == 3);
}

TEST_CASE("get() twice throws no_state the second time", "[handle][unit][misuse]") {
    taskforge::scheduler pool{taskforge::options{.threads = 2}};
    auto handle = pool.spawn([] { return 1; });
    CHECK(handle.get() == 1);
    CHECK_THROWS_MATCHES(handle.get(), std::future_error, Catch::Predicate<std::future_error>(is_no_state));
}

TEST_CASE("a task's exception reaches get() and the worker survives", "[handle][unit]") {
    taskforge::scheduler pool{taskforge::options{.threads = 1}};
    auto failing = pool.spawn([]() -> int { throw std::runtime_error("boom"); });
    failing.wait();
    CHECK(failing.status() == taskforge::task_status::failed);
    CHECK_THROWS_WITH(failing.get(), "boom");
    CHECK(pool.spawn([] { return 5; }).get() == 5);  // the only worker is still alive
}

TEST_CASE("a task throwing a non-std::exception reaches get() unchanged", "[handle][unit][misuse]") {
    taskforge::scheduler pool{taskforge::options{.threads = 1}};
    auto failing = pool.spawn([] { throw not_a_std_exception{7}; });
    try {
        failing.get();
        FAIL("get() did not throw");
    } catch (const not_a_std_exception& error) {
        CHECK(error.code == 7);
    }
}

TEST_CASE("wait_for times out on a pending task and reports ready once it finished", "[handle][unit]") {
    taskforge::scheduler pool{taskforge::options{.threads = 1}};
    blocked_worker blocker(pool);
    auto queued = pool.spawn([] { return 9; });
    CHECK(queued.wait_for(20ms) == std::future_status::timeout);
    CHECK(queued.wait_until(std::chrono::system_clock::now() + 5ms) == std::future_status::timeout);
    blocker.release();
    CHECK(queued.wait_for(10s) == std::future_status::ready);
    CHECK(queued.get() == 9);
}

TEST_CASE("cancel() before the task starts: it never runs and get() throws task_cancelled", "[handle][unit]") {
    taskforge::scheduler pool{taskforge::options{.threads = 1}};
    std::atomic<bool> ran{false};
    taskforge::task_handle<void> queued;
    {
        blocked_worker blocker(pool);
        queued = pool.spawn([&] { ran.store(true); });
        CHECK(queued.cancel());
        CHECK(queued.status() == taskforge::task_status::cancelled);
        CHECK(queued.ready());
        CHECK_FALSE(queued.cancel());  // already cancelled
    }
    CHECK_THROWS_AS(queued.get(), taskforge::task_cancelled);
    pool.spawn([] {}).get();  // the cancelled frame went through the worker
    CHECK_FALSE(ran.load());
}

TEST_CASE("cancel() after the task started returns false and the task completes", "[handle][unit][misuse]") {
    taskforge::scheduler pool{taskforge::options{.threads = 1}};
    std::atomic<bool> started{false};
    std::atomic<bool> release{false};
    auto running = pool.spawn([&] {
        started.store(true);
        while (!release.load()) std::this_thread::yield();
        return 4;
    });
    while (!started.load()) std::this_thread::yield();
    CHECK_FALSE(running.cancel());
    release.store(true);
    CHECK(running.get() == 4);
}

TEST_CASE("a dropped handle detaches: the task still runs", "[handle][unit]") {
    taskforge::scheduler pool{taskforge::options{.threads = 2}};
    std::atomic<int> ran{0};
    for (int i = 0; i < 1000; ++i) {
        (void)pool.spawn([&] { ran.fetch_add(1); });
    }
    pool.shutdown();
    CHECK(ran.load() == 1000);
}

TEST_CASE("a detached task's exception goes to on_unhandled_exception, not terminate", "[handle][unit]") {
    unhandled_reports.store(0);
    {
        taskforge::scheduler pool{taskforge::options{.threads = 2, .on_unhandled_exception = &count_unhandled}};
        for (int i = 0; i < 10; ++i) {
            (void)pool.spawn([] { throw std::runtime_error("nobody listens"); });
        }
        auto observed = pool.spawn([] { throw std::runtime_error("listened to"); });
        CHECK_THROWS(observed.get());  // retrieved: not reported
        auto ignored = pool.spawn([] { throw std::logic_error("handle dropped after the failure"); });
        ignored.wait();
    }  // `ignored` is destroyed before the pool: its unretrieved exception is reported then
    CHECK(unhandled_reports.load() == 11);
}

TEST_CASE("a task waiting on its own handle gets resource_deadlock_would_occur", "[handle][unit][misuse]") {
    taskforge::scheduler pool{taskforge::options{.threads = 1}};
    std::promise<taskforge::task_handle<int>*> self_promise;
    auto self_future = self_promise.get_future().share();
    taskforge::task_handle<int> handle = pool.spawn([self_future]() -> int {
        try {
            self_future.get()->wait();
        } catch (const std::system_error& error) {
            return error.code() == std::errc::resource_deadlock_would_occur ? 1 : 2;
        }
        return 0;
    });
    self_promise.set_value(&handle);
    CHECK(handle.get() == 1);
}

TEST_CASE("wait_for on a worker helps and still honours its deadline", "[handle][unit]") {
    taskforge::scheduler pool{taskforge::options{.threads = 1}};
    taskforge::scheduler other{taskforge::options{.threads = 1}};
    std::atomic<bool> release{false};
    auto slow = other.spawn([&] {
        while (!release.load()) std::this_thread::yield();
    });
    auto waiter = pool.spawn([&] {
        const auto started = std::chrono::steady_clock::now();
        const auto status = slow.wait_for(30ms);  // on pool's worker: helps, then times out
        return std::make_pair(status, std::chrono::steady_clock::now() - started);
    });
    const auto [status, waited] = waiter.get();
    CHECK(status == std::future_status::timeout);
    CHECK(waited >= 30ms);
    release.store(true);
    slow.get();
}

TEST_CASE("a task spawns into another scheduler from its worker and waits for it", "[handle][unit]") {
    taskforge::scheduler pool{taskforge::options{.threads = 1}};
    taskforge::scheduler other{taskforge::options{.threads = 2}};
    auto outer = pool.spawn([&] {
        auto inner = other.spawn([] { return taskforge::scheduler::current(); });
        return inner.get();
    });
    CHECK(outer.get() == &other);
}
