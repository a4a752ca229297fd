// taskforge/detail/group_state.hpp — the shared state of a task_group, and deferred finishes of its tasks.
//
// The word counts unfinished tasks (in steps of `step`, above three flag bits) and carries:
//   `waiting`  a waiter that decides to sleep sets it with a CAS while the count is non-zero, then sleeps on that
//              exact value (state_word.hpp);
//   `awaited`  the list of suspended coroutines (`co_await group`, task.hpp) is not empty [G7];
//   `locked`   a thread holds that list [G7].
//
// Invariants (cited as [G1]..[G8]; tests/model/group_model.cpp checks them):
//   [G1] add() happens before the task's frame is published, and the spawning context is either the waiter's own
//        thread or a task of the group (whose own count is still held), so the count cannot reach zero while a
//        spawn that happened-before wait() is outstanding.
//   [G2] A task records its exception, then releases its count with a release RMW; the waiter's acquire of a zero
//        count reads every recorded exception.
//   [G3] Only the RMW that takes the count to zero wakes, and it wakes every sleeper when the value it replaced
//        had `waiting` set. It touches nothing after that RMW except the futex call, which never reads the word
//        (platform.hpp), so a waiter may destroy the group as soon as it sees zero.
//   [G4] A worker may defer the finishes of consecutive tasks of one group and release them with one RMW (the
//        group's count line then moves once per batch instead of once per task). It flushes before running any
//        job that is not a task of that group (every job kind's entry calls flush(): task, coroutine and stack
//        frames, and coroutine resumptions), before it blocks or searches, and before it exits, so a deferred
//        finish never waits behind unrelated work.
//   [G5] `waiting` is set only while the count is non-zero, and cleared only while it is zero (by a returning
//        waiter, to spare the next zero a useless wake). So a sleeper's value — non-zero count, `waiting` set —
//        keeps `waiting` until the RMW of [G3] replaces it, and that RMW wakes the sleeper. (The old protocol let
//        the finisher clear `waiting` after its wake; a spawn in between left a waiter asleep on a value nobody
//        would wake: issue 9, finding 1. The model's mutant reintroduces it.)
//   [G6] The first exception sits in a slot guarded by a tiny spin lock (cold: only a failing task and a waiter
//        that saw `failed` touch it). take_error() hands it to exactly one waiter; concurrent waiters of the same
//        round get nothing, and a failure of the next round waits for the taker to finish.
//   [G7] The awaiter list is read and written only by the holder of `locked`, which is taken by a CAS (acquire)
//        and given back by the RMW that ends the holder's turn (release). A coroutine registers only while the
//        count is non-zero (it sets `locked` and `awaited` together, links its resume job, clears `locked`); a
//        count of zero seen instead means "done", as for wait(). `awaited` and `locked` are both clear whenever
//        the count is zero, so a zero word is the same for every waiter.
//   [G8] A finisher whose units are the whole count while `awaited` is set does not release them first: it takes
//        `locked` with its units still counted (so nobody sees zero and the group stays alive), detaches the list,
//        and takes the round's outcome for the awaiters (the first exception [G6], whether it was cancelled);
//        then one CAS takes the count to zero and clears `awaited` and `locked` — the zero of [G3], after which
//        it touches only the detached links and resume jobs (in the coroutines' frames, not in the group). If a
//        spawn raised the count meanwhile, no zero happened: it puts the list and the exception back and releases
//        only its units; the round's new last finisher drains. So a coroutine is resumed exactly once, after a
//        zero that followed its registration, with that round's outcome, and nobody touches the group after a
//        zero. This is why every finish is a CAS rather than a fetch_sub: a fetch_sub could reach zero before its
//        caller saw `awaited`, and then draining would touch the group after the zero (the model's mutant does).
#pragma once

#include <cstdint>
#include <exception>
#include <stdexcept>
#include <utility>

#include "after_finish.hpp"
#include "group_cancellation.hpp"
#include "job.hpp"
#include "platform.hpp"

