/// @file
/// taskforge/errors.hpp — the exceptions taskforge throws besides std::future_error.
///
///   * task_cancelled    — get() on a task that cancel() stopped before it started.
///   * scheduler_closed  — spawn() on a scheduler after shutdown() began (from a thread that is not one of its
///                         workers; running tasks may still spawn their children).
///
/// Other misuse is reported with standard exceptions, like std::future and std::thread do:
///   * std::future_error(no_state)                       — wait/get/cancel on an empty, moved-from or consumed
///                                                         handle;
///   * std::system_error(resource_deadlock_would_occur)  — a task waiting on itself (or on a task below it on its
///                                                         own worker's stack), shutdown() from one of the pool's
///                                                         workers;
///   * std::invalid_argument                             — an absurd options::threads value.
#pragma once

#include <stdexcept>

namespace taskforge {

/// Thrown for work that was cancelled. task_handle::get() (and awaiting a handle) throws it for a task that
/// cancel() or request_stop() stopped before it started; task_group::wait() throws it after task_group::cancel().
class task_cancelled : public std::runtime_error {
public:
    /// An exception whose what() says that the work was cancelled before it could complete.
    task_cancelled()
        : std::runtime_error(
              "taskforge: cancelled (task_handle::cancel or request_stop before it started, task_group::cancel, or a "
              "cancelled predecessor)") {}
};

/// Thrown when a scheduler is shut down and refuses the work asked of it. spawn() throws it after the scheduler's
/// shutdown() began (from a thread that is not one of its workers), default_scheduler() after the default scheduler
/// was destroyed at exit, and a wait that nobody could ever finish (an unfinished task of a scheduler inherited
/// across fork()).
class scheduler_closed : public std::runtime_error {
public:
    /// An exception whose what() says that a spawn hit a scheduler that is shut down.
    scheduler_closed() : std::runtime_error("taskforge: spawn on a scheduler that is shut down") {}
};

}  // namespace taskforge
