// taskforge/detail/coroutine_frame.hpp — the machinery behind taskforge::task<T> (task.hpp): the promise, the job
// that resumes a coroutine on a worker, the frame that runs a spawned coroutine function, and sync_wait's driver.
//
// Who resumes a coroutine, and where
//   * A coroutine awaiting another task<T> is resumed by it, by symmetric transfer from its final suspend point
//     (no stack growth, no queue).
//   * A coroutine that awaits pool.schedule() or a task_handle is resumed by a `resume_job` that lives in the
//     awaiter (so in the suspended coroutine's frame: no allocation) and goes through its pool's queues like any
//     job. A handle's completion fires the awaiter's job as a continuation (task_frame.hpp [S7][S8]); firing only
//     queues it on the coroutine's home pool — the scheduler whose worker it suspended on, else the awaited task's
//     — so the completing thread never runs the coroutine [S9] and a chain of awaits never recurses.
//   * [C1] A resume_job is executed exactly once, by one worker, and nothing touches it after it resumed the
//     coroutine: the coroutine may finish and free the frame that holds it.
//   * [C2] If the home pool refuses the resumption (shut down, or a fork() child), the coroutine is resumed at once
//     on the completing thread, and its co_await throws scheduler_closed: never leaked, never queued on a pool
//     that will not run it.
//     The resumption runs once the finish() that fired it is over (task_frame.hpp, after_finish: the finished
//     task's sleepers are woken and its other continuations fired first), from a thread-local list drained by the
//     outermost finish(), so a chain of coroutines awaiting one another unwinds in constant stack.
//   * [C3] A spawned coroutine function's frame (coroutine_frame) keeps the callable and its arguments until the
//     coroutine finished (C++ Core Guidelines CP.51: a lambda's captures outlive its coroutine), and finishes the
//     task's state word when the coroutine does, from the coroutine's final suspend point.
//   * [C4] A runtime outlives every coroutine that may still reach it: a spawned coroutine until its task
//     finished, a coroutine suspended on a handle with this runtime as its home until its resumption was queued
//     or refused. The runtime counts them (coroutine_arrived / coroutine_left); shutdown() and the destructor
//     wait for none to be left (a suspended coroutine is in no queue, so draining the queues is not enough).
//   * [C5] Every coroutine of one spawned task sees that task's stop token: the spawned coroutine gets it from its
//     frame (if its function takes a std::stop_token), and a task<T> gets its awaiter's when it starts. Tasks it
//     spawns are tasks of their own, with their own tokens.
#pragma once

#include <coroutine>
#include <cstddef>
#include <exception>
#include <future>
#include <new>
#include <stop_token>
#include <type_traits>
#include <utility>
#include <variant>

#include "../errors.hpp"
#include "frame_pool.hpp"
#include "job.hpp"
#include "runtime.hpp"
#include "task_frame.hpp"
#include "task_probe.hpp"

namespace taskforge::detail {

// The family of every resume_job: a waiting worker never takes one for a task it waits on (waiting.hpp [W1]).
inline constexpr char coroutine_family = 0;

// Resumes `coroutine` when executed [C1]. Lives in an awaiter, inside the suspended coroutine's frame.
struct resume_job : job {
    resume_job() noexcept : job(&resume, &coroutine_family) {}

    std::coroutine_handle<> coroutine;
    runtime* home = nullptr;            // where a fired resumption is queued (handle awaits)
    bool refused = false;               // [C2] resumed on the completing thread: the co_await throws scheduler_closed
    priority level = priority::normal;  // the coroutine's level when it suspended: it resumes at it (levels.hpp [Y1])

    static void resume(job* work) noexcept {
        deferred_finishes::flush();  // group_state.hpp [G4]: the coroutine may wait for a group we still count in
        const task_probe probe;
        const enclosing_group outside(nullptr);  // [K2] a coroutine is in no group task's scope
        const running_group* const base = std::exchange(running_group::resumption_base(), running_group::innermost());
        static_cast<resume_job*>(work)->coroutine.resume();  // [C1] our last access to the job
        running_group::resumption_base() = base;
        probe.finish("coroutine");
    }

