// taskforge/detail/job.hpp — the type-erased unit of work that every queue carries.
//
// A job is one record {execute, next}: the queues (worker deques, the injection queue) hold `job*` and know
// nothing else. A heap task frame (task_frame.hpp) is a job; so can be a record on a caller's stack (the planned
// `join`), which is why the queues do not assume heap frames.
//
// Contract: `execute(job)` is called exactly once per push, by exactly one thread, and may free the job before
// returning (a task frame recycles itself). Nobody touches the job after calling `execute`.
#pragma once

#include "platform.hpp"

namespace taskforge::detail {

struct job {
    using execute_function = void (*)(job*) noexcept;

    explicit job(execute_function function, const void* owner = nullptr) noexcept : execute(function), family(owner) {}

    execute_function execute;
    // What a waiting worker compares to decide whether it may run this job on top of its wait (waiting.hpp): the
    // group_state of a task_group's task, &task_family for a task with a handle (the waiter compares the job
    // itself), &join_family for a join's stack job (a leapfrogging waiter runs only those: join.hpp).
    const void* family;
    // Link for the injection queue (injection_queue.hpp); unused while the job sits in a worker's deque. A job in
    // no queue may use it too: a continuation waiting in its predecessor's list (task_frame.hpp [S7]), and a
    // refused continuation waiting to run as cancelled (runtime.hpp, run_refused).
    std::atomic<job*> next{nullptr};
};

// The family of every task frame (task_frame.hpp): lets a waiting worker recognise a frame that a waiter already
// claimed, whose queued job only drops the queue's reference (runtime.hpp, pop_own_if).
inline constexpr char task_family = 0;

// The family of every join's stack job (stack_job.hpp).
inline constexpr char join_family = 0;

inline void run(job* work) noexcept { work->execute(work); }

}  // namespace taskforge::detail
