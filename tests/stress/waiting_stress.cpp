// Seeded, racing stress of waiting (issue 9): group waits from several threads at once — outside threads and
// workers of another pool — racing spawns from outside threads and from the group's own tasks, with throwing tasks;
// and random fork-join trees whose nodes wait across three pools (handles, groups, deadline waits, waits on a
// sibling, chains of up to 300 cross-pool hops).
//
// Every round prints its seed; a failure names it (INFO). A hang is caught by the watchdog (support/watchdog.hpp),
// which names the test and the seed's step. Volume: TASKFORGE_STRESS_SCALE (environment, default 1) multiplies the
// rounds; sanitizer builds run fewer trees.
//
// Bound the contract imposes on the workload: a pool starts at most 256 spare threads for blocked waits, so the
// forest never has more than ~230 waits open per pool (see cross_pool_forest).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <iterator>
#include <mutex>
#include <random>
#include <string>
#include <taskforge/taskforge.hpp>
#include <thread>
#include <utility>
#include <vector>

#include "../support/catch.hpp"
#include "../support/sanitizers.hpp"
#include "../support/stress_scale.hpp"
#include "../support/watchdog.hpp"

using namespace std::chrono_literals;

namespace {

using clock_type = std::chrono::steady_clock;

void spin(unsigned long rounds) {
    for (unsigned long i = 0; i < rounds; ++i) std::atomic_signal_fence(std::memory_order_seq_cst);
}

// ---------------------------------------------------------------------------------------------------------------
// Concurrent group waits vs spawns.
// ---------------------------------------------------------------------------------------------------------------

struct numbered_error {
    long id;
};

struct group_race_result {
    std::uint64_t seed;
    long spawned;
    long ran;
    long thrown;
    long caught;
    std::ptrdiff_t duplicates;  // an exception delivered to more than one waiter
    long waits;
};

class group_race {
public:
    explicit group_race(std::uint64_t seed) : seed_(seed) {}

    // `outside_waiters` threads and `worker_waiters` workers of another pool loop on wait() while `spawners`
    // outside threads (and the group's own tasks) spawn. A lone outside waiter is the case that hung on old code
    // (other waiters re-arm the wake-up for it); several waiters are the case that shared the exception.
    group_race_result run(std::chrono::milliseconds duration, int outside_waiters, int worker_waiters, int spawners) {
        taskforge::scheduler pool{taskforge::options{.threads = 2}};
        taskforge::scheduler waiters_pool{taskforge::options{.threads = 2}};
        taskforge::task_group group{pool};
        group_ = &group;
        std::atomic<bool> stop_waiting{false};
        auto wait_loop = [&] {
            while (!stop_waiting.load()) wait_once();
        };
        std::vector<std::thread> waiters;
        for (int w = 0; w < outside_waiters; ++w) waiters.emplace_back(wait_loop);
        std::vector<taskforge::task_handle<void>> worker_waiting;
        for (int w = 0; w < worker_waiters; ++w) worker_waiting.push_back(waiters_pool.spawn(wait_loop));
        const auto end = clock_type::now() + duration;
        std::vector<std::thread> spawning;
        for (int s = 0; s < spawners; ++s) {
            spawning.emplace_back([this, s, end] {
                std::mt19937_64 random(seed_ * 1000 + static_cast<std::uint64_t>(s));
                // Small bursts and short pauses: the count keeps dropping to zero while waiters sleep on it and
                // the next spawn lands — the windows of the lost wake-up and of the shared exception.
                while (clock_type::now() < end) {
                    const auto burst = 1 + random() % 3;
                    for (unsigned long i = 0; i < burst; ++i) spawn_task(random(), 2);
                    switch (random() % 8) {
                        case 0:
                        case 1:
                        case 2:
                        case 3:
                            std::this_thread::sleep_for(std::chrono::microseconds(random() % 100));
                            break;
                        case 4:
                            std::this_thread::yield();
                            break;
                        default:
                            spin(random() % 1000);
                            break;
                    }
                }
            });
        }
        for (auto& spawner : spawning) spawner.join();
        stop_waiting.store(true);
        for (auto& waiter : waiters) waiter.join();
        for (auto& waiter : worker_waiting) waiter.get();
        wait_once();  // whatever the group's own tasks spawned last, and an exception still pending
        wait_once();
        std::sort(caught_ids_.begin(), caught_ids_.end());
        const auto unique_end = std::unique(caught_ids_.begin(), caught_ids_.end());
        const std::ptrdiff_t duplicates = caught_ids_.end() - unique_end;
        return {seed_,      spawned_.load(), ran_.load(), thrown_.load(), static_cast<long>(caught_ids_.size()),
                duplicates, waits_.load()};
    }

private:
    void wait_once() {
        try {
            group_->wait();
        } catch (const numbered_error& error) {
            std::lock_guard lock(caught_mutex_);
            caught_ids_.push_back(error.id);
        }
        waits_.fetch_add(1);
    }

