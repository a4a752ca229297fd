// taskforge/detail/waiting.hpp — the rules every waiting thread follows: what it may run, when it blocks, and how
// the pool keeps its parallelism meanwhile. task_handle::wait/get and task_group::wait come here.
//
// The danger (issue 9)
//   A worker that waits cannot suspend its stack: whatever it runs while waiting sits on top of the waiting frame
//   and must return before that frame can continue. If it runs a task E that (directly or through others) waits
//   for the frame below it, the program deadlocks although its own wait graph has no cycle. "Help with anything"
//   (the first design) did exactly that, and capping its depth turned the deadlock into a hang.
//
// The rule
//   [W1] A worker runs on top of its wait only work it is itself waiting for: the awaited task, if it has not
//        started and belongs to the worker's own pool (from the top of its own deque, or claimed in place:
//        task_frame.hpp [S5][S6]); or, for a group, the group's tasks found on top of its own deque.
//        Every frame on a worker's stack therefore waits (transitively) for the frame above it. A task run on
//        top can wait only for work the frames below also wait for; if it waited for one of them, the program's
//        wait graph would contain a cycle. So no acyclic program can deadlock by what a waiter runs, and the stack
//        grows only as deep as the program's own chain of nested waits — like recursion.
//   [W2] Otherwise the waiter blocks on the awaited word itself (state_word.hpp): woken by completion, no timed
//        naps, no polling. Before a worker blocks, its runtime makes sure another thread stands in for it
//        (runtime.hpp [R1]: wake a sleeper's work, or start a spare), so the jobs left in its deque and any
//        work the awaited task needs from this pool still run.
//   [W3] Blocking, not running, is also the rule for: a wait with a deadline (it must return on time, so it
//        never starts work of unknown length), a wait for a task of another pool (its task must run on its own
//        pool's workers), a wait on a worker whose stack is within its reserve (runtime.hpp, stack_floor), and
//        a scheduler's shutdown on another pool's worker.
//   [W4] A thread that is not a worker waits as a guest of the awaited work's pool when a guest slot is free
//        (guest_slots.hpp): for the length of the wait it is a worker under [W1]-[W3] — it may run the awaited
//        task, its group's tasks (from its own deque, from the head of the injection queue, where that thread's
//        own spawns went, or stolen from other deques: runtime.hpp, steal_wanted), and whatever they spawn — and
//        blocks otherwise. Its stack floor is its own
//        thread's. Without a slot, or with a deadline ([W3]), it blocks (after a short spin), as before.
//   [W5] Waits that can only be cycles are reported instead of hanging: a task waiting on itself or on a task
//        below it on its own stack (task_handle.hpp), and a group waited on from inside one of its own tasks —
//        also from a join half or loop piece forked there, on whichever thread runs it (running_group and
//        forked_records, group_state.hpp) — throw std::system_error(resource_deadlock_would_occur).
//   [W6] Spares are bounded (options::max_spare_threads per scheduler). Past the bound a wait for a task of its
//        own pool that is already running elsewhere blocks uncompensated: that task is making progress on its
//        own thread (or is itself waiting under these rules), so only parallelism is lost, never progress. Every
//        other blocking wait (a group, another pool, a deadline, a task left pending because of the stack
//        reserve) might need a standing worker of this pool to run what it waits for; it throws
//        std::system_error(resource_unavailable_try_again) instead: a clear error, never a possible hang.
//   [W7] A waiter spins briefly before it asks for a spare: most stolen children finish within microseconds, and
//        a spare started for nothing costs a thread wake-up and a core's share.
//   [W8] A guest is patient before it blocks (guest_patience): for up to guest_patience_us it keeps looking —
//        pausing for the first few microseconds, then yielding the core — for the awaited work to finish or for
//        a group member to turn up (a worker may be moving the injection queue's batch into its deque right then).
//        An outside waiter has nothing else to do, and on a virtual machine a futex wake-up takes 15-30 us,
//        longer than the tasks of a typical fan-out; yielding leaves the core to a worker when threads outnumber
//        cores. So the last task to finish hands the result to a spinning guest without any system call
//        (issue 11). Workers keep [W7]: a worker that blocks has a stand-in to start and work of its own queued.
#pragma once