    // Fired as a continuation of an awaited task (task_frame.hpp [S8]), on the completing thread: queue the
    // resumption on the home pool [S9], or resume here with scheduler_closed if it refuses [C2]. Either way the
    // home runtime is not touched after it was told this coroutine left [C4].
    static void fire(job* work) noexcept { queue(static_cast<resume_job*>(work), true); }

    // Fired by the finisher of a task group's zero (group_state.hpp [G8]), which may be anywhere in a worker's
    // loop (a deferred finish released just before it blocks or leaves [G4]): queued through the home pool's
    // injection queue, never onto the finisher's own lane, so nothing waits on a worker that is about to block.
    static void fire_from_group(job* work) noexcept { queue(static_cast<resume_job*>(work), false); }

private:
    static void queue(resume_job* self, bool own_lane) noexcept {
        runtime* const home = self->home;
        self->execute = &resume_job::resume;
        try {
            worker* const here = current_worker;
            if (here != nullptr && here->pool == home) {
                if (own_lane) {
                    home->push_join(*here, self, self->level);  // as schedule_fired: popped when the task returns
                } else {
                    home->pass_on(self, self->level);  // accepted work: never refused, also during shutdown
                }
            } else {
                home->submit(self, self->level);
            }
        } catch (...) {
            self->refused = true;
            home->coroutine_left();
            return after_finish::defer(self);  // [C2] resumed once the finish() that fired us is over
        }
        home->coroutine_left();  // [C1] `self` may be resumed (and gone) already: only `home` is used
    }
};

// What a finished coroutine hands its awaiter: its value or its exception.
template <class T>
class coroutine_outcome {
public:
    template <class U>
    void set_value(U&& value) {
        outcome_.template emplace<1>(std::forward<U>(value));
    }
    void set_error(std::exception_ptr error) noexcept { outcome_.template emplace<2>(std::move(error)); }
    bool failed() const noexcept { return outcome_.index() == 2 && std::get<2>(outcome_) != nullptr; }
    std::exception_ptr error() const noexcept { return failed() ? std::get<2>(outcome_) : nullptr; }
    // The value, or the exception rethrown. The exception is moved out first: this thread's references to it
    // are then its own, so whichever thread later destroys the outcome never frees an exception this thread is
    // still handling (docs/design.md, "Exceptions across threads": its reference count is settled before it is seen).
    T take() {
        if (failed()) std::rethrow_exception(std::exchange(std::get<2>(outcome_), nullptr));
        return std::move(std::get<1>(outcome_));
    }

private:
    std::variant<std::monostate, T, std::exception_ptr> outcome_;
};

template <>
class coroutine_outcome<void> {
public:
    void set_error(std::exception_ptr error) noexcept { error_ = std::move(error); }
    bool failed() const noexcept { return error_ != nullptr; }
    std::exception_ptr error() const noexcept { return error_; }
    void take() {  // as above: the exception is moved out
        if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
    }

private:
    std::exception_ptr error_;
};

// What every task<T> promise shares: laziness, the final transfer, frames from the frame pool.
struct promise_core {
    std::coroutine_handle<> continuation;  // the coroutine awaiting this one, if any
    // [C5] The stop token of the spawned task this coroutine runs for (this_task::stop_token()): set by
    // coroutine_frame::start for the spawned coroutine, handed down to each task<T> it awaits. Empty (no stop
    // possible) under sync_wait and for a spawned function that takes no std::stop_token.
    std::stop_token stop;
    // Or, for a spawned coroutine (coroutine_frame) or sync_wait: called at the final suspend point instead.
    void (*on_done)(void* context) noexcept = nullptr;
    void* on_done_context = nullptr;

