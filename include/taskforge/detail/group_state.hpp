// taskforge/detail/group_state.hpp — the shared state of a task_group and the frame of a task spawned into one.
//
// The word counts unfinished tasks (in steps of 2) and carries a `waiting` bit (state_word.hpp).
//
// Invariants (cited as [G1]..[G3]):
//   [G1] add() happens before the task's frame is published, and the spawning context is either the waiter's own
//        thread or a task of the group (whose own count is still held), so the count cannot reach zero while a
//        spawn that happened-before wait() is outstanding.
//   [G2] A task records its exception, then releases its count with a release RMW; the waiter's acquire of a zero
//        count reads every recorded exception.
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

#include "frame_pool.hpp"
#include "job.hpp"
#include "task_frame.hpp"

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

    // A task of the group is over (ran, threw, or was never submitted) [G2][G3].
    void finish() noexcept {
        // acq_rel: release publishes this task's effects and recorded exception to the waiter [G2].
        const std::uint32_t before = word_.fetch_sub(2, std::memory_order_acq_rel);
        if (before == (2 | waiting)) {
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

// A task spawned into a group: no handle, no status word; its outcome goes to the group.
template <class Fn, class... Args>
class group_frame final : public job {
public:
    template <class F, class... A>
    static group_frame* create(group_state& group, F&& function, A&&... arguments) {
        void* memory = frame_cache::allocate(sizeof(group_frame), alignof(group_frame));
        try {
            return ::new (memory) group_frame(group, std::forward<F>(function), std::forward<A>(arguments)...);
        } catch (...) {
            frame_cache::deallocate(memory);
            throw;
        }
    }

    // Destroys a frame that was never submitted (the scheduler refused it).
    static void discard(group_frame* self) noexcept {
        self->call_.destroy();
        self->~group_frame();
        frame_cache::deallocate(self);
    }

private:
    template <class F, class... A>
    group_frame(group_state& group, F&& function, A&&... arguments)
        : job(&execute), group_(&group), call_(std::forward<F>(function), std::forward<A>(arguments)...) {}

    static void execute(job* work) noexcept {
        auto* self = static_cast<group_frame*>(work);
        group_state& group = *self->group_;
        std::exception_ptr error;
        try {
            self->call_.invoke();
        } catch (...) {
            error = std::current_exception();
        }
        discard(self);  // frame memory back before the group can be seen finished
        if (error) group.record(std::move(error));
        group.finish();
    }

    group_state* group_;
    invocation<Fn, Args...> call_;
};

}  // namespace taskforge::detail
