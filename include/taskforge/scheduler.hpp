/// @file
/// taskforge/scheduler.hpp — the work-stealing scheduler and spawn().
///
/// @code
///   taskforge::scheduler pool{taskforge::options{.threads = 4}};
///   auto handle = pool.spawn([](int a, int b) { return a + b; }, 40, 2);   // task_handle<int>
///   int v = handle.get();
///   auto other = taskforge::spawn(f, x);   // the calling worker's scheduler, else default_scheduler()
/// @endcode
///
/// spawn(f, args...) calls std::invoke(f, args...) on a worker: the callable and the arguments are decay-copied
/// (moved when given as rvalues), like std::thread; move-only callables, arguments and results work; the handle's
/// type is the callable's result, decayed: a task returning a reference hands out a copy of the referred object
/// (return a pointer or std::reference_wrapper to share it instead).
///
/// From a worker of this scheduler (a running task), spawn pushes onto that worker's own deque; from any other
/// thread it goes through the injection queue. Neither path takes a lock or allocates in the steady state.
///
/// shutdown() (idempotent, thread-safe) refuses spawns from outside from then on (scheduler_closed), runs every task
/// already accepted — running tasks may still spawn children — and joins the workers. ~scheduler() calls it.
/// Calling shutdown() from one of the scheduler's own workers throws std::system_error(resource_deadlock_would_occur);
/// destroying the scheduler from one of its workers prints why and calls std::terminate (it cannot join itself).
/// Shutting down or destroying a scheduler inside another scheduler's task blocks that task's worker, compensated:
/// the other scheduler keeps its parallelism meanwhile (detail/waiting.hpp [W3]).
///
/// After fork(), a scheduler inherited from the parent has no workers in the child: spawning on it throws
/// scheduler_closed, and destroying it (or exiting) is fine.
#pragma once

#include <atomic>
#include <bit>
#include <cstdio>
#include <exception>
#include <memory>
#include <ostream>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <tuple>
#include <type_traits>
#include <utility>

#include "detail/join.hpp"
#include "detail/runtime.hpp"
#include "detail/task_frame.hpp"
#include "errors.hpp"
#include "metrics.hpp"
#include "options.hpp"
#include "priority.hpp"
#include "task.hpp"
#include "task_handle.hpp"
#include "trace.hpp"

namespace taskforge {

class task_group;
namespace detail {
struct scheduler_access;
}

/// A pool of worker threads that run spawned tasks, stealing work from one another; see scheduler.hpp.
///
/// spawn() hands out a task_handle per task; task_group, join(), parallel_invoke() and the parallel loops fork and
/// join without one. Not copyable, not movable: tasks and handles refer to it.
class scheduler {
public:
    /// Starts the workers that `settings` asks for. Throws std::invalid_argument for a value out of the bounds that
    /// options gives, and std::system_error when a thread cannot be started.
    explicit scheduler(options settings = {}) : runtime_(std::make_unique<detail::runtime>(resolve(settings, this))) {}

    scheduler(const scheduler&) = delete;             ///< Not copyable.
    scheduler& operator=(const scheduler&) = delete;  ///< Not copyable.

    /// Calls shutdown(): runs every task already accepted and joins the workers. Destroying a scheduler from one of
    /// its own workers prints why and calls std::terminate.
    ~scheduler() {
        if (runtime_->inherited()) {
            // The child of a fork(): the workers do not exist here. Nothing to join, and memory the parent's
            // threads were using is left alone (kept reachable, never freed).
            runtime_->shutdown();
            detail::abandon(runtime_.release());
            return;
        }
        if (runtime_->on_own_worker()) {
            std::fputs(
                "taskforge: a scheduler was destroyed by one of its own worker threads; a worker cannot join "
                "itself\n",
                stderr);
            std::terminate();
        }
        runtime_->shutdown();
    }

