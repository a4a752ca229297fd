/// @file
/// taskforge/metrics.hpp — what each worker of a scheduler has done: scheduler::metrics().
///
/// @code
///   taskforge::pool_metrics m = pool.metrics();      // any thread, any time
///   for (const auto& w : m.workers) std::printf("%llu tasks, %llu steals\n", w.tasks_run, w.steals);
///   auto all = m.total();
/// @endcode
///
/// Compiled in only with -DTASKFORGE_METRICS=1 in every translation unit (CMake: -DTASKFORGE_METRICS=ON);
/// otherwise nothing is counted and every field reads 0 (README, "Seeing what the pool does", says why).
/// Each worker counts in plain integers of its own (no atomic read-modify-write on the hot path) and publishes
/// them for readers every 256 tasks and whenever it parks, blocks in a wait, leaves a guest slot or exits, as
/// Tokio's runtime metrics do. So a snapshot is "consistent enough": every number is one its worker published,
/// counters only grow, steals <= steal_attempts always holds, and a worker that is parked, blocked or gone shows
/// exact numbers; one that is running or searching may lag (up to 256 tasks, or until it parks). Fields are not
/// read at one instant across workers.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace taskforge {

/// Which kind of worker slot a record describes.
enum class worker_role {
    worker,  ///< one of the options::threads workers
    guest,   ///< a guest slot: outside threads that helped while they waited (options::guest_slots)
    spare    ///< a spare worker that stood in for a blocked one (or the last spare of that slot)
};

/// What one worker slot of a scheduler has done: an element of pool_metrics::workers. Every counter reads 0
/// unless metrics are compiled in (TASKFORGE_METRICS=1, see metrics.hpp).
struct worker_metrics {
    /// Which kind of slot this is.
    worker_role role = worker_role::worker;
    std::size_t index = 0;              ///< the slot: workers first, then guest slots, then spares
    std::uint64_t tasks_run = 0;        ///< task bodies run here: spawned tasks, group tasks, continuations, and
                                        ///< join halves (loop pieces) this slot stole; inline join halves are not
    std::uint64_t local_pops = 0;       ///< jobs its scheduling loop took from its own deque
    std::uint64_t injected_taken = 0;   ///< jobs taken from the queue of outside spawns
    std::uint64_t steal_attempts = 0;   ///< steals tried on other slots' deques (empty and lost races included)
    std::uint64_t steals = 0;           ///< of those, the ones that took a job
    std::uint64_t parks = 0;            ///< times it went to sleep with nothing to do
    std::uint64_t wakeups = 0;          ///< times a sleeping worker was woken for work
    std::uint64_t max_deque_depth = 0;  ///< the most jobs its deque held (seen at a push)
};

/// A snapshot of what each worker slot of a scheduler has done: scheduler::metrics(). See metrics.hpp for how
/// consistent the numbers are.
struct pool_metrics {
    std::vector<worker_metrics> workers;  ///< every slot created so far, in slot order

    /// The fields summed over every slot; max_deque_depth is the largest of theirs.
    worker_metrics total() const {
        worker_metrics sum;
        for (const worker_metrics& one : workers) {
            sum.tasks_run += one.tasks_run;
            sum.local_pops += one.local_pops;
            sum.injected_taken += one.injected_taken;
            sum.steal_attempts += one.steal_attempts;
            sum.steals += one.steals;
            sum.parks += one.parks;
            sum.wakeups += one.wakeups;
            sum.max_deque_depth = std::max(sum.max_deque_depth, one.max_deque_depth);
        }
        return sum;
    }
};

}  // namespace taskforge
