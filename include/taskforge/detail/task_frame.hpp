// taskforge/detail/task_frame.hpp — one heap block per task: header, callable, arguments and result slot.
//
// A task frame is a `job` (job.hpp) plus a 32-bit state word that carries the task's status and decides, without
// a reference count, who frees the frame:
//
//   bits 0-2  status: pending -> running -> completed | failed, or pending -> cancelled
//   bit  3    executor_done  whoever ran the task (or skipped it as cancelled) will not touch the frame again
//   bit  4    handle_gone    no task_handle refers to the frame (dropped, consumed, or a detached spawn)
//   bit  5    waiting        a thread sleeps on the word (state_word.hpp)
//   bit  6    claimed        a waiting worker took the task out of `pending` and ran it inline (waiting.hpp); the
//                            queue still holds the job, whose execution then only drops the queue's reference
//   bit  7    queue_done     that queue reference is gone (only meaningful with `claimed`)
//   bit  8    continued      continuations were attached (`continuations` may hold a list; continuation.hpp)
//   bit  9    deferred       a continuation not yet fired: nobody may start or claim it (it may be cancelled)
//
// Invariants (cited as [S1]..[S6]; tests/model/state_word_model.cpp checks them):
//   [S1] The executor sets the final status with one release RMW after writing the result or the exception; a
//        reader that acquires a final status reads them.
//   [S2] The frame is freed by whichever party's RMW completes the set {executor_done, handle_gone, and
//        queue_done if claimed} (`releasable`). Each party sets its bit once, so exactly one party frees. Without
//        a sleeping waiter the executor sets the final status and executor_done in the same RMW, so a
//        spawn + get pays one RMW on each side and no reference count.
//   [S3] With a sleeper, the executor first publishes the status, wakes, and only then sets executor_done: the
//        woken handle cannot free the frame under the executor's feet.
//   [S4] cancel() only turns pending into cancelled; the frame stays queued and its executor still runs the
//        protocol (discarding the callable), so the frame is never freed while a queue holds it.
//   [S5] Leaving `pending` is one CAS (start, claim or cancel): exactly one of them wins, so the callable runs at
//        most once, and a cancelled task never runs.
//   [S6] A claimed frame is freed only after its queued job has executed (queue_done): the queues may hold a job
//        pointer long after the task finished inline, and that job must still point at a live frame.
// Continuations (continuation.hpp; tests/model/state_word_model.cpp checks [S7]-[S9] with the ones above):
//   [S7] An attacher holds a handle to the frame (or is the frame's own handle) for the whole attach, so the frame
//        outlives it [S2]. It first sets `continued` with a CAS that fails once the status is final, then pushes
//        its node onto `continuations` unless that holds the `closed` sentinel. Either way a node that is not
//        pushed is fired by the attacher itself, at once.
//   [S8] finish() reads `continued` in the same RMW that publishes the final status. If it was set, the executor
//        withholds executor_done (as for a sleeper [S3]), swaps `closed` into `continuations` and fires every
//        node it took, then sets executor_done. An attach whose CAS came first in the word's order is seen by
//        that RMW; its push comes before the swap (taken and fired by the executor) or after it (sees `closed`,
//        fires itself). An attach whose CAS came later sees the final status. So every node fires exactly once.
//   [S9] Firing never runs user code on the firing thread: a continuation frame is submitted to its pool (its
//        `deferred` bit cleared first), a trigger only counts down or decides a winner and may submit one frame.
//        So a chain of continuations never recurses, however long.
#pragma once

#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <new>
#include <stop_token>
#include <tuple>
#include <type_traits>
#include <utility>

#include "../errors.hpp"
#include "after_finish.hpp"
#include "frame_pool.hpp"
#include "group_state.hpp"
#include "job.hpp"
#include "task_probe.hpp"

namespace taskforge {
template <class T>
class task;  // task.hpp
}  // namespace taskforge