#include <chrono>
#include <system_error>

#include "group_state.hpp"
#include "guest_slots.hpp"
#include "runtime.hpp"
#include "state_word.hpp"
#include "task_frame.hpp"

namespace taskforge::detail {

using deadline_type = std::chrono::steady_clock::time_point;

// How long a guest keeps looking before it blocks [W8].
#if defined(TASKFORGE_RELACY)
inline constexpr std::uint64_t guest_patience_us = 0;  // the model checker explores every interleaving instead
#else
inline constexpr std::uint64_t guest_patience_us = 50;
#endif

// A guest's spinning budget [W8]: each call to wait_a_little() waits a moment and says whether to look again.
class guest_patience {
public:
    bool wait_a_little() noexcept {
        if constexpr (guest_patience_us == 0) return false;
        if (rounds_ < pausing_rounds) {
            if (rounds_++ == 0) since_ = rough_ticks();
            for (int spin = 0; spin < 16; ++spin) cpu_relax();
            return true;
        }
        // Unsigned: a counter that went back (another core's) reads as a huge difference, a spent budget.
        if (rough_ticks() - since_ >= guest_patience_us * rough_ticks_per_microsecond) return false;
        yield_thread();
        return true;
    }

private:
    static constexpr int pausing_rounds = 8;  // 128 pauses (3-5 us) before the first yield
    int rounds_ = 0;
    std::uint64_t since_ = 0;
};

// Blocks worker `self` (compensated, [W2][W6]) or any other thread until done(word) or the deadline.
template <class Done>
bool block_on(worker* self, atomic<std::uint32_t>& word, std::uint32_t waiting, Done done,
              const deadline_type* deadline, bool required) {
    if (self == nullptr) return block_until(word, waiting, done, deadline);
    if (deadline != nullptr && std::chrono::steady_clock::now() >= *deadline) {
        return done(word.load(std::memory_order_acquire));  // a zero or past limit only looks
    }
    for (int spin = 0; spin < spins_before_sleep; ++spin) {           // [W7]
        if (done(word.load(std::memory_order_acquire))) return true;  // pairs with the publisher's release RMW
        cpu_relax();
    }
    // A task that this thread ran on top of the wait called fork(), and this is the child: whoever would finish
    // the awaited work stayed in the parent.
    if (self->pool->inherited()) throw scheduler_closed();
    self->pool->begin_blocking(*self, required);
    struct unblock_on_exit {
        worker& self;
        ~unblock_on_exit() { self.pool->end_blocking(self); }
    } unblock{*self};
    return block_until(word, waiting, done, deadline);
}

// An outside thread's visit to a pool as a guest [W4], for the length of one wait: entered only while
// `unfinished()` still holds after registering [V5], left (handing back what it could not run) on every exit.
// `enter` false (a wait with a deadline [W3]): only the fork() check. In a fork() child the runtime is inherited
// when its workers stayed in the parent: nobody will finish the wait, which throws scheduler_closed.
class guest_visit {
public:
    template <class Unfinished>
    guest_visit(runtime& pool, Unfinished unfinished, bool enter = true) {
        const guest_registration registration;
        if (!unfinished()) return;
        if (forked() && pool.inherited()) throw scheduler_closed();
        if (enter) slot_ = pool.enter_as_guest();
    }
    ~guest_visit() {
        if (slot_ != nullptr) slot_->pool->leave_as_guest(*slot_);
    }
    guest_visit(const guest_visit&) = delete;
    guest_visit& operator=(const guest_visit&) = delete;

