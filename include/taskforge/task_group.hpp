/// @file
/// taskforge/task_group.hpp — fork-join without a handle per task.
///
/// @code
///   taskforge::task_group group{pool};
///   for (auto& item : items) group.spawn(process, std::ref(item));
///   group.wait();   // runs the group's own queued tasks or blocks; then rethrows the first exception, if any
/// @endcode
///
/// Contract
///   * spawn() is thread-safe: from the owner, from other threads, and from the group's own tasks, also while wait()
///     runs on another thread. It throws scheduler_closed (and runs nothing) after the pool's shutdown began, unless
///     called from one of the pool's running tasks.
///   * wait() returns once the group's count of unfinished tasks was zero at some moment after the call began
///     (tasks spawned concurrently may or may not be covered); it never sleeps through such a moment. On a worker
///     of the group's pool it runs the group's tasks found on top of its own deque, and nothing unrelated
///     (detail/waiting.hpp); otherwise it blocks while the pool stands in a spare worker for it.
///   * Several threads may wait() at once. If tasks threw, exactly one of the waiters that return afterwards (the
///     first to look) rethrows the first exception; the others return normally. Later exceptions of the round are
///     dropped, and the group is clean for reuse.
///   * wait() from inside one of the group's own tasks (at any depth on that thread) would wait for itself: it
///     throws std::system_error(resource_deadlock_would_occur).
///   * The destructor waits if wait() was not called; an exception it would have rethrown goes to the pool's
///     options::on_unhandled_exception (copied when the group was made).
///   * A group may outlive its scheduler: after the scheduler is destroyed (which ran every accepted task), wait()
///     and the destructor are still fine; spawn() is not (the scheduler reference dangles).
///   * cancel() (thread-safe, also from the group's tasks) skips the group's tasks that have not started, now or
///     spawned later, and requests a stop on the std::stop_token of those that take one (a callable that can take a
///     std::stop_token first gets the group's). wait() then throws task_cancelled (instead of an exception a task
///     threw), once every task that did start has finished. A group stays cancelled. A group made inside a task of
///     another group sees that group's cancellation too: its tasks are skipped and its wait() throws
///     task_cancelled — never returns as if all its work had run. "Inside" covers the task's own code and the
///     join halves and loop pieces forked from it, wherever they run; not tasks spawned from it (they may outlive
///     it). Such an inner group must end (be destroyed) before the task that made it returns. The destructor does
///     not report a cancellation.
///   * A coroutine waits for a group with `co_await group` (task.hpp): the same rule as wait(), without blocking a
///     thread.
#pragma once

#include <coroutine>
#include <cstddef>
#include <exception>
#include <system_error>
#include <type_traits>
#include <utility>

#include "detail/group_frame.hpp"
#include "detail/waiting.hpp"
#include "scheduler.hpp"

namespace taskforge {

namespace detail {
class group_awaiter;  // task.hpp
}  // namespace detail

/// A set of tasks spawned on one scheduler and waited for together, without a handle per task. See task_group.hpp
/// for the contract (thread safety, exceptions, cancellation, nesting).
class task_group {
public:
    /// An empty group whose tasks run on `pool`. Made inside a task of another group, it nests in that group: it sees
    /// that group's cancellation, and must be destroyed before that task returns.
    explicit task_group(scheduler& pool) noexcept : task_group(pool, detail::inherit_level, nullptr) {}

    /// As task_group(pool), but its tasks run at `level` unless spawn() is given another (priority.hpp).
    task_group(scheduler& pool, priority level) : task_group(pool, detail::checked_level(level), nullptr) {}
    task_group(const task_group&) = delete;             ///< Not copyable.
    task_group& operator=(const task_group&) = delete;  ///< Not copyable.

