/// @file
/// taskforge/task.hpp — C++20 coroutines on the pool: task<T>, co_await on handles, pool.schedule(), sync_wait.
///
/// @code
///   taskforge::task<int> compute(taskforge::scheduler& pool, int x) {
///       co_await pool.schedule();                 // continue on one of pool's workers
///       int a = co_await pool.spawn(heavy, x);    // suspends (no worker blocks); resumes when it is done; rethrows
///       int b = co_await other_coroutine(x);      // awaiting a task<T> runs it (symmetric transfer)
///       auto [c, d] = co_await taskforge::when_all(pool.spawn(f), pool.spawn(g));
///       co_return a + b + c + d;
///   }
///   auto handle = pool.spawn(compute, std::ref(pool), 7);   // a coroutine function spawned: task_handle<int>
///   int v = taskforge::sync_wait(compute(pool, 7));          // run it here and block until it is done
/// @endcode
///
/// task<T>
///   * Lazy: it starts when awaited, spawned or sync_wait'ed; move-only; destroying one that never started frees its
///     frame. Awaiting it runs it to its end and gives its value or rethrows its exception; awaiting an empty
///     (moved-from) task throws std::future_error(no_state). T is void or an object type.
///   * A coroutine resumes another by symmetric transfer, so chains of awaits do not grow the stack — provided the
///     compiler emits those resumptions as tail calls: clang does at every level, g++ only with
///     -foptimize-sibling-calls (on from -O2; the CMake target adds it for g++ consumers at every level).
///   * Coroutine frames come from the per-thread frame pool, like task frames (no global operator new once warm).
/// co_await pool.schedule()
///   Continues the coroutine on one of pool's workers (from a worker of pool: after the tasks queued before it on
///   that worker, which gives others a turn). On a pool that was shut down it throws scheduler_closed.
/// co_await handle (a task_handle<T>, lvalue or rvalue)
///   Does not suspend if the task already finished. If nobody started it yet and the coroutine runs on a worker of
///   the task's pool, the task runs right there first (as a waiting worker would run it: its work is what the
///   coroutine waits for); if it does not finish there (a coroutine that suspended), or ran elsewhere, the
///   coroutine suspends without blocking any thread,
///   and is resumed on its home pool — the scheduler whose worker it suspended on, else the task's — when the task
///   finishes; then it gets the value (consuming the handle, as get() does), or the task's exception, or
///   task_cancelled. If the home pool no longer accepts work by then (shut down), the coroutine is resumed on the
///   thread that finished the task, once that task's completion is fully published, and the co_await throws
///   scheduler_closed. A scheduler's shutdown() (and destructor) waits for the coroutines spawned on it to finish
///   and for those suspended with it as their home to be resumed: a coroutine that waits forever holds it up, as a
///   task that runs forever does. In the child of a fork(), awaiting an unfinished task of a scheduler inherited
///   from the parent (or from a coroutine on such a scheduler's thread) throws scheduler_closed, as wait() does:
///   nobody in the child would finish it. when_all / when_any results and then() handles are task_handles, so
///   they are awaited the same way.
/// pool.spawn(coroutine_function, args...)
///   Returns task_handle<T> for a function returning task<T>: the coroutine starts on a worker, the handle finishes
///   when the coroutine does. The callable and the arguments live until then, so a lambda's captures are safe to
///   use across co_await (C++ Core Guidelines CP.51). A coroutine function that takes a std::stop_token first gets
///   one (task_handle::request_stop).
/// sync_wait(task)
///   Starts the task on the calling thread and blocks until it finished; returns its value or rethrows. On a worker
///   it blocks as a wait does (the pool stands in a spare worker meanwhile).
/// co_await taskforge::this_task::stop_token()
///   The std::stop_token of the spawned task the coroutine runs for, without suspending: a coroutine function
///   spawned with pool.spawn that takes a std::stop_token first gets it as its argument, and every task<T> it
///   awaits (at any depth) sees the same token here, so task_handle::request_stop() reaches all of them. Tasks
///   they spawn have tokens of their own. Empty (stop_possible() is false) in a coroutine run by sync_wait or
///   spawned from a function that takes no std::stop_token. Only in taskforge::task<T> coroutines.
/// co_await group (a task_group)
///   The coroutine suspends until the group's count of unfinished tasks was zero at some moment after the
///   co_await began — the rule of task_group::wait(), without blocking a thread; then, as wait(), it rethrows the
///   round's first exception (to one of the group's waiters) or throws task_cancelled if the group was cancelled.
///   It does not suspend if the group has no unfinished task. On a worker of the group's pool it first runs the
///   group's tasks found on top of that worker's own queue (as wait() does), then suspends if some are still
///   running elsewhere; it is resumed on its home pool (as for a handle, above) by the thread that finished the
///   group's last task, through that pool's queue. Any number of coroutines and threads may wait for one group at
///   once, and the group may be spawned into and awaited again in later rounds. From inside one of the group's own
///   tasks (a sync_wait there, before the coroutine first suspends) it throws
///   std::system_error(resource_deadlock_would_occur), as wait() does. The group must outlive every co_await and
///   wait() on it, as for wait(): destroy it once they have all returned (a group declared in the coroutine that
///   awaits it does). The round's outcome is fixed when the round ends and handed over with the resumption, so a
///   resumption that waits in a queue never takes a later round's exception. If the home pool was shut down
///   meanwhile, the co_await rethrows the round's exception if this coroutine is the waiter that gets it, else
///   throws scheduler_closed.
#pragma once

