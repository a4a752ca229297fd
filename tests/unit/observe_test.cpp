// Metrics (pool.metrics()) and tracing (start_trace / stop_trace / named): what the counters add up to, what a
// trace holds, and that both may be read, started and stopped from any thread while tasks run.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <iomanip>
#include <locale>
#include <sstream>
#include <stop_token>
#include <string>
#include <taskforge/taskforge.hpp>
#include <thread>
#include <vector>

#include "../support/catch.hpp"
#include "../support/sanitizers.hpp"

namespace {

using namespace std::chrono_literals;

bool same(const taskforge::worker_metrics& a, const taskforge::worker_metrics& b) {
    return a.tasks_run == b.tasks_run && a.local_pops == b.local_pops && a.injected_taken == b.injected_taken &&
           a.steal_attempts == b.steal_attempts && a.steals == b.steals && a.parks == b.parks &&
           a.wakeups == b.wakeups && a.max_deque_depth == b.max_deque_depth;
}

// Metrics are exact once every worker is idle [M1]: waits until the total reaches `expected` and then stays the
// same for 50 ms (the workers parked, publishing their last counts), or 10 s.
taskforge::worker_metrics settled_total(const taskforge::scheduler& pool, std::uint64_t expected) {
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    auto total = pool.metrics().total();
    auto quiet_since = std::chrono::steady_clock::now();
    while (std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(1ms);
        const auto now = pool.metrics().total();
        if (!same(now, total)) quiet_since = std::chrono::steady_clock::now();
        total = now;
        if (total.tasks_run >= expected && std::chrono::steady_clock::now() - quiet_since > 50ms) break;
    }
    return total;
}

std::size_t count_of(const std::string& text, const std::string& needle) {
    std::size_t found = 0;
    for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++found;
    return found;
}

// The number after `"key":` in the trace's otherData.
std::uint64_t other_data(const std::string& trace, const std::string& key) {
    const auto at = trace.find("\"" + key + "\":");
    REQUIRE(at != std::string::npos);
    return std::stoull(trace.substr(at + key.size() + 3));
}

long join_fib(long n) {
    if (n < 2) return n;
    auto [left, right] = taskforge::join([n] { return join_fib(n - 1); }, [n] { return join_fib(n - 2); });
    return left + right;
}

}  // namespace

TEST_CASE("tasks_run counts every task body once; outside spawns are all taken from the injection queue",
          "[metrics][unit]") {
    constexpr int tasks = 20'000;
    taskforge::scheduler pool{taskforge::options{.threads = 2, .guest_slots = 0}};
    std::vector<taskforge::task_handle<int>> handles;
    handles.reserve(tasks);
    for (int i = 0; i < tasks; ++i) handles.push_back(pool.spawn([i] { return i; }));
    long sum = 0;
    for (auto& handle : handles) sum += handle.get();
    CHECK(sum == static_cast<long>(tasks) * (tasks - 1) / 2);
    const auto total = settled_total(pool, tasks);
    CHECK(total.tasks_run == tasks);
    CHECK(total.injected_taken == tasks);  // each outside spawn leaves the injection queue exactly once
    CHECK(total.steals <= total.steal_attempts);
    std::this_thread::sleep_for(20ms);
    CHECK(pool.metrics().total().tasks_run == tasks);  // nothing counted twice later
    const auto snapshot = pool.metrics();
    REQUIRE(snapshot.workers.size() >= 2);
    CHECK(snapshot.workers[0].role == taskforge::worker_role::worker);
    CHECK(snapshot.workers[1].index == 1);
}

TEST_CASE("group tasks, continuations and stolen join halves count as tasks run", "[metrics][unit]") {
    taskforge::scheduler pool{taskforge::options{.threads = 2, .guest_slots = 0}};
    taskforge::task_group group{pool};
    for (int i = 0; i < 100; ++i) group.spawn([] {});
    group.wait();
    auto chained = pool.spawn([] { return 1; }).then([](int x) { return x + 1; }).then([](int x) { return x * 3; });
    CHECK(chained.get() == 6);
    CHECK(settled_total(pool, 103).tasks_run == 103);
    // A fork-join from inside the pool: every stolen half is a task; a half taken back is part of its parent.
    const auto before = pool.metrics().total().tasks_run;
    CHECK(pool.spawn([] { return join_fib(22); }).get() == 17711);
    const auto after = settled_total(pool, before + 1);
    CHECK(after.tasks_run >= before + 1);
    CHECK(after.tasks_run - before - 1 <= after.steals);  // stolen halves: at most one per steal
}