    /// Runs std::invoke(function, arguments...) on a worker, with decay-copies of both; returns a task_handle of the
    /// decayed result type. A coroutine function (one that returns task<T>) gives a task_handle<T> that finishes
    /// when the coroutine does; a callable that takes a std::stop_token first gets one (task_handle::request_stop).
    /// From a thread that is not one of its workers, it throws scheduler_closed once shutdown() began.
    /// The task runs at the level of the task that spawns it (from one of this scheduler's running tasks), else at
    /// priority::normal (priority.hpp).
    template <class F, class... Args>
    requires detail::spawnable<F, Args...>
    auto spawn(F&& function, Args&&... arguments) {
        return spawn_at(detail::inherit_level, std::forward<F>(function), std::forward<Args>(arguments)...);
    }

    /// As spawn(function, arguments...), at `level`: taken before lower levels' work by the next free worker, never
    /// preempting a running task; its children inherit the level (priority.hpp).
    template <class F, class... Args>
    requires detail::spawnable<F, Args...>
    auto spawn(priority level, F&& function, Args&&... arguments) {
        return spawn_at(detail::checked_level(level), std::forward<F>(function), std::forward<Args>(arguments)...);
    }

    /// Continues the awaiting coroutine on one of this scheduler's workers (task.hpp), as `co_await pool.schedule()`.
    detail::schedule_awaiter schedule() noexcept { return detail::schedule_awaiter(*runtime_); }

private:
    template <class F, class... Args>
    auto spawn_at(priority level, F&& function, Args&&... arguments) {
        using result_type = detail::spawned_result_t<F, Args...>;
        if constexpr (detail::is_coroutine_task<result_type>::value) {
            return spawn_coroutine(level, std::forward<F>(function), std::forward<Args>(arguments)...);
        } else {
            using frame_type = detail::task_frame<result_type, std::decay_t<F>, std::decay_t<Args>...>;
            return submit_new(
                frame_type::create(runtime_->on_unhandled_exception(), runtime_.get(), detail::task_state::pending,
                                   std::forward<F>(function), std::forward<Args>(arguments)...),
                level);
        }
    }

    // A coroutine function: a frame that keeps the callable until the coroutine finished (coroutine_frame.hpp).
    template <class F, class... Args>
    auto spawn_coroutine(priority level, F&& function, Args&&... arguments) {
        using task_type = detail::spawned_result_t<F, Args...>;
        using frame_type =
            detail::coroutine_frame<task_type, typename task_type::value_type, std::decay_t<F>, std::decay_t<Args>...>;
        auto* frame = frame_type::create(runtime_->on_unhandled_exception(), runtime_.get(), std::forward<F>(function),
                                         std::forward<Args>(arguments)...);
        runtime_->coroutine_arrived();  // [C4] until the task finished (also when refused: it finishes cancelled)
        return submit_new(frame, level);
    }

    template <class T>
    task_handle<T> submit_new(detail::valued_frame<T>* frame, priority level) {
        task_handle<T> handle(frame);  // owns the frame from here on
        try {
            runtime_->submit(frame, level);
        } catch (...) {
            frame->cancel();  // never submitted: run it as cancelled so the frame is released normally
            detail::run(frame);
            throw;
        }
        return handle;
    }

public:
    /// Chosen when f cannot be called with copies of the arguments: one error that names the fix (std::ref).
    template <class F, class... Args>
    requires(!detail::spawnable<F, Args...>) void spawn(F&&, Args&&...) { (void)detail::spawnable_check<F, Args...>{}; }

    /// Chosen when f cannot be called with copies of the arguments: one error that names the fix (std::ref).
    template <class F, class... Args>
    requires(!detail::spawnable<F, Args...>) void spawn(priority, F&&, Args&&...) {
        (void)detail::spawnable_check<F, Args...>{};
    }

    /// Fork-join at the cost of a function call (join.hpp): runs `first` here and `second` possibly on another
    /// worker; returns both results, std::monostate for void. From a thread that is not one of our workers the
    /// whole join runs inside the pool while the caller waits.
    template <class F, class G>
    requires std::is_invocable_v<F&> && std::is_invocable_v<G&>
        std::pair<detail::join_result_t<F>, detail::join_result_t<G>> join(F&& first, G&& second) {
        if (runtime_->on_own_worker()) return detail::join_on_worker(*runtime_, *detail::current_worker, first, second);
        return spawn([this, &first, &second] {
                   return detail::join_on_worker(*runtime_, *detail::current_worker, first, second);
               })
            .get();
    }