#include <coroutine>
#include <exception>
#include <future>
#include <memory>
#include <stop_token>
#include <type_traits>
#include <utility>

#include "detail/continuation.hpp"
#include "detail/coroutine_frame.hpp"
#include "detail/waiting.hpp"
#include "errors.hpp"
#include "task_handle.hpp"

namespace taskforge {

/// A lazy, move-only coroutine that runs on a taskforge pool: it starts when awaited, spawned or sync_wait'ed,
/// and gives its awaiter its value or rethrows its exception (see task.hpp for the whole contract).
/// @tparam T the result type: void or an object type.
template <class T = void>
class [[nodiscard]] task {
    static_assert(std::is_void_v<T> || (std::is_object_v<T> && !std::is_array_v<T>),
                  "taskforge::task<T>: T must be void or an object type (return a pointer or a "
                  "std::reference_wrapper to share an object)");

public:
    using value_type = T;  ///< The type `co_await` on this task gives.

    class promise_type;  ///< The coroutine promise (C++20 machinery; users never name it).

    /// An empty task: valid() is false, and awaiting it throws std::future_error(no_state).
    task() noexcept = default;
    /// Takes `other`'s coroutine; `other` becomes empty.
    task(task&& other) noexcept : coroutine_(std::exchange(other.coroutine_, nullptr)) {}
    /// Destroys this task's coroutine, if any (freeing its frame), and takes `other`'s.
    task& operator=(task&& other) noexcept {
        if (this != &other) {
            if (coroutine_) coroutine_.destroy();
            coroutine_ = std::exchange(other.coroutine_, nullptr);
        }
        return *this;
    }
    task(const task&) = delete;
    task& operator=(const task&) = delete;
    /// Destroys the coroutine if this task still owns it (a task that never started frees its frame).
    ~task() {
        if (coroutine_) coroutine_.destroy();
    }

    /// True while the task owns a coroutine (not default-constructed, moved from or released).
    bool valid() const noexcept { return static_cast<bool>(coroutine_); }

    /// Awaiting a task runs it (symmetric transfer) and gives its value or rethrows its exception.
    auto operator co_await() & noexcept { return awaiter{coroutine_}; }
    /// As above, for a temporary task (`co_await make_task()`).
    auto operator co_await() && noexcept { return awaiter{coroutine_}; }

    /// The coroutine, let go: the caller owns it from here on (used by the spawn and sync_wait machinery).
    std::coroutine_handle<promise_type> release() noexcept { return std::exchange(coroutine_, nullptr); }

private:
    explicit task(std::coroutine_handle<promise_type> coroutine) noexcept : coroutine_(coroutine) {}

    struct awaiter {
        std::coroutine_handle<promise_type> coroutine;
        bool await_ready() const noexcept { return !coroutine || coroutine.done(); }
        template <class Awaiting>
        std::coroutine_handle<> await_suspend(std::coroutine_handle<Awaiting> awaiting) noexcept {
            coroutine.promise().continuation = awaiting;
            if constexpr (std::is_base_of_v<detail::promise_core, Awaiting>) {
                coroutine.promise().stop = awaiting.promise().stop;  // [C5] the awaiter's task's token
            }
            return coroutine;  // start it: symmetric transfer
        }
        T await_resume() {
            if (!coroutine) throw std::future_error(std::future_errc::no_state);
            return coroutine.promise().outcome.take();
        }
    };

