// The scheduler's behaviour: spawn semantics, work distribution, and the original design's eight scenarios.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <numeric>
#include <string>
#include <taskforge/taskforge.hpp>
#include <thread>
#include <vector>

#include "../support/catch.hpp"
#include "../support/workloads.hpp"

using taskforge_test::fib;
using taskforge_test::serial_fib;

using namespace std::chrono_literals;

namespace {

void spin_for(std::chrono::microseconds duration) {
    const auto end = std::chrono::steady_clock::now() + duration;
    while (std::chrono::steady_clock::now() < end) {
    }
}

struct member_call {
    int base = 5;
    int add(int x) const { return base + x; }
};

}  // namespace

TEST_CASE("a spawned task's value reaches get()", "[scheduler][unit]") {
    taskforge::scheduler pool{taskforge::options{.threads = 2}};
    auto handle = pool.spawn([](int a, int b) { return a + b; }, 40, 2);
    CHECK(handle.valid());
    CHECK(handle.get() == 42);
    CHECK_FALSE(handle.valid());
}

TEST_CASE("thread_count reports the workers; threads = 0 means hardware concurrency", "[scheduler][unit]") {
    taskforge::scheduler three{taskforge::options{.threads = 3}};
    CHECK(three.thread_count() == 3);
    taskforge::scheduler automatic{taskforge::options{.threads = 0}};
    CHECK(automatic.thread_count() == std::max(1U, std::thread::hardware_concurrency()));
}

TEST_CASE("an absurd thread count is refused with invalid_argument", "[scheduler][unit]") {
    CHECK_THROWS_AS(taskforge::scheduler(taskforge::options{.threads = 1'000'000}), std::invalid_argument);
}

TEST_CASE("spawn follows std::invoke: member functions, member pointers with objects", "[scheduler][unit]") {
    taskforge::scheduler pool{taskforge::options{.threads = 2}};
    member_call object;
    CHECK(pool.spawn(&member_call::add, object, 10).get() == 15);
    CHECK(pool.spawn(&member_call::add, &object, 1).get() == 6);
    CHECK(pool.spawn(&member_call::base, object).get() == 5);
}

TEST_CASE("arguments are decay-copied like std::thread, std::ref passes a reference", "[scheduler][unit]") {
    taskforge::scheduler pool{taskforge::options{.threads = 2}};
    int value = 1;
    pool.spawn([](int copy) { return copy + 1; }, value).get();
    CHECK(value == 1);
    pool.spawn([](int& reference) { reference = 7; }, std::ref(value)).get();
    CHECK(value == 7);
    const char* text = "abc";
    CHECK(pool.spawn([](std::string s) { return s.size(); }, text).get() == 3);
}

TEST_CASE("move-only callables, arguments and results work", "[scheduler][unit]") {
    taskforge::scheduler pool{taskforge::options{.threads = 2}};
    auto owned = std::make_unique<int>(41);
    auto handle =
        pool.spawn([captured = std::make_unique<int>(1)](
                       std::unique_ptr<int> argument) { return std::make_unique<int>(*argument + *captured); },
                   std::move(owned));
    std::unique_ptr<int> result = handle.get();
    REQUIRE(result);
    CHECK(*result == 42);
}

TEST_CASE("void tasks complete and get() returns", "[scheduler][unit]") {
    taskforge::scheduler pool{taskforge::options{.threads = 2}};
    std::atomic<bool> ran{false};
    auto handle = pool.spawn([&] { ran.store(true); });
    handle.get();
    CHECK(ran.load());
}

TEST_CASE("the free spawn uses default_scheduler off a worker and the worker's own scheduler on one",
          "[scheduler][unit]") {
    CHECK(taskforge::spawn([] { return taskforge::scheduler::current(); }).get() == &taskforge::default_scheduler());
    taskforge::scheduler pool{taskforge::options{.threads = 2}};
    auto nested = pool.spawn([] { return taskforge::spawn([] { return taskforge::scheduler::current(); }).get(); });
    CHECK(nested.get() == &pool);
    CHECK(taskforge::scheduler::current() == nullptr);
}