    /// Waits as wait() does; an exception wait() would have rethrown goes to options::on_unhandled_exception (a
    /// cancellation is not reported).
    ~task_group() {
        try {
            wait();
        } catch (const task_cancelled&) {  // asked for by cancel(): nothing to report
        } catch (...) {
            report_(std::current_exception());
        }
    }

    /// Chosen when f cannot be called with copies of the arguments: one error that names the fix (std::ref).
    template <class F, class... Args>
    requires(!detail::spawnable<F, Args...>) void spawn(F&&, Args&&...) { (void)detail::spawnable_check<F, Args...>{}; }

    /// Runs std::invoke(function, arguments...) on a worker of the group's scheduler, with decay-copies of both, as
    /// a task of this group; its result is dropped, its exception kept for wait(). A callable that can take a
    /// std::stop_token first gets the group's. Thread-safe; throws scheduler_closed (and runs nothing) after the
    /// scheduler's shutdown began, unless called from one of its running tasks.
    /// Its level is the group's (task_group(pool, level)); for a group made without one, the spawning task's, as
    /// scheduler::spawn (priority.hpp).
    template <class F, class... Args>
    requires detail::spawnable<F, Args...>
    void spawn(F&& function, Args&&... arguments) {
        spawn_at(level_, std::forward<F>(function), std::forward<Args>(arguments)...);
    }

    /// As spawn(function, arguments...), at `level` whatever the group's.
    template <class F, class... Args>
    requires detail::spawnable<F, Args...>
    void spawn(priority level, F&& function, Args&&... arguments) {
        spawn_at(detail::checked_level(level), std::forward<F>(function), std::forward<Args>(arguments)...);
    }

    /// Chosen when f cannot be called with copies of the arguments: one error that names the fix (std::ref).
    template <class F, class... Args>
    requires(!detail::spawnable<F, Args...>) void spawn(priority, F&&, Args&&...) {
        (void)detail::spawnable_check<F, Args...>{};
    }

    /// Returns once the group's count of unfinished tasks was zero at some moment after the call began; then
    /// rethrows the first exception a task threw (to one waiter), or throws task_cancelled if the group was
    /// cancelled. From inside one of the group's own tasks it throws std::system_error(resource_deadlock_would_occur).
    void wait() {
        if (!detail::group_state::no_tasks_left(state_.word().load(std::memory_order_acquire))) {
            detail::wait_for_group(state_, runtime_);  // acquire of zero inside: [G2]
        }
        conclude();
    }

    /// Skips the tasks not yet started and asks the running ones to stop; wait() then throws task_cancelled.
    void cancel() noexcept { state_.cancellation.cancel(); }

private:
    friend class detail::group_awaiter;  // co_await group (task.hpp)

    // After the count was seen at zero: rethrows the round's first exception (to one caller), or task_cancelled.
    void conclude() {
        std::exception_ptr error = state_.take_error();
        if (state_.cancellation.cancelled()) throw task_cancelled();  // [K1][K2]
        if (error) std::rethrow_exception(std::move(error));
    }

    task_group(scheduler& pool, priority level, std::nullptr_t) noexcept
        : pool_(pool),
          runtime_(pool.runtime_.get()),
          report_(runtime_->on_unhandled_exception()),
          level_(level),
          state_(enclosing_group()) {}

    template <class F, class... Args>
    void spawn_at(priority level, F&& function, Args&&... arguments) {
        static_assert(!detail::is_coroutine_task<detail::spawned_result_t<F, Args...>>::value,
                      "taskforge: task_group::spawn runs f and drops its result, so a coroutine function's task would "
                      "never start. Spawn it on the scheduler (pool.spawn(f) gives a task_handle to wait or "
                      "co_await), or wrap it: group.spawn([] { taskforge::sync_wait(f()); })");
        using frame_type = detail::group_frame<std::decay_t<F>, std::decay_t<Args>...>;
        state_.add();
        frame_type* frame = nullptr;
        try {
            frame = frame_type::create(state_, std::forward<F>(function), std::forward<Args>(arguments)...);
            pool_.submit(frame, level);
        } catch (...) {
            if (frame != nullptr) frame_type::discard(frame);
            state_.finish();
            throw;
        }
    }