namespace taskforge::detail {

// A coroutine's place in a group's awaiter list (`co_await group`, task_group.hpp), in the coroutine's frame. The
// finisher of the zero fills in the round's outcome, then runs `resume` [G8]: the resumed coroutine reads the
// outcome from here, never from the group, so a waiter may free the group at its zero [G3].
struct awaiting_link {
    job* resume = nullptr;
    awaiting_link* next = nullptr;  // guarded by `locked` while linked [G7]
    std::exception_ptr error;       // the round's first exception, for one awaiter [G6]
    bool cancelled = false;         // the group was cancelled when its round ended [K1]
};

class group_state {
public:
    static constexpr std::uint32_t waiting = 1;
    static constexpr std::uint32_t awaited = 2;  // [G7]
    static constexpr std::uint32_t locked = 4;   // [G7]
    static constexpr std::uint32_t step = 8;     // one unfinished task
    static constexpr std::uint32_t max_tasks = (0xffff'ffffU / step) - 1;

    explicit group_state(group_state* outer = nullptr) noexcept
        : cancellation(outer != nullptr ? &outer->cancellation : nullptr) {}

    group_cancellation cancellation;  // task_group::cancel() (group_cancellation.hpp [K1]-[K3])

    // Before publishing a task [G1]. Relaxed: see [G1] for why no ordering is needed.
    void add() {
        const std::uint32_t before = word_.fetch_add(step, std::memory_order_relaxed);
        if (before / step >= max_tasks) {
            word_.fetch_sub(step, std::memory_order_relaxed);
            throw std::length_error("taskforge: more than 2^29 - 2 unfinished tasks in one task_group");
        }
    }

    // A task of the group threw; the first exception wins [G2][G6].
    void record(std::exception_ptr error) noexcept {
        lock_error();
        if (!first_error_) first_error_ = std::move(error);
        // Relaxed: the waiter reads `failed_` after acquiring a zero count, which our finish releases [G2].
        failed_.store(true, std::memory_order_relaxed);
        unlock_error();
    }

    // `tasks` tasks of the group are over (ran, threw, or were never submitted) [G2][G3][G8].
    void finish(std::uint32_t tasks = 1) noexcept {
#if defined(TASKFORGE_MODEL_MUTANT_GROUP_DRAIN_AFTER_ZERO)
        // Mutant (model build only): the obvious protocol — fetch_sub, then drain the awaiters if the zero it
        // reached had `awaited` set. The drain touches the group after the zero a waiter may free it at [G8].
        const std::uint32_t before = word_.fetch_sub(step * tasks, std::memory_order_acq_rel);
        if (count_of(before) != tasks) return;
        if ((before & waiting) != 0) futex_wake_all(word_);
        if ((before & awaited) != 0) mutant_drain_after_zero();
#else
        // Relaxed: a first guess; every CAS below checks it.
        std::uint32_t word = word_.load(std::memory_order_relaxed);
        unsigned spins = 0;
        for (;;) {
            const bool last = count_of(word) == tasks;
            if (last && (word & awaited) != 0) {
                if ((word & locked) != 0) {  // a coroutine is linking itself in: a few instructions [G7]
                    pause(word, spins);
                    continue;
                }
                // Acquire: the list's last holder released it [G7]. Our units stay counted [G8].
                if (word_.compare_exchange_weak(word, word | locked, std::memory_order_acquire,
                                                std::memory_order_relaxed)) {
                    return drain_awaiters(tasks);
                }
                continue;
            }
            // acq_rel: release publishes these tasks' effects and recorded exceptions to the waiter [G2]; acquire
            // is not needed by us but keeps the RMW chain a release sequence for every earlier finisher.
#if defined(TASKFORGE_MODEL_MUTANT_GROUP_RELAXED_FINISH)
            constexpr std::memory_order publish = std::memory_order_relaxed;  // Mutant: nothing published [G2]
#else
            constexpr std::memory_order publish = std::memory_order_acq_rel;
#endif
            if (word_.compare_exchange_weak(word, word - step * tasks, publish, std::memory_order_relaxed)) {
#if defined(TASKFORGE_MODEL_MUTANT_GROUP_CLEARS_AFTER_WAKE)
                // Mutant (model build only): the pre-fix protocol of issue 9 finding 1 — wake, then clear the bit.
                if (last && (word & waiting) != 0) {
                    futex_wake_all(word_);
                    word_.fetch_and(~waiting, std::memory_order_release);
                }
#else
                if (last && (word & waiting) != 0) futex_wake_all(word_);  // [G3] last touch
#endif
                return;
            }
        }
#endif
    }

    // A coroutine's `co_await group` (task_group.hpp): links `link` into the awaiter list while the count is
    // non-zero [G7]. True: its `resume` will be run (once) by the finisher of a zero, with the round's outcome
    // filled in [G8]; the caller may be resumed before this returns — it must not touch the group or `link`
    // afterwards. False: the count was zero, and this acquire saw the tasks' effects [G2]; `link` is not linked.
    bool await_zero(awaiting_link& link) noexcept {
        // Acquire: a zero read here is the "done" of [G2], as a waiter's.
        std::uint32_t word = word_.load(std::memory_order_acquire);
        unsigned spins = 0;
        for (;;) {
            if (no_tasks_left(word)) return false;
            if ((word & locked) != 0) {  // another coroutine or a draining finisher holds the list [G7]
                pause(word, spins);
                continue;
            }
            // Acquire: the list's last holder released it [G7]; on failure, acquire as the load above.
            if (word_.compare_exchange_weak(word, word | locked | awaited, std::memory_order_acquire,
                                            std::memory_order_acquire)) {
                break;
            }
        }
        link.next = awaiters_;  // ours alone under `locked` [G7]
        awaiters_ = &link;
        // Release: our links before the next holder's acquire [G7]. The count is non-zero (we hold the list, so
        // no finisher can take it to zero [G8]): the group is alive. Our last touch of it.
        word_.fetch_and(~locked, std::memory_order_release);
        return true;
    }

    static bool no_tasks_left(std::uint32_t word) noexcept { return count_of(word) == 0; }

    // A waiter that saw no_tasks_left: clears a `waiting` bit left at zero [G5]. Relaxed: it publishes nothing;
    // a failed CAS means a spawn or another waiter moved the word on, and the bit's owner is then that round.
    void after_wait() noexcept {
        std::uint32_t expected = waiting;
        if (word_.load(std::memory_order_relaxed) == expected) {
            word_.compare_exchange_strong(expected, 0, std::memory_order_relaxed, std::memory_order_relaxed);
        }
    }

    atomic<std::uint32_t>& word() noexcept { return word_; }

    // After no_tasks_left: hands the first exception, if any, to exactly one caller [G6].
    std::exception_ptr take_error() noexcept {
        if (!failed_.load(std::memory_order_relaxed)) return nullptr;  // ordered by the count's acquire [G2]
        lock_error();
        std::exception_ptr error = std::exchange(first_error_, nullptr);
        failed_.store(false, std::memory_order_relaxed);
        unlock_error();
        return error;
    }

private:
    static std::uint32_t count_of(std::uint32_t word) noexcept { return word / step; }

    // Spins while another thread holds the awaiter list for a few instructions [G7] (yields if it was preempted),
    // then reloads `word`.
    void pause(std::uint32_t& word, unsigned& spins) noexcept {
        if (++spins % 64 == 0) {
            yield_thread();
        } else {
            cpu_relax();
        }
        word = word_.load(std::memory_order_relaxed);  // the caller's CAS checks it
    }

    // The finisher of [G8], holding `locked` and its `tasks` units: every other task of the round has finished, so
    // the round's outcome is complete. It is taken for the awaiters before the zero, and put back if a spawn
    // extended the round instead.
    TASKFORGE_COLD void drain_awaiters(std::uint32_t tasks) noexcept {
        awaiting_link* const list = awaiters_;
        std::exception_ptr error = take_error();  // [G6] one awaiter gets it
        const bool cancelled = cancellation.cancelled();
        std::uint32_t word = word_.load(std::memory_order_relaxed);  // the CAS checks it
        for (;;) {
            const bool zero = count_of(word) == tasks;
            awaiters_ = zero ? nullptr : list;  // detached, or put back for the round a spawn extended [G8]
            // Zero: our units, `awaited` and `locked` go in one step; `waiting` stays for the sleepers [G5].
            const std::uint32_t desired = zero ? (word & waiting) : ((word - step * tasks) & ~locked);
            if (!zero && error) put_back(std::move(error));  // before our units go: the group is alive
            // acq_rel: release publishes our tasks' effects [G2] and our list writes [G7]; acquire carries every
            // earlier finisher's release to the coroutines we resume (their resume jobs are queued by us).
            if (word_.compare_exchange_weak(word, desired, std::memory_order_acq_rel, std::memory_order_relaxed)) {
                if (!zero) return;
                if ((word & waiting) != 0) futex_wake_all(word_);  // [G3]
                resume_all(list, std::move(error), cancelled);     // the group is not touched from here on
                return;
            }
            if (!zero) error = take_error();  // the CAS failed: the round may have ended after all
        }
    }

    // A drainer whose round was extended by a spawn: its taken exception is still the round's first [G6].
    void put_back(std::exception_ptr error) noexcept {
        lock_error();
        first_error_ = std::move(error);  // a later one recorded meanwhile is dropped, as any later one is
        failed_.store(true, std::memory_order_relaxed);  // ordered as in record() [G2]
        unlock_error();
    }

#if defined(TASKFORGE_MODEL_MUTANT_GROUP_DRAIN_AFTER_ZERO)
    void mutant_drain_after_zero() noexcept {
        std::uint32_t word = word_.load(std::memory_order_relaxed);
        unsigned spins = 0;
        while ((word & locked) != 0 || !word_.compare_exchange_weak(word, word | locked, std::memory_order_acquire,
                                                                    std::memory_order_relaxed)) {
            pause(word, spins);
        }
        awaiting_link* const list = std::exchange(awaiters_, nullptr);
        word_.fetch_and(~(locked | awaited), std::memory_order_release);
        resume_all(list, nullptr, false);
    }
#endif

    // Gives each detached awaiter the round's outcome (the exception to the first only [G6]) and runs its resume
    // job once [G8]; a refused resumption waits for the outermost drain (after_finish.hpp).
    static void resume_all(awaiting_link* list, std::exception_ptr error, bool cancelled) noexcept {
        while (list != nullptr) {
            awaiting_link* const next = list->next;  // before run(): the link may go with its coroutine
            list->error = std::exchange(error, nullptr);
            list->cancelled = cancelled;
            run(list->resume);
            list = next;
        }
        after_finish::drain();
    }

    void lock_error() noexcept {
        // Acquire pairs with unlock_error's release: the previous holder's writes to first_error_ are visible.
        while (error_lock_.exchange(true, std::memory_order_acquire)) cpu_relax();
    }
    void unlock_error() noexcept { error_lock_.store(false, std::memory_order_release); }

    atomic<std::uint32_t> word_{0};
    atomic<bool> failed_{false};
    atomic<bool> error_lock_{false};
    std::exception_ptr first_error_;     // guarded by error_lock_ [G6]
    awaiting_link* awaiters_ = nullptr;  // guarded by `locked` in word_ [G7]
};

// The groups whose tasks are running on this thread, innermost first: a record on each running group task's
// stack frame (group_frame.hpp). waiting.hpp [W5] walks it before a group wait blocks. A join half or loop piece
// that another thread runs (stack_job.hpp) is still inside the task that forked it: its runner pushes a forked
// record (group nullptr) whose `outer` is the forker's innermost record as it was at the fork, so the walk goes on
// through the forker's records — which stay unchanged on the forker's stack until the join returns, and were
// published to the runner by the steal (the deque's release/acquire). Records the runner had below the piece are
// not walked: a thread runs a stolen piece only from its scheduling loop (no records) or while it waits in a join
// whose own records are among the forker's.
// The group whose task the code on this thread runs for, for nesting [K2]: set by a group task for its length,
// cleared by a plain task or continuation for its length, and carried by a join's stack job to the thief that
// runs it (stack_job.hpp), so join halves and loop pieces count as inside the task that forked them.
class enclosing_group {
public:
    static group_state*& current() noexcept {
        static thread_local group_state* group = nullptr;
        return group;
    }
    explicit enclosing_group(group_state* group) noexcept : saved_(std::exchange(current(), group)) {}
    ~enclosing_group() { current() = saved_; }
    enclosing_group(const enclosing_group&) = delete;
    enclosing_group& operator=(const enclosing_group&) = delete;

private:
    group_state* saved_;
};

struct running_group {
    const group_state* group;             // nullptr: a forked record (above)
    const running_group* outer;           // a forked record: the forker's innermost record at the fork
    const running_group* base = nullptr;  // a forked record: the forker's resumption_base() at the fork