    struct final_transfer {
        bool await_ready() const noexcept { return false; }
        template <class Promise>
        std::coroutine_handle<> await_suspend(std::coroutine_handle<Promise> self) noexcept {
            promise_core& promise = self.promise();
            if (promise.on_done != nullptr) {
                promise.on_done(promise.on_done_context);  // may destroy `self`: nothing after touches it
                return std::noop_coroutine();
            }
            return promise.continuation ? promise.continuation : std::noop_coroutine();  // symmetric transfer
        }
        void await_resume() const noexcept {}
    };

    std::suspend_always initial_suspend() const noexcept { return {}; }  // lazy
    final_transfer final_suspend() const noexcept { return {}; }

    // Coroutine frames come from the calling thread's frame pool, as task frames do (frame_pool.hpp).
    static void* operator new(std::size_t size) { return frame_cache::allocate(size, alignof(std::max_align_t)); }
    static void operator delete(void* memory) noexcept { frame_cache::deallocate(memory); }
};

// A spawned coroutine function's task (scheduler::spawn): a task frame whose callable and arguments live until the
// coroutine finished [C3], which starts the coroutine when the frame runs (or a waiter claims it) and finishes
// the state word from the coroutine's final suspend point.
template <class Task, class T, class Fn, class... Args>
class coroutine_frame final : public valued_frame<T> {
public:
    template <class F, class... A>
    static coroutine_frame* create(exception_handler handler, const void* home, F&& function, A&&... arguments) {
        void* memory = frame_cache::allocate(sizeof(coroutine_frame), alignof(coroutine_frame));
        try {
            return ::new (memory)
                coroutine_frame(handler, home, std::forward<F>(function), std::forward<A>(arguments)...);
        } catch (...) {
            frame_cache::deallocate(memory);
            throw;
        }
    }

private:
    using base = task_frame_base;
    using promise_type = typename Task::promise_type;
    static constexpr bool stoppable = std::is_invocable_v<Fn, std::stop_token, Args...>;
    struct no_stop_source {};
    using stop_source_type = std::conditional_t<stoppable, std::stop_source, no_stop_source>;

    template <class F, class... A>
    coroutine_frame(exception_handler handler, const void* home, F&& function, A&&... arguments)
        : valued_frame<T>(&execute, &manage_frame, handler, home, task_state::pending),
          call_(std::forward<F>(function), std::forward<A>(arguments)...) {}

    static void execute(job* work) noexcept {
        auto* self = static_cast<coroutine_frame*>(work);
        deferred_finishes::flush();  // as task_frame::execute (group_state.hpp [G4])
        if (self->try_start(this_thread_identity())) return start(self);
        if (self->was_claimed()) return self->release_queue();
        self->call_.destroy();
        finish_task(self, task_state::cancelled);
    }

    // Every end of the task: the state word, then [C4] (the frame may be gone once finish() returned).
    static void finish_task(coroutine_frame* self, std::uint32_t status) noexcept {
        runtime& home = *static_cast<runtime*>(const_cast<void*>(self->pool));
        self->finish(status);
        home.coroutine_left();
    }

    // Creates the coroutine from the callable and runs it to its first suspension. From here on the frame may
    // be finished (and freed) by whoever completes the coroutine: nothing touches `self` after resume().
    static void start(coroutine_frame* self) noexcept {
        // Not a running task in the sense of deadlock detection (task_handle.hpp): it suspends and resumes on any
        // thread, so no thread may take it for a task below it on its own stack.
        self->note_runner(nullptr);
        const enclosing_group outside(nullptr);  // [K2] as task_frame::run_body
        std::coroutine_handle<promise_type> coroutine;
        try {
            Task created = self->invoke_callable();
            coroutine = created.release();
        } catch (...) {
            self->error = std::current_exception();
            self->call_.destroy();
            return finish_task(self, task_state::failed);
        }
        if (!coroutine) {  // the function returned an empty task
            self->error = std::make_exception_ptr(std::future_error(std::future_errc::no_state));
            self->call_.destroy();
            return finish_task(self, task_state::failed);
        }
        self->coroutine_ = coroutine;
        if constexpr (stoppable) coroutine.promise().stop = self->stop_.get_token();  // [C5]
        coroutine.promise().on_done = &coroutine_done;
        coroutine.promise().on_done_context = self;
        const char* const name = trace_name_of(self->call_.function(), "coroutine");
        const task_probe probe;
        coroutine.resume();
        probe.finish(name);
    }

