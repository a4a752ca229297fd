// taskforge/detail/task_frame.hpp — one heap block per task: header, callable, arguments and result slot.
//
// A task frame is a `job` (job.hpp) plus a 32-bit state word that carries the task's status and decides, without
// a reference count, who frees the frame:
//
//   bits 0-2  status: pending -> running -> completed | failed, or pending -> cancelled
//   bit  3    executor_done  the executing worker will not touch the frame again
//   bit  4    handle_gone    no task_handle refers to the frame (dropped, consumed, or a detached spawn)
//   bit  5    waiting        a thread sleeps on the word (state_word.hpp)
//
// Invariants (cited as [S1]..[S4]):
//   [S1] The executor sets the final status with one release RMW after writing the result or the exception; a
//        reader that acquires a final status reads them.
//   [S2] The frame is freed by whichever of {executor, handle} sets the second of executor_done / handle_gone.
//        Without a sleeping waiter the executor sets the final status and executor_done in the same RMW, so a
//        spawn + get pays one RMW on each side and no reference count.
//   [S3] With a sleeper, the executor first publishes the status, wakes, and only then sets executor_done: the
//        woken handle cannot free the frame under the executor's feet.
//   [S4] cancel() only turns pending into cancelled; the frame stays queued and its executor still runs the
//        protocol (discarding the callable), so the frame is never freed while a queue holds it.
#pragma once

#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <new>
#include <tuple>
#include <type_traits>
#include <utility>

#include "frame_pool.hpp"
#include "group_state.hpp"
#include "job.hpp"

namespace taskforge::detail {

using exception_handler = void (*)(std::exception_ptr) noexcept;

namespace task_state {
inline constexpr std::uint32_t pending = 0;
inline constexpr std::uint32_t running = 1;
inline constexpr std::uint32_t completed = 2;
inline constexpr std::uint32_t failed = 3;
inline constexpr std::uint32_t cancelled = 4;
inline constexpr std::uint32_t status_mask = 7;
inline constexpr std::uint32_t executor_done = 1U << 3;
inline constexpr std::uint32_t handle_gone = 1U << 4;
inline constexpr std::uint32_t waiting = 1U << 5;

constexpr std::uint32_t status(std::uint32_t word) noexcept { return word & status_mask; }
constexpr bool finished(std::uint32_t word) noexcept { return status(word) >= completed; }
}  // namespace task_state

// Storage for a T whose lifetime is managed by hand (constructed and destroyed explicitly).
template <class T>
union manual_lifetime {
    manual_lifetime() noexcept {}
    ~manual_lifetime() {}
    T value;
};

// The callable and its decay-copied arguments, constructed in place and destroyed by hand (a union member), so the
// executor can release captured resources as soon as the call returns, before the waiter wakes.
template <class Fn, class... Args>
class invocation {
public:
    template <class F, class... A>
    explicit invocation(F&& function, A&&... arguments) {
        ::new (static_cast<void*>(&call_.value)) call_type(std::forward<F>(function), std::forward<A>(arguments)...);
    }
    invocation(const invocation&) = delete;
    invocation& operator=(const invocation&) = delete;
    ~invocation() = default;  // the owner calls destroy() exactly once

    // Invokes with rvalues, like std::thread: move-only arguments work.
    decltype(auto) invoke() {
        return std::apply(
            [](Fn& function, Args&... arguments) -> decltype(auto) {
                return std::invoke(std::move(function), std::move(arguments)...);
            },
            call_.value);
    }
    void destroy() noexcept { call_.value.~call_type(); }

private:
    using call_type = std::tuple<Fn, Args...>;
    manual_lifetime<call_type> call_;
};

struct task_frame_base : job {
    using dispose_function = void (*)(task_frame_base*) noexcept;

    task_frame_base(execute_function run_function, dispose_function release, exception_handler handler,
                    std::uint32_t initial) noexcept
        : job(run_function), dispose(release), report(handler), state(initial) {}

    // Handle side -----------------------------------------------------------------------------------------
    std::uint32_t load_state() const noexcept {
        return state.load(std::memory_order_acquire);  // [S1] pairs with the executor's publishing RMW
    }

    // Turns pending into cancelled [S4]. Relaxed: the decision is made by the RMW's place in the word's
    // modification order; nothing is published, and freeing is ordered by release_handle().
    bool cancel() noexcept { return leave_pending(task_state::cancelled, std::memory_order_relaxed); }

    // The handle lets go of the frame (dropped or consumed) [S2].
    void release_handle() noexcept {
        // Acquire pairs with the executor's release RMW that set executor_done: its last writes happen-before
        // our free. A frame the executor is done with needs no RMW (the common spawn + get path).
        if ((state.load(std::memory_order_acquire) & task_state::executor_done) != 0) return dispose(this);
        // acq_rel: release orders our reads of the result before the executor's free; acquire, as above.
        if ((state.fetch_or(task_state::handle_gone, std::memory_order_acq_rel) & task_state::executor_done) != 0) {
            dispose(this);
        }
    }