// --- The original design's scenarios -----------------------------------------------------------------------

TEST_CASE("scenario: basic spawn and wait", "[scheduler][unit][scenario]") {
    taskforge::scheduler pool{taskforge::options{.threads = 4}};
    std::atomic<int> counter{0};
    auto handle = pool.spawn([&] { counter.fetch_add(1); });
    handle.wait();
    CHECK(handle.ready());
    CHECK(handle.status() == taskforge::task_status::completed);
    CHECK(counter.load() == 1);
}

TEST_CASE("scenario: 100 concurrent tasks all complete with their own results", "[scheduler][unit][scenario]") {
    taskforge::scheduler pool{taskforge::options{.threads = 4}};
    std::vector<taskforge::task_handle<int>> handles;
    for (int i = 0; i < 100; ++i) handles.push_back(pool.spawn([i] { return i * i; }));
    for (int i = 0; i < 100; ++i) CHECK(handles[static_cast<std::size_t>(i)].get() == i * i);
}

TEST_CASE("scenario: uneven work spawned on one worker is stolen by the others", "[scheduler][unit][scenario]") {
    taskforge::scheduler pool{taskforge::options{.threads = 4}};
    std::vector<std::atomic<int>> ran_on(4);
    std::mutex ids_mutex;
    std::vector<std::thread::id> ids;
    auto root = pool.spawn([&] {
        taskforge::task_group group{pool};
        for (int i = 0; i < 64; ++i) {
            group.spawn([&, i] {
                spin_for(std::chrono::microseconds(100 + (i % 8) * 200));
                std::lock_guard lock(ids_mutex);
                ids.push_back(std::this_thread::get_id());
            });
        }
        group.wait();
    });
    root.get();
    std::sort(ids.begin(), ids.end());
    const auto distinct = std::unique(ids.begin(), ids.end()) - ids.begin();
    CHECK(ids.size() == 64);
    CHECK(distinct >= 2);  // the children were spawned into one deque; others must have stolen some
}

TEST_CASE("scenario: status moves pending -> running -> completed", "[scheduler][unit][scenario]") {
    taskforge::scheduler pool{taskforge::options{.threads = 1}};
    std::atomic<bool> release{false};
    std::atomic<bool> started{false};
    auto blocker = pool.spawn([&] {
        started.store(true);
        while (!release.load()) std::this_thread::yield();
    });
    auto queued = pool.spawn([] { return 1; });
    while (!started.load()) std::this_thread::yield();
    CHECK(blocker.status() == taskforge::task_status::running);
    CHECK(queued.status() == taskforge::task_status::pending);
    CHECK_FALSE(queued.ready());
    release.store(true);
    CHECK(queued.get() == 1);
    blocker.wait();
    CHECK(blocker.status() == taskforge::task_status::completed);
}