    // The coroutine's final suspend point [C3]: its outcome becomes the task's.
    static void coroutine_done(void* context) noexcept {
        auto* self = static_cast<coroutine_frame*>(context);
        auto& outcome = self->coroutine_.promise().outcome;
        std::uint32_t status = task_state::completed;
        if (outcome.failed()) {
            self->error = outcome.error();
            status = task_state::failed;
        } else if constexpr (!std::is_void_v<T>) {
            try {
                ::new (static_cast<void*>(std::addressof(self->result.value))) T(outcome.take());
            } catch (...) {
                self->error = std::current_exception();
                status = task_state::failed;
            }
        }
        self->coroutine_.destroy();  // suspended at its final point: destroying it here is allowed
        self->coroutine_ = nullptr;
        self->call_.destroy();  // [C3] only now
        finish_task(self, status);
    }

    decltype(auto) invoke_callable() {
        if constexpr (stoppable) {
            return call_.invoke(stop_.get_token());
        } else {
            return call_.invoke();
        }
    }

    static void manage_frame(base* frame, base::operation what) noexcept {
        auto* self = static_cast<coroutine_frame*>(frame);
        if (what == base::operation::run_claimed) {
            deferred_finishes::flush();
            return start(self);
        }
        if (what == base::operation::request_stop) {
            if constexpr (stoppable) self->stop_.request_stop();
            return;
        }
        if (task_state::status(self->state.load(std::memory_order_relaxed)) == task_state::completed) {
            self->destroy_value();
        }
        report_unobserved(*self);
        self->~coroutine_frame();
        frame_cache::deallocate(self);
    }

    [[no_unique_address]] stop_source_type stop_;
    invocation<Fn, Args...> call_;
    std::coroutine_handle<promise_type> coroutine_;
};

// sync_wait's meeting point, shared by the waiting thread and the driver coroutine (a wait that throws leaves the
// driver running with the slot alive): the driver stores the outcome and then sets `done` (release, after
// everything it wrote; the waiter's acquire reads it), waking the waiter if it sleeps.
template <class T>
struct sync_slot {
    static constexpr std::uint32_t done = 1;
    static constexpr std::uint32_t waiting = 2;
    coroutine_outcome<T> outcome;
    atomic<std::uint32_t> word{0};
};

// The driver: a coroutine that awaits the task and reports to a sync_slot. It destroys itself when it ends
// (final_suspend never suspends) and notifies from its promise's destructor, which runs before its parameters
// (one of them holds the slot) are destroyed.
template <class T>
struct sync_driver {
    struct promise_type {
        sync_slot<T>* slot = nullptr;
        sync_driver get_return_object() noexcept {
            return sync_driver{std::coroutine_handle<promise_type>::from_promise(*this)};
        }
        std::suspend_always initial_suspend() const noexcept { return {}; }
        std::suspend_never final_suspend() const noexcept { return {}; }
        void return_void() const noexcept {}
        void unhandled_exception() const noexcept { std::terminate(); }  // the body catches everything
        ~promise_type() {
            atomic<std::uint32_t>& word = slot->word;
            // Release publishes the outcome to the waiter's acquire in block_until.
            if ((word.fetch_or(sync_slot<T>::done, std::memory_order_release) & sync_slot<T>::waiting) != 0) {
                futex_wake_all(word);
            }
        }
        static void* operator new(std::size_t size) { return frame_cache::allocate(size, alignof(std::max_align_t)); }
        static void operator delete(void* memory) noexcept { frame_cache::deallocate(memory); }
    };
    std::coroutine_handle<promise_type> coroutine;
};

}  // namespace taskforge::detail