    static const running_group*& innermost() noexcept {
        static thread_local const running_group* top = nullptr;
        return top;
    }
    static bool includes(const group_state* group) noexcept { return walk_finds(group, nullptr); }
    // As includes(), but only the records pushed since the running coroutine was last resumed by a resume job
    // (coroutine_frame.hpp): a coroutine run by a resume job on top of a group's task (a refused resumption runs
    // on the finishing thread [C2]) is not that task, and its `co_await` on that group suspends instead of
    // blocking it. A coroutine run directly by a task (sync_wait) still sees the task's records. Past a forked
    // record, the forker's base applies.
    static bool includes_since_resumption(const group_state* group) noexcept {
        return walk_finds(group, &resumption_base());
    }
    static const running_group*& resumption_base() noexcept {
        static thread_local const running_group* base = nullptr;
        return base;
    }

private:
    // `stop`: nullptr to walk every record, else the thread's resumption base (switched to the forker's at each
    // forked record).
    static bool walk_finds(const group_state* group, const running_group* const* stop) noexcept {
        const running_group* end = stop != nullptr ? *stop : nullptr;
        for (const running_group* record = innermost(); record != nullptr && record != end; record = record->outer) {
            if (record->group == group) return true;
            if (record->group == nullptr && stop != nullptr) end = record->base;
        }
        return false;
    }
};

// Owner: the runner of a join half or loop piece that another thread forked (stack_job.hpp), for its length: the
// forked record described above running_group.
class forked_records {
public:
    forked_records(const running_group* forker, const running_group* forker_base) noexcept
        : record_{nullptr, forker, forker_base}, saved_(std::exchange(running_group::innermost(), &record_)) {}
    ~forked_records() { running_group::innermost() = saved_; }
    forked_records(const forked_records&) = delete;
    forked_records& operator=(const forked_records&) = delete;

private:
    const running_group record_;
    const running_group* const saved_;
};

// Finishes of one group's tasks that this worker has not released yet [G4]. Worker threads only.
class deferred_finishes {
public:
    static constexpr std::uint32_t batch = 64;