namespace taskforge::detail {

// A coroutine function's result (task.hpp): spawn() runs the coroutine; interfaces that would only drop the lazy
// task (it would never start) refuse it at compile time.
template <class T>
struct is_coroutine_task : std::false_type {};
template <class T>
struct is_coroutine_task<task<T>> : std::true_type {};

// spawn(f, args...) calls f with decay-copied arguments, like std::thread: a parameter of type T& cannot bind
// one. Instantiated only by the spawn overloads chosen when the call is not possible, so that the first error
// names the rule and the fix instead of listing unsatisfied constraints.
// A callable that can be called with a std::stop_token before its arguments gets one (task_handle::request_stop).
template <class F, class... Args>
concept takes_stop_token = std::is_invocable_v<std::decay_t<F>, std::stop_token, std::decay_t<Args>...>;

// What spawn(f, args...) accepts: f(args...) or f(stop_token, args...), with decay-copied arguments.
template <class F, class... Args>
concept spawnable = std::is_invocable_v<std::decay_t<F>, std::decay_t<Args>...> || takes_stop_token<F, Args...>;

// The result type of a task spawned with f(args...) (or f(stop_token, args...)), decayed.
template <class F, class... Args>
struct spawned_result {
    using type = std::decay_t<std::invoke_result_t<std::decay_t<F>, std::decay_t<Args>...>>;
};
template <class F, class... Args>
requires takes_stop_token<F, Args...>
struct spawned_result<F, Args...> {
    using type = std::decay_t<std::invoke_result_t<std::decay_t<F>, std::stop_token, std::decay_t<Args>...>>;
};
template <class F, class... Args>
using spawned_result_t = typename spawned_result<F, Args...>::type;

template <class F, class... Args>
struct spawnable_check {
    static_assert(spawnable<F, Args...>,
                  "taskforge: spawn(f, args...) calls f with copies of the arguments (decay-copied rvalues, as "
                  "std::thread does), and f cannot be called that way. To pass an argument by reference, wrap it: "
                  "spawn(f, std::ref(x)) or std::cref(x). Otherwise check f's parameter types against the arguments.");
};

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
inline constexpr std::uint32_t claimed = 1U << 6;
inline constexpr std::uint32_t queue_done = 1U << 7;
inline constexpr std::uint32_t continued = 1U << 8;
inline constexpr std::uint32_t deferred = 1U << 9;

constexpr std::uint32_t status(std::uint32_t word) noexcept { return word & status_mask; }
constexpr bool finished(std::uint32_t word) noexcept { return status(word) >= completed; }
// [S2]: every party that refers to the frame has let go.
constexpr bool releasable(std::uint32_t word) noexcept {
    return (word & handle_gone) != 0 && (word & executor_done) != 0 &&
           ((word & claimed) == 0 || (word & queue_done) != 0);
}
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

    // Invokes with rvalues, like std::thread: move-only arguments work. `lead` goes first (a stop token).
    template <class... Lead>
    decltype(auto) invoke(Lead&&... lead) {
        return std::apply(
            [&lead...](Fn& function, Args&... arguments) -> decltype(auto) {
                return std::invoke(std::move(function), std::forward<Lead>(lead)..., std::move(arguments)...);
            },
            call_.value);
    }
    void destroy() noexcept { call_.value.~call_type(); }

    // The callable, in place (a continuation's body keeps the triggers that fire it: continuation.hpp).
    Fn& function() noexcept { return std::get<0>(call_.value); }

private:
    using call_type = std::tuple<Fn, Args...>;
    manual_lifetime<call_type> call_;
};

struct task_frame_base : job {
    enum class operation { run_claimed, dispose, request_stop };
    using manage_function = void (*)(task_frame_base*, operation) noexcept;

    task_frame_base(execute_function run_function, manage_function manager, exception_handler handler,
                    const void* scheduler_identity, std::uint32_t initial) noexcept
        : job(run_function, &task_family), manage(manager), report(handler), pool(scheduler_identity), state(initial) {}

    // Handle side -----------------------------------------------------------------------------------------
    std::uint32_t load_state() const noexcept {
        return state.load(std::memory_order_acquire);  // [S1] pairs with the executor's publishing RMW
    }

