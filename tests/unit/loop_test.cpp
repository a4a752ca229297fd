// parallel_for, parallel_for_each, parallel_reduce: every overload against the serial loop, index edge cases,
// partition options, nesting, exceptions, and where the body runs.
#include <atomic>
#include <chrono>
#include <climits>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <numeric>
#include <set>
#include <stdexcept>
#include <string>
#include <taskforge/taskforge.hpp>
#include <thread>
#include <type_traits>
#include <vector>

#include "../support/catch.hpp"
#include "../support/sanitizers.hpp"

namespace {

constexpr std::size_t sizes[] = {0, 1, 2, 3, 1000, 1'000'003};
// The 10 M loop: smaller under the sanitizers, which slow every iteration down by an order of magnitude.
constexpr std::size_t big_loop = TASKFORGE_TEST_TSAN || TASKFORGE_TEST_ASAN ? 1'000'000 : 10'000'000;

long square(long x) { return x * x; }

// Each index in [0, n) visited exactly once.
void check_once(const std::vector<std::atomic<int>>& visits) {
    for (const auto& visit : visits) REQUIRE(visit.load() == 1);
}

// Adversarial finding: a GNU __int128 range of 2^64 + 3 iterations ran 3 (its count was cut to std::size_t). Index
// types wider than std::size_t are refused at compile time now.
#if defined(__SIZEOF_INT128__)
__extension__ using wide_index = __int128;
static_assert(!taskforge::detail::loop_index<wide_index>, "a range of __int128 may hold more than SIZE_MAX iterations");
#endif
static_assert(taskforge::detail::loop_index<long long> && taskforge::detail::loop_index<unsigned char>);
static_assert(!taskforge::detail::loop_index<bool>);

}  // namespace

TEST_CASE("parallel_for visits every index exactly once, for sizes 0 to 1,000,003", "[loop][unit]") {
    taskforge::scheduler pool{taskforge::options{.threads = 3}};
    for (const std::size_t n : sizes) {
        std::vector<std::atomic<int>> visits(n);
        taskforge::parallel_for(pool, std::size_t{0}, n, [&](std::size_t i) { ++visits[i]; });
        check_once(visits);
        std::vector<std::atomic<int>> again(n);
        taskforge::parallel_for(0, static_cast<long>(n), [&](long i) { ++again[static_cast<std::size_t>(i)]; });
        check_once(again);
    }
}

TEST_CASE("parallel_for takes mixed index types and passes their common type", "[loop][unit]") {
    std::vector<int> values(100, 0);
    taskforge::parallel_for(0, values.size(), [&](auto i) {
        static_assert(std::is_same_v<decltype(i), std::size_t>);
        values[i] = 1;
    });
    CHECK(std::accumulate(values.begin(), values.end(), 0) == 100);
}

TEST_CASE("parallel_for: last <= first is empty, negative and extreme indices work", "[loop][unit]") {
    std::atomic<long> calls{0};
    taskforge::parallel_for(10, 3, [&](int) { ++calls; });
    taskforge::parallel_for(5, 5, [&](int) { ++calls; });
    taskforge::parallel_for(std::size_t{9}, std::size_t{2}, [&](std::size_t) { ++calls; });
    CHECK(calls.load() == 0);

    std::atomic<long> sum{0};
    taskforge::parallel_for(-50, 50, [&](int i) { sum += i; });
    CHECK(sum.load() == -50);

    std::set<int> top;
    std::mutex guard;
    taskforge::parallel_for(INT_MAX - 4, INT_MAX, [&](int i) {
        std::lock_guard lock(guard);
        top.insert(i);
    });
    CHECK(top == std::set<int>{INT_MAX - 4, INT_MAX - 3, INT_MAX - 2, INT_MAX - 1});

    std::atomic<long> near_unsigned_max{0};
    taskforge::parallel_for(UINT64_MAX - 1000, UINT64_MAX, [&](std::uint64_t i) {
        if (i >= UINT64_MAX - 1000) ++near_unsigned_max;
    });
    CHECK(near_unsigned_max.load() == 1000);

    // The full range of a narrow signed type: 255 iterations from -128 to 126.
    std::atomic<int> narrow{0};
    taskforge::parallel_for(std::int8_t{-128}, std::int8_t{127}, [&](std::int8_t) { ++narrow; });
    CHECK(narrow.load() == 255);
}

