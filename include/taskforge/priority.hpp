/// @file
/// taskforge/priority.hpp — task priorities: three levels a task can be spawned at.
///
/// @code
///   pool.spawn(taskforge::priority::high, on_order, order);          // taken before normal and low work
///   taskforge::task_group batch{pool, taskforge::priority::low};     // every task of the group at low
/// @endcode
///
/// What a priority does
///   * A worker looking for its next task takes the highest level that has work: first its own queue of that
///     level, then the pool's queue of tasks spawned from outside at that level; only when neither holds work at
///     any level does it steal, and from each victim it takes the highest level the victim holds.
///   * No starvation: after 32 consecutive tasks taken at higher levels while lower-level work waited in the
///     worker's own queues or the pool's, the worker takes one task of the next lower level that has work. Under a
///     continuous stream of high-priority work, low-priority tasks still get at least 1 in 33 of a worker's
///     dequeues.
///   * Children inherit: `spawn(f)` (no level) from inside a running task uses that task's level; from any other
///     thread, `priority::normal`. A task_group made with a level spawns its tasks at that level. A coroutine
///     spawned at a level resumes at it after every `co_await` (on a handle or `pool.schedule()`).
///
/// What it does not do
///   * Nothing preempts a running task: a high-priority task waits for a worker to finish its current task (the
///     latency probe in bench/priority_bench.cpp measures this).
///   * It orders taking, not finishing: a low task taken before a high one was spawned runs on.
///   * join(), parallel_invoke() and the parallel loops queue their halves at normal level: they are pieces of the
///     running task, which is waiting for them. Wherever a half runs (stolen or not), it runs at that task's level,
///     so what it spawns inherits the task's level.
///   * A task that a waiting thread claims and runs inline while it still sits in another worker's queue (or the
///     pool's) runs at the waiter's level; one the waiter pops from its own queue of some level runs at that level.
///   * The bound on starvation counts a worker's own queues and the pool's; work queued on other workers is
///     stolen only when a worker has nothing at any level.
///   * With priorities unused (every task at normal) nothing changes: the per-level queues stay empty and cost a
///     few loads of unshared cache lines per search.
#pragma once

#include <cstdint>

namespace taskforge {

/// The level a task is spawned at. Higher levels are taken first; see priority.hpp for the guarantees.
enum class priority : std::uint8_t {
    high = 0,    ///< Taken before normal and low work.
    normal = 1,  ///< The default.
    low = 2,     ///< Taken when no higher-level work waits (but never starved: see priority.hpp).
};

}  // namespace taskforge