TEST_CASE("max_deque_depth sees a burst of spawns from one task; parks and wake-ups are counted", "[metrics][unit]") {
    taskforge::scheduler pool{taskforge::options{.threads = 1, .guest_slots = 0}};
    pool.spawn([] {
            std::vector<taskforge::task_handle<void>> children;
            for (int i = 0; i < 1000; ++i) children.push_back(taskforge::spawn([] {}));
            // not waited here: the only worker runs them after this task returns
        })
        .get();
    const auto total = settled_total(pool, 1001);
    CHECK(total.tasks_run == 1001);
    CHECK(total.max_deque_depth >= 1000);
    CHECK(total.local_pops >= 1000);
    // The worker parks when the work is gone; a spawn from outside wakes it.
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (pool.metrics().total().parks == 0 && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(1ms);
    }
    const auto parked = pool.metrics().total();
    REQUIRE(parked.parks >= 1);
    pool.spawn([] {}).get();
    CHECK(settled_total(pool, 1002).wakeups >= parked.wakeups + 1);
}

TEST_CASE("metrics read from another thread while work runs: counters never go back, steals <= attempts",
          "[metrics][unit][concurrency]") {
    taskforge::scheduler pool{taskforge::options{.threads = 2}};
    std::atomic<bool> done{false};
    long violations = 0;
    std::thread reader([&] {
        taskforge::pool_metrics previous = pool.metrics();
        while (!done.load()) {
            const taskforge::pool_metrics now = pool.metrics();
            for (std::size_t i = 0; i < now.workers.size(); ++i) {
                const auto& worker = now.workers[i];
                if (worker.steals > worker.steal_attempts) ++violations;
                if (i < previous.workers.size()) {
                    const auto& before = previous.workers[i];
                    if (worker.tasks_run < before.tasks_run || worker.steal_attempts < before.steal_attempts ||
                        worker.parks < before.parks || worker.max_deque_depth < before.max_deque_depth) {
                        ++violations;
                    }
                }
            }
            previous = now;
        }
    });
    for (int round = 0; round < (TASKFORGE_TEST_TSAN ? 3 : 20); ++round) {
        CHECK(pool.spawn([] { return join_fib(18); }).get() == 2584);
        taskforge::parallel_for(pool, 0, 10'000, [](int) {});
    }
    done = true;
    reader.join();
    CHECK(violations == 0);
}

TEST_CASE("a guest slot's work is counted under its role", "[metrics][unit]") {
    std::atomic<bool> release{false};
    taskforge::scheduler pool{taskforge::options{.threads = 1, .guest_slots = 1}};
    std::atomic<bool> started{false};
    auto busy = pool.spawn([&release, &started] {
        started = true;
        while (!release.load()) std::this_thread::sleep_for(100us);
    });
    while (!started.load()) std::this_thread::sleep_for(100us);
    auto mine = pool.spawn([] { return 5; });
    CHECK(mine.get() == 5);  // the only worker is busy: the waiting caller runs it in its guest slot
    release = true;
    busy.get();
    const auto snapshot = pool.metrics();
    REQUIRE(snapshot.workers.size() == 2);
    CHECK(snapshot.workers[1].role == taskforge::worker_role::guest);
    CHECK(snapshot.workers[1].tasks_run == 1);  // published when the guest left
}

TEST_CASE("a trace holds one complete event per task body run, under its name", "[trace][unit]") {
    taskforge::scheduler pool{taskforge::options{.threads = 2, .guest_slots = 0}};
    pool.start_trace();
    std::vector<taskforge::task_handle<int>> handles;
    for (int i = 0; i < 500; ++i) handles.push_back(pool.spawn(taskforge::named("parse", [](int x) { return x; }), i));
    for (auto& handle : handles) handle.get();
    taskforge::task_group group{pool};
    for (int i = 0; i < 50; ++i) group.spawn(taskforge::named("tile \"7\"", [] {}));
    group.wait();
    CHECK(pool.spawn([] { return join_fib(16); }).get() == 987);
    std::ostringstream out;
    const auto total = settled_total(pool, 551);
    pool.stop_trace(out);
    const std::string trace = out.str();
    CHECK(trace.rfind("{\"traceEvents\":[", 0) == 0);
    CHECK(count_of(trace, "\"name\":\"parse\"") == 500);
    CHECK(count_of(trace, "\"name\":\"tile \\\"7\\\"\"") == 50);  // escaped
    CHECK(count_of(trace, "\"ph\":\"X\"") == total.tasks_run);
    CHECK(other_data(trace, "tasks_traced") == total.tasks_run);
    CHECK(other_data(trace, "dropped_events") == 0);
    CHECK(count_of(trace, "\"name\":\"worker 0\"") == 1);
    CHECK(count_of(trace, "\"name\":\"worker 1\"") == 1);
}

TEST_CASE("a full ring keeps the latest events and says how many it dropped", "[trace][unit]") {
    taskforge::scheduler pool{taskforge::options{.threads = 1, .guest_slots = 0, .trace_events_per_thread = 50}};
    pool.start_trace();  // rings of 64 events (rounded up to a power of two)
    pool.spawn([] {
            for (int i = 0; i < 1000; ++i) taskforge::spawn(taskforge::named("leaf", [] {}));
        })
        .get();
    settled_total(pool, 1001);
    std::ostringstream out;
    pool.stop_trace(out);
    const std::string trace = out.str();
    const auto kept = count_of(trace, "\"ph\":\"X\"") + count_of(trace, "\"ph\":\"i\"");
    CHECK(kept <= 64);
    CHECK(kept >= 32);
    CHECK(other_data(trace, "dropped_events") + kept >= 1001);
    CHECK(count_of(trace, "\"name\":\"leaf\"") >= 32);  // the latest events: the leaves, not the first task
}

TEST_CASE("stop_trace without a trace writes a valid empty trace; a second start changes nothing",
          "[trace][unit][misuse]") {
    taskforge::scheduler pool{taskforge::options{.threads = 1}};
    std::ostringstream empty;
    pool.stop_trace(empty);
    CHECK(empty.str().rfind("{\"traceEvents\":[", 0) == 0);
    CHECK(count_of(empty.str(), "\"ph\":\"X\"") == 0);
    pool.start_trace();
    pool.spawn(taskforge::named("first", [] {})).get();
    pool.start_trace();  // already tracing: the first task stays in the trace
    pool.spawn(taskforge::named("second", [] {})).get();
    std::ostringstream out;
    pool.stop_trace(out);
    CHECK(count_of(out.str(), "\"name\":\"first\"") == 1);
    CHECK(count_of(out.str(), "\"name\":\"second\"") == 1);
    // A new trace starts empty: nothing of the previous one is reported again.
    pool.start_trace();
    std::ostringstream next;
    pool.stop_trace(next);
    CHECK(count_of(next.str(), "\"name\":\"first\"") == 0);
    CHECK_THROWS_AS((taskforge::scheduler{taskforge::options{.trace_events_per_thread = 0}}), std::invalid_argument);
}

TEST_CASE("named() keeps what the callable takes: arguments, stop tokens, move-only state, results", "[trace][unit]") {
    taskforge::scheduler pool{taskforge::options{.threads = 2}};
    auto owned = pool.spawn(taskforge::named("owned", [p = std::make_unique<int>(4)](int x) { return *p + x; }), 3);
    CHECK(owned.get() == 7);
    auto stoppable =
        pool.spawn(taskforge::named("stoppable", [](std::stop_token stop) { return stop.stop_possible(); }));
    CHECK(stoppable.get());
    auto chained = pool.spawn(taskforge::named("source", [] { return 2; })).then(taskforge::named("double", [](int x) {
        return 2 * x;
    }));
    CHECK(chained.get() == 4);
    taskforge::task_group group{pool};
    std::atomic<int> ran{0};
    group.spawn(taskforge::named("group", [&ran](std::stop_token) { ++ran; }));
    group.wait();
    CHECK(ran.load() == 1);
}

TEST_CASE("start and stop from several threads while tasks run: every trace is whole", "[trace][unit][concurrency]") {
    taskforge::scheduler pool{taskforge::options{.threads = 2, .trace_events_per_thread = 256}};
    std::atomic<bool> done{false};
    std::thread producer([&] {
        while (!done.load()) {
            taskforge::task_group group{pool};
            for (int i = 0; i < 64; ++i) group.spawn(taskforge::named("work", [] {}));
            group.wait();
            pool.spawn([] { return join_fib(10); }).get();
        }
    });
    std::atomic<long> broken{0};
    std::vector<std::thread> tracers;
    for (int t = 0; t < 3; ++t) {
        tracers.emplace_back([&] {
            for (int round = 0; round < (TASKFORGE_TEST_TSAN ? 20 : 200); ++round) {
                pool.start_trace();
                std::this_thread::yield();
                std::ostringstream out;
                pool.stop_trace(out);
                const std::string trace = out.str();
                if (trace.rfind("{\"traceEvents\":[", 0) != 0 || trace.find("\"otherData\"") == std::string::npos ||
                    trace.substr(trace.size() - 3) != "}}\n") {
                    ++broken;
                }
            }
        });
    }
    for (auto& tracer : tracers) tracer.join();
    done = true;
    producer.join();
    CHECK(broken.load() == 0);
}

namespace {
// Groups thousands with commas: a locale that would break JSON numbers if the writer used operator<<.
struct grouping_commas : std::numpunct<char> {
    char do_thousands_sep() const override { return ','; }
    std::string do_grouping() const override { return "\3"; }
};
}  // namespace

TEST_CASE("the trace is the same whatever the stream's flags and locale", "[trace][unit][misuse]") {
    taskforge::scheduler pool{taskforge::options{.threads = 1, .guest_slots = 0, .trace_events_per_thread = 16}};
    pool.start_trace();
    pool.spawn([] {
            for (int i = 0; i < 2000; ++i) taskforge::spawn(taskforge::named("leaf", [] {}));
        })
        .get();
    settled_total(pool, 0);
    std::ostringstream out;
    out.imbue(std::locale(out.getloc(), new grouping_commas));
    out << std::hex << std::showbase << std::setw(12);
    pool.stop_trace(out);
    const std::string trace = out.str();
    CHECK(trace.rfind("{\"traceEvents\":[", 0) == 0);
    CHECK(trace.find("0x") == std::string::npos);
    CHECK(other_data(trace, "dropped_events") >= 1000);
    const auto at = trace.find("\"dropped_events\":");
    CHECK(trace.substr(at, trace.find(',', at) - at).find_first_not_of("\"dropped_events:0123456789") ==
          std::string::npos);
}

// Not under ThreadSanitizer: it does not support a multi-threaded process that forks (lifetime_test.cpp).
#if !TASKFORGE_TEST_TSAN
TEST_CASE("in a fork() child, start_trace and stop_trace return at once with an empty trace", "[trace][unit]") {
    taskforge::scheduler pool{taskforge::options{.threads = 2}};
    pool.start_trace();
    pool.spawn(taskforge::named("before fork", [] {})).get();
    const pid_t child = fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        alarm(10);  // a hang fails the test instead of stalling it
        pool.start_trace();
        std::ostringstream out;
        pool.stop_trace(out);
        const bool empty =
            out.str().rfind("{\"traceEvents\":[", 0) == 0 && out.str().find("\"ph\":\"X\"") == std::string::npos;
        _exit(empty ? 0 : 1);
    }
    int status = 0;
    REQUIRE(waitpid(child, &status, 0) == child);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
    std::ostringstream out;
    pool.stop_trace(out);
    CHECK(count_of(out.str(), "\"name\":\"before fork\"") == 1);
}
#endif