    // After a task of `group` returned on this thread.
    static void add(group_state& group) noexcept {
        deferred_finishes& self = mine();
        if (self.group_ != &group && self.group_ != nullptr) self.release();
        self.group_ = &group;
        if (++self.count_ >= batch) self.release();
    }
    // Before running a job: keeps the batch only if the job belongs to the same group.
    static void before_running(const group_state* group) noexcept {
        deferred_finishes& self = mine();
        if (self.group_ != nullptr && self.group_ != group) self.release();
    }
    // Inline: every job's entry calls it, and it has nothing to do unless a batch is held (release() stays out of
    // line, so the check does not save and restore registers).
    TASKFORGE_HOT_INLINE static void flush() noexcept {
        deferred_finishes& self = mine();
        if (self.group_ != nullptr) [[unlikely]]
            self.release();
    }

private:
    static deferred_finishes& mine() noexcept {
        static thread_local deferred_finishes self;
        return self;
    }
    // A batch is held (group_ is set).
    TASKFORGE_COLD void release() noexcept {
        group_state* group = group_;
        const std::uint32_t count = count_;
        group_ = nullptr;
        count_ = 0;
        group->finish(count);
    }
    group_state* group_ = nullptr;
    std::uint32_t count_ = 0;
};

}  // namespace taskforge::detail
