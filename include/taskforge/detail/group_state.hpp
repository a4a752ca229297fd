// taskforge/detail/group_state.hpp — the shared state of a task_group, and deferred finishes of its tasks.
//
// The word counts unfinished tasks (in steps of 2) and carries a `waiting` bit (state_word.hpp): a waiter that
// decides to sleep sets the bit with a CAS while the count is non-zero, then sleeps on that exact value.
//
// Invariants (cited as [G1]..[G6]; tests/model/group_model.cpp checks them):
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
//        job that is not a task of that group, before it blocks or searches, and before it exits, so a deferred
//        finish never waits behind unrelated work.
//   [G5] `waiting` is set only while the count is non-zero, and cleared only while it is zero (by a returning
//        waiter, to spare the next zero a useless wake). So a sleeper's value — non-zero count, `waiting` set —
//        keeps `waiting` until the RMW of [G3] replaces it, and that RMW wakes the sleeper. (The old protocol let
//        the finisher clear `waiting` after its wake; a spawn in between left a waiter asleep on a value nobody
//        would wake: issue 9, finding 1. The model's mutant reintroduces it.)
//   [G6] The first exception sits in a slot guarded by a tiny spin lock (cold: only a failing task and a waiter
//        that saw `failed` touch it). take_error() hands it to exactly one waiter; concurrent waiters of the same
//        round get nothing, and a failure of the next round waits for the taker to finish.
#pragma once

#include <cstdint>
#include <exception>
#include <stdexcept>
#include <utility>

#include "group_cancellation.hpp"
#include "platform.hpp"

namespace taskforge::detail {

class group_state {
public:
    static constexpr std::uint32_t waiting = 1;

    explicit group_state(group_state* outer = nullptr) noexcept
        : cancellation(outer != nullptr ? &outer->cancellation : nullptr) {}

    group_cancellation cancellation;  // task_group::cancel() (group_cancellation.hpp [K1]-[K3])

    // Before publishing a task [G1]. Relaxed: see [G1] for why no ordering is needed.
    void add() {
        const std::uint32_t before = word_.fetch_add(2, std::memory_order_relaxed);
        if (before >= 0xffff'fff0U) {
            word_.fetch_sub(2, std::memory_order_relaxed);
            throw std::length_error("taskforge: more than 2^31 unfinished tasks in one task_group");
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

    // `tasks` tasks of the group are over (ran, threw, or were never submitted) [G2][G3].
    void finish(std::uint32_t tasks = 1) noexcept {
#if defined(TASKFORGE_MODEL_MUTANT_GROUP_CLEARS_AFTER_WAKE)
        // Mutant (model build only): the pre-fix protocol of issue 9 finding 1 — wake, then clear the bit.
        const std::uint32_t before = word_.fetch_sub(2 * tasks, std::memory_order_acq_rel);
        if (before == (2 * tasks | waiting)) {
            futex_wake_all(word_);
            word_.fetch_and(~waiting, std::memory_order_release);
        }
#else
        // acq_rel: release publishes these tasks' effects and recorded exceptions to the waiter [G2]; acquire is
        // not needed by us but keeps the RMW chain a release sequence for every earlier finisher.
#if defined(TASKFORGE_MODEL_MUTANT_GROUP_RELAXED_FINISH)
        // Mutant (model build only): nothing is published to the waiter [G2].
        const std::uint32_t before = word_.fetch_sub(2 * tasks, std::memory_order_relaxed);
#else
        const std::uint32_t before = word_.fetch_sub(2 * tasks, std::memory_order_acq_rel);
#endif
        if ((before >> 1) == tasks && (before & waiting) != 0) futex_wake_all(word_);  // [G3] last touch
#endif
    }

    static bool no_tasks_left(std::uint32_t word) noexcept { return (word >> 1) == 0; }

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
    void lock_error() noexcept {
        // Acquire pairs with unlock_error's release: the previous holder's writes to first_error_ are visible.
        while (error_lock_.exchange(true, std::memory_order_acquire)) cpu_relax();
    }
    void unlock_error() noexcept { error_lock_.store(false, std::memory_order_release); }

    atomic<std::uint32_t> word_{0};
    atomic<bool> failed_{false};
    atomic<bool> error_lock_{false};
    std::exception_ptr first_error_;  // guarded by error_lock_ [G6]
};

// The groups whose tasks are running on this thread, innermost first: a record on each running group task's
// stack frame (group_frame.hpp). waiting.hpp [W5] walks it before a group wait blocks.
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
    const group_state* group;
    const running_group* outer;

    static const running_group*& innermost() noexcept {
        static thread_local const running_group* top = nullptr;
        return top;
    }
    static bool includes(const group_state* group) noexcept {
        for (const running_group* record = innermost(); record != nullptr; record = record->outer) {
            if (record->group == group) return true;
        }
        return false;
    }
};

// Finishes of one group's tasks that this worker has not released yet [G4]. Worker threads only.
class deferred_finishes {
public:
    static constexpr std::uint32_t batch = 64;

    // After a task of `group` returned on this thread.
    static void add(group_state& group) noexcept {
        deferred_finishes& self = mine();
        if (self.group_ != &group) self.release();
        self.group_ = &group;
        if (++self.count_ >= batch) self.release();
    }
    // Before running a job: keeps the batch only if the job belongs to the same group.
    static void before_running(const group_state* group) noexcept {
        deferred_finishes& self = mine();
        if (self.group_ != nullptr && self.group_ != group) self.release();
    }
    static void flush() noexcept { mine().release(); }

private:
    static deferred_finishes& mine() noexcept {
        static thread_local deferred_finishes self;
        return self;
    }
    void release() noexcept {
        if (group_ == nullptr) return;
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