    std::coroutine_handle<promise_type> coroutine_;
};

/// The promise of a task<T> with a value: holds the value or the exception until the awaiter takes it.
template <class T>
class task<T>::promise_type : public detail::promise_core {
public:
    /// The task that owns this coroutine.
    task get_return_object() noexcept { return task(std::coroutine_handle<promise_type>::from_promise(*this)); }
    /// Keeps the exception for the awaiter.
    void unhandled_exception() noexcept { outcome.set_error(std::current_exception()); }
    /// Keeps the value of `co_return value;` for the awaiter.
    template <class U = T>
    requires std::is_convertible_v<U&&, T>
    void return_value(U&& value) { outcome.set_value(std::forward<U>(value)); }

    detail::coroutine_outcome<T> outcome;  ///< The value or the exception.
};

/// The promise of a task<void>: holds the exception, if any, until the awaiter looks.
template <>
class task<void>::promise_type : public detail::promise_core {
public:
    /// The task that owns this coroutine.
    task get_return_object() noexcept { return task(std::coroutine_handle<promise_type>::from_promise(*this)); }
    /// Keeps the exception for the awaiter.
    void unhandled_exception() noexcept { outcome.set_error(std::current_exception()); }
    /// `co_return;` or the end of the body.
    void return_void() const noexcept {}

    detail::coroutine_outcome<void> outcome;  ///< The exception, if any.
};

namespace detail {

// co_await on a task_handle: suspends until the task finished, resumed on the home pool (coroutine_frame.hpp).
template <class Handle>
class handle_awaiter {
public:
    explicit handle_awaiter(Handle& handle) : handle_(handle), frame_(&handle_access::frame(handle)) {}

    // Finished: no suspension. Still pending, on a worker of the task's own pool with stack to spare: run it here
    // first, as a waiting worker would (waiting.hpp [W1]: it is the work we wait for) — a task spawned and awaited
    // at once then costs no suspension and no queue round trip; a coroutine task runs to its first suspension.
    bool await_ready() const noexcept {
        if (task_state::finished(frame_->load_state())) return true;
        worker* const here = current_worker;
        if (here == nullptr || here->pool != frame_->pool || !runtime::stack_has_room(*here)) return false;
        run_awaited_here(*here, *frame_);  // waiting.hpp [W1]: popped from our deque, or claimed in place [S5]
        return task_state::finished(frame_->load_state());
    }

    bool await_suspend(std::coroutine_handle<> awaiting) {
        worker* const here = current_worker;
        refuse_inherited_await(runtime_of(*frame_), here,
                               [this] { return !task_state::finished(frame_->load_state()); });
        resume_.coroutine = awaiting;
        runtime* const home = here != nullptr ? here->pool : &runtime_of(*frame_);
        resume_.home = home;
        resume_.level = here != nullptr ? here->level : priority::normal;  // resumed at its own level [Y1]
        resume_.execute = &resume_job::fire;  // run by the task's executor when it finishes [S8]
        if (here != nullptr) {
            home->coroutine_arrived();  // [C4] until fire() has queued or refused the resumption
        } else {
            // Not on a worker: the task's runtime may be being destroyed. Registered, a re-read that finds the
            // task unfinished keeps it alive while we arrive (waiting.hpp, guest_visit [V5]).
            const guest_registration registration;
            if (task_state::finished(frame_->load_state())) return false;
            home->coroutine_arrived();
        }
        // [S7]: we hold the handle, so the frame outlives the attach. False: it finished meanwhile — go on now.
        if (frame_->attach_continuation(&resume_)) return true;  // [C1] `this` may be gone from here on
        home->coroutine_left();
        return false;
    }