TEST_CASE("scenario: an array processed concurrently in chunks", "[scheduler][unit][scenario]") {
    taskforge::scheduler pool{taskforge::options{.threads = 4}};
    std::vector<int> data(100'000);
    std::iota(data.begin(), data.end(), 0);
    constexpr std::size_t chunk = 1000;
    taskforge::task_group group{pool};
    for (std::size_t begin = 0; begin < data.size(); begin += chunk) {
        group.spawn([&data, begin] {
            for (std::size_t i = begin; i < std::min(begin + chunk, data.size()); ++i) data[i] *= 2;
        });
    }
    group.wait();
    for (std::size_t i = 0; i < data.size(); ++i) REQUIRE(data[i] == static_cast<int>(2 * i));
}

TEST_CASE("scenario: 1,000 small tasks add to an atomic sum", "[scheduler][unit][scenario]") {
    taskforge::scheduler pool{taskforge::options{.threads = 4}};
    std::atomic<long> sum{0};
    std::vector<taskforge::task_handle<void>> handles;
    for (long i = 1; i <= 1000; ++i) handles.push_back(pool.spawn([&sum, i] { sum.fetch_add(i); }));
    for (auto& handle : handles) handle.get();
    CHECK(sum.load() == 500'500);
}

TEST_CASE("scenario: parallel fibonacci with nested spawn and get", "[scheduler][unit][scenario]") {
    taskforge::scheduler pool{taskforge::options{.threads = 4}};
    CHECK(pool.spawn(fib, 22).get() == serial_fib(22));
}

TEST_CASE("scenario: fork-join fib(25) works with a single worker", "[scheduler][unit][scenario]") {
    taskforge::scheduler pool{taskforge::options{.threads = 1}};
    CHECK(pool.spawn(fib, 25).get() == serial_fib(25));
}

TEST_CASE("scenario: edge cases — empty callable result, zero-size captures, immediate get",
          "[scheduler][unit][scenario]") {
    taskforge::scheduler pool{taskforge::options{.threads = 1}};
    CHECK(pool.spawn([] { return std::string(); }).get().empty());
    CHECK(pool.spawn([] { return 0; }).get() == 0);
    auto done = pool.spawn([] {});
    done.wait();
    done.wait();  // waiting twice is fine
    CHECK(done.ready());
    done.get();
}

TEST_CASE("scenario: 4 external threads each spawn 250,000 tasks at once", "[scheduler][unit][scenario]") {
    taskforge::scheduler pool{taskforge::options{.threads = 2}};
    constexpr int per_thread = 250'000;
    std::vector<std::atomic<std::uint8_t>> ran(4 * per_thread);
    std::vector<std::thread> spawners;
    for (int t = 0; t < 4; ++t) {
        spawners.emplace_back([&, t] {
            taskforge::task_group group{pool};
            for (int i = 0; i < per_thread; ++i) {
                group.spawn([&ran, index = t * per_thread + i] {
                    ran[static_cast<std::size_t>(index)].fetch_add(1, std::memory_order_relaxed);
                });
            }
            group.wait();
        });
    }
    for (auto& spawner : spawners) spawner.join();
    std::size_t wrong = 0;
    for (auto& count : ran) wrong += count.load() != 1;
    CHECK(wrong == 0);
}

TEST_CASE("idle workers sleep instead of spinning", "[scheduler][unit]") {
    taskforge::scheduler pool{taskforge::options{.threads = 2}};
    pool.spawn([] {}).get();
    std::this_thread::sleep_for(50ms);  // let the workers finish searching and park
    const auto cpu_before = std::clock();
    std::this_thread::sleep_for(500ms);
    const double cpu_seconds = static_cast<double>(std::clock() - cpu_before) / CLOCKS_PER_SEC;
    // A spinning worker would use ~0.5 s here (each); parked ones use nothing. Generous bound: not a benchmark.
    CHECK(cpu_seconds < 0.05);
}

TEST_CASE("workers that linger between bursts in close succession go quiet once the bursts stop", "[scheduler][unit]") {
    // runtime.hpp [Z1]: woken for bursts ~100 us apart, a worker learns to keep searching between them instead of
    // parking. When they stop it must park within the linger limit (250 us), not spin on.
    taskforge::scheduler pool{taskforge::options{.threads = 2, .guest_slots = 0}};
    for (int burst = 0; burst < 300; ++burst) {
        taskforge::task_group group{pool};
        for (int task = 0; task < 4; ++task) group.spawn([] {});
        group.wait();
        std::this_thread::sleep_for(100us);
    }
    std::this_thread::sleep_for(50ms);
    const auto cpu_before = std::clock();
    std::this_thread::sleep_for(500ms);
    const double cpu_seconds = static_cast<double>(std::clock() - cpu_before) / CLOCKS_PER_SEC;
    CHECK(cpu_seconds < 0.05);  // a worker still lingering would use ~0.5 s
}