    /// Runs every callable, in parallel where workers are free (a balanced tree of joins); returns when all
    /// returned. If several throw, the leftmost one's exception is rethrown.
    template <class... F>
    requires(sizeof...(F) > 0 && (std::is_invocable_v<F&> && ...)) void parallel_invoke(F&&... calls) {
        auto all = std::forward_as_tuple(calls...);
        if (runtime_->on_own_worker()) return detail::invoke_range<0, sizeof...(F)>(*runtime_, all);
        spawn([this, &all] { detail::invoke_range<0, sizeof...(F)>(*runtime_, all); }).get();
    }

    /// The number of workers the pool keeps: options::threads (resolved), or the last resize(); spares that stand
    /// in for workers blocked in waits are not counted.
    std::size_t thread_count() const noexcept { return runtime_->thread_count(); }

    /// Changes the number of workers to `threads` (1 <= threads <= options::max_threads), while tasks run and
    /// other threads spawn and wait. Growing starts the new workers before it returns; they take work at once
    /// (and run options::on_worker_start). Shrinking asks that many workers to leave: each leaves between two
    /// tasks — a running task is never interrupted — and hands the tasks queued on it to the pool first, so
    /// nothing is lost or run twice and every handle stays valid. thread_count() reports `threads` once resize()
    /// returns; the threads themselves follow as they reach their next task boundary.
    /// @throws std::invalid_argument if `threads` is 0 or above options::max_threads.
    /// @throws std::system_error (resource_deadlock_would_occur) when called from one of this scheduler's own
    /// threads (a task of the pool); the pool is unchanged.
    /// @throws scheduler_closed once shutdown() began (also when it races with it); the pool is unchanged.
    /// @throws std::system_error (resource_unavailable_try_again) if the system refuses a new thread: the pool
    /// then keeps the workers it has, and thread_count() says how many.
    void resize(std::size_t threads) {
        if (threads == 0 || threads > options::max_threads) {
            throw std::invalid_argument("taskforge: resize(n) needs 1 <= n <= options::max_threads (1024)");
        }
        if (runtime_->on_own_worker()) {
            throw std::system_error(std::make_error_code(std::errc::resource_deadlock_would_occur),
                                    "taskforge: resize() called from one of the scheduler's own threads");
        }
        runtime_->resize(threads);
    }

    /// Refuses spawns from outside from then on (scheduler_closed), runs every task already accepted and joins the
    /// workers. Idempotent and thread-safe; from one of this scheduler's own workers it throws
    /// std::system_error(resource_deadlock_would_occur). See scheduler.hpp.
    void shutdown() { runtime_->shutdown(); }

    /// What each worker slot has done so far (metrics.hpp): any thread, any time, also after shutdown().
    pool_metrics metrics() const { return runtime_->metrics(); }

    /// Records a timeline of what runs where (trace.hpp); stop_trace writes it as Chrome trace-event JSON, which
    /// ui.perfetto.dev and chrome://tracing open. Any thread, any time.
    void start_trace() { runtime_->start_trace(); }
    /// Stops the trace that start_trace() began and writes it to `out` as Chrome trace-event JSON (trace.hpp).
    /// Without a trace it writes a valid trace with no events. Any thread, any time.
    void stop_trace(std::ostream& out) { runtime_->stop_trace(out); }

    /// The scheduler whose worker is calling, or nullptr on any other thread.
    static scheduler* current() noexcept {
        detail::worker* self = detail::current_worker;
        return self != nullptr ? static_cast<scheduler*>(self->pool->owner()) : nullptr;
    }

private:
    friend class task_group;
    friend struct detail::scheduler_access;

    static_assert(options::max_guest_slots <= detail::guest_slots::max_slots);