TEST_CASE("parallel_for_each over ranges and iterator pairs touches every element once", "[loop][unit]") {
    taskforge::scheduler pool{taskforge::options{.threads = 2}};
    for (const std::size_t n : sizes) {
        std::vector<long> values(n, 1);
        taskforge::parallel_for_each(values, [](long& value) { value += 1; });
        taskforge::parallel_for_each(values.begin(), values.end(), [](long& value) { value *= 3; });
        taskforge::parallel_for_each(
            pool, values, [](long& value) { value += 1; }, taskforge::min_chunk{7});
        taskforge::parallel_for_each(pool, values.data(), values.data() + n, [](long& value) { value -= 1; });
        for (const long value : values) REQUIRE(value == 6);
    }
    std::vector<int> reversed_pair(10, 0);  // end before begin: empty, not UB
    taskforge::parallel_for_each(reversed_pair.end(), reversed_pair.begin(), [](int& value) { value = 1; });
    CHECK(std::accumulate(reversed_pair.begin(), reversed_pair.end(), 0) == 0);
}

TEST_CASE("parallel_reduce equals std::transform_reduce for every overload and size", "[loop][unit]") {
    taskforge::scheduler pool{taskforge::options{.threads = 3}};
    for (const std::size_t n : sizes) {
        std::vector<long> values(n);
        std::iota(values.begin(), values.end(), -5L);
        const long expected = std::transform_reduce(values.begin(), values.end(), 7L, std::plus<>{}, square);
        CHECK(taskforge::parallel_reduce(values, 7L, std::plus<>{}, square) == expected);
        CHECK(taskforge::parallel_reduce(pool, values, 7L, std::plus<>{}, square) == expected);
        CHECK(taskforge::parallel_reduce(values.begin(), values.end(), 7L, std::plus<>{}, square) == expected);
        CHECK(taskforge::parallel_reduce(pool, values.cbegin(), values.cend(), 7L, std::plus<>{}, square,
                                         taskforge::min_chunk{100}) == expected);
        const auto by_index = [&values](std::size_t i) { return square(values[i]); };
        CHECK(taskforge::parallel_reduce(std::size_t{0}, n, 7L, std::plus<>{}, by_index) == expected);
        CHECK(taskforge::parallel_reduce(pool, std::size_t{0}, n, 7L, std::plus<>{}, by_index,
                                         taskforge::static_partition{}) == expected);
    }
}

TEST_CASE("parallel_reduce keeps the order of a non-commutative reduce, and uses init once, first", "[loop][unit]") {
    taskforge::scheduler pool{taskforge::options{.threads = 4}};
    const auto concatenate = [](std::string left, const std::string& right) { return std::move(left) + right; };
    const auto letter = [](int i) { return std::string(1, static_cast<char>('a' + i % 26)); };
    std::string expected = ">";
    for (int i = 0; i < 2000; ++i) expected += letter(i);
    for (int repeat = 0; repeat < 20; ++repeat) {
        REQUIRE(taskforge::parallel_reduce(pool, 0, 2000, std::string(">"), concatenate, letter) == expected);
    }
    CHECK(taskforge::parallel_reduce(pool, 0, 0, std::string("init"), concatenate, letter) == "init");
}

TEST_CASE("a floating-point sum with static_partition is the same every run", "[loop][unit]") {
    taskforge::scheduler pool{taskforge::options{.threads = 3}};
    const auto term = [](int i) { return 1.0 / (1.0 + i); };
    const double first =
        taskforge::parallel_reduce(pool, 0, 1'000'003, 0.0, std::plus<>{}, term, taskforge::static_partition{});
    for (int repeat = 0; repeat < 10; ++repeat) {
        const double again =
            taskforge::parallel_reduce(pool, 0, 1'000'003, 0.0, std::plus<>{}, term, taskforge::static_partition{});
        REQUIRE(again == first);  // bit for bit: the association order is fixed
    }
}

TEST_CASE("a min_chunk as large as the range keeps it in one piece, adaptive or static", "[loop][unit]") {
    taskforge::scheduler pool{taskforge::options{.threads = 4}};
    for (const bool fixed : {false, true}) {
        constexpr std::size_t n = 5000;
        std::vector<long> order(n);
        std::vector<std::thread::id> runner(n);
        std::atomic<long> clock{0};
        const auto record = [&](std::size_t i) {
            order[i] = clock++;
            runner[i] = std::this_thread::get_id();
        };
        pool.spawn([&] {
                if (fixed) {
                    taskforge::parallel_for(std::size_t{0}, n, record, taskforge::min_chunk{n},
                                            taskforge::static_partition{});
                } else {
                    taskforge::parallel_for(std::size_t{0}, n, record, taskforge::min_chunk{n});
                }
            })
            .get();
        for (std::size_t i = 1; i < n; ++i) {
            REQUIRE(order[i] == order[i - 1] + 1);
            REQUIRE(runner[i] == runner[0]);
        }
    }
}

