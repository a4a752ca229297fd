// Stress of join's stack-job latch (detail/stack_job.hpp [J1]-[J3]): the thief's last access to a job on the
// owner's stack against the owner returning and reusing that stack at once. Seeded random trees of joins whose
// halves spin for random short times (so both "popped back" and "stolen" happen, in both finishing orders), with
// random throws; every leaf is counted exactly once. Under ThreadSanitizer a thief touching the job after its
// release shows as a race with the owner's next frame on the same stack; under ASan as stack-use-after-scope.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <random>
#include <stdexcept>
#include <taskforge/taskforge.hpp>
#include <vector>

#include "../support/catch.hpp"
#include "../support/sanitizers.hpp"

namespace {

struct leaf_failure : std::runtime_error {
    leaf_failure() : std::runtime_error("leaf failed") {}
};

void spin(std::uint32_t iterations) {
    for (std::uint32_t i = 0; i < iterations; ++i) {
        std::atomic_signal_fence(std::memory_order_seq_cst);  // keeps the loop
    }
}

constexpr int depth = 8;
constexpr std::size_t leaves_per_tree = std::size_t{1} << depth;

// Returns the number of leaves under a node. `path` numbers the leaves 0 .. 2^depth - 1; the seed decides each
// leaf's spin and whether it throws (deterministic per round).
long random_tree(std::uint64_t seed, std::size_t path, int level, std::vector<std::atomic<int>>& visits) {
    if (level == 0) {
        std::mt19937_64 random(seed * 1'000'003 + path);
        visits[path - leaves_per_tree].fetch_add(1, std::memory_order_relaxed);
        spin(static_cast<std::uint32_t>(random() % 400));
        if (random() % 997 == 0) throw leaf_failure();
        return 1;
    }
    auto [left, right] = taskforge::join([&] { return random_tree(seed, path * 2, level - 1, visits); },
                                         [&] { return random_tree(seed, path * 2 + 1, level - 1, visits); });
    return left + right;
}

}  // namespace

TEST_CASE("seeded join trees: every leaf exactly once, exceptions reach the root, no frame outlived",
          "[join][stress]") {
    const int rounds = TASKFORGE_TEST_TSAN || TASKFORGE_TEST_ASAN ? 60 : 300;
    for (const std::size_t threads : {std::size_t{2}, std::size_t{4}}) {
        taskforge::scheduler pool{taskforge::options{.threads = threads}};
        int failed_rounds = 0;
        int wrong_rounds = 0;
        for (int round = 0; round < rounds; ++round) {
            const auto seed = static_cast<std::uint64_t>(round) * 7919 + threads;
            std::vector<std::atomic<int>> visits(leaves_per_tree);
            bool failed = false;
            try {
                const long leaves = pool.spawn([&visits, seed] { return random_tree(seed, 1, depth, visits); }).get();
                if (leaves != static_cast<long>(leaves_per_tree)) ++wrong_rounds;
            } catch (const leaf_failure&) {
                failed = true;
                ++failed_rounds;
            }
            for (auto& count : visits) {
                // A successful round visits every leaf once; a failed one never twice (a half that was not
                // stolen is skipped when its sibling threw).
                const int seen = count.load();
                if (seen > 1 || (!failed && seen != 1)) ++wrong_rounds;
            }
        }
        INFO("threads " << threads << ", seeds 7919*round+threads: " << failed_rounds << " rounds threw");
        CHECK(wrong_rounds == 0);
        CHECK(failed_rounds > 0);       // the exception path was exercised
        CHECK(failed_rounds < rounds);  // and the normal one
    }
}

namespace {

// Where a join half sits in its tree: which tree, how deep, and the left/right turns from the root (a leading 1,
// then one bit per level). Half `a` is an ancestor of half `b` iff same tree, shallower, and a's turns prefix b's.
struct half_position {
    int tree;
    int level;
    std::uint64_t turns;
    bool is_ancestor_of(const half_position& other) const {
        return tree == other.tree && level < other.level && (other.turns >> (other.level - level)) == turns;
    }
};

// The halves running on this thread, outermost first.
thread_local std::vector<half_position> running_halves;
std::atomic<long> unrelated_below{0};

// A join tree whose every half checks, as it starts, that each half already running on its thread is one of its
// ancestors: the user-visible form of the waiting rule [W1] (a waiter runs only work it waits for) for a program
// made of joins only — leapfrogging included (leapfrog.hpp [L1]-[L4]).
void checked_tree(const half_position& here, int levels, std::uint32_t leaf_spin) {
    for (const half_position& below : running_halves) {
        if (!below.is_ancestor_of(here)) unrelated_below.fetch_add(1, std::memory_order_relaxed);
    }
    running_halves.push_back(here);
    if (here.level < levels) {
        taskforge::join(
            [&] {
                checked_tree({here.tree, here.level + 1, here.turns * 2}, levels, leaf_spin);
            },
            [&] {
                checked_tree({here.tree, here.level + 1, here.turns * 2 + 1}, levels, leaf_spin);
            });
        spin(leaf_spin * 8);  // work after the join too: the frame stays on its stack while others leapfrog
    } else {
        spin(leaf_spin);
    }
    running_halves.pop_back();
}

}  // namespace

TEST_CASE("a join half only ever starts on top of its own ancestors, with many trees in flight", "[join][stress]") {
    const int batches = TASKFORGE_TEST_TSAN || TASKFORGE_TEST_ASAN ? 20 : 150;
    for (const std::size_t threads : {std::size_t{3}, std::size_t{8}}) {
        taskforge::scheduler pool{taskforge::options{.threads = threads}};
        std::mt19937 random(static_cast<std::uint32_t>(threads));
        int tree = 0;
        for (int batch = 0; batch < batches; ++batch) {
            taskforge::task_group group{pool};
            for (int i = 0; i < 32; ++i) {
                const half_position root{++tree, 0, 1};
                const int levels = 1 + static_cast<int>(random() % 7);
                const auto leaf_spin = static_cast<std::uint32_t>(random() % 2000);
                group.spawn([root, levels, leaf_spin] { checked_tree(root, levels, leaf_spin); });
            }
            group.wait();
        }
        INFO("threads " << threads);
        CHECK(unrelated_below.load() == 0);
    }
}