    void spawn_task(std::uint64_t task_seed, int depth) {
        spawned_.fetch_add(1);
        group_->spawn([this, task_seed, depth] { task(task_seed, depth); });
    }

    // A task of the group: a little work, sometimes children in the same group, sometimes an exception.
    void task(std::uint64_t task_seed, int depth) {
        std::mt19937_64 random(task_seed);
        ran_.fetch_add(1);
        spin(random() % 400);
        if (depth > 0 && random() % 8 == 0) {
            const auto children = 1 + random() % 2;
            for (unsigned long c = 0; c < children; ++c) spawn_task(random(), depth - 1);
        }
        if (random() % 30 == 0) {
            thrown_.fetch_add(1);
            throw numbered_error{next_error_.fetch_add(1)};
        }
    }

    std::uint64_t seed_;
    taskforge::task_group* group_ = nullptr;
    std::atomic<long> spawned_{0};
    std::atomic<long> ran_{0};
    std::atomic<long> thrown_{0};
    std::atomic<long> waits_{0};
    std::atomic<long> next_error_{0};
    std::mutex caught_mutex_;
    std::vector<long> caught_ids_;
};

// ---------------------------------------------------------------------------------------------------------------
// Random nested waits across three pools.
// ---------------------------------------------------------------------------------------------------------------

// What one node does, decided by its seed alone, so the expected node count can be replayed serially.
struct node_plan {
    unsigned long work;
    int children;
    bool use_group;
    std::size_t group_pool;
    std::size_t child_pool[3];
    bool deadline_waits;  // handles: wait for each child with wait_for(1ms) in a loop before get()
    bool sibling_waits;   // handles: child k first waits on child k - 1's handle (acyclic, not a tree)
    std::uint64_t child_seed[3];
};

node_plan make_plan(std::uint64_t seed, int depth, std::size_t pools) {
    std::mt19937_64 random(seed);
    node_plan plan{};
    plan.work = random() % 2000;
    plan.children = depth > 0 ? static_cast<int>(random() % 4) : 0;
    plan.use_group = random() % 2 == 0;
    plan.group_pool = random() % pools;
    for (std::size_t c = 0; c < 3; ++c) {
        plan.child_pool[c] = random() % pools;
        plan.child_seed[c] = random();
    }
    plan.deadline_waits = random() % 8 == 0;
    plan.sibling_waits = random() % 4 == 0;
    return plan;
}

long expected_nodes(std::uint64_t seed, int depth, std::size_t pools) {
    const node_plan plan = make_plan(seed, depth, pools);
    long total = 1;
    for (int c = 0; c < plan.children; ++c) {
        total += expected_nodes(plan.child_seed[static_cast<std::size_t>(c)], depth - 1, pools);
    }
    return total;
}

// Trees of nodes spread over pools a, b, c (1, 2 and 1 workers); a root may first run a chain of spawn + get that
// alternates between a and c. Blocked waits open at once, per pool, stay within 1 worker + 256 spares: a chain
// of at most 300 hops (150 per pool, only one chain at a time) plus two trees of depth <= 3, whose at most
// 2 x 40 nodes have at most one wait open each.
class cross_pool_forest {
public:
    explicit cross_pool_forest(std::vector<taskforge::scheduler*> pools) : pools_(std::move(pools)) {}

    // Runs a tree from the calling (outside) thread; returns its node count, chain hops included.
    long grow(std::uint64_t seed, int depth, int chain_hops) {
        const node_plan plan = make_plan(seed, depth, pools_.size());
        return pools_[plan.group_pool]
            ->spawn([this, seed, depth, chain_hops] { return chain(chain_hops) + node(seed, depth); })
            .get();
    }

private:
    long chain(int remaining) {
        if (remaining == 0) return 0;
        taskforge::scheduler& next = *pools_[remaining % 2 == 0 ? 0 : 2];
        return next.spawn([this, remaining] { return chain(remaining - 1); }).get() + 1;
    }

    long node(std::uint64_t seed, int depth) {
        const node_plan plan = make_plan(seed, depth, pools_.size());
        spin(plan.work);
        long total = 1;
        if (plan.children == 0) return total;
        if (plan.use_group) {
            std::atomic<long> sum{0};
            taskforge::task_group group{*pools_[plan.group_pool]};
            for (int c = 0; c < plan.children; ++c) {
                const std::uint64_t child_seed = plan.child_seed[static_cast<std::size_t>(c)];
                group.spawn([this, child_seed, depth, &sum] { sum.fetch_add(node(child_seed, depth - 1)); });
            }
            group.wait();
            return total + sum.load();
        }
        std::vector<taskforge::task_handle<long>> children;
        children.reserve(3);  // the children below hold pointers to their older siblings' handles
        for (int c = 0; c < plan.children; ++c) {
            const auto index = static_cast<std::size_t>(c);
            const std::uint64_t child_seed = plan.child_seed[index];
            const taskforge::task_handle<long>* older =
                plan.sibling_waits && index > 0 ? &children[index - 1] : nullptr;
            children.push_back(pools_[plan.child_pool[index]]->spawn([this, child_seed, depth, older] {
                if (older != nullptr) older->wait();
                return node(child_seed, depth - 1);
            }));
        }
        // Youngest first: a child that waits on its older sibling has finished that wait before the parent
        // consumes the older handle.
        for (auto child = children.rbegin(); child != children.rend(); ++child) {
            if (plan.deadline_waits) {
                while (child->wait_for(1ms) == std::future_status::timeout) {
                }
            }
            total += child->get();
        }
        return total;
    }

