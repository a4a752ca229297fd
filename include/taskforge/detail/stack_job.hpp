// taskforge/detail/stack_job.hpp — a job that lives in its caller's stack frame: the second half of a join.
//
// join(f, g) (join.hpp) pushes a stack_job for `g` onto its worker's deque, runs `f`, then takes the job back with
// a pop. Not stolen, the caller calls `g` itself: no allocation, no atomic beyond the deque's, no indirect call.
// Stolen, the thief calls execute(), and the caller waits by the rules of waiting.hpp for the job's latch.
//
// Invariants (cited as [J1]..[J4]):
//   [J1] The job is executed exactly once: either the owner pops it back (and never publishes it again), or one
//        thief takes it through the deque's steal (deque.hpp) and runs execute(). The owner only ever looks at the
//        latch after its pop failed, i.e. after the deque gave the job to someone else.
//   [J2] The thief writes the result or the exception, then releases the latch with one acq_rel exchange to
//        `done`; that exchange is its last access to the job's memory. The futex wake that may follow uses the
//        latch's address only (platform.hpp: futex_wake never reads the word), so the owner may return — and the
//        frame holding the job die — as soon as it acquires `done`.
//   [J3] The latch never leaves `done`, and `waiting` is set only before it (state_word.hpp): a sleeping owner
//        is always woken by the exchange of [J2].
//   [J4] Before it calls the function, a thief that is a worker records where it runs it: its worker and the
//        index its deque's next push will use (`base`), released by the store of `thief`. Every item that thief
//        pushes from then until the latch is `done` is pushed by a frame above this job on its stack, so it
//        belongs to this job's own subtree. The waiting owner may take such items (leapfrog.hpp).
#pragma once

#include <cstdint>
#include <exception>
#include <functional>
#include <optional>
#include <type_traits>
#include <utility>
#include <variant>

#include "group_state.hpp"
#include "job.hpp"
#include "leapfrog.hpp"
#include "platform.hpp"
#include "runtime.hpp"
#include "task_probe.hpp"

namespace taskforge::detail {

// The result of calling F with no arguments, with `void` spelled std::monostate (so it can sit in a pair).
template <class F>
using join_result_t = std::conditional_t<std::is_void_v<std::invoke_result_t<F&>>, std::monostate,
                                         std::decay_t<std::invoke_result_t<F&>>>;

// Calls `function` and returns its result, std::monostate for void.
template <class F>
join_result_t<F> call(F& function) {
    if constexpr (std::is_void_v<std::invoke_result_t<F&>>) {
        std::invoke(function);
        return {};
    } else {
        return std::invoke(function);
    }
}

// Calls `function` and stores its result (or std::monostate) in `slot`.
template <class F, class R>
void invoke_into(F& function, std::optional<R>& slot) {
    if constexpr (std::is_void_v<std::invoke_result_t<F&>>) {
        std::invoke(function);
        slot.emplace();
    } else {
        slot.emplace(std::invoke(function));
    }
}

template <class F>
class stack_job final : public job {
public:
    using result_type = join_result_t<F>;

    // `level`: the forking task's (levels.hpp [Y3]); the job is queued at normal level but runs at this one.
    stack_job(F& function, priority level) noexcept
        : job(&execute, &join_family),
          function_(function),
          enclosing_(enclosing_group::current()),
          forker_records_(running_group::innermost()),
          forker_base_(running_group::resumption_base()),
          level_(level) {}
    stack_job(const stack_job&) = delete;
    stack_job& operator=(const stack_job&) = delete;

    // Owner, after its pop failed: the latch to wait on (waiting.hpp) [J2][J3].
    atomic<std::uint32_t>& latch() noexcept { return latch_; }

    // Owner, after its pop failed: the worker running the job and its deque's bottom index when it began, or
    // nullptr while unknown (not started yet, or not run by a worker) [J4]. Acquire pairs with the release store
    // in execute(), so `base` is the value stored before it.
    worker* thief(std::int64_t& base) const noexcept {
        worker* runner = thief_.load(std::memory_order_acquire);
        if (runner != nullptr) base = base_.load(std::memory_order_relaxed);
        return runner;
    }

    // Owner, once the job is done (popped and run, or the latch acquired `done`).
    std::optional<result_type>& result() noexcept { return result_; }
    std::exception_ptr& error() noexcept { return error_; }

private:
    static void execute(job* work) noexcept {
        auto* self = static_cast<stack_job*>(work);
        deferred_finishes::flush();             // never hold a group's finishes behind this job (group_state.hpp [G4])
        if (worker* runner = current_worker) {  // [J4]
            self->base_.store(runner->deque.bottom_index(), std::memory_order_relaxed);  // ordered by the release
            self->thief_.store(runner, std::memory_order_release);  // pairs with the acquire in thief()
        }
        const enclosing_group inside(self->enclosing_);  // [K2] the forking task's group, on the thief too
        const forked_records records(self->forker_records_, self->forker_base_);  // and its running groups [W5]
        const running_level level(self->level_);  // and its level: what the piece spawns inherits it
        const task_probe probe;
        try {
            invoke_into(self->function_, self->result_);
        } catch (...) {
            self->error_ = std::current_exception();
        }
        probe.finish("join");
        // [J2] acq_rel: release publishes the result/exception to the owner's acquire of `done`. Last access.
        atomic<std::uint32_t>& latch = self->latch_;
        if ((latch.exchange(latch_state::done, std::memory_order_acq_rel) & latch_state::waiting) != 0) {
            futex_wake_all(latch);  // address only [J2]
        }
    }

    // The calling worker's level for the length of a stolen half (a thief, or a guest) [Y3].
    class running_level {
    public:
        explicit running_level(priority level) noexcept : runner_(current_worker) {
            if (runner_ != nullptr) outer_ = std::exchange(runner_->level, level);
        }
        ~running_level() {
            if (runner_ != nullptr) runner_->level = outer_;
        }
        running_level(const running_level&) = delete;
        running_level& operator=(const running_level&) = delete;

    private:
        worker* const runner_;
        priority outer_ = priority::normal;
    };

    F& function_;
    group_state* const enclosing_;  // written by the owner before the push; read by the thief after its steal
    const running_group* const forker_records_;  // likewise (group_state.hpp, forked_records)
    const running_group* const forker_base_;     // likewise
    const priority level_;                       // likewise
    std::optional<result_type> result_;
    std::exception_ptr error_;
    atomic<std::uint32_t> latch_{latch_state::pending};
    atomic<worker*> thief_{nullptr};
    atomic<std::int64_t> base_{0};
};

}  // namespace taskforge::detail
