// One owner mixing bursts of push and pop against several thieves: every item is taken exactly once.
// Checked per item (a counter per item), not by a sum that two mistakes could balance.
#include <atomic>
#include <cstdint>
#include <memory>
#include <random>
#include <taskforge/deque.hpp>
#include <thread>
#include <vector>

#include "../support/catch.hpp"
#include "../support/sanitizers.hpp"

namespace {

struct ledger {
    explicit ledger(std::size_t items) : taken(items) {}
    void take(std::int64_t item) { taken[static_cast<std::size_t>(item)].fetch_add(1, std::memory_order_relaxed); }
    std::vector<std::atomic<std::uint32_t>> taken;  // relaxed: read only after every thread is joined
    std::atomic<std::int64_t> total{0};             // items taken so far; thieves stop when it reaches the end
};

void run_owner_against_thieves(int thieves, std::int64_t items, std::uint32_t seed) {
    taskforge::chase_lev_deque<std::int64_t> deque(2);  // tiny: growth happens while thieves steal
    ledger book(static_cast<std::size_t>(items));
    std::vector<std::thread> threads;
    for (int t = 0; t < thieves; ++t) {
        threads.emplace_back([&] {
            // relaxed: the loop only needs to end eventually; join() orders the ledger for the checks
            while (book.total.load(std::memory_order_relaxed) < items) {
                if (auto item = deque.steal()) {
                    book.take(*item);
                    book.total.fetch_add(1, std::memory_order_relaxed);
                }
            }
        });
    }
    std::mt19937 random(seed);
    std::int64_t next = 0;
    while (next < items) {
        const auto burst = static_cast<std::int64_t>(random() % 64) + 1;
        for (std::int64_t i = 0; i < burst && next < items; ++i) deque.push(next++);
        const auto pops = random() % 48;
        for (std::uint32_t i = 0; i < pops; ++i) {
            if (auto item = deque.pop()) {
                book.take(*item);
                book.total.fetch_add(1, std::memory_order_relaxed);
            }
        }
    }
    while (auto item = deque.pop()) {
        book.take(*item);
        book.total.fetch_add(1, std::memory_order_relaxed);
    }
    for (auto& thread : threads) thread.join();
    std::int64_t wrong = 0;
    for (std::int64_t i = 0; i < items; ++i) {
        if (book.taken[static_cast<std::size_t>(i)].load(std::memory_order_relaxed) != 1) {
            if (wrong++ < 5)
                UNSCOPED_INFO("item " << i << " taken " << book.taken[static_cast<std::size_t>(i)].load() << " times");
        }
    }
    CHECK(wrong == 0);
}

std::int64_t stress_items() {
#if TASKFORGE_TEST_TSAN || TASKFORGE_TEST_ASAN
    return 1'000'000;  // the requirement's floor; sanitizers slow each operation ~10x
#else
    return 2'000'000;
#endif
}

}  // namespace

TEST_CASE("owner push/pop bursts against 1 thief take every item exactly once", "[deque][stress]") {
    run_owner_against_thieves(1, stress_items(), 1);
}

TEST_CASE("owner push/pop bursts against 2 thieves take every item exactly once", "[deque][stress]") {
    run_owner_against_thieves(2, stress_items(), 2);
}

TEST_CASE("owner push/pop bursts against 3 thieves take every item exactly once", "[deque][stress]") {
    run_owner_against_thieves(3, stress_items(), 3);
}
