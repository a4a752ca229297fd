// taskforge/taskforge.hpp — the only include a user needs.
//
// taskforge is a header-only C++20 work-stealing task library:
//   scheduler.hpp    scheduler, options, spawn(), default_scheduler()
//   task_handle.hpp  task_handle<T> (like std::future<T>), task_status
//   task_group.hpp   task_group: fork-join without a handle per task
//   join.hpp         join(f, g), parallel_invoke(f...): fork-join on the caller's stack, no allocation
//   parallel_for.hpp parallel_for, parallel_for_each: loops over indices and random-access ranges
//   parallel_reduce.hpp parallel_reduce: reductions, like std::transform_reduce
//   partition.hpp    min_chunk, static_partition: how the loops cut their range
//   errors.hpp       task_cancelled, scheduler_closed
//   deque.hpp        chase_lev_deque<T>: the lock-free work-stealing deque, usable on its own
// Everything under detail/ is machinery and may change.
#pragma once

#include "deque.hpp"
#include "errors.hpp"
#include "join.hpp"
#include "options.hpp"
#include "parallel_for.hpp"
#include "parallel_reduce.hpp"
#include "partition.hpp"
#include "scheduler.hpp"
#include "task_group.hpp"
#include "task_handle.hpp"

namespace taskforge {
inline constexpr int version_major = 0;
inline constexpr int version_minor = 1;
inline constexpr int version_patch = 0;
}  // namespace taskforge
