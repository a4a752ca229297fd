// taskforge/detail/levels.hpp — priority levels inside the runtime: the lanes they map to, and the picker that
// keeps lower levels from starving.
//
// Each worker has one deque per level (worker.hpp: `high_lane`, `deque` for normal, `low_lane`) and the runtime one
// injection queue per level; the normal lane and queue are the ones every other mechanism (join, waiting,
// leapfrogging) has always used, so a pool that never sees another level runs exactly as before. Invariants:
//   [Y1] A job sits in the lane or queue of the level it was spawned at, and moves only between lanes and queues
//        of that level (batches from a queue, steals, retirement, a guest's hand-back). So the level a worker
//        took a job from is the job's level, and no job needs to carry it.
//   [Y2] A worker's choice among the levels that have work (own lanes and injection queues) is made by
//        level_picker: the highest level, except that after `starvation_limit` consecutive choices of other
//        levels while a lower level had work all along, the next choice is that level (low first). So while low
//        work waits, at most 32 choices in a row go elsewhere: at least 1 in 33 is low; normal
//        gets at least 1 in 34 (an overdue low may go first).
//   [Y3] `worker::level` is the level of the job the worker runs: the level that spawn() without one inherits
//        (scheduler.hpp). The loop (runtime.hpp, next_job and what it calls) sets it for each job it takes; a wait
//        that runs a job it took from a lane or queue sets it for that job and restores its own after
//        (runtime::run_at). A task claimed in place by a waiter (task_frame.hpp [S5]) runs at the waiter's level:
//        where it was queued is not known there.
//   [Y4] Nothing about levels decides whether a job is found, only when: every place that looks for work before
//        sleeping or exiting (runtime.hpp any_work_visible, drained) looks at every lane and queue.
#pragma once

#include <cstdint>
#include <stdexcept>

#include "../priority.hpp"

namespace taskforge::detail {

inline constexpr int level_count = 3;

// spawn() without a level: the running task's level on one of the pool's workers, else normal [Y3].
inline constexpr priority inherit_level = static_cast<priority>(level_count);

// A level given by a caller, checked: a value outside the enumeration (a cast) throws std::invalid_argument
// rather than picking a lane by accident.
inline priority checked_level(priority level) {
    if (static_cast<unsigned>(level) >= static_cast<unsigned>(level_count)) {
        throw std::invalid_argument("taskforge: a priority must be priority::high, priority::normal or priority::low");
    }
    return level;
}

inline constexpr unsigned level_bit(priority level) noexcept { return 1U << static_cast<unsigned>(level); }

// Worker only (its own counters) [Y2]. `waiting` has level_bit(L) set for each level L with work.
class level_picker {
public:
    static constexpr std::uint32_t starvation_limit = 32;

    // The level to take from next; `waiting` must not be 0.
    priority pick(unsigned waiting) const noexcept {
        if (overdue(priority::low, waiting)) return priority::low;
        if (overdue(priority::normal, waiting)) return priority::normal;
        if ((waiting & level_bit(priority::high)) != 0) return priority::high;
        return (waiting & level_bit(priority::normal)) != 0 ? priority::normal : priority::low;
    }

    // After taking a job at `taken` while the levels of `waiting` had work: a level passed over while it waited
    // counts one more; a level taken, or with nothing waiting, starts again from zero.
    void note(priority taken, unsigned waiting) noexcept {
        for (priority level : {priority::normal, priority::low}) {
            std::uint32_t& passed = passed_[static_cast<unsigned>(level) - 1];
            passed = level != taken && (waiting & level_bit(level)) != 0 ? passed + 1 : 0;
        }
    }

    // After taking a job at normal while no other level had work: note(normal, level_bit(normal)), cheaper.
    void reset() noexcept { passed_[0] = passed_[1] = 0; }

private:
    bool overdue(priority level, unsigned waiting) const noexcept {
        return (waiting & level_bit(level)) != 0 && passed_[static_cast<unsigned>(level) - 1] >= starvation_limit;
    }

    std::uint32_t passed_[2] = {0, 0};  // normal, low: choices in a row of another level while this one waited
};

}  // namespace taskforge::detail
