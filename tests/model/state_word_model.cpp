// Relacy model checks of a task frame's state word (detail/task_frame.hpp, invariants [S1]..[S9]) and of the
// handle's wait on it (detail/state_word.hpp's block_until): the real task_frame_base, compiled against Relacy
// through detail/platform.hpp.
//
// The frame under test derives from valued_frame<int> like task_frame does, but keeps the model's books instead of
// using the frame cache (thread_local, operator new): its queued job mirrors task_frame::execute, its body writes
// the result into an rl::var, and its dispose marks the frame dead instead of freeing it (after() deletes it).
// Two parties refer to a frame, as in the library: the queue (thread 0 executes the queued job) and the handle
// (thread 1: cancel, try_run_inline — a waiting worker claiming the task where it sits — wait, release).
//
// Every access a party makes to the frame first reads the frame's rl::var `alive`, which dispose overwrites: an
// access that does not happen-before the dispose is a DATA RACE, one after it fails an RL_ASSERT naming [S2].
//
// Continuations ([S7]-[S9]): thread 1 attaches a node while thread 0 finishes the task; the node must fire exactly
// once, while the frame is alive, and what it then reads of the result must be published [S1]. A deferred frame
// must not be claimed before it is fired.
//
// Mutants (built as WILL_FAIL tests by CMakeLists.txt):
//   TASKFORGE_MODEL_MUTANT_RELEASE_IGNORES_CLAIMED  release_handle's fast path frees a claimed frame without
//                                                   waiting for its queued job (queue_done) [S6].
//   TASKFORGE_MODEL_MUTANT_CONTINUED_READ_EARLY     finish() decides about continuations from a read before its
//                                                   publishing RMW: an attach in between is never fired [S8].
//   TASKFORGE_MODEL_MUTANT_CLAIM_DEFERRED           a deferred (unfired) continuation can be claimed [S9].
//   TASKFORGE_MODEL_MUTANT_FIRE_RELAXED             firing a deferred frame publishes nothing: a claimer runs a
//                                                   body that reads the slot unordered [S9].
#define TASKFORGE_RELACY 1
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <taskforge/detail/state_word.hpp>
#include <taskforge/detail/task_frame.hpp>

#include "model_runner.hpp"

namespace {

using taskforge::detail::atomic;
using taskforge::detail::block_until;
using taskforge::detail::job;
using taskforge::detail::model_futex;
using taskforge::detail::task_frame_base;
using taskforge::detail::valued_frame;
namespace task_state = taskforge::detail::task_state;

constexpr int result_value = 42;
constexpr int slot_value = 7;

// What happened to a frame; checked in after(). Atomics, so that every thread may count.
struct frame_log {
    atomic<int> runs{0};       // times the callable ran [S5]
    atomic<int> disposals{0};  // times the frame was disposed [S2]
};

class model_frame final : public valued_frame<int> {
public:
    model_frame(std::uint32_t initial, frame_log& books)
        : valued_frame<int>(&execute, &manage_frame, &unobserved, nullptr, initial), log(books), alive(1) {}

    // A party is about to access the frame: it must still be alive, and the access must happen-before the
    // dispose (the rl::var makes an unordered access a DATA RACE) [S2].
    void touch() { RL_ASSERT(alive($) == 1); }  // [S2] never disposed before every party let go

    // The queued job: mirrors task_frame::execute (minus the frame cache and deferred group finishes).
    static void execute(job* work) noexcept {
        auto* self = static_cast<model_frame*>(work);
        self->touch();
        if (self->try_start(self)) return run_body(self);
        self->touch();
        if (self->was_claimed()) {
            queue_released(self);
            return self->release_queue();  // [S6]
        }
        self->finish(task_state::cancelled);  // [S4] the cancelled task is skipped, the protocol still runs
    }

    frame_log& log;
    bool reads_slot = false;  // set before the threads start: the body reads `slot` (claim_versus_fire_with_slot)
    rl::var<int> slot;        // what a continuation's body reads, written by whoever fires it [S9]
    rl::var<int> alive;       // 1 until dispose [S2]
    rl::var<int> value;       // the result, written by the body before the final status [S1]
    rl::var<int> queue_gone;  // 1 once the queued job of a claimed frame executed [S6]

private:
    static void queue_released(model_frame* self) { self->queue_gone($) = 1; }

    // mirrors task_frame::run_body
    static void run_body(model_frame* self) noexcept {
        self->touch();
        // [S9] never started or claimed while deferred: the RMW that left `pending` read the word without it, and
        // nothing sets it again.
        RL_ASSERT((self->state.load(std::memory_order_relaxed) & task_state::deferred) == 0);
        self->log.runs.fetch_add(1, std::memory_order_relaxed);
        if (self->reads_slot) RL_ASSERT(self->slot($) == slot_value);  // [S9] written before the firing
        self->value($) = result_value;
        self->finish(task_state::completed);
    }

