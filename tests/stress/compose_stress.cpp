// Races of the composition protocol (detail/task_frame.hpp [S7]-[S9], detail/continuation.hpp): attaching a
// continuation while the task completes, dropping handles at once, cancelling continuations while they fire,
// when_any losers that finish after the result is gone, and composites from several threads at once. Every
// continuation must run exactly once (or be cancelled, exactly when cancel() said so), and nothing may be lost or
// freed early (the asan and tsan presets run these). Volume: TASKFORGE_STRESS_SCALE (environment).
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <numeric>
#include <taskforge/taskforge.hpp>
#include <thread>
#include <vector>

#include "../support/catch.hpp"
#include "../support/sanitizers.hpp"
#include "../support/stress_scale.hpp"
#include "../support/watchdog.hpp"

using namespace std::chrono_literals;

namespace {

constexpr int rounds = TASKFORGE_TEST_TSAN || TASKFORGE_TEST_ASAN ? 2'000 : 20'000;

// Waits until `count` reaches `target` (continuations whose handles were dropped have nobody to wait on them).
void wait_for_count(const std::atomic<long>& count, long target) {
    while (count.load() < target) std::this_thread::sleep_for(100us);
}

}  // namespace

TEST_CASE("then attached while the task completes runs exactly once with the value", "[compose][stress]") {
    TASKFORGE_WATCHDOG();
    taskforge::scheduler pool{taskforge::options{.threads = 2}};
    const int total = rounds * stress_scale();
    long wrong = 0;
    for (int i = 0; i < total; ++i) {
        auto first = pool.spawn([i] { return i; });  // tiny: often finishes while then() attaches
        if (i % 3 == 0) std::this_thread::yield();
        auto next = first.then([](int x) { return x * 2 + 1; });
        if (next.get() != i * 2 + 1) ++wrong;
    }
    CHECK(wrong == 0);
}

TEST_CASE("continuations whose handles are dropped at once still run exactly once", "[compose][stress]") {
    TASKFORGE_WATCHDOG();
    std::atomic<long> ran{0};
    const int total = rounds * stress_scale();
    {
        taskforge::scheduler pool{taskforge::options{.threads = 2}};
        for (int i = 0; i < total; ++i) {
            (void)pool.spawn([] { return 1; }).then([&](int x) { ran += x; }).then([&] { ++ran; });
        }
        wait_for_count(ran, 2L * total);
    }
    CHECK(ran.load() == 2L * total);
}

TEST_CASE("cancelling a continuation races its firing: it runs exactly when cancel() failed", "[compose][stress]") {
    TASKFORGE_WATCHDOG();
    taskforge::scheduler pool{taskforge::options{.threads = 2}};
    const int total = rounds * stress_scale();
    long mismatches = 0;
    long cancelled = 0;
    for (int i = 0; i < total; ++i) {
        std::atomic<bool> ran{false};
        auto next = pool.spawn([] { return 1; }).then([&](int) { ran = true; });
        const bool won = next.cancel();
        try {
            next.get();
            if (won || !ran.load()) ++mismatches;
        } catch (const taskforge::task_cancelled&) {
            ++cancelled;
            if (!won || ran.load()) ++mismatches;
        }
    }
    CHECK(mismatches == 0);
    INFO("cancelled before running: " << cancelled << " of " << total);
}

TEST_CASE("when_any losers finish after the result was consumed and destroyed", "[compose][stress]") {
    TASKFORGE_WATCHDOG();
    std::atomic<long> finished{0};
    const int total = rounds / 4 * stress_scale();
    {
        taskforge::scheduler pool{taskforge::options{.threads = 2}};
        for (int i = 0; i < total; ++i) {
            std::vector<taskforge::task_handle<int>> racers;
            for (int r = 0; r < 4; ++r) {
                racers.push_back(pool.spawn([r, &finished] {
                    if (r > 0) std::this_thread::yield();
                    ++finished;
                    return r;
                }));
            }
            auto winner = taskforge::when_any(std::move(racers));
            if (i % 2 == 0) (void)winner.get();  // else dropped: the losers and the winner run on regardless
        }
        wait_for_count(finished, 4L * total);
    }
    CHECK(finished.load() == 4L * total);
}

