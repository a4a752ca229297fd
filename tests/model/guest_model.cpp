// Relacy model checks of the guest slots (detail/guest_slots.hpp, invariants [V1]-[V4]) with the parts of the
// worker loop and of shutdown() that depend on them (detail/runtime.hpp): the real guest_slots header, compiled
// against Relacy through detail/platform.hpp, and a stand-in for the injection queue with the same orderings as
// the real one where it matters (close and requeue are seq_cst RMWs on one word; readers acquire it).
//
// The fear (oneTBB #2056): a guest hands back a job it could not run and leaves, while the last worker decides
// that the queue is closed and drained and nobody is inside — the job is stranded and never runs. In the model a
// stranded job fails the RL_ASSERT in after(); what a job "does" is a plain rl::var write that its runner reads
// back, so a runner that is not ordered after the hand-back is a DATA RACE.
//
// Mutants (built as WILL_FAIL tests by CMakeLists.txt):
//   TASKFORGE_MODEL_MUTANT_GUEST_RELAXED_LEAVE   leave() clears the slot bit relaxed: a worker that sees the bit
//                                                cleared need not see the handed-back job [V3];
//   TASKFORGE_MODEL_MUTANT_GUEST_CLOSE_ORDER     shutdown() closes the queue before the slots: a guest enters after
//                                                the worker's last look [V2];
//   TASKFORGE_MODEL_MUTANT_GUEST_EXIT_ORDER      the worker reads the queue before the slots (the first draft of
//                                                runtime.hpp): a guest hands back and leaves in between [V3].
#define TASKFORGE_RELACY 1
#include <cstdio>
#include <cstdlib>
#include <taskforge/detail/guest_slots.hpp>
#include <taskforge/detail/state_word.hpp>

#include "model_runner.hpp"
#include "queue_model.hpp"

namespace {

using taskforge::detail::atomic;
using taskforge::detail::guest_slots;
using taskforge::detail::model_futex;

using taskforge_model::queue_model;

template <class Derived, int Threads>
struct guest_test : rl::test_suite<Derived, Threads> {
    guest_slots* slots = nullptr;
    model_futex* futex = nullptr;
    queue_model queue;
    rl::var<int> job_payload;
    atomic<int> handed_back{0};
    atomic<int> ran{0};

    void before() {
        futex = new model_futex;
        model_futex::current() = futex;
        slots = new guest_slots(2);
    }
    void after() {
        // Every job handed back was run by a worker before it exited [V3].
        RL_ASSERT(ran.load(std::memory_order_relaxed) == handed_back.load(std::memory_order_relaxed));
        delete slots;
        model_futex::current() = nullptr;
        delete futex;
    }

    // A guest's visit: enter, leave one job behind for the pool (written, then requeued), leave. Only the tests
    // with a single visit write the payload (several visits would race on the one variable).
    bool single_visit = true;
    void guest_visit() {
        const int index = slots->try_enter();
        if (index < 0) return;  // all taken or closed: it only waits, and leaves nothing behind
        if (single_visit) job_payload($) = 42;
        handed_back.fetch_add(1, std::memory_order_relaxed);
        queue.requeue();
        slots->leave(index);
    }

    // runtime::worker_main, reduced to the exit decision: take jobs until the queue is closed, nobody is inside a
    // guest slot and the queue is drained — read in that order ([V2][V3]; the first draft read the queue before
    // the slots, and this model found the job it stranded). Parking is a pause.
    void worker_loop() {
        for (;;) {
            if (queue.try_take()) {
                if (single_visit) RL_ASSERT(job_payload($) == 42);  // after the guest's write, or a DATA RACE [V3]
                ran.fetch_add(1, std::memory_order_relaxed);
                continue;
            }
#if defined(TASKFORGE_MODEL_MUTANT_GUEST_EXIT_ORDER)
            if (queue.is_closed() && !queue.maybe_nonempty() && !slots->anyone_inside()) return;
#else
            if (queue.is_closed() && !slots->anyone_inside() && !queue.maybe_nonempty()) return;
#endif
            taskforge::detail::cpu_relax();
        }
    }

    // runtime::shutdown, reduced to the guest part [V2][V4].
    void shutdown() {
#if defined(TASKFORGE_MODEL_MUTANT_GUEST_CLOSE_ORDER)
        queue.close();
        slots->close();
#else
        slots->close();
        queue.close();
#endif
        slots->wait_until_empty();
    }
};

// One guest, one worker, shutdown: the guest may enter before or after close(), leave before or after the worker
// looks; whatever it hands back runs.
struct guest_leaves_during_shutdown : guest_test<guest_leaves_during_shutdown, 3> {
    void thread(unsigned index) {
        if (index == 0) {
            guest_visit();
        } else if (index == 1) {
            worker_loop();
        } else {
            shutdown();
        }
    }
};

// Two guests in the two slots, back to back visits by one of them (a slot reused [V1]), one worker, shutdown;
// shutdown's wait must see both leave (the last one out wakes it, or a DEADLOCK) [V4].
struct two_guests_and_reuse : guest_test<two_guests_and_reuse, 4> {
    void before() {
        guest_test::before();
        single_visit = false;
    }
    void thread(unsigned index) {
        if (index == 0) {
            guest_visit();
            guest_visit();
        } else if (index == 1) {
            guest_visit();
        } else if (index == 2) {
            worker_loop();
        } else {
            shutdown();
        }
    }
};

}  // namespace

int main(int argc, char** argv) {
    const rl::iteration_t iterations = taskforge_model::iterations_from(argc, argv, 100000);
    bool all = true;
    all &= taskforge_model::check<guest_leaves_during_shutdown>("guest_leaves_during_shutdown", iterations);
    all &= taskforge_model::check<two_guests_and_reuse>("two_guests_and_reuse", iterations);
    return all ? 0 : 1;
}
