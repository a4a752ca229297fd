/// @file
/// taskforge/task_handle.hpp — `task_handle<T>`: the result of spawn(), used like `std::future<T>`.
///
/// @code
///   auto handle = pool.spawn([](int a, int b) { return a + b; }, 40, 2);
///   handle.wait();            // on a worker: runs the task itself if nobody started it, else blocks
///   int v = handle.get();     // the value, or rethrows the task's exception; once
/// @endcode
///
/// Contract
///   * Move-only. A default-constructed, moved-from or consumed (after get()) handle is empty: valid() is false and
///     ready/status/wait/wait_for/wait_until/get/cancel throw std::future_error(future_errc::no_state).
///   * get() waits, then returns the value (moved out), rethrows the task's exception, or throws task_cancelled;
///     afterwards the handle is empty.
///   * cancel() succeeds only while the task has not started; the task then never runs.
///   * A callable that can take a std::stop_token before its arguments gets one:
///     `pool.spawn([](std::stop_token stop, int x) { ... }, 42)`. request_stop() cancels the task if it has not
///     started, else requests a stop on that token. Tasks whose callable takes no token carry no stop state at all.
///   * Dropping a handle detaches the task: it still runs, and its frame is freed when it ends. If it throws, the
///     exception goes to options::on_unhandled_exception.
///   * Waiting on a task that is running below the caller on the caller's own worker stack (for instance a task
///     waiting on its own handle) would never return: it throws std::system_error(resource_deadlock_would_occur).
///   * wait()/get() on a worker never run an unrelated task (detail/waiting.hpp): only the awaited one, if it has
///     not started and belongs to the same scheduler; otherwise the waiter blocks and the pool compensates.
///   * wait_for/wait_until never run anything; they return within a small bound of the deadline. Limits of 100
///     years or more (duration::max(), time_point::max()) wait forever, as std::future does.
///   * In the child of a fork(), waiting on an unfinished task of a scheduler inherited from the parent throws
///     scheduler_closed (nobody there will ever run it).
///   * then(f) consumes the handle and returns a handle to f's task, which runs on the same scheduler once this task
///     completed normally: f(value) (f() for a void task). If this task failed, the new one fails with the same
///     exception; if it was cancelled, the new one is cancelled; f never runs then. Attaching never blocks and never
///     runs f on the calling thread; completing never runs f on the completing thread's stack either (it queues it),
///     so chains of any length run in constant stack. A continuation attached after completion is queued at once.
///     If f returns a `task_handle<U>`, the result is unwrapped: then() returns a `task_handle<U>` that ends as that
///     inner task ends (so a continuation can fan out and return when_all(...) of what it spawned). When that inner
///     task belongs to another scheduler, this one's shutdown() and destructor wait until the inner task finished
///     (the continuation still has to reach this scheduler, as a coroutine suspended there does — task.hpp); if
///     this scheduler was shut down by then, the result is cancelled and the inner task's outcome is dropped.
///     It can itself be cancelled before it starts; that detaches what it continues (an exception there then goes
///     to options::on_unhandled_exception, as for any dropped handle). If the scheduler no longer accepts work when
///     the continuation is due (shut down), the continuation is cancelled; the scheduler must still exist when
///     then() is called (as for spawn). then() consumes the handle even when it throws (std::bad_alloc): the task is
///     then detached. See compose.hpp for when_all / when_any.
#pragma once

#include <chrono>
#include <future>
#include <system_error>
#include <type_traits>
#include <utility>

#include "detail/continuation.hpp"
#include "detail/task_frame.hpp"
#include "detail/waiting.hpp"
#include "errors.hpp"

namespace taskforge {

class scheduler;

/// Where a task stands: task_handle::status().
enum class task_status {
    pending = detail::task_state::pending,      ///< accepted, not started
    running = detail::task_state::running,      ///< a worker is running it
    completed = detail::task_state::completed,  ///< returned normally; get() gives the value
    failed = detail::task_state::failed,        ///< threw; get() rethrows
    cancelled = detail::task_state::cancelled   ///< cancel() stopped it before it started; get() throws task_cancelled
};

/// The result of spawn(): a move-only handle to a task, used like `std::future<T>`; see task_handle.hpp for the
/// contract. `T` is the task's result type (void for none).
template <class T>
class task_handle {
public:
    using value_type = T;  ///< the task's result type

    /// An empty handle: valid() is false.
    task_handle() noexcept = default;
    /// Takes over `other`'s task; `other` is empty afterwards.
    task_handle(task_handle&& other) noexcept : frame_(std::exchange(other.frame_, nullptr)) {}
    /// Drops (detaches) this handle's task, if any, and takes over `other`'s; `other` is empty afterwards.
    task_handle& operator=(task_handle&& other) noexcept {
        if (this != &other) {
            reset();
            frame_ = std::exchange(other.frame_, nullptr);
        }
        return *this;
    }
    task_handle(const task_handle&) = delete;             ///< Move-only.
    task_handle& operator=(const task_handle&) = delete;  ///< Move-only.
    /// Drops the handle: the task is detached (it still runs; an exception it throws goes to
    /// options::on_unhandled_exception).
    ~task_handle() { reset(); }

    /// Whether the handle refers to a task (false when default-constructed, moved-from or consumed by get()).
    bool valid() const noexcept { return frame_ != nullptr; }

    /// Whether the task finished: completed, failed or cancelled. Does not wait.
    bool ready() const { return detail::task_state::finished(frame().load_state()); }