    // The group whose task this code runs for, if any: a group made there nests in it [K2].
    static detail::group_state* enclosing_group() noexcept { return detail::enclosing_group::current(); }

    scheduler& pool_;           // used by spawn() only, so the group may outlive the scheduler
    detail::runtime* runtime_;  // compared, not read, by waits (detail/waiting.hpp)
    detail::exception_handler report_;
    priority level_;  // its tasks' level, or detail::inherit_level
    detail::group_state state_;
};

namespace detail {

// co_await group: suspends until the group's count was zero after the co_await began (group_state.hpp [G7][G8]).
class group_awaiter {
public:
    explicit group_awaiter(task_group& group) noexcept : group_(group) {}

    // Acquire: a zero seen here is the "done" of [G2] (the tasks' effects are visible).
    bool await_ready() const noexcept {
        return group_state::no_tasks_left(state().word().load(std::memory_order_acquire));
    }

    bool await_suspend(std::coroutine_handle<> awaiting) {
        worker* const here = current_worker;
        refuse_inherited_await(*group_.runtime_, here, [this] { return !await_ready(); });
        if (here != nullptr && here->pool == group_.runtime_) {
            help_group(*here, state());  // waiting.hpp [W1]: the group's tasks on top of our own lanes first
            if (await_ready()) return false;
        }
        if (running_group::includes_since_resumption(&state())) {  // waiting.hpp [W5]: a task of it drives us
            throw std::system_error(std::make_error_code(std::errc::resource_deadlock_would_occur),
                                    "taskforge: co_await on a task_group from inside one of the group's own tasks");
        }
        resume_.coroutine = awaiting;
        link_.resume = &resume_;
        runtime* const home = here != nullptr ? here->pool : group_.runtime_;
        resume_.home = home;
        resume_.level = here != nullptr ? here->level : priority::normal;  // resumed at its own level [Y1]
        resume_.execute = &resume_job::fire_from_group;                    // run by the finisher of the zero [G8]
        if (here != nullptr) {
            home->coroutine_arrived();  // coroutine_frame.hpp [C4]: until the resumption is queued or refused
        } else {
            // Not on a worker: the group's runtime may be being destroyed. Registered, a count found non-zero keeps
            // it alive while we arrive (waiting.hpp, guest_visit [V5]).
            const guest_registration registration;
            if (await_ready()) return false;
            home->coroutine_arrived();
        }
        linked_ = true;
        if (state().await_zero(link_)) return true;  // [G8] `this` may be gone from here on
        linked_ = false;
        home->coroutine_left();  // the count was zero: go on now
        return false;
    }

    // Linked: the outcome the finisher of the zero handed us [G8] — the group itself may be gone by now.
    void await_resume() {
        if (!linked_) return group_.conclude();
        if (resume_.refused) {  // coroutine_frame.hpp [C2]; the round's exception is ours [G6]: never dropped
            if (link_.error) std::rethrow_exception(std::exchange(link_.error, nullptr));
            throw scheduler_closed();
        }
        if (link_.cancelled) throw task_cancelled();  // [K1][K2], as conclude()
        if (link_.error) std::rethrow_exception(std::exchange(link_.error, nullptr));
    }

private:
    group_state& state() const noexcept { return group_.state_; }

    task_group& group_;
    resume_job resume_;
    awaiting_link link_;
    bool linked_ = false;
};

}  // namespace detail

/// `co_await group`: suspends until the group's count of unfinished tasks was zero after the co_await began, then
/// rethrows as task_group::wait() does (see task.hpp). The group must outlive the co_await, as for wait().
inline detail::group_awaiter operator co_await(task_group& group) noexcept { return detail::group_awaiter(group); }

}  // namespace taskforge
