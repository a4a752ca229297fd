// task_group: fork-join without handles — waiting, exceptions, reuse, spawning from anywhere.
#include <atomic>
#include <stdexcept>
#include <taskforge/taskforge.hpp>
#include <thread>
#include <vector>

#include "../support/catch.hpp"

namespace {

long group_fib(taskforge::scheduler& pool, long n) {
    if (n < 2) return n;
    long left = 0;
    taskforge::task_group group{pool};
    group.spawn([&] { left = group_fib(pool, n - 1); });
    const long right = group_fib(pool, n - 2);
    group.wait();
    return left + right;
}

}  // namespace

TEST_CASE("wait() returns after every task of the group finished", "[group][unit]") {
    taskforge::scheduler pool{taskforge::options{.threads = 3}};
    std::atomic<int> done{0};
    taskforge::task_group group{pool};
    for (int i = 0; i < 500; ++i) group.spawn([&] { done.fetch_add(1); });
    group.wait();
    CHECK(done.load() == 500);
}

TEST_CASE("wait() rethrows the first exception after all tasks finished", "[group][unit]") {
    taskforge::scheduler pool{taskforge::options{.threads = 2}};
    std::atomic<int> finished{0};
    taskforge::task_group group{pool};
    for (int i = 0; i < 100; ++i) {
        group.spawn([&, i] {
            finished.fetch_add(1);
            if (i % 10 == 0) throw std::runtime_error("task failed");
        });
    }
    CHECK_THROWS_WITH(group.wait(), "task failed");
    CHECK(finished.load() == 100);
    group.wait();  // the error was handed out once; the group is clean again
}

TEST_CASE("a group is reusable after wait()", "[group][unit]") {
    taskforge::scheduler pool{taskforge::options{.threads = 2}};
    taskforge::task_group group{pool};
    std::atomic<int> count{0};
    for (int round = 0; round < 50; ++round) {
        for (int i = 0; i < 20; ++i) group.spawn([&] { count.fetch_add(1); });
        group.wait();
        REQUIRE(count.load() == (round + 1) * 20);
    }
}

TEST_CASE("the group's own tasks may spawn into it, and wait() covers them", "[group][unit]") {
    taskforge::scheduler pool{taskforge::options{.threads = 2}};
    taskforge::task_group group{pool};
    std::atomic<int> leaves{0};
    group.spawn([&] {
        for (int i = 0; i < 10; ++i) {
            group.spawn([&] {
                for (int j = 0; j < 10; ++j) group.spawn([&] { leaves.fetch_add(1); });
            });
        }
    });
    group.wait();
    CHECK(leaves.load() == 100);
}

TEST_CASE("spawn from other threads while wait() runs", "[group][unit]") {
    taskforge::scheduler pool{taskforge::options{.threads = 2}};
    taskforge::task_group group{pool};
    std::atomic<int> count{0};
    group.spawn([&] {
        std::vector<std::thread> outsiders;
        for (int t = 0; t < 3; ++t) {
            outsiders.emplace_back([&] {
                for (int i = 0; i < 1000; ++i) group.spawn([&] { count.fetch_add(1); });
            });
        }
        for (auto& outsider : outsiders) outsider.join();
    });
    group.wait();
    CHECK(count.load() == 3000);
}

TEST_CASE("the destructor waits for unfinished tasks", "[group][unit]") {
    taskforge::scheduler pool{taskforge::options{.threads = 2}};
    std::atomic<int> count{0};
    {
        taskforge::task_group group{pool};
        for (int i = 0; i < 100; ++i) {
            group.spawn([&] {
                std::this_thread::sleep_for(std::chrono::microseconds(50));
                count.fetch_add(1);
            });
        }
    }
    CHECK(count.load() == 100);
}

TEST_CASE("recursive fork-join with groups works on one worker", "[group][unit]") {
    taskforge::scheduler pool{taskforge::options{.threads = 1}};
    CHECK(pool.spawn([&] { return group_fib(pool, 20); }).get() == 6765);
}

namespace {
std::atomic<int> group_reports{0};
void count_group_report(std::exception_ptr) noexcept { group_reports.fetch_add(1); }
}  // namespace

TEST_CASE("a group destroyed without wait() reports its exception to on_unhandled_exception", "[group][unit]") {
    group_reports.store(0);
    taskforge::scheduler pool{taskforge::options{.threads = 2, .on_unhandled_exception = &count_group_report}};
    {
        taskforge::task_group group{pool};
        group.spawn([] { throw std::runtime_error("nobody waited"); });
    }  // the destructor waits, cannot throw, and hands the exception to the handler
    CHECK(group_reports.load() == 1);
}