    // Executor side ---------------------------------------------------------------------------------------
    // pending -> running; false when the task was cancelled first [S4].
    bool try_start(const void* worker) noexcept {
        runner.store(worker, std::memory_order_relaxed);  // ordered before `running` by the CAS below
        // Release: a waiter that acquires `running` reads `runner` (deadlock detection).
        return leave_pending(task_state::running, std::memory_order_release);
    }

    // Publishes the final status (or keeps `cancelled`) and gives up the executor's claim [S1][S2][S3].
    void finish(std::uint32_t final_status) noexcept {
        std::uint32_t word = state.load(std::memory_order_relaxed);
        for (;;) {
            const bool sleeper = (word & task_state::waiting) != 0;
            const std::uint32_t desired =
                (word & ~task_state::status_mask) | final_status | (sleeper ? 0U : task_state::executor_done);
            // acq_rel: release publishes the result/exception [S1]; acquire sees a handle's release of
            // handle_gone before we free the frame [S2].
            if (state.compare_exchange_weak(word, desired, std::memory_order_acq_rel, std::memory_order_relaxed)) {
                if (!sleeper) {
                    if ((word & task_state::handle_gone) != 0) dispose(this);
                    return;
                }
                break;
            }
        }
        futex_wake_all(state);  // [S3] executor_done is still clear: the frame cannot be freed yet
        if ((state.fetch_or(task_state::executor_done, std::memory_order_acq_rel) & task_state::handle_gone) != 0) {
            dispose(this);
        }
    }

    // The one transition out of `pending` (to running or cancelled), keeping the flag bits; false if another
    // transition won. Shared by cancel() and try_start(), which race for it.
    bool leave_pending(std::uint32_t status, std::memory_order success) noexcept {
        std::uint32_t word = state.load(std::memory_order_relaxed);
        while (task_state::status(word) == task_state::pending) {
            if (state.compare_exchange_weak(word, word + status, success, std::memory_order_relaxed)) return true;
        }
        return false;
    }

    dispose_function dispose;  // destroys the result and the error (reporting an unobserved one), frees memory
    exception_handler report;  // where an exception nobody retrieved goes when the frame dies
    std::exception_ptr error;  // written by the executor before [S1]; moved out by get()
    std::atomic<const void*> runner{nullptr};  // the worker that started the task (deadlock detection)
    std::atomic<std::uint32_t> state;
};

// Adds the result slot; the handle reads it through this type without knowing the callable.
template <class T>
struct valued_frame : task_frame_base {
    using task_frame_base::task_frame_base;
    manual_lifetime<T> result;  // constructed by the executor on success; destroyed by dispose
    void destroy_value() noexcept { result.value.~T(); }
};

template <>
struct valued_frame<void> : task_frame_base {
    using task_frame_base::task_frame_base;
    void destroy_value() noexcept {}
};

// A per-thread address: compares a frame's `runner` with the calling thread (deadlock detection).
inline const void* this_thread_identity() noexcept {
    static thread_local const char marker = 0;
    return &marker;
}

// Reports an exception nobody retrieved; never throws.
inline void report_unobserved(task_frame_base& frame) noexcept {
    if (frame.error) frame.report(std::exchange(frame.error, nullptr));
}

template <class T, class Fn, class... Args>
class task_frame final : public valued_frame<T> {
public:
    template <class F, class... A>
    static task_frame* create(exception_handler handler, std::uint32_t initial, F&& function, A&&... arguments) {
        void* memory = frame_cache::allocate(sizeof(task_frame), alignof(task_frame));
        try {
            return ::new (memory)
                task_frame(handler, initial, std::forward<F>(function), std::forward<A>(arguments)...);
        } catch (...) {
            frame_cache::deallocate(memory);
            throw;
        }
    }

private:
    template <class F, class... A>
    task_frame(exception_handler handler, std::uint32_t initial, F&& function, A&&... arguments)
        : valued_frame<T>(&execute, &dispose_frame, handler, initial),
          call_(std::forward<F>(function), std::forward<A>(arguments)...) {}

    static void execute(job* work) noexcept {
        auto* self = static_cast<task_frame*>(work);
        deferred_finishes::flush();  // never hold a group's finishes behind this task (group_state.hpp [G4])
        if (!self->try_start(this_thread_identity())) {
            self->call_.destroy();
            return self->finish(task_state::cancelled);
        }
        std::uint32_t outcome = task_state::completed;
        try {
            if constexpr (std::is_void_v<T>) {
                self->call_.invoke();
            } else {
                ::new (static_cast<void*>(std::addressof(self->result.value))) T(self->call_.invoke());
            }
        } catch (...) {
            self->error = std::current_exception();
            outcome = task_state::failed;
        }
        // Published after leaving the catch block: the exception's reference count is settled before a waiter
        // can see it (DESIGN.md, "Exceptions across threads").
        self->call_.destroy();
        self->finish(outcome);
    }

    static void dispose_frame(task_frame_base* base) noexcept {
        auto* self = static_cast<task_frame*>(base);
        if (task_state::status(self->state.load(std::memory_order_relaxed)) == task_state::completed) {
            self->destroy_value();  // relaxed: we own the frame now [S2]; the acquire that gave it to us came first
        }
        report_unobserved(*self);
        self->~task_frame();
        frame_cache::deallocate(self);
    }

    invocation<Fn, Args...> call_;
};

}  // namespace taskforge::detail