    auto await_resume() {
        if (resume_.refused) throw scheduler_closed();  // [C2]
        return handle_.get();
    }

private:
    Handle& handle_;
    task_frame_base* frame_;
    resume_job resume_;
};

// co_await pool.schedule(): continues on one of the pool's workers.
class schedule_awaiter {
public:
    explicit schedule_awaiter(runtime& pool) noexcept : pool_(&pool) {}
    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<> awaiting) {
        resume_.coroutine = awaiting;
        if (current_worker != nullptr && current_worker->pool == pool_) {
            pool_->submit(&resume_);  // the pool outlives its own workers
            return;
        }
        // From elsewhere, submit() still touches the pool (it wakes a worker) after the coroutine may have resumed
        // and let the pool be destroyed: registered, the destructor waits for us (guest_slots.hpp [V5]).
        const guest_registration registration;
        pool_->submit(&resume_);  // throws scheduler_closed (the coroutine then resumes with it); [C1] last access
    }
    void await_resume() const noexcept {}

private:
    runtime* pool_;
    resume_job resume_;
};

// The promise's `slot` is set by sync_wait before the driver starts (initial_suspend is suspend_always).
template <class T>
sync_driver<T> drive(task<T> work, std::shared_ptr<sync_slot<T>> slot) {
    try {
        task<T> awaited = std::move(work);  // ends (and frees its frame) before the driver notifies
        if constexpr (std::is_void_v<T>) {
            co_await std::move(awaited);
        } else {
            slot->outcome.set_value(co_await std::move(awaited));
        }
    } catch (...) {
        slot->outcome.set_error(std::current_exception());
    }
}

}  // namespace detail

/// `co_await handle`: suspends until `handle`'s task finished, then gives its value or rethrows (see task.hpp).
/// The handle must outlive the co_await (it does for a temporary in the co_await expression and a named handle).
template <class T>
detail::handle_awaiter<task_handle<T>> operator co_await(task_handle<T>& handle) {
    return detail::handle_awaiter<task_handle<T>>(handle);
}
/// `co_await pool.spawn(f)`: as above, for a temporary handle.
template <class T>
detail::handle_awaiter<task_handle<T>> operator co_await(task_handle<T>&& handle) {
    return detail::handle_awaiter<task_handle<T>>(handle);
}

/// What a coroutine can ask about the spawned task it runs for.
namespace this_task {

/// The awaitable of `co_await this_task::stop_token()`: gives the stop token without suspending.
class stop_token_awaiter {
public:
    /// Always goes through await_suspend, which reads the coroutine's promise.
    bool await_ready() const noexcept { return false; }
    /// Reads the token from the awaiting coroutine's promise and goes on without suspending (returns false).
    template <class Promise>
    bool await_suspend(std::coroutine_handle<Promise> self) noexcept {
        static_assert(std::is_base_of_v<detail::promise_core, Promise>,
                      "taskforge::this_task::stop_token() is awaited only in a taskforge::task<T> coroutine");
        token_ = self.promise().stop;
        return false;  // no suspension: the coroutine goes on at once
    }
    /// The token read by await_suspend.
    std::stop_token await_resume() noexcept { return std::move(token_); }

private:
    std::stop_token token_;
};

/// `co_await taskforge::this_task::stop_token()`: the std::stop_token of the spawned task this coroutine runs for,
/// handed down to every task<T> it awaits; empty under sync_wait or when the spawned function takes no
/// std::stop_token. Only in task<T> coroutines (elsewhere: a compile error).
inline stop_token_awaiter stop_token() noexcept { return {}; }

}  // namespace this_task

/// Runs `work` on the calling thread until it suspends, then blocks until it finished; returns its value or rethrows
/// its exception. An empty task throws std::future_error(no_state). On a worker it blocks as a wait does.
template <class T>
T sync_wait(task<T> work) {
    if (!work.valid()) throw std::future_error(std::future_errc::no_state);
    auto slot = std::make_shared<detail::sync_slot<T>>();
    auto driver = detail::drive(std::move(work), slot);
    driver.coroutine.promise().slot = slot.get();
    driver.coroutine.resume();  // runs the task until it suspends or ends; the driver frees itself at its end
    // On a worker this may throw (waiting.hpp [W6]: no spare can stand in): the driver runs on, the slot with it.
    detail::block_on(
        detail::current_worker, slot->word, detail::sync_slot<T>::waiting,
        [](std::uint32_t word) { return (word & detail::sync_slot<T>::done) != 0; }, nullptr, true);
    return slot->outcome.take();
}

}  // namespace taskforge