    std::vector<taskforge::scheduler*> pools_;
};

}  // namespace

TEST_CASE("seeded: group waits from up to 4 threads at once race spawns from outside and from the group's tasks",
          "[stress][waiting]") {
    TASKFORGE_WATCHDOG();
    struct mix {
        int outside_waiters;
        int worker_waiters;
        int spawners;
    };
    constexpr mix mixes[] = {{1, 0, 1}, {2, 0, 2}, {2, 2, 2}, {1, 1, 2}};
    const long rounds = 4 * stress_scale();
    for (long round = 0; round < rounds; ++round) {
        const auto seed = static_cast<std::uint64_t>(round + 1);
        const mix& config = mixes[static_cast<std::size_t>(round) % std::size(mixes)];
        taskforge_watchdog.step("group race round");
        group_race race(seed);
        const group_race_result result =
            race.run(500ms, config.outside_waiters, config.worker_waiters, config.spawners);
        std::printf(
            "group race seed %llu (%d outside + %d worker waiters, %d spawners): %ld tasks, %ld waits, "
            "%ld thrown, %ld caught\n",
            static_cast<unsigned long long>(result.seed), config.outside_waiters, config.worker_waiters,
            config.spawners, result.spawned, result.waits, result.thrown, result.caught);
        INFO("seed " << result.seed);
        CHECK(result.ran == result.spawned);
        CHECK(result.duplicates == 0);  // each exception reaches one waiter at most
        CHECK(result.caught <= result.thrown);
        if (result.thrown > 0) CHECK(result.caught > 0);
    }
}

TEST_CASE("seeded: random trees of nested waits across three pools all complete with the right node counts",
          "[stress][waiting][nested]") {
    TASKFORGE_WATCHDOG();
    const long rounds = 2 * stress_scale();
    const int trees_per_thread = taskforge_test::under_sanitizer ? 15 : 60;
    for (long round = 0; round < rounds; ++round) {
        const auto seed = static_cast<std::uint64_t>(100 + round);
        taskforge_watchdog.step("cross-pool forest round");
        taskforge::scheduler a{taskforge::options{.threads = 1, .stack_size = std::size_t{8} << 20}};
        taskforge::scheduler b{taskforge::options{.threads = 2, .stack_size = std::size_t{8} << 20}};
        taskforge::scheduler c{taskforge::options{.threads = 1, .stack_size = std::size_t{8} << 20}};
        cross_pool_forest forest({&a, &b, &c});
        std::atomic<long> wrong{0};
        std::atomic<long> nodes{0};
        std::atomic<long> chains{0};
        std::mutex errors_mutex;
        std::vector<std::string> errors;
        std::vector<std::thread> growers;
        for (int t = 0; t < 2; ++t) {
            growers.emplace_back([&, t] {
                std::mt19937_64 random(seed * 77 + static_cast<std::uint64_t>(t));
                for (int tree = 0; tree < trees_per_thread; ++tree) {
                    const std::uint64_t tree_seed = random();
                    const int depth = 1 + static_cast<int>(random() % 3);
                    // Grower 0 only: one chain at a time. Every tenth tree's chain is 260-300 hops (past the old
                    // 128-per-worker limit on both 1-worker pools); others are short or absent.
                    int hops = 0;
                    if (t == 0 && tree % 10 == 3) {
                        hops = 260 + static_cast<int>(random() % 41);
                    } else if (t == 0 && random() % 3 == 0) {
                        hops = static_cast<int>(random() % 60);
                    }
                    try {
                        const long got = forest.grow(tree_seed, depth, hops);
                        nodes.fetch_add(got);
                        chains.fetch_add(hops);
                        if (got != expected_nodes(tree_seed, depth, 3) + hops) wrong.fetch_add(1);
                    } catch (const std::exception& error) {
                        std::lock_guard lock(errors_mutex);
                        errors.emplace_back(error.what());
                    }
                }
            });
        }
        for (auto& grower : growers) grower.join();
        std::printf("cross-pool forest seed %llu: %ld nodes, %ld chain hops\n", static_cast<unsigned long long>(seed),
                    nodes.load(), chains.load());
        INFO("seed " << seed << "; first error: " << (errors.empty() ? std::string("none") : errors.front()));
        CHECK(errors.empty());  // e.g. resource_deadlock_would_occur from a sibling wait (old code)
        CHECK(wrong.load() == 0);
    }
}