    worker* slot() const noexcept { return slot_; }

private:
    worker* slot_ = nullptr;
};

// The runtime a frame was spawned on (task_frame.hpp keeps it untyped).
inline runtime& runtime_of(const task_frame_base& frame) noexcept {
    return *static_cast<runtime*>(const_cast<void*>(frame.pool));
}

// Worker (or guest) `self` of the frame's pool, with stack to spare: [W1] runs the awaited task here if nobody
// started it: from the top of one of our own lanes (runtime.hpp, pop_awaited), at that lane's level [Y3] (a
// guest: also from the head of an injection queue, where its own spawn went [W4]), else claimed where it sits.
// Taken from a queue it leaves no spent entry behind, which would keep the frame alive until a worker drops it.
// Also co_await on a handle (task.hpp).
inline void run_awaited_here(worker& self, task_frame_base& frame) {
    job* const awaited = &frame;
    const auto is_awaited = [awaited](const job* candidate) { return candidate == awaited; };
    priority level = priority::normal;
    if (self.pool->pop_awaited(self, awaited, level) != nullptr ||
        (self.guest && self.pool->take_injected_wanted(self, is_awaited, level) != nullptr)) {
        runtime::run_at(self, awaited, level);
    } else {
        frame.try_run_inline(this_thread_identity());
    }
}

// Worker (or guest) `self`, or nullptr for an outside thread that waits without a slot.
inline bool wait_for_task_as(worker* self, task_frame_base& frame, const deadline_type* deadline) {
    if (self != nullptr && deadline == nullptr && frame.pool == self->pool && runtime::stack_has_room(*self)) {
        run_awaited_here(*self, frame);  // [W1]
        if (task_state::finished(frame.load_state())) return true;
    }
    // [W6]: a deadline ends the wait anyway, and a task of our own pool that already left `pending` is running;
    // every other wait may need a standing worker.
    if (self != nullptr && self->guest && deadline == nullptr) {  // [W8]
        guest_patience patience;
        while (patience.wait_a_little()) {
            if (task_state::finished(frame.load_state())) return true;
        }
    }
    const bool required = deadline == nullptr && (self == nullptr || frame.pool != self->pool ||
                                                  task_state::status(frame.load_state()) == task_state::pending);
    return block_on(self, frame.state, task_state::waiting, &task_state::finished, deadline, required);
}

// Any thread: waits until the task of `frame` finished; false if `deadline` passed first.
inline bool wait_for_task(task_frame_base& frame, const deadline_type* deadline) {
    if (task_state::finished(frame.load_state())) return true;
    worker* const self = current_worker;
    if (self != nullptr) return wait_for_task_as(self, frame, deadline);
    // The runtime is read only inside a registration [V5]: it may be being destroyed.
    const guest_visit visit(
        runtime_of(frame), [&frame] { return !task_state::finished(frame.load_state()); }, deadline == nullptr);
    return wait_for_task_as(visit.slot(), frame, deadline);
}

// Any thread, before a coroutine suspends on work of `pool` that `unfinished()` says is not done: in a fork() child,
// a pool inherited from the parent (its workers stayed there) never finishes that work, and one that `here` (our
// worker slot, or nullptr) belongs to never resumes us — scheduler_closed, as a blocking wait gets (guest_visit).
// The pool is read only inside a registration, after `unfinished()` held [V5]: it may be being destroyed.
template <class Unfinished>
void refuse_inherited_await(runtime& pool, const worker* here, Unfinished unfinished) {
    if (!forked()) [[likely]]
        return;
    const guest_registration registration;
    if (!unfinished()) return;
    if (pool.inherited() || (here != nullptr && here->pool->inherited())) throw scheduler_closed();
}

// Worker (or guest) `self` of the group's pool: [W1] runs the group's tasks found on top of its own lanes (a
// guest: also at the head of the injection queues and in other deques [W4]) until the count is zero or none is
// found. Also co_await on a group (task.hpp).
// `stealing_given_up`: set once a steal took a job that was not a member (runtime.hpp, steal_wanted); it stays set
// for the rest of the wait, across calls.
inline void help_group(worker& self, group_state& group, bool& stealing_given_up) {
    auto& word = group.word();
    runtime& pool = *self.pool;
    const void* const family = &group;
    const auto is_member = [family](const job* candidate) { return candidate->family == family; };
    for (;;) {
        deferred_finishes::flush();  // our own finishes may be what the group still counts [G4]
        if (group_state::no_tasks_left(word.load(std::memory_order_acquire))) return;
        if (!runtime::stack_has_room(self)) return;
        priority level = priority::normal;
        job* member = pool.pop_own_if(self, is_member, level);
        if (member == nullptr && self.guest) {  // [W4]: the head of the injection queue, then other deques
            member = pool.take_injected_wanted(self, is_member, level);
            if (member == nullptr) member = pool.steal_wanted(self, is_member, stealing_given_up, level);
        }
        if (member == nullptr) return;
        runtime::run_at(self, member, level);            // [W1] a task of the awaited group, at its level [Y3]
        if (pool.inherited()) throw scheduler_closed();  // it forked, and this is the child: as in block_on
    }
}

inline void help_group(worker& self, group_state& group) {
    bool stealing_given_up = false;
    help_group(self, group, stealing_given_up);
}

// Worker (or guest) `self` of any pool, or nullptr for an outside thread that waits without a slot.
inline void wait_for_group_as(worker* self, group_state& group, runtime* pool_pointer) {
    auto& word = group.word();
    if (self != nullptr && self->pool == pool_pointer) {
        bool stealing_given_up = false;
        help_group(*self, group, stealing_given_up);
        if (self->guest) {  // [W8]: members may still turn up in a deque, and the last one may finish soon
            guest_patience patience;
            while (!group_state::no_tasks_left(word.load(std::memory_order_acquire)) && patience.wait_a_little()) {
                help_group(*self, group, stealing_given_up);
            }
        }
    }
    if (!group_state::no_tasks_left(word.load(std::memory_order_acquire))) {
        if (running_group::includes(&group)) {  // [W5]
            throw std::system_error(std::make_error_code(std::errc::resource_deadlock_would_occur),
                                    "taskforge: task_group::wait() called from inside one of the group's own tasks");
        }
        block_on(self, word, group_state::waiting, &group_state::no_tasks_left, nullptr, true);
    }
}

// Any thread: waits until the group has no unfinished task. `pool` is the group's runtime; it is dereferenced only
// by its own workers (it cannot be destroyed under them), inside a guest visit [V5] and in a fork() child.
inline void wait_for_group(group_state& group, runtime* pool_pointer) {
    auto& word = group.word();
    worker* const self = current_worker;
    if (self != nullptr || group_state::no_tasks_left(word.load(std::memory_order_acquire))) {
        wait_for_group_as(self, group, pool_pointer);
    } else {
        const guest_visit visit(*pool_pointer,
                                [&word] { return !group_state::no_tasks_left(word.load(std::memory_order_acquire)); });
        wait_for_group_as(visit.slot(), group, pool_pointer);
    }
    group.after_wait();
}

// --- deadlines -------------------------------------------------------------------------------------------------
// A time limit longer than this is "forever", like std::future's wait_for(duration::max()).
inline constexpr std::chrono::hours forever_threshold{24 * 365 * 100};

// The steady-clock deadline `timeout` from now; false (no deadline) when it is effectively forever. Saturating:
// no signed overflow for duration::max() or ::min().
template <class Rep, class Period>
bool deadline_after(const std::chrono::duration<Rep, Period>& timeout, deadline_type& deadline) {
    using seconds_double = std::chrono::duration<double>;
    const double seconds = std::chrono::duration_cast<seconds_double>(timeout).count();
    if (seconds >= std::chrono::duration_cast<seconds_double>(forever_threshold).count()) return false;
    const auto now = std::chrono::steady_clock::now();
    if (seconds <= 0) {
        deadline = now;
        return true;
    }
    deadline = now + std::chrono::ceil<std::chrono::steady_clock::duration>(seconds_double(seconds));
    return true;
}

// The steady-clock deadline that corresponds to `when` on its own clock; false when it is effectively forever.
// Everything is compared in double seconds: comparing `when` with Clock::now() directly would convert both to the
// finer of the two durations, which overflows for hours::max() or ::min().
template <class Clock, class Duration>
bool deadline_at(const std::chrono::time_point<Clock, Duration>& when, deadline_type& deadline) {
    using seconds_double = std::chrono::duration<double>;
    const seconds_double target = std::chrono::duration_cast<seconds_double>(when.time_since_epoch());
    const seconds_double now = std::chrono::duration_cast<seconds_double>(Clock::now().time_since_epoch());
    return deadline_after(target - now, deadline);
}

}  // namespace taskforge::detail
