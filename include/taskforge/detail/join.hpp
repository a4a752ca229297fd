// taskforge/detail/join.hpp — the algorithm behind join(f, g): `g` as a stack_job, `f` on the calling worker.
//
//   1. push `g`'s stack_job onto our own deque (a thief may take it from the other end);
//   2. run `f` here;
//   3. pop: if the top is `g`'s job, nobody took it — call `g` here, directly [J1];
//      otherwise a thief has it: wait for its latch by the rules of waiting.hpp [J2].
// If `f` throws and `g` was not taken, `g` never runs; if it was taken, we wait for it before rethrowing, because
// its job lives in this frame. `f`'s exception wins over `g`'s.
#pragma once

#include <cstddef>
#include <exception>
#include <functional>
#include <optional>
#include <tuple>
#include <utility>
#include <vector>

#include "runtime.hpp"
#include "stack_job.hpp"
#include "waiting.hpp"

namespace taskforge::detail {

template <class F, class G>
using join_pair = std::pair<join_result_t<F>, join_result_t<G>>;

// Worker `self` only. Waits until the thief released the latch [J2]. Never throws: the job lives in our frame, so
// we may not leave before it is done (past the spare bound this wait blocks uncompensated, waiting.hpp [W6]).
template <class G>
void wait_for_stolen(worker& self, stack_job<G>& taken) {
    auto& latch = taken.latch();
    if (latch_state::is_done(latch.load(std::memory_order_acquire))) return;  // pairs with [J2]'s release
    block_on(&self, latch, latch_state::waiting, &latch_state::is_done, nullptr, false);
}

// Worker `self` of `pool` only: takes `mine` back from its own deque if no thief took it [J1]. Jobs that `f` left
// above it (detached spawns) are popped, then pushed back in their order once it is found; they are never run
// here (waiting.hpp [W1]). Returns false when a thief has it.
inline bool take_back(runtime& pool, worker& self, job* mine) {
    if (pool.pop_own_if(self, [mine](job* top) { return top == mine; }) != nullptr) return true;  // the usual case
    std::vector<job*> above;  // rare: only after `f` spawned without waiting
    bool found = false;
    while (auto top = self.deque.pop()) {
        if (*top == mine) {
            found = true;
            break;
        }
        above.push_back(*top);
    }
    for (auto it = above.rbegin(); it != above.rend(); ++it) pool.submit(*it);
    return found;
}

// Worker `self` of `pool` only.
template <class F, class G>
join_pair<F, G> join_on_worker(runtime& pool, worker& self, F& first, G& second) {
    stack_job<G> second_job(second);
    pool.submit(&second_job);  // our own deque: we are a worker of this pool
    std::optional<join_result_t<F>> first_result;
    std::exception_ptr first_error;
    try {
        invoke_into(first, first_result);
    } catch (...) {
        first_error = std::current_exception();
    }
    if (take_back(pool, self, &second_job)) {  // [J1]
        if (first_error) std::rethrow_exception(std::move(first_error));
        second_job.run_inline();  // not taken: `g` runs here; its exception propagates as is
    } else {
        wait_for_stolen(self, second_job);
        if (first_error) std::rethrow_exception(std::move(first_error));
        // Moved out first: the last reference to the exception is dropped on this thread (DESIGN.md).
        if (second_job.error()) std::rethrow_exception(std::exchange(second_job.error(), nullptr));
    }
    return {std::move(*first_result), std::move(*second_job.result())};
}

// Any worker of `pool`: runs the callables of `calls` with indices [Low, High) by a balanced tree of joins.
template <std::size_t Low, std::size_t High, class Calls>
void invoke_range(runtime& pool, Calls& calls) {
    if constexpr (High - Low == 1) {
        std::invoke(std::get<Low>(calls));
    } else {
        constexpr std::size_t middle = Low + (High - Low) / 2;
        auto left = [&pool, &calls] { invoke_range<Low, middle>(pool, calls); };
        auto right = [&pool, &calls] { invoke_range<middle, High>(pool, calls); };
        join_on_worker(pool, *current_worker, left, right);  // the right half may run on a thief
    }
}

}  // namespace taskforge::detail
