// Relacy model checks of leapfrogging (detail/leapfrog.hpp, invariants [L1]..[L3]): the real take_from_thief()
// over the real deque, with the thief's side written as stack_job::execute and join_on_worker do it:
//     base = deque.bottom_index(); publish(base); push(inner); [pop it back and run it]; latch := done; push(later)
// The owner, once it sees the published base, leapfrogs a few times and records what it ran. It may run only
// `inner` (a stack job of the awaited subtree): never `older` (queued before `g` began, [L1]), never `later`
// (pushed after `g` finished, [L2]), never `detached` (a heap task of the subtree, [L3]).
//
// Mutants (built as WILL_FAIL tests by CMakeLists.txt):
//   TASKFORGE_MODEL_MUTANT_LEAPFROG_BELOW_BASE  steals with try_steal(): the owner runs `older` [L1];
//   TASKFORGE_MODEL_MUTANT_LEAPFROG_NO_RECHECK  no latch re-check after the steal: the owner runs `later` [L2].
#define TASKFORGE_RELACY 1
#include <cstdio>
#include <cstdlib>
#include <taskforge/detail/leapfrog.hpp>

#include "model_runner.hpp"

namespace {

using taskforge::chase_lev_deque;
using taskforge::detail::atomic;
using taskforge::detail::job;
using taskforge::detail::join_family;
using taskforge::detail::leapfrog_take;
using taskforge::detail::take_from_thief;
namespace latch_state = taskforge::detail::latch_state;

void never_called(job*) noexcept {}
const char heap_family = 0;  // stands for a task frame's family

struct leapfrog_test_base {
    chase_lev_deque<job*>* deque = nullptr;
    job older{&never_called, &join_family};
    job inner{&never_called, &join_family};
    job later{&never_called, &join_family};
    job detached{&never_called, &heap_family};
    atomic<std::uint32_t> latch{latch_state::pending};
    atomic<std::int64_t> base{0};
    atomic<bool> published{false};
    int owner_ran_inner = 0;
    int thief_ran_inner = 0;

    // `with_older`: the thief had queued a job before it took `g`. (Its top then stays below `base`, so the owner
    // finds nothing: try_steal_from is conservative. Hence the tests of [L2] and [L3] start without one.)
    void start(bool with_older) {
        deque = new chase_lev_deque<job*>(2);  // small: pushes grow it while the owner steals
        if (with_older) deque->push(&older);
        latch.store(latch_state::pending, std::memory_order_relaxed);
        published.store(false, std::memory_order_relaxed);
        owner_ran_inner = thief_ran_inner = 0;
    }
    // As stack_job::execute: the base, then the release that publishes it [J4].
    void thief_begins_g() {
        base.store(deque->bottom_index(), std::memory_order_relaxed);
        published.store(true, std::memory_order_release);
    }
    void thief_ends_g() { latch.exchange(latch_state::done, std::memory_order_acq_rel); }
    // As wait_for_stolen: leapfrog only after seeing where `g` began.
    void owner_leapfrogs(int attempts) {
        if (!published.load(std::memory_order_acquire)) return;
        const std::int64_t from = base.load(std::memory_order_relaxed);
        for (int attempt = 0; attempt < attempts; ++attempt) {
            job* taken = nullptr;
            const leapfrog_take verdict = take_from_thief(*deque, from, latch, taken);
            if (verdict == leapfrog_take::run) {
                RL_ASSERT(taken != &older);     // [L1] queued before `g` began
                RL_ASSERT(taken != &later);     // [L2] pushed after `g` finished
                RL_ASSERT(taken != &detached);  // [L3] a heap task is never run on top of the wait
                RL_ASSERT(taken == &inner);
                ++owner_ran_inner;
            }
        }
    }
    void finish() {
        RL_ASSERT(owner_ran_inner + thief_ran_inner <= 1);  // executed at most once (the deque's [I4])
        delete deque;
    }
};

// The thief pushes a join half inside `g`, takes it back if still there (as join_on_worker), finishes `g`, then
// pushes a job of unrelated work. The owner leapfrogs meanwhile.
template <class Derived, bool WithOlder>
struct thief_then_unrelated_work : rl::test_suite<Derived, 2>, leapfrog_test_base {
    void before() { start(WithOlder); }
    void after() { finish(); }
    void thread(unsigned index) {
        if (index == 0) {
            thief_begins_g();
            deque->push(&inner);
            if (auto top = deque->pop()) {
                RL_ASSERT(*top == &inner);
                ++thief_ran_inner;
            }
            thief_ends_g();
            deque->push(&later);
        } else {
            owner_leapfrogs(3);
        }
    }
};

// [L1]: with a job queued before `g` under it, the owner never runs that one.
struct owner_never_runs_older_work : thief_then_unrelated_work<owner_never_runs_older_work, true> {};
// [L2]: the job pushed after `g` finished may land at `base` itself (the thief popped `inner` back first).
struct owner_never_runs_later_work : thief_then_unrelated_work<owner_never_runs_later_work, false> {};

// A heap task spawned inside `g` (maybe detached) is passed on, never run by the owner [L3].
struct heap_task_is_passed_on : rl::test_suite<heap_task_is_passed_on, 2>, leapfrog_test_base {
    void before() { start(false); }
    void after() { finish(); }
    void thread(unsigned index) {
        if (index == 0) {
            thief_begins_g();
            deque->push(&detached);
            deque->push(&inner);
            if (auto top = deque->pop()) {
                if (*top == &inner) ++thief_ran_inner;
            }
            thief_ends_g();
        } else {
            owner_leapfrogs(3);
        }
    }
};

}  // namespace

int main(int argc, char** argv) {
    const rl::iteration_t iterations = taskforge_model::iterations_from(argc, argv, 200000);
    bool passed = true;
    passed &= taskforge_model::check<owner_never_runs_older_work>("owner_never_runs_older_work", iterations);
    passed &= taskforge_model::check<owner_never_runs_later_work>("owner_never_runs_later_work", iterations);
    passed &= taskforge_model::check<heap_task_is_passed_on>("heap_task_is_passed_on", iterations);
    return passed ? EXIT_SUCCESS : EXIT_FAILURE;
}
