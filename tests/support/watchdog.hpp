// Turns a hang into a fast test failure: a watchdog thread waits (condition variable, timeout) while the test body
// runs; if the body has not finished in time it prints which test hung, and at which step, to stderr and ends the
// process with std::_Exit(3) — seconds instead of CTest's 900 s timeout, and the name of the culprit in the log.
//
//   TEST_CASE("...") {
//       TASKFORGE_WATCHDOG();                 // guards the rest of the test case
//       ...
//       taskforge_watchdog.step("phase 2");   // optional: printed if the test hangs after this point
//   }
//
// Limit: 60 s, times 4 under a sanitizer (TSan and ASan slow every task 5-20x). TASKFORGE_WATCHDOG_SECONDS (the
// environment) overrides it, unscaled: e.g. TASKFORGE_WATCHDOG_SECONDS=10 when checking that a test hangs on old
// code. A forked child has no watchdog thread (fork copies only the calling thread); the parent's still runs.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <utility>

#include "catch.hpp"
#include "sanitizers.hpp"

namespace taskforge_test {

// How much slower this build runs tasks than a plain one: scales volumes, limits and generous time bounds.
inline constexpr int sanitizer_slowdown = TASKFORGE_TEST_TSAN ? 4 : (TASKFORGE_TEST_ASAN ? 4 : 1);
inline constexpr bool under_sanitizer = TASKFORGE_TEST_TSAN || TASKFORGE_TEST_ASAN;

inline std::chrono::milliseconds watchdog_limit() {
    if (const char* text = std::getenv("TASKFORGE_WATCHDOG_SECONDS")) {
        const long seconds = std::atol(text);
        if (seconds > 0) return std::chrono::seconds(seconds);
    }
    return std::chrono::seconds(60) * sanitizer_slowdown;
}

class watchdog {
public:
    explicit watchdog(std::string test_name, std::chrono::milliseconds limit = watchdog_limit())
        : name_(std::move(test_name)), limit_(limit), thread_([this] { watch(); }) {}

    watchdog(const watchdog&) = delete;
    watchdog& operator=(const watchdog&) = delete;

    ~watchdog() {
        {
            std::lock_guard lock(mutex_);
            done_ = true;
        }
        finished_.notify_one();
        thread_.join();
    }

    // Names the step the test is at; printed if it hangs. `what` must outlive the watchdog (a string literal).
    void step(const char* what) noexcept { step_.store(what, std::memory_order_relaxed); }

private:
    void watch() {
        std::unique_lock lock(mutex_);
        if (finished_.wait_for(lock, limit_, [this] { return done_; })) return;
        std::fprintf(stderr, "\ntaskforge watchdog: test \"%s\" hung: still running after %lld s (step: %s)\n",
                     name_.c_str(), static_cast<long long>(limit_.count() / 1000),
                     step_.load(std::memory_order_relaxed));
        std::fflush(stderr);
        std::fflush(stdout);
        std::_Exit(3);
    }

    std::string name_;
    std::chrono::milliseconds limit_;
    std::mutex mutex_;
    std::condition_variable finished_;
    bool done_ = false;
    std::atomic<const char*> step_{"start"};
    std::thread thread_;  // last: starts once everything it reads is constructed
};

#if defined(TASKFORGE_CATCH2_V3)
inline std::string current_test_name() { return std::string(Catch::getResultCapture().getCurrentTestName()); }
#else
inline std::string current_test_name() { return Catch::getResultCapture().getCurrentTestName(); }
#endif

}  // namespace taskforge_test

// Guards the rest of the enclosing scope (a TEST_CASE body) with a watchdog named after the running test.
#define TASKFORGE_WATCHDOG() \
    ::taskforge_test::watchdog taskforge_watchdog { ::taskforge_test::current_test_name() }