TEST_CASE("when_all from several threads over inputs finishing at the same time", "[compose][stress]") {
    TASKFORGE_WATCHDOG();
    taskforge::scheduler pool{taskforge::options{.threads = 2}};
    std::atomic<long> wrong{0};
    const int per_thread = rounds / 20 * stress_scale();
    std::vector<std::thread> callers;
    for (int t = 0; t < 3; ++t) {
        callers.emplace_back([&, t] {
            for (int i = 0; i < per_thread; ++i) {
                std::vector<taskforge::task_handle<int>> inputs;
                for (int k = 0; k < 16; ++k) inputs.push_back(pool.spawn([k, t] { return k + t; }));
                auto pair = taskforge::when_all(pool.spawn([] { return 1; }), pool.spawn([] {}));
                auto sum = taskforge::when_all(std::move(inputs)).then([](std::vector<int> values) {
                    return std::accumulate(values.begin(), values.end(), 0);
                });
                if (sum.get() != 120 + 16 * t || std::get<0>(pair.get()) != 1) ++wrong;
            }
        });
    }
    for (auto& caller : callers) caller.join();
    CHECK(wrong.load() == 0);
}

TEST_CASE("a scheduler destroyed with continuation chains in flight runs or cancels every link", "[compose][stress]") {
    TASKFORGE_WATCHDOG();
    for (int round = 0; round < 20 * stress_scale(); ++round) {
        std::atomic<long> ran{0};
        std::vector<taskforge::task_handle<long>> ends;
        {
            taskforge::scheduler pool{taskforge::options{.threads = 2}};
            for (int c = 0; c < 8; ++c) {
                auto chain = pool.spawn([] { return 0L; });
                for (int l = 0; l < 100; ++l) {
                    chain = chain.then([&ran](long x) {
                        ++ran;
                        return x + 1;
                    });
                }
                ends.push_back(std::move(chain));
            }
        }  // shutdown runs every accepted task, so every link fired by a worker ran
        for (auto& end : ends) CHECK(end.get() == 100);
        CHECK(ran.load() == 800);
    }
}

TEST_CASE("request_stop races the task's start and end: cancelled exactly when it said so", "[cancel][stress]") {
    TASKFORGE_WATCHDOG();
    taskforge::scheduler pool{taskforge::options{.threads = 2}};
    const int total = rounds * stress_scale();
    long mismatches = 0;
    for (int i = 0; i < total; ++i) {
        std::atomic<bool> ran{false};
        auto task = pool.spawn([&ran](std::stop_token stop) {
            ran = true;
            return stop.stop_requested() ? 1 : 0;
        });
        if (i % 2 == 0) std::this_thread::yield();
        const bool cancelled = task.request_stop();
        try {
            const int seen = task.get();
            if (cancelled || !ran.load() || seen < 0) ++mismatches;
        } catch (const taskforge::task_cancelled&) {
            if (!cancelled || ran.load()) ++mismatches;
        }
    }
    CHECK(mismatches == 0);
}

TEST_CASE("task_group::cancel races spawns and running tasks: every task runs at most once, wait() throws",
          "[cancel][stress]") {
    TASKFORGE_WATCHDOG();
    taskforge::scheduler pool{taskforge::options{.threads = 2}};
    long wrong = 0;
    for (int round = 0; round < rounds / 100 * stress_scale(); ++round) {
        std::atomic<int> ran{0};
        taskforge::task_group group{pool};
        std::thread canceller([&] {
            std::this_thread::yield();
            group.cancel();
        });
        for (int i = 0; i < 200; ++i)
            group.spawn([&](std::stop_token stop) {
                (void)stop.stop_requested();
                ++ran;
            });
        canceller.join();
        try {
            group.wait();
            ++wrong;  // cancelled before wait(): it must throw
        } catch (const taskforge::task_cancelled&) {
        }
        if (ran.load() > 200) ++wrong;
    }
    CHECK(wrong == 0);
}
