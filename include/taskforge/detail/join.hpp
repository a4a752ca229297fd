// taskforge/detail/join.hpp — the algorithm behind join(f, g): `g` as a stack_job, `f` on the calling worker.
//
//   1. push `g`'s stack_job onto our own deque (a thief may take it from the other end) — no fence to wake a
//      sleeper (parking.hpp [P4]);
//   2. run `f` here;
//   3. pop: if the top is `g`'s job, nobody took it — call `g` here, directly [J1];
//      otherwise a thief has it: wait for its latch [J2], leapfrogging meanwhile.
// If `f` throws and `g` was not taken, `g` never runs; if it was taken, we wait for it before rethrowing, because
// its job lives in this frame. `f`'s exception wins over `g`'s.
//
// While `g` runs on a thief, the owner leapfrogs: it steals back from that thief's deque, and only from it, stack
// jobs of `g`'s own subtree (leapfrog.hpp [L1]-[L3]). After a few fruitless looks it blocks on the latch
// (waiting.hpp [W2]) instead of spinning on.
#pragma once

#include <cstddef>
#include <exception>
#include <functional>
#include <tuple>
#include <utility>
#include <vector>

#include "runtime.hpp"
#include "stack_job.hpp"
#include "waiting.hpp"

namespace taskforge::detail {

template <class F, class G>
using join_pair = std::pair<join_result_t<F>, join_result_t<G>>;

// Looks at the thief's deque this many times, with a pause between fruitless looks, before blocking.
inline constexpr int leapfrog_looks = 256;

// Worker `self` only, waiting on `latch` for a job that `thief` runs: one leapfrogging step. True if it ran a
// job of that job's subtree.
inline bool leapfrog_once(worker& self, worker& thief, std::int64_t base, const atomic<std::uint32_t>& latch) {
    job* taken = nullptr;
    const leapfrog_take verdict = take_from_thief(thief.deque, base, latch, taken);
    self.instruments.count(steal_attempts);
    if (verdict != leapfrog_take::nothing) {
        self.instruments.count(steals);
        self.instruments.mark(trace_kind::steal, thief.index);
    }
    switch (verdict) {
        case leapfrog_take::run:
            run(taken);  // [W1] a stack job of the subtree we wait for
            return true;
        case leapfrog_take::pass_on:
            self.pool->pass_on(taken);  // [L4] through the injection queue, never into our deque
            return false;
        case leapfrog_take::nothing:
            break;
    }
    return false;
}

// Worker `self` only. Waits until the thief released the latch [J2], leapfrogging meanwhile. Never throws: the
// job lives in our frame, so we may not leave before it is done (past the spare bound the final block waits
// uncompensated, waiting.hpp [W6]).
template <class G>
void wait_for_stolen(worker& self, stack_job<G>& taken) {
    auto& latch = taken.latch();
    std::int64_t base = 0;
    for (int look = 0; look < leapfrog_looks; ++look) {
        if (latch_state::is_done(latch.load(std::memory_order_acquire))) return;  // pairs with [J2]'s release
        worker* const thief = taken.thief(base);
        if (thief != nullptr && runtime::stack_has_room(self) && leapfrog_once(self, *thief, base, latch)) {
            look = 0;
        } else {
            cpu_relax();
        }
    }
    block_on(&self, latch, latch_state::waiting, &latch_state::is_done, nullptr, false);
}

// Worker `self` of `pool` only, cold: `g`'s job was not on top of our deque, where `top` came from (nullptr: the
// deque was empty). Jobs that `f` left above it (detached spawns) are popped until it is found, then pushed back in
// their order; they are never run here (waiting.hpp [W1]); spent entries are disposed of (runtime.hpp,
// pop_own_if). Returns false when a thief has it.
TASKFORGE_COLD inline bool take_back_after(runtime& pool, worker& self, job* top, job* mine) {
    std::vector<job*> above;
    bool found = false;
    for (; top != nullptr; top = self.deque.pop().value_or(nullptr)) {
        if (top == mine) {
            found = true;
            break;
        }
        if (task_frame_base::spent(top)) {
            run(top);  // drops the queue's reference only
        } else {
            above.push_back(top);
        }
    }
    for (auto it = above.rbegin(); it != above.rend(); ++it)
        pool.submit(*it, priority::normal);  // [Y1]: from the normal lane
    return found;
}

// Worker `self` of `pool` only, when `f` threw: `g` must not outlive this frame [J1][J2].
template <class G>
TASKFORGE_COLD void settle_after_throw(runtime& pool, worker& self, stack_job<G>& second_job) noexcept {
    try {
        if (!take_back_after(pool, self, self.deque.pop().value_or(nullptr), &second_job)) {
            wait_for_stolen(self, second_job);  // its result or exception is dropped: `f`'s exception wins
        }
    } catch (...) {  // pushing back a detached job failed to grow the deque: nothing sane is left
        std::terminate();
    }
}

template <class F, class G>
join_pair<F, G> join_on_worker(runtime& pool, worker& self, F& first, G& second);

// Guest `self` of `pool` only (an outside thread helping, waiting.hpp [W4]), with its own stack nearly used up: the
// whole join goes to the pool as one stack job, which a worker steals and runs on its own stack, while we wait
// for it (blocking: no room to run anything here). So a deep recursion of joins that began on a caller's
// ordinary stack goes on on a worker's, as a chain of nested waits does.
template <class F, class G>
TASKFORGE_COLD join_pair<F, G> join_elsewhere(runtime& pool, worker& self, F& first, G& second) {
    auto whole = [&pool, &first, &second] { return join_on_worker(pool, *current_worker, first, second); };
    stack_job<decltype(whole)> job(whole, self.level);
    pool.push_join(self, &job);
    wait_for_stolen(self, job);  // never taken back: a guest without room only blocks (leapfrog needs room too)
    if (job.error()) std::rethrow_exception(std::exchange(job.error(), nullptr));
    return std::move(*job.result());
}

// Worker `self` of `pool` only.
template <class F, class G>
join_pair<F, G> join_on_worker(runtime& pool, worker& self, F& first, G& second) {
    if (self.guest && !runtime::stack_has_room(self)) [[unlikely]] {
        return join_elsewhere(pool, self, first, second);
    }
    stack_job<G> second_job(second, self.level);
    pool.push_join(self, &second_job);
    join_result_t<F> first_result = [&]() -> join_result_t<F> {
        try {
            return call(first);
        } catch (...) {
            settle_after_throw(pool, self, second_job);
            throw;
        }
    }();
    job* const top = self.deque.pop().value_or(nullptr);
    if (top == &second_job || take_back_after(pool, self, top, &second_job)) {  // [J1]
        return {std::move(first_result), call(second)};  // not taken: `g` runs here; its exception propagates
    }
    wait_for_stolen(self, second_job);
    // Moved out first: the last reference to the exception is dropped on this thread (docs/design.md, "Exceptions
    // across threads").
    if (second_job.error()) std::rethrow_exception(std::exchange(second_job.error(), nullptr));
    return {std::move(first_result), std::move(*second_job.result())};
}

// Any worker of `pool`: runs the callables of `calls` with indices [Low, High) by a balanced tree of joins.
template <std::size_t Low, std::size_t High, class Calls>
void invoke_range(runtime& pool, Calls& calls) {
    if constexpr (High - Low == 1) {
        static_assert(!is_coroutine_task<std::decay_t<decltype(std::invoke(std::get<Low>(calls)))>>::value,
                      "taskforge: parallel_invoke drops what its callables return, so a coroutine function's task "
                      "would never start. Spawn it (pool.spawn(f)) and wait for or co_await the handles");
        std::invoke(std::get<Low>(calls));
    } else {
        constexpr std::size_t middle = Low + (High - Low) / 2;
        auto left = [&pool, &calls] { invoke_range<Low, middle>(pool, calls); };
        auto right = [&pool, &calls] { invoke_range<middle, High>(pool, calls); };
        join_on_worker(pool, *current_worker, left, right);  // the right half may run on a thief
    }
}

}  // namespace taskforge::detail