    // Turns pending into cancelled [S4][S5]. Relaxed: the decision is made by the RMW's place in the word's
    // modification order; nothing is published, and freeing is ordered by release_handle().
    // A deferred frame's executor runs only when it is fired, maybe much later, so waiters are woken here: a
    // cancelled task is finished. The caller holds the handle, so the frame is alive [S2]; the relaxed load sees
    // `waiting` if a sleeper's CAS came before ours in the word's order, and a later sleeper sees `cancelled`.
    bool cancel() noexcept {
        if (!leave_pending(task_state::cancelled, std::memory_order_relaxed, true)) return false;
        if ((state.load(std::memory_order_relaxed) & task_state::waiting) != 0) futex_wake_all(state);
        return true;
    }

    // The handle lets go of the frame (dropped or consumed) [S2].
    void release_handle() noexcept {
        // Acquire pairs with the other parties' release RMWs: their last writes happen-before our free. When they
        // are all done, nobody else will write the word again (the common spawn + get path: no RMW).
#if defined(TASKFORGE_MODEL_MUTANT_RELEASE_IGNORES_CLAIMED)
        // Mutant (model build only): the fast path forgets the queue's reference to a claimed frame [S6].
        if (task_state::releasable((state.load(std::memory_order_acquire) | task_state::handle_gone) &
                                   ~task_state::claimed)) {
            return dispose();
        }
#else
        if (task_state::releasable(state.load(std::memory_order_acquire) | task_state::handle_gone)) return dispose();
#endif
        // acq_rel: release orders our reads of the result before another party's free; acquire, as above.
        release(task_state::handle_gone);
    }

    // Waiting worker (waiting.hpp): runs the task inline if it has not started [S5]. The queued job stays where
    // it is and only drops the queue's reference when it executes [S6].
    bool try_run_inline(const void* worker) noexcept {
        // Acquire: pairs with fire_deferred's release, so a continuation claimed here sees what was written into it
        // before it was fired (a frame reached through a queue is ordered by the queue instead).
        if (!leave_pending(task_state::running | task_state::claimed, std::memory_order_acquire)) return false;
        note_runner(worker);
        manage(this, operation::run_claimed);
        return true;
    }

    // Executor side ---------------------------------------------------------------------------------------
    // pending -> running; false when the task was cancelled or claimed first [S4][S5].
    bool try_start(const void* worker) noexcept {
        // Relaxed: the CAS only decides who runs; what the task publishes is ordered by finish() [S1].
        if (!leave_pending(task_state::running, std::memory_order_relaxed)) return false;
        note_runner(worker);
        return true;
    }

    // The winner of [S5] records its thread for deadlock detection. Only the winner writes `runner`, after
    // winning, so a loser can never overwrite it. Relaxed: the only reader that must see it is a wait on the same
    // thread (a task waiting on itself), which the store is sequenced before; any other thread reads nullptr or
    // the winner, neither of which equals its own identity.
    void note_runner(const void* worker) noexcept { runner.store(worker, std::memory_order_relaxed); }

    // The queued job of a claimed frame executes: drop the queue's reference [S6]. Relaxed: `claimed` only ever gets
    // set, by the CAS that took the frame out of `pending`; whoever reads it set is done with the frame's contents.
    bool was_claimed() const noexcept { return (state.load(std::memory_order_relaxed) & task_state::claimed) != 0; }

    // The holder of `work` (just popped from a queue): is it a claimed frame's spent queue entry?
    static bool spent(const job* work) noexcept {
        return work->family == &task_family && static_cast<const task_frame_base*>(work)->was_claimed();
    }
    void release_queue() noexcept { release(task_state::queue_done); }