    static void manage_frame(task_frame_base* frame, operation what) noexcept {
        auto* self = static_cast<model_frame*>(frame);
        if (what == operation::run_claimed) return run_body(self);
        RL_ASSERT(self->alive($) == 1);  // [S2] disposed at most once
        const std::uint32_t word = self->state.load(std::memory_order_relaxed);
        if ((word & task_state::claimed) != 0) {
            RL_ASSERT(self->queue_gone($) == 1);  // [S6] a claimed frame outlives its queued job
        }
        self->alive($) = 0;
        self->log.disposals.fetch_add(1, std::memory_order_relaxed);
    }

    static void unobserved(std::exception_ptr) noexcept { RL_ASSERT(false); }  // no task here throws
};

// Base: one frame (pending, a handle and a queued job referring to it) and one model futex per iteration.
template <class Derived>
struct frame_test : rl::test_suite<Derived, 2> {
    model_futex* futex = nullptr;
    model_frame* frame = nullptr;
    frame_log log;
    bool cancelled = false;  // thread 1's cancel() won
    bool claimed = false;    // thread 1's try_run_inline() won

    void before() {
        futex = new model_futex;
        model_futex::current() = futex;
        frame = new model_frame(task_state::pending, log);
        frame->value($) = 0;
        frame->slot($) = 0;
        frame->queue_gone($) = 0;
    }

    // The handle's wait (wait_for_task once it blocks); then, as get() does, read the result.
    void wait_and_read() {
        frame->touch();
        block_until(frame->state, task_state::waiting, &task_state::finished);
        frame->touch();
        const std::uint32_t status = task_state::status(frame->load_state());
        RL_ASSERT(task_state::finished(status));
        if (status == task_state::completed) {
            RL_ASSERT(frame->value($) == result_value);  // [S1] the result is written before the final status
        } else {
            RL_ASSERT(status == task_state::cancelled && cancelled);  // [S5] only a won cancel() skips the task
        }
    }
    void drop_handle() {
        frame->touch();
        frame->release_handle();  // [S2]
    }
    void execute_queued_job() { frame->execute(frame); }
    // A waiting worker: claims the task where it sits if it can [S5], waits, reads and lets go.
    void claim_wait_and_drop() {
        frame->touch();
        claimed = frame->try_run_inline(this);
        wait_and_read();
        drop_handle();
    }

