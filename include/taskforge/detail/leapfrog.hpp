// taskforge/detail/leapfrog.hpp — a stack job's latch, and what its waiting owner may take from the thief.
//
// The owner of a join whose second half `g` was stolen waits for `g`'s latch (stack_job.hpp [J2]). Meanwhile it
// may leapfrog (Wagner and Calder, "Leapfrogging: a portable technique for implementing efficient futures",
// PPoPP 1993; as in Lace): steal back from the thief's deque work of `g`'s own subtree, which is exactly what it
// waits for (waiting.hpp [W1]). The thief publishes where `g` began: its deque's bottom index then (`base`,
// stack_job.hpp [J4]).
//
// Invariants (cited as [L1]..[L4]):
//   [L1] An item at index >= base was pushed after `g` began (indices never repeat: deque.hpp [I5]), so
//        try_steal_from(base) never yields what the thief had queued before it.
//   [L2] An item pushed after the latch became `done` reaches the owner only with `done` visible: the thief's
//        release exchange on the latch happens-before its later push, which happens-before the owner's steal
//        (the deque's release/acquire on `bottom`), so the owner's acquire load of the latch after the steal
//        reads `done` (write-read coherence). A latch still pending after the steal therefore proves the item was
//        pushed while `g` ran, i.e. by a frame above `g` on the thief's stack: part of `g`'s subtree.
//   [L3] Only a stack job is run: it is waited for by the frame that pushed it, so by `g`. A heap task of the
//        subtree may be detached (waited for by nobody below the owner); like anything failing [L2], it is
//        handed back to the pool (`pass_on`), never run on top of the wait, never dropped.
//   [L4] A worker's deque holds only what that worker pushed (its own frames' spawns and join halves, put back in
//        their order when popped in passing) and, below anything pushed while it runs a stolen job, batches taken
//        while it was idle. So [L2]'s "pushed by the thief while `g` ran" holds for every item at or above `base`.
//        Hence a passed-on job goes to the injection queue (runtime.hpp, pass_on), which only idle workers drain,
//        never into the leapfrogger's own deque: there a leapfrogger of *that* worker would take it for part of
//        its own awaited subtree (found by adversarial review: the runtime then reported a false deadlock).
#pragma once

#include <cstdint>

#include "../deque.hpp"
#include "job.hpp"
#include "platform.hpp"

namespace taskforge::detail {

namespace latch_state {
inline constexpr std::uint32_t pending = 0;  // in a deque, or being run by a thief
inline constexpr std::uint32_t done = 1;     // result or exception written (stack_job.hpp [J2])
inline constexpr std::uint32_t waiting = 2;  // the owner sleeps on the latch (state_word.hpp)
constexpr bool is_done(std::uint32_t word) noexcept { return (word & done) != 0; }
}  // namespace latch_state

enum class leapfrog_take {
    nothing,  // the thief's deque held nothing at or above `base`, or another taker won
    run,      // `taken` is a stack job of the awaited subtree: run it on top of the wait
    pass_on   // `taken` must not run here [L2][L3]: hand it back to the pool
};

// The waiting owner only. One steal from the thief's deque, and the verdict on what it got.
inline leapfrog_take take_from_thief(chase_lev_deque<job*>& thief_deque, std::int64_t base,
                                     const atomic<std::uint32_t>& latch, job*& taken) {
#if defined(TASKFORGE_MODEL_MUTANT_LEAPFROG_BELOW_BASE)  // mutant (model build only): takes what predates `g` [L1]
    const steal_result<job*> stolen = thief_deque.try_steal();
    (void)base;
#else
    const steal_result<job*> stolen = thief_deque.try_steal_from(base);  // [L1]
#endif
    if (stolen.status != steal_status::success) return leapfrog_take::nothing;
    taken = stolen.item;
    if (taken->family != &join_family) return leapfrog_take::pass_on;  // [L3]; ours now, so reading it is safe
#if defined(TASKFORGE_MODEL_MUTANT_LEAPFROG_NO_RECHECK)  // mutant (model build only): may run what followed `g` [L2]
    return leapfrog_take::run;
#else
    // Acquire pairs with the thief's release exchange to `done` (stack_job.hpp [J2]) [L2].
    return latch_state::is_done(latch.load(std::memory_order_acquire)) ? leapfrog_take::pass_on : leapfrog_take::run;
#endif
}

}  // namespace taskforge::detail