    // Publishes the final status (or keeps `cancelled`) and gives up the executor's claim [S1][S2][S3][S8].
    void finish(std::uint32_t final_status) noexcept {
        std::uint32_t word = state.load(std::memory_order_relaxed);
#if defined(TASKFORGE_MODEL_MUTANT_CONTINUED_READ_EARLY)
        // Mutant (model build only): decides about continuations from a read before the publishing RMW, so a
        // continuation attached in between is never fired [S8].
        const bool continued_early = (word & task_state::continued) != 0;
#endif
        bool continued = false;
        for (;;) {
#if defined(TASKFORGE_MODEL_MUTANT_CONTINUED_READ_EARLY)
            continued = continued_early;
#else
            continued = (word & task_state::continued) != 0;  // [S8] read by the publishing RMW itself
#endif
            const bool hold = continued || (word & task_state::waiting) != 0;
            const std::uint32_t desired =
                (word & ~task_state::status_mask) | final_status | (hold ? 0U : task_state::executor_done);
            // acq_rel: release publishes the result/exception [S1]; acquire sees the other parties' releases
            // before we free the frame [S2].
            if (state.compare_exchange_weak(word, desired, std::memory_order_acq_rel, std::memory_order_relaxed)) {
                if (!hold) {
                    if (task_state::releasable(desired)) dispose();
                    return;
                }
                break;
            }
        }
        if (continued) fire_continuations();                           // [S8]
        if ((word & task_state::waiting) != 0) futex_wake_all(state);  // [S3] executor_done is still clear
        release(task_state::executor_done);
        if (continued) after_finish::drain();  // the frame may be gone: only this thread's list is touched
    }

    // Attacher holding a handle to this frame [S7]: true if `node` will be fired by the executor, false if the task
    // already finished — then the caller fires it (run(node)) itself.
    bool attach_continuation(job* node) noexcept {
        std::uint32_t word = state.load(std::memory_order_relaxed);  // a first guess: the CAS below checks it
        while ((word & task_state::continued) == 0) {
            if (task_state::finished(word)) return false;
            // Relaxed: what matters is the CAS's place in the word's modification order, which finish()'s RMW reads
            // [S8]; no data travels with the bit.
            if (state.compare_exchange_weak(word, word | task_state::continued, std::memory_order_relaxed,
                                            std::memory_order_relaxed)) {
                break;
            }
        }
        job* head = continuations.load(std::memory_order_relaxed);  // a first guess: the CAS below checks it
        do {
            if (head == &closed_continuations) return false;    // the executor took the list already [S8]
            node->next.store(head, std::memory_order_relaxed);  // published by the CAS below
            // Release: the node (a frame built by this thread) and its link happen-before the executor's acquire
            // exchange in fire_continuations().
        } while (
            !continuations.compare_exchange_weak(head, node, std::memory_order_release, std::memory_order_relaxed));
        return true;
    }

    // The one transition out of `pending` (to running, claimed or cancelled), keeping the flag bits; false if
    // another transition won [S5]. Shared by cancel(), try_start() and try_run_inline(), which race for it. Only
    // cancel() may leave `pending` while the frame is `deferred` (an unfired continuation) [S9].
    bool leave_pending(std::uint32_t status, std::memory_order success, bool even_deferred = false) noexcept {
#if defined(TASKFORGE_MODEL_MUTANT_CLAIM_DEFERRED)
        even_deferred = true;  // mutant (model build only): an unfired continuation can be started or claimed [S9]
#endif
        std::uint32_t word = state.load(std::memory_order_relaxed);
        while (task_state::status(word) == task_state::pending &&
               (even_deferred || (word & task_state::deferred) == 0)) {
            if (state.compare_exchange_weak(word, word + status, success, std::memory_order_relaxed)) return true;
        }
        return false;
    }

    // Sets one party's bit; frees the frame if that completed the set [S2].
    void release(std::uint32_t party) noexcept {
        // acq_rel: release orders this party's last accesses before the freeing party's acquire; acquire lets us
        // free after the others' releases.
        if (task_state::releasable(state.fetch_or(party, std::memory_order_acq_rel) | party)) dispose();
    }

    void dispose() noexcept { manage(this, operation::dispose); }

    // Handle side: asks a running task to stop (its stop token), if it took one; nothing otherwise.
    void request_stop() noexcept { manage(this, operation::request_stop); }

