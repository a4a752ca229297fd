// taskforge/detail/group_state.hpp — the shared state of a task_group, and deferred finishes of its tasks.
//
// The word counts unfinished tasks (in steps of 2) and carries a `waiting` bit (state_word.hpp).
//
// Invariants (cited as [G1]..[G3]):
//   [G1] add() happens before the task's frame is published, and the spawning context is either the waiter's own
//        thread or a task of the group (whose own count is still held), so the count cannot reach zero while a
//        spawn that happened-before wait() is outstanding.
//   [G2] A task records its exception, then releases its count with a release RMW; the waiter's acquire of a zero
//        count reads every recorded exception.
//   [G4] A worker may defer the finishes of consecutive tasks of one group and release them with one RMW (the
//        group's count line then moves once per batch instead of once per task). It flushes before running any
//        job that is not a task of that group, before looking for work outside its own deque, before every check
//        in a help-while-wait loop, and before it exits, so a deferred finish never waits behind unrelated work
//        and a group's count reaches zero as soon as its last task returned and its worker moved on.
//   [G3] The finisher that takes the count to zero with a sleeper present wakes it and then clears `waiting`. A
//        waiter sleeps only while the count is non-zero, and after seeing zero it returns only once `waiting` is
//        clear (settle), so the group can be destroyed right after wait() without the finisher touching freed
//        memory — and no waiter ever sleeps on the zero-count value that the finisher is about to change.
#pragma once

#include <cstdint>
#include <exception>
#include <stdexcept>
#include <thread>
#include <utility>

#include "platform.hpp"

namespace taskforge::detail {

class group_state {
public:
    static constexpr std::uint32_t waiting = 1;

    // Before publishing a task [G1]. Relaxed: see [G1] for why no ordering is needed.
    void add() {
        const std::uint32_t before = word_.fetch_add(2, std::memory_order_relaxed);
        if (before >= 0xffff'fff0U) {
            word_.fetch_sub(2, std::memory_order_relaxed);
            throw std::length_error("taskforge: more than 2^31 unfinished tasks in one task_group");
        }
    }

    // A task of the group threw; the first exception wins [G2]. Relaxed: only the winner writes `first_error_`,
    // and the reader is ordered by the count (finish / done).
    void record(std::exception_ptr error) noexcept {
        if (!failed_.exchange(true, std::memory_order_relaxed)) first_error_ = std::move(error);
    }

    // `tasks` tasks of the group are over (ran, threw, or were never submitted) [G2][G3].
    void finish(std::uint32_t tasks = 1) noexcept {
        // acq_rel: release publishes these tasks' effects and recorded exceptions to the waiter [G2].
        const std::uint32_t before = word_.fetch_sub(2 * tasks, std::memory_order_acq_rel);
        if (before == (2 * tasks | waiting)) {
            futex_wake_all(word_);
            word_.fetch_and(~waiting, std::memory_order_release);  // our last touch of the group [G3]
        }
    }

    static bool no_tasks_left(std::uint32_t word) noexcept { return (word >> 1) == 0; }

    // After no_tasks_left: waits out a finisher that is still waking sleepers [G3] (a few instructions and a
    // futex wake; it cannot block).
    void settle() noexcept {
        while (word_.load(std::memory_order_acquire) == waiting) std::this_thread::yield();
    }

    std::atomic<std::uint32_t>& word() noexcept { return word_; }

    // After done(): hands out the first exception, if any, and resets the group for reuse.
    std::exception_ptr take_error() noexcept {
        if (!failed_.load(std::memory_order_relaxed)) return nullptr;  // ordered by the count's acquire [G2]
        std::exception_ptr error = std::exchange(first_error_, nullptr);
        failed_.store(false, std::memory_order_relaxed);
        return error;
    }

private:
    std::atomic<std::uint32_t> word_{0};
    std::atomic<bool> failed_{false};
    std::exception_ptr first_error_;
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