TEST_CASE("loops nest three levels deep on 1, 2 and 8 workers", "[loop][unit]") {
    for (const std::size_t threads : {std::size_t{1}, std::size_t{2}, std::size_t{8}}) {
        taskforge::scheduler pool{taskforge::options{.threads = threads}};
        const long total = taskforge::parallel_reduce(pool, 0, 20, 0L, std::plus<>{}, [](int) {
            return taskforge::parallel_reduce(0, 30, 0L, std::plus<>{}, [](int) {
                std::atomic<long> inner{0};
                taskforge::parallel_for(0, 40, [&](int) { ++inner; });
                return inner.load();
            });
        });
        CHECK(total == 20 * 30 * 40);
    }
}

TEST_CASE("a body's exception reaches the caller; pieces not started are skipped", "[loop][unit]") {
    taskforge::scheduler pool{taskforge::options{.threads = 2}};
    std::atomic<long> ran{0};
    CHECK_THROWS_WITH(taskforge::parallel_for(pool, 0, 1'000'000,
                                              [&](int i) {
                                                  ++ran;
                                                  if (i == 0) throw std::runtime_error("first index");
                                              }),
                      "first index");
    CHECK(ran.load() < 1'000'000);  // index 0 is in the first piece: most of the rest never starts

    CHECK_THROWS_AS(taskforge::parallel_reduce(pool, 0, 100'000, 0L, std::plus<>{},
                                               [](int i) -> long {
                                                   if (i == 99'999) throw std::out_of_range("last index");
                                                   return i;
                                               }),
                    std::out_of_range);
    const auto throwing_reduce = [](long, long) -> long { throw std::logic_error("reduce"); };
    CHECK_THROWS_AS(taskforge::parallel_reduce(pool, 0, 1000, 0L, throwing_reduce, [](int i) { return long{i}; }),
                    std::logic_error);
    // The pool is still fine afterwards.
    CHECK(taskforge::parallel_reduce(pool, 0, 1000, 0L, std::plus<>{}, [](int) { return 1L; }) == 1000);
}

TEST_CASE("when several bodies throw, exactly one exception arrives and the loop still returns", "[loop][unit]") {
    taskforge::scheduler pool{taskforge::options{.threads = 4}};
    for (int repeat = 0; repeat < 50; ++repeat) {
        CHECK_THROWS_AS(taskforge::parallel_for(pool, 0, 10'000, [](int) { throw std::runtime_error("every"); }),
                        std::runtime_error);
    }
}

TEST_CASE("a loop from outside the pool uses the workers and the waiting caller; from a worker it stays on its pool",
          "[loop][unit]") {
    taskforge::scheduler pool{taskforge::options{.threads = 2}};
    std::mutex guard;
    std::set<std::thread::id> runners;
    taskforge::parallel_for(pool, 0, 2000, [&](int) {
        std::this_thread::sleep_for(std::chrono::microseconds(50));
        std::lock_guard lock(guard);
        runners.insert(std::this_thread::get_id());
    });
    // The workers (or a spare standing in); the caller helps as a guest (waiting rules [W4]) but cannot keep
    // up with two workers' stealing of a 100 ms loop.
    runners.erase(std::this_thread::get_id());
    CHECK(runners.size() >= 2);

    taskforge::scheduler other{taskforge::options{.threads = 1}};
    const bool all_on_pool = pool.spawn([&] {
                                     std::atomic<bool> ok{true};
                                     taskforge::parallel_for(0, 1000, [&](int) {
                                         if (taskforge::scheduler::current() != &pool) ok = false;
                                     });
                                     // An explicit other scheduler: its loop runs there, this worker waits.
                                     taskforge::parallel_for(other, 0, 100, [&](int) {
                                         if (taskforge::scheduler::current() != &other) ok = false;
                                     });
                                     return ok.load();
                                 })
                                 .get();
    CHECK(all_on_pool);
}

TEST_CASE("a two-iteration loop from outside runs on the caller: it enters a guest slot instead of spawning",
          "[loop][unit]") {
    // (A one-iteration loop runs inline anyway; two iterations go through the loop engine, serially: far below
    // the ~4 us serial budget, so nothing is split off for a worker.)
    taskforge::scheduler pool{taskforge::options{.threads = 2}};
    std::mutex guard;
    std::set<std::thread::id> runners;
    std::set<const taskforge::scheduler*> seen;
    const auto record = [&](int) {
        std::lock_guard lock(guard);
        runners.insert(std::this_thread::get_id());
        seen.insert(taskforge::scheduler::current());
    };
    taskforge::parallel_for(pool, 0, 2, record);
    CHECK(runners == std::set{std::this_thread::get_id()});
    CHECK(seen == std::set<const taskforge::scheduler*>{&pool});  // a worker of the pool for the loop's length

    // Without guest slots the tree runs as one task on a worker while the caller waits.
    taskforge::options no_guests{.threads = 1};
    no_guests.guest_slots = 0;
    taskforge::scheduler closed_door{no_guests};
    runners.clear();
    taskforge::parallel_for(closed_door, 0, 2, record);
    CHECK(runners.size() == 1);
    CHECK(runners.count(std::this_thread::get_id()) == 0);
}

TEST_CASE("a loop from outside still completes when every guest slot is taken by another waiting thread",
          "[loop][unit]") {
    taskforge::options settings{.threads = 2};  // one runs the held task, the other the loop
    settings.guest_slots = 1;
    taskforge::scheduler pool{settings};
    std::atomic<bool> release{false};
    taskforge::task_group held{pool};
    held.spawn([&] {
        while (!release.load()) std::this_thread::sleep_for(std::chrono::microseconds(100));
    });
    std::thread waiter([&] { held.wait(); });  // takes the only guest slot while the task above runs
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    const long sum = taskforge::parallel_reduce(pool, 0, 100'000, 0L, std::plus<>{}, [](int i) { return long{i}; });
    CHECK(sum == 100'000L * 99'999 / 2);
    release = true;
    waiter.join();
}

TEST_CASE("a loop over 10M elements sums correctly (1M under the sanitizers)", "[loop][unit]") {
    std::vector<std::uint32_t> values(big_loop);
    taskforge::parallel_for(std::size_t{0}, big_loop,
                            [&](std::size_t i) { values[i] = static_cast<std::uint32_t>(i % 1000); });
    const auto total = taskforge::parallel_reduce(values, std::uint64_t{0}, std::plus<>{},
                                                  [](std::uint32_t value) { return std::uint64_t{value}; });
    CHECK(total == std::accumulate(values.begin(), values.end(), std::uint64_t{0}));
}

TEST_CASE("parallel_reduce works with a move-only accumulator", "[loop][unit]") {
    const auto merge = [](std::unique_ptr<long> left, std::unique_ptr<long> right) {
        *left += *right;
        return left;
    };
    auto total = taskforge::parallel_reduce(0, 10'000, std::make_unique<long>(1), merge,
                                            [](int i) { return std::make_unique<long>(i); });
    CHECK(*total == 1 + 10'000L * 9'999 / 2);
}

TEST_CASE("loops from several outside threads race a shutdown: each completes or throws scheduler_closed",
          "[loop][unit][shutdown]") {
    for (int round = 0; round < 20; ++round) {
        taskforge::scheduler pool{taskforge::options{.threads = 2}};
        std::atomic<int> completed{0};
        std::atomic<int> wrong{0};
        std::vector<std::thread> callers;
        for (int caller = 0; caller < 3; ++caller) {
            callers.emplace_back([&] {
                for (;;) {  // until the shutdown refuses a loop: every caller meets both outcomes
                    try {
                        std::atomic<long> visits{0};
                        taskforge::parallel_for(pool, 0, 5000, [&](int) { ++visits; });
                        const long sum =
                            taskforge::parallel_reduce(pool, 0, 5000, 0L, std::plus<>{}, [](int i) { return long{i}; });
                        if (visits.load() != 5000 || sum != 5000L * 4999 / 2) ++wrong;
                        ++completed;
                    } catch (const taskforge::scheduler_closed&) {
                        return;
                    }
                }
            });
        }
        while (completed.load() == 0) std::this_thread::yield();  // at least one loop ran before the shutdown
        std::this_thread::sleep_for(std::chrono::microseconds(50 * round));
        pool.shutdown();  // racing the callers' loops, some of them half done
        for (auto& caller : callers) caller.join();
        REQUIRE(wrong.load() == 0);  // an accepted loop ran every iteration exactly once, even during shutdown
    }
}