    // Executor, after publishing the final status with `continued` set [S8]: fires every attached node [S9].
    TASKFORGE_COLD void fire_continuations() noexcept {
        // Acquire pairs with the attachers' release pushes: their nodes are fully built here.
        job* node = continuations.exchange(&closed_continuations, std::memory_order_acquire);
        while (node != nullptr) {
            job* const following = node->next.load(std::memory_order_relaxed);  // before run(): it may be reused
            run(node);
            node = following;
        }
    }

    // Marks the list as taken by the executor [S8]; never fired, never freed.
    static inline job closed_continuations{nullptr};

    manage_function manage;    // runs a claimed task inline, or destroys the frame (result, error, memory)
    exception_handler report;  // where an exception nobody retrieved goes when the frame dies
    const void* pool;          // the runtime the task was spawned on (waiting.hpp: same-pool inline runs only)
    std::exception_ptr error;  // written by the executor before [S1]; moved out by get()
    atomic<const void*> runner{nullptr};  // the thread that started the task (deadlock detection)
    atomic<job*> continuations{nullptr};  // attached continuation nodes, linked by job::next [S7][S8]
    atomic<std::uint32_t> state;
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

// Submits a fired continuation frame to the runtime `pool` (runtime.hpp); if the runtime no longer accepts work,
// runs it as cancelled instead. Never throws.
inline void schedule_fired(const void* pool, job* work) noexcept;

// Fires the deferred continuation `frame` [S9]: clears `deferred` and submits it. The submission orders the clearing
// before whoever starts the frame from a queue. A waiter may instead claim the frame in place as soon as its RMW
// reads the cleared bit, and then runs the frame's body, which reads what was written before the firing (an
// unwrapped then()'s slot, continuation.hpp): release makes that claim synchronize with us, and through our own
// acquire of the predecessor's completion, with the slot's writer. (Relaxed here was a data race TSan found in CI.)
// A template so that a header which never fires (this one alone) needs no definition of schedule_fired.
template <class Frame>
void fire_deferred(Frame& frame) noexcept {
#if defined(TASKFORGE_MODEL_MUTANT_FIRE_RELAXED)
    // Mutant (model build only): the firing publishes nothing, so a claimer reads the slot unordered [S9].
    frame.state.fetch_and(~task_state::deferred, std::memory_order_relaxed);
#else
    frame.state.fetch_and(~task_state::deferred, std::memory_order_release);
#endif
    schedule_fired(frame.pool, &frame);
}

// Thrown by a continuation's body when what it continues was cancelled (continuation.hpp): the continuation then
// ends cancelled too. A task_cancelled that user code throws is an ordinary failure; this type is not reachable
// from user code.
struct predecessor_cancelled {};

// A callable that may throw predecessor_cancelled: continuation bodies.
template <class Fn>
concept propagates_cancellation = requires {
    Fn::propagates_cancellation;
};

// A per-thread address: compares a frame's `runner` with the calling thread (deadlock detection).
inline const void* this_thread_identity() noexcept {
    static thread_local const char marker = 0;
    return &marker;
}

// Is `error` a predecessor_cancelled?
inline bool is_cancellation(const std::exception_ptr& error) noexcept {
    try {
        std::rethrow_exception(error);
    } catch (const predecessor_cancelled&) {
        return true;
    } catch (...) {
        return false;
    }
}

// Reports an exception nobody retrieved; never throws.
inline void report_unobserved(task_frame_base& frame) noexcept {
    if (frame.error) frame.report(std::exchange(frame.error, nullptr));
}

template <class T, class Fn, class... Args>
class task_frame final : public valued_frame<T> {
public:
    template <class F, class... A>
    static task_frame* create(exception_handler handler, const void* home, std::uint32_t initial, F&& function,
                              A&&... arguments) {
        void* memory = frame_cache::allocate(sizeof(task_frame), alignof(task_frame));
        try {
            return ::new (memory)
                task_frame(handler, home, initial, std::forward<F>(function), std::forward<A>(arguments)...);
        } catch (...) {
            frame_cache::deallocate(memory);
            throw;
        }
    }