    static detail::runtime_settings resolve(const options& settings, scheduler* self) {
        std::size_t threads = settings.threads;
        if (threads == 0) threads = std::thread::hardware_concurrency();
        if (threads == 0) threads = 1;
        if (threads > options::max_threads) {
            throw std::invalid_argument("taskforge: options::threads exceeds options::max_threads (1024)");
        }
        if (settings.guest_slots > options::max_guest_slots) {
            throw std::invalid_argument("taskforge: options::guest_slots exceeds options::max_guest_slots (30)");
        }
        if (settings.trace_events_per_thread == 0 ||
            settings.trace_events_per_thread > options::max_trace_events_per_thread) {
            throw std::invalid_argument(
                "taskforge: options::trace_events_per_thread must be 1 .. options::max_trace_events_per_thread");
        }
        if (settings.stack_size != 0 && settings.stack_size < detail::minimum_stack_size()) {
            throw std::invalid_argument("taskforge: options::stack_size is below the platform's minimum stack size");
        }
        return {threads,
                settings.stack_size == 0 ? options::default_stack_size : settings.stack_size,
                options::max_spare_threads,
                options::max_threads,
                settings.guest_slots,
                std::bit_ceil(settings.trace_events_per_thread),
                settings.on_unhandled_exception != nullptr ? settings.on_unhandled_exception
                                                           : &detail::default_exception_report,
                self,
                settings.on_worker_start,
                settings.on_worker_stop};
    }

    void submit(detail::job* work, priority level) { runtime_->submit(work, level); }

    std::unique_ptr<detail::runtime> runtime_;
};

namespace detail {
// Set (for good) when the default scheduler is destroyed at exit. A constant-initialised, trivially destructible
// atomic, so it can be read even after static destruction began. Release/acquire: a thread that sees `true`
// must not touch the instance, whose destruction began after the store.
inline constinit std::atomic<bool> default_scheduler_gone{false};

struct default_scheduler_guard {
    ~default_scheduler_guard() { default_scheduler_gone.store(true, std::memory_order_release); }
};
}  // namespace detail

/// The process-wide scheduler with hardware_concurrency() workers: created on first use, shut down at exit.
/// After it was destroyed (at exit: an atexit handler, a static destructor, a thread_local destructor running late)
/// default_scheduler() and taskforge::spawn from outside a worker throw scheduler_closed.
inline scheduler& default_scheduler() {
    if (detail::default_scheduler_gone.load(std::memory_order_acquire)) throw scheduler_closed();
    static scheduler instance{};
    // Constructed after `instance`, so destroyed before it: the flag is up before the scheduler goes away.
    static detail::default_scheduler_guard guard;
    return instance;
}

/// Spawns on the calling worker's scheduler, or on default_scheduler() from any other thread (scheduler::spawn).
template <class F, class... Args>
requires detail::spawnable<F, Args...>
auto spawn(F&& function, Args&&... arguments) {
    scheduler* here = scheduler::current();
    return (here != nullptr ? *here : default_scheduler())
        .spawn(std::forward<F>(function), std::forward<Args>(arguments)...);
}

/// Chosen when f cannot be called with copies of the arguments: one error that names the fix (std::ref).
template <class F, class... Args>
requires(!detail::spawnable<F, Args...>) void spawn(F&&, Args&&...) {
    (void)detail::spawnable_check<F, Args...>{};  // names the fix: std::ref
}

/// As spawn(function, arguments...), at `level` (scheduler::spawn(priority, ...)).
template <class F, class... Args>
requires detail::spawnable<F, Args...>
auto spawn(priority level, F&& function, Args&&... arguments) {
    scheduler* here = scheduler::current();
    return (here != nullptr ? *here : default_scheduler())
        .spawn(level, std::forward<F>(function), std::forward<Args>(arguments)...);
}

/// Chosen when f cannot be called with copies of the arguments: one error that names the fix (std::ref).
template <class F, class... Args>
requires(!detail::spawnable<F, Args...>) void spawn(priority, F&&, Args&&...) {
    (void)detail::spawnable_check<F, Args...>{};  // names the fix: std::ref
}

namespace this_task {
/// The level of the task running on the calling thread, as its spawns without a level inherit it (priority.hpp);
/// priority::normal on any thread that is not a worker. A task run on top of a wait reports the waiter's level.
inline priority current_priority() noexcept {
    const detail::worker* self = detail::current_worker;
    return self != nullptr ? self->level : priority::normal;
}
}  // namespace this_task

}  // namespace taskforge