    void after() {
        RL_ASSERT(log.disposals.load(std::memory_order_relaxed) == 1);  // [S2] freed exactly once
        const int runs = log.runs.load(std::memory_order_relaxed);
        RL_ASSERT(runs == (cancelled ? 0 : 1));  // [S5] ran exactly once, never after a won cancel()
        RL_ASSERT(!(cancelled && claimed));      // [S5] one transition out of pending
        delete frame;
        model_futex::current() = nullptr;
        delete futex;
    }
};

// spawn + get: the executor finishes while the handle waits (sleeps or not) and then lets go. Covers both finish
// paths: status and executor_done in one RMW, and, with a sleeper, status, wake, then executor_done [S3].
struct finish_versus_waiting_handle : frame_test<finish_versus_waiting_handle> {
    void thread(unsigned index) {
        if (index == 0) {
            execute_queued_job();
        } else {
            wait_and_read();
            drop_handle();
        }
    }
};

// The handle is dropped without waiting while the task runs: whichever of the two finishes last frees [S2].
struct finish_versus_dropped_handle : frame_test<finish_versus_dropped_handle> {
    void thread(unsigned index) {
        if (index == 0) {
            execute_queued_job();
        } else {
            drop_handle();
        }
    }
};

// cancel() races the executor's start; the handle then waits and lets go. The loser of the pending CAS never
// runs the callable; a cancelled frame is still freed only after its queued job executed [S4][S5].
struct cancel_versus_execute : frame_test<cancel_versus_execute> {
    void thread(unsigned index) {
        if (index == 0) {
            execute_queued_job();
        } else {
            frame->touch();
            cancelled = frame->cancel();
            wait_and_read();
            drop_handle();
        }
    }
};

// cancel() then drop, without waiting: a detached cancelled frame [S4].
struct cancel_and_drop_versus_execute : frame_test<cancel_and_drop_versus_execute> {
    void thread(unsigned index) {
        if (index == 0) {
            execute_queued_job();
        } else {
            frame->touch();
            cancelled = frame->cancel();
            drop_handle();
        }
    }
};

// A waiting worker claims the task where it sits (try_run_inline) while the queued job executes: the callable runs
// once [S5], and a claimed frame is freed only after the queued job dropped the queue's reference [S6].
struct claim_versus_execute : frame_test<claim_versus_execute> {
    void thread(unsigned index) {
        if (index == 0) {
            execute_queued_job();
        } else {
            claim_wait_and_drop();
        }
    }
};

// The claim, then cancel() (which must fail: the task left pending) and drop without waiting [S5][S6].
struct claim_cancel_drop_versus_execute : frame_test<claim_cancel_drop_versus_execute> {
    void thread(unsigned index) {
        if (index == 0) {
            execute_queued_job();
        } else {
            frame->touch();
            claimed = frame->try_run_inline(this);
            frame->touch();
            const bool cancel_won = frame->cancel();
            RL_ASSERT(!(claimed && cancel_won));  // [S5] leaving pending happens once
            cancelled = cancel_won;
            drop_handle();
        }
    }
};

// A continuation node, as a then() continuation or a when_all trigger is: fired by the executor (or by the
// attacher when the task already finished); it records the firing and touches the frame it continues.
struct model_node : job {
    explicit model_node(model_frame& continued) : job(&fire), frame(continued) {}
    static void fire(job* work) noexcept {
        auto* self = static_cast<model_node*>(work);
        self->frame.touch();  // [S7][S8] fired while the frame is alive
        self->fired.fetch_add(1, std::memory_order_release);
    }
    model_frame& frame;
    atomic<int> fired{0};
};

// then(): the attacher holds the handle, attaches a node while the executor finishes; the node fires exactly once;
// then (as the continuation's body does) the attacher reads the result and lets go of the handle [S7][S8][S9].
struct attach_versus_finish : frame_test<attach_versus_finish> {
    model_node* node = nullptr;
    void before() {
        frame_test::before();
        node = new model_node(*frame);
    }
    void thread(unsigned index) {
        if (index == 0) {
            execute_queued_job();
            return;
        }
        frame->touch();
        if (!frame->attach_continuation(node)) model_node::fire(node);  // finished already: fire it ourselves
        // The continuation runs only once fired (acquire pairs with the firing's release).
        while (node->fired.load(std::memory_order_acquire) == 0) rl::yield(1, $);
        wait_and_read();  // the task finished: returns at once, and the result is visible [S1]
        drop_handle();
    }
    void after() {
        RL_ASSERT(node->fired.load(std::memory_order_relaxed) == 1);  // [S8] exactly once
        delete node;
        frame_test::after();
    }
};

// A deferred frame (an unfired continuation) is fired — `deferred` cleared, then queued and executed — while a
// waiter tries to claim it: the claim may win only after the firing, never before [S9].
struct claim_versus_fire : frame_test<claim_versus_fire> {
    void before() {
        frame_test::before();
        frame->state.store(task_state::deferred, std::memory_order_relaxed);
    }
    void thread(unsigned index) {
        if (index == 0) {
            frame->touch();
            frame->state.fetch_and(~task_state::deferred, std::memory_order_relaxed);
            execute_queued_job();
        } else {
            claim_wait_and_drop();
        }
    }
};

// An unwrapped then()'s continuation (continuation.hpp): whoever fires the deferred frame first writes the slot its
// body reads, then fires it (fire_deferred, the library's own: release) and executes the queued job, while a waiter
// claims it in place (acquire) and runs the body, which reads the slot. The claim must see the slot [S9]: the
// mutant's relaxed firing makes that read a DATA RACE (TSan found it in CI, compose_unit).
struct claim_versus_fire_with_slot : frame_test<claim_versus_fire_with_slot> {
    void before() {
        frame_test::before();
        frame->reads_slot = true;
        frame->state.store(task_state::deferred, std::memory_order_relaxed);
    }
    void thread(unsigned index) {
        if (index == 0) {
            frame->touch();
            frame->slot($) = slot_value;
            taskforge::detail::fire_deferred(*frame);
            execute_queued_job();
        } else {
            claim_wait_and_drop();
        }
    }
};

}  // namespace

// fire_deferred queues the fired frame on its pool; here the firing thread executes the queued job itself.
void taskforge::detail::schedule_fired(const void*, job*) noexcept {}

int main(int argc, char** argv) {
    const rl::iteration_t iterations = taskforge_model::iterations_from(argc, argv, 100000);
    bool all = true;
    all &= taskforge_model::check<finish_versus_waiting_handle>("finish_versus_waiting_handle", iterations);
    all &= taskforge_model::check<finish_versus_dropped_handle>("finish_versus_dropped_handle", iterations);
    all &= taskforge_model::check<cancel_versus_execute>("cancel_versus_execute", iterations);
    all &= taskforge_model::check<cancel_and_drop_versus_execute>("cancel_and_drop_versus_execute", iterations);
    all &= taskforge_model::check<claim_versus_execute>("claim_versus_execute", iterations);
    all &= taskforge_model::check<claim_cancel_drop_versus_execute>("claim_cancel_drop_versus_execute", iterations);
    all &= taskforge_model::check<attach_versus_finish>("attach_versus_finish", iterations);
    all &= taskforge_model::check<claim_versus_fire>("claim_versus_fire", iterations);
    all &= taskforge_model::check<claim_versus_fire_with_slot>("claim_versus_fire_with_slot", iterations);
    return all ? 0 : 1;
}