    /// Where the task stands now; does not wait.
    task_status status() const { return static_cast<task_status>(detail::task_state::status(frame().load_state())); }

    /// Waits until the task finished (detail/waiting.hpp: on a worker of the task's pool it may run the task
    /// itself if nobody started it; otherwise it blocks and the pool stands in a spare worker for it).
    void wait() const {
        if (ready()) return;
        check_not_waiting_on_own_stack();
        detail::wait_for_task(frame(), nullptr);
    }

    /// Like std::future: ready or timeout. Returns within a small bound of the deadline on any thread (a waiting
    /// worker runs nothing meanwhile); a limit of 100 years or more (duration::max()) waits forever.
    template <class Rep, class Period>
    std::future_status wait_for(const std::chrono::duration<Rep, Period>& timeout) const {
        detail::deadline_type deadline;
        return wait_with(detail::deadline_after(timeout, deadline) ? &deadline : nullptr);
    }

    /// Like std::future: ready or timeout, waiting until `when` at the latest. Runs nothing meanwhile; a deadline
    /// 100 years or more away (time_point::max()) waits forever.
    template <class Clock, class Duration>
    std::future_status wait_until(const std::chrono::time_point<Clock, Duration>& when) const {
        detail::deadline_type deadline;
        return wait_with(detail::deadline_at(when, deadline) ? &deadline : nullptr);
    }

    /// Waits, then returns the value (moved out), rethrows the task's exception, or throws task_cancelled. Consumes
    /// the handle: it is empty afterwards.
    T get() {
        wait();
        struct release_on_exit {
            detail::valued_frame<T>* frame;
            ~release_on_exit() { frame->release_handle(); }
        } owner{std::exchange(frame_, nullptr)};
        switch (detail::task_state::status(owner.frame->load_state())) {
            case detail::task_state::completed:
                if constexpr (std::is_void_v<T>) {
                    return;
                } else {
                    return std::move(owner.frame->result.value);
                }
            case detail::task_state::failed:
                // Moved out first: the last reference to the exception is dropped on this thread (docs/design.md,
                // "Exceptions across threads").
                std::rethrow_exception(std::exchange(owner.frame->error, nullptr));
            default:
                throw task_cancelled();
        }
    }

    /// Cancels the task if it has not started yet; returns whether it did.
    bool cancel() { return frame().cancel(); }

    /// Cancels the task if it has not started yet (returns true); otherwise asks it to stop through the
    /// std::stop_token it was given, if its callable takes one (returns false). Stopping is cooperative: the task
    /// decides when to return, and get() then gives whatever it returned.
    bool request_stop() {
        detail::valued_frame<T>& task = frame();
        if (task.cancel()) return true;
        task.request_stop();
        return false;
    }

    /// The task that runs function(value) (function() for void) after this one completed; consumes this handle.
    /// A function that returns a `task_handle<U>` gives a `task_handle<U>` (unwrapped); see task_handle.hpp.
    template <class F>
    requires detail::continuable<T, std::decay_t<F>>
    auto then(F&& function) {
        using next_type = detail::then_result_t<T, std::decay_t<F>>;
        if constexpr (detail::is_task_handle<next_type>::value) {
            return detail::then_unwrapped(std::move(*this), std::forward<F>(function));
        } else {
            return then_plain(std::forward<F>(function));
        }
    }

private:
    template <class F>
    auto then_plain(F&& function) {
        using next_type = detail::then_result_t<T, std::decay_t<F>>;
        using body_type = detail::then_body<task_handle, std::decay_t<F>>;
        static_assert(!detail::is_coroutine_task<next_type>::value,
                      "taskforge: then(f) with a coroutine function would hand back its lazy task unstarted. Await "
                      "the handle in a coroutine instead (co_await h), or spawn the coroutine function");
        using frame_type = detail::task_frame<next_type, body_type>;
        detail::valued_frame<T>& before = frame();  // throws no_state on an empty handle
        frame_type* next = frame_type::create(before.report, before.pool, detail::task_state::deferred,
                                              body_type{std::move(*this), std::forward<F>(function)});
        task_handle<next_type> result(next);
        // [S7]: `before` stays alive while we attach: its handle sits in `next`, which is not fired before that.
        if (!before.attach_continuation(next)) detail::fire_deferred(*next);
        return result;
    }

    friend class scheduler;
    friend struct detail::handle_access;
    template <class>
    friend class task_handle;
    explicit task_handle(detail::valued_frame<T>* frame) noexcept : frame_(frame) {}

    detail::valued_frame<T>& frame() const {
        if (frame_ == nullptr) throw std::future_error(std::future_errc::no_state);
        return *frame_;
    }

    std::future_status wait_with(const detail::deadline_type* deadline) const {
        if (ready()) return std::future_status::ready;
        check_not_waiting_on_own_stack();
        return detail::wait_for_task(frame(), deadline) ? std::future_status::ready : std::future_status::timeout;
    }

    void check_not_waiting_on_own_stack() const {
        const std::uint32_t word = frame().load_state();  // acquire: `runner` was stored before `running`
        if (detail::task_state::status(word) == detail::task_state::running &&
            frame().runner.load(std::memory_order_relaxed) == detail::this_thread_identity()) {
            throw std::system_error(std::make_error_code(std::errc::resource_deadlock_would_occur),
                                    "taskforge: waiting on a task that runs below the caller on the same thread");
        }
    }

    void reset() noexcept {
        if (frame_ != nullptr) std::exchange(frame_, nullptr)->release_handle();
    }

    detail::valued_frame<T>* frame_ = nullptr;
};

}  // namespace taskforge