    // Callable of a continuation (continuation.hpp): the triggers it keeps are reached through it.
    Fn& callable() noexcept { return call_.function(); }

private:
    using base = task_frame_base;

    // A callable that takes a stop token gets one from this frame's own stop source, which lives as long as the
    // frame (a request_stop() through the handle can race the task's end). Other tasks carry no stop state.
    static constexpr bool stoppable = std::is_invocable_v<Fn, std::stop_token, Args...>;
    struct no_stop_source {};
    using stop_source_type = std::conditional_t<stoppable, std::stop_source, no_stop_source>;

    template <class F, class... A>
    task_frame(exception_handler handler, const void* home, std::uint32_t initial, F&& function, A&&... arguments)
        : valued_frame<T>(&execute, &manage_frame, handler, home, initial),
          call_(std::forward<F>(function), std::forward<A>(arguments)...) {}

    decltype(auto) invoke_callable() {
        if constexpr (stoppable) {
            return call_.invoke(stop_.get_token());
        } else {
            return call_.invoke();
        }
    }

    // The queued job: runs the task, or skips it (cancelled [S4], or already run inline by a waiter [S6]). A deferred
    // continuation is not queued: its predecessor fires it by running this, which submits it [S9].
    static void execute(job* work) noexcept {
        auto* self = static_cast<task_frame*>(work);
        deferred_finishes::flush();  // never hold a group's finishes behind this task (group_state.hpp [G4])
        if (self->try_start(this_thread_identity())) return run_body(self);
        if (self->was_claimed()) return self->release_queue();
        // Relaxed: `deferred` is set when the frame is made and cleared only by its firing, which happens-before any
        // execution from a queue (the submission orders it); a firing executes the frame while it is still set.
        if ((self->state.load(std::memory_order_relaxed) & task_state::deferred) != 0) return fire_deferred(*self);
        self->call_.destroy();
        self->finish(task_state::cancelled);
    }

    static void run_body(task_frame* self) noexcept {
        std::uint32_t outcome = task_state::completed;
        const enclosing_group outside(nullptr);  // [K2] a task is not inside the group task that spawned it
        const task_probe probe;
        try {
            if constexpr (std::is_void_v<T>) {
                self->invoke_callable();
            } else {
                ::new (static_cast<void*>(std::addressof(self->result.value))) T(self->invoke_callable());
            }
        } catch (...) {
            self->error = std::current_exception();
            outcome = task_state::failed;
            if constexpr (propagates_cancellation<Fn>) {
                if (is_cancellation(self->error)) {
                    self->error = nullptr;
                    outcome = task_state::cancelled;
                }
            }
        }
        probe.finish(trace_name_of(self->callable(), "task"));  // the callable still exists (moved from at most)
        // Published after leaving the catch block: the exception's reference count is settled before a waiter
        // can see it (docs/design.md, "Exceptions across threads").
        self->call_.destroy();
        self->finish(outcome);
    }

    static void manage_frame(base* frame, base::operation what) noexcept {
        auto* self = static_cast<task_frame*>(frame);
        if (what == base::operation::run_claimed) {
            deferred_finishes::flush();  // as in execute(): no group's finishes held behind this task [G4]
            return run_body(self);
        }
        if (what == base::operation::request_stop) {
            if constexpr (stoppable) self->stop_.request_stop();  // thread-safe; the handle keeps the frame [S2]
            return;
        }
        if (task_state::status(self->state.load(std::memory_order_relaxed)) == task_state::completed) {
            self->destroy_value();  // relaxed: we own the frame now [S2]; the acquire that gave it to us came first
        }
        report_unobserved(*self);
        self->~task_frame();
        frame_cache::deallocate(self);
    }

    // Made before the callable: if making it throws, there is no callable to destroy by hand.
    [[no_unique_address]] stop_source_type stop_;
    invocation<Fn, Args...> call_;
};

}  // namespace taskforge::detail
