// Placement hooks (issue 17, options::on_worker_start / on_worker_stop): each thread the scheduler starts runs
// the start hook on itself before it takes any work and the stop hook just before it exits; a hook's exception
// is reported and the thread still runs; spares run them too; a name a hook gives its thread labels its trace track.
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <taskforge/taskforge.hpp>
#include <thread>
#include <vector>
#if defined(__linux__)
#include <pthread.h>
#endif

#include "../support/catch.hpp"

using namespace std::chrono_literals;

namespace {

// What the hooks saw, shared by the pool's threads and the test.
struct hook_log {
    std::mutex mutex;
    std::multiset<std::size_t> started;
    std::multiset<std::size_t> stopped;
    std::map<std::size_t, std::thread::id> start_thread;
    std::map<std::size_t, std::thread::id> stop_thread;

    taskforge::options options(std::size_t threads) {
        // No guest slots: a waiting test thread would run tasks itself, and it is no worker.
        taskforge::options settings{.threads = threads, .guest_slots = 0};
        settings.on_worker_start = [this](std::size_t index) {
            std::lock_guard lock(mutex);
            started.insert(index);
            start_thread[index] = std::this_thread::get_id();
            hooked_here() = true;
        };
        settings.on_worker_stop = [this](std::size_t index) {
            std::lock_guard lock(mutex);
            stopped.insert(index);
            stop_thread[index] = std::this_thread::get_id();
        };
        return settings;
    }
    std::size_t started_count() {
        std::lock_guard lock(mutex);
        return started.size();
    }
    static bool& hooked_here() {
        static thread_local bool hooked = false;
        return hooked;
    }
};

std::atomic<int> reported{0};
void count_report(std::exception_ptr) noexcept { reported.fetch_add(1); }

}  // namespace

TEST_CASE("every worker runs on_worker_start before its first task, and on_worker_stop before it exits",
          "[hooks][unit]") {
    hook_log log;
    std::atomic<int> unhooked_tasks{0};
    {
        taskforge::scheduler pool{log.options(3)};
        std::vector<taskforge::task_handle<void>> handles;
        for (int i = 0; i < 300; ++i) {
            handles.push_back(pool.spawn([&] {
                if (!hook_log::hooked_here()) unhooked_tasks.fetch_add(1);
                std::this_thread::sleep_for(10us);
            }));
        }
        for (auto& handle : handles) handle.get();
        const auto deadline = std::chrono::steady_clock::now() + 10s;
        while (log.started_count() < 3 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(1ms);
    }  // the destructor returns once every worker exited: its stop hook ran
    CHECK(unhooked_tasks.load() == 0);
    CHECK(log.started == std::multiset<std::size_t>{0, 1, 2});
    CHECK(log.stopped == std::multiset<std::size_t>{0, 1, 2});
    for (std::size_t index = 0; index < 3; ++index) CHECK(log.start_thread[index] == log.stop_thread[index]);
}

TEST_CASE("a hook that throws is reported through on_unhandled_exception and its worker still runs tasks",
          "[hooks][unit][misuse]") {
    reported = 0;
    taskforge::options settings{.threads = 1, .on_unhandled_exception = &count_report, .guest_slots = 0};
    settings.on_worker_start = [](std::size_t) { throw std::runtime_error("cannot pin"); };
    settings.on_worker_stop = [](std::size_t) { throw std::runtime_error("cannot unpin"); };
    {
        taskforge::scheduler pool{settings};
        CHECK(pool.spawn([] { return 7; }).get() == 7);  // run by the worker, after its hook threw
        CHECK(reported.load() == 1);
    }
    CHECK(reported.load() == 2);  // and the stop hook's, at shutdown
}

TEST_CASE("spare threads that stand in for a blocked worker run the hooks with indices past the workers'",
          "[hooks][unit]") {
    hook_log log;
    taskforge::scheduler other{taskforge::options{.threads = 1}};
    {
        taskforge::scheduler pool{log.options(1)};
        // A wait for another scheduler's task always blocks, and the pool starts a spare to stand in.
        pool.spawn([&] { other.spawn([] { std::this_thread::sleep_for(50ms); }).get(); }).get();
    }
    CHECK(log.started.count(0) == 1);
    CHECK(log.started.size() >= 2);
    CHECK(*log.started.rbegin() >= 1);  // spares' slots come after the workers'
    CHECK(log.stopped == log.started);  // each thread that started stopped, spares included
}

#if defined(__linux__)
TEST_CASE("a thread name set by on_worker_start labels the worker's trace track", "[hooks][unit][trace]") {
    taskforge::options settings{.threads = 2};
    settings.on_worker_start = [](std::size_t index) {
        const std::string name = "tf-test-" + std::to_string(index);
        pthread_setname_np(pthread_self(), name.c_str());
    };
    taskforge::scheduler pool{settings};
    pool.start_trace();
    std::vector<taskforge::task_handle<void>> handles;
    for (int i = 0; i < 100; ++i) handles.push_back(pool.spawn([] { std::this_thread::sleep_for(20us); }));
    for (auto& handle : handles) handle.get();
    std::ostringstream out;
    pool.stop_trace(out);
    const std::string trace = out.str();
    CHECK(trace.find("worker 0 (tf-test-0)") != std::string::npos);
    CHECK(trace.find("worker 1 (tf-test-1)") != std::string::npos);
}
#endif
