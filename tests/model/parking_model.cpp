// Relacy model checks of how idle workers sleep and how new work wakes them (detail/parking.hpp, invariants
// [P1]..[P3]): the real idle_coordinator and parker, compiled against Relacy through detail/platform.hpp, driven by
// a model of runtime.hpp's worker loop (worker_main, next_job, search, park) in which one array of atomic slots
// stands in for the deques and the injection queue.
//
// Each job is a slot: 0 empty, 1 published, 2 taken (a CAS, so a job is taken once). A publisher thread publishes
// the jobs — a release store then notify_after_push() (a deque push), or a seq_cst CAS then
// notify_after_seq_cst_publish() (the injection queue) — and never runs them itself. Workers loop until every job
// has been taken; the worker that takes the last one shuts the coordinator down (close(), as shutdown() does), which
// wakes the others so they exit. A job stranded while every worker sleeps therefore leaves the workers blocked in
// the model futex forever, and Relacy reports a DEADLOCK [P1].
//
// Mutant (built as a WILL_FAIL test by CMakeLists.txt):
//   TASKFORGE_MODEL_MUTANT_PUSH_WITHOUT_FENCE  notify_after_push() reads the coordinator's state without its seq_cst
//                                              fence: the publisher and a parking worker can each miss the other
//                                              (store buffering), and the job is stranded [P1].
//
// Relacy's default seq_cst model orders seq_cst fences among themselves and seq_cst loads after seq_cst stores, but
// does not place seq_cst RMWs in the fences' order, which C++20 [atomics.order] does: a seq_cst CAS followed by a
// seq_cst load (the injection queue's publish, notify_after_seq_cst_publish) against a seq_cst RMW followed by a
// fence (begin_park, the sleeper's fence) is then reported as a lost wake-up that the standard — and x86-64 and
// AArch64, where the CAS is a full barrier or an RCsc release/acquire pair — rule out. RL_IMPROVED_SEQ_CST_RMW
// makes Relacy treat every seq_cst RMW as also being a seq_cst fence, which is what the standard's rules give this
// protocol. It does not touch the push path the mutant weakens: that publisher does a store, not an RMW.
#define RL_IMPROVED_SEQ_CST_RMW 1
#define TASKFORGE_RELACY 1
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <taskforge/detail/parking.hpp>

#include "model_runner.hpp"

namespace {

using taskforge::detail::atomic;
using taskforge::detail::fence_seq_cst;
using taskforge::detail::idle_coordinator;
using taskforge::detail::model_futex;

constexpr int max_jobs = 2;
constexpr int max_workers = 2;

enum class publish { push, seq_cst };

// A deadline that has already passed: the model futex's timed wait may still block until a wake-up or time out
// (Relacy explores both), and the parker's own clock check then treats it as expired.
const std::chrono::steady_clock::time_point expired{};

// Base: the coordinator, the job slots and one model futex per iteration. Derived: Workers, Jobs, Spares (how many
// of the workers, counted from worker 0, park with a timeout), Mode (how the publisher publishes).
template <class Derived, int Threads>
struct parking_test : rl::test_suite<Derived, Threads> {
    model_futex* futex = nullptr;
    idle_coordinator* idle = nullptr;
    atomic<int> slot[max_jobs];
    rl::var<int> payload[max_jobs];  // written before the job is published, read by its taker
    atomic<int> taken{0};            // jobs taken so far
    int taken_by_worker[max_workers] = {};

    void before() {
        futex = new model_futex;
        model_futex::current() = futex;
        idle = new idle_coordinator(Derived::workers, Derived::workers);
        for (auto& job : slot) job.store(0, std::memory_order_relaxed);
    }

    void after() {
        RL_ASSERT(taken.load(std::memory_order_relaxed) == Derived::jobs);  // [P1] no job stranded
        int total = 0;
        for (int worker = 0; worker < Derived::workers; ++worker) total += taken_by_worker[worker];
        RL_ASSERT(total == Derived::jobs);  // each job taken exactly once
        delete idle;
        model_futex::current() = nullptr;
        delete futex;
    }

    void thread(unsigned index) {
        if (index == static_cast<unsigned>(Derived::workers)) {
            publisher();
        } else {
            worker(index, static_cast<int>(index) < Derived::spares);
        }
    }

    void publisher() {
        for (int job = 0; job < Derived::jobs; ++job) {
            payload[job]($) = job + 1;
            if (Derived::mode == publish::push) {
                slot[job].store(1, std::memory_order_release);  // the deque's push (release, then bottom)
                idle->notify_after_push();
            } else {
                int expected = 0;  // the injection queue's seq_cst CAS
                slot[job].compare_exchange_strong(expected, 1, std::memory_order_seq_cst, std::memory_order_seq_cst);
                idle->notify_after_seq_cst_publish();
            }
        }
    }

    // Takes a published job, if one is visible: the job's index, or -1.
    int take_any() {
        for (int job = 0; job < Derived::jobs; ++job) {
            int expected = 1;
            if (slot[job].load(std::memory_order_relaxed) == 1 &&
                slot[job].compare_exchange_strong(expected, 2, std::memory_order_acquire, std::memory_order_relaxed)) {
                return job;
            }
        }
        return -1;
    }

    // runtime::any_work_visible, after a seq_cst fence.
    bool any_work_visible() {
        for (int job = 0; job < Derived::jobs; ++job) {
            if (slot[job].load(std::memory_order_relaxed) == 1) return true;
        }
        return false;
    }

    bool all_taken() { return taken.load(std::memory_order_acquire) == Derived::jobs; }

    // runtime::worker_main with next_job and search folded in.
    void worker(unsigned index, bool spare) {
        bool searching = false;
        for (;;) {
            int job = take_any();  // own deque, injection queue
            if (job < 0 && (searching || idle->try_begin_search())) {
                searching = true;
                job = take_any();  // the search proper (bounded: at most half the workers search)
            }
            if (job >= 0) {
                if (searching) {
                    searching = false;
                    if (idle->end_search()) {  // runtime::wake_helper_if_work_left
                        fence_seq_cst();
                        if (any_work_visible()) idle->notify_one();
                    }
                }
                RL_ASSERT(payload[job]($) == job + 1);  // the job's contents came with it
                ++taken_by_worker[index];
                if (taken.fetch_add(1, std::memory_order_acq_rel) + 1 == Derived::jobs) idle->close();  // shutdown
                continue;
            }
            if (all_taken()) break;  // closed and drained
            park(index, spare, searching);
        }
        idle->retire(searching);
        // Nobody will notify this worker again: a token left in its parker would be one delivered but never
        // consumed (or consumed twice elsewhere). A timed park with no token returns false [P3].
        RL_ASSERT(!idle->park(index, &expired));  // [P3] every token consumed exactly once
    }

    // runtime::park: steps 2-4 of the protocol, and the spare's timed park [P3]. A spare whose park expired stays
    // (the model's spares never retire: the runtime retires one only while enough other workers remain).
    void park(unsigned index, bool spare, bool& searching) {
        if (!idle->begin_park(index, searching)) return;  // closing: stay awake and drain
        searching = false;
        fence_seq_cst();  // the sleeper's half of the fence pair [P1]
        if (any_work_visible()) idle->notify_one();
        if (!spare) {
            idle->park(index);
            searching = true;
            return;
        }
        bool woken = idle->park(index, &expired);
        if (!woken && !idle->cancel_park(index)) {
            woken = idle->park(index);  // popped by a notifier: consume its token [P3]
            RL_ASSERT(woken);           // [P3] an untimed park returns only with the token
        }
        if (woken) {
            searching = true;
            return;
        }
        fence_seq_cst();  // off the list, awake, not searching: looks again (runtime::park)
    }
};

// A deque push wakes one of one parking worker [P1]. Two threads: the store-buffering shape in its smallest form.
struct push_versus_one_parking_worker : parking_test<push_versus_one_parking_worker, 2> {
    static constexpr int workers = 1, spares = 0, jobs = 2;
    static constexpr publish mode = publish::push;
};

// Two pushes, two workers that search (one at a time: the bound), park and wake each other [P1].
struct push_versus_two_parking_workers : parking_test<push_versus_two_parking_workers, 3> {
    static constexpr int workers = 2, spares = 0, jobs = 2;
    static constexpr publish mode = publish::push;
};

// The injection queue: a seq_cst CAS publishes, and notify_after_seq_cst_publish needs no fence of its own [P1].
struct injection_versus_two_parking_workers : parking_test<injection_versus_two_parking_workers, 3> {
    static constexpr int workers = 2, spares = 0, jobs = 2;
    static constexpr publish mode = publish::seq_cst;
};

// A spare's timed park races the publisher's notify_one: the timeout, cancel_park and the pop under the sleeper
// lock decide exactly once whether the spare was woken, and a popped spare consumes its token [P3]; the job is
// taken either way [P1].
struct spare_timed_park_versus_notify : parking_test<spare_timed_park_versus_notify, 2> {
    static constexpr int workers = 1, spares = 1, jobs = 1;
    static constexpr publish mode = publish::push;
};

// A spare (timed) and a regular worker park while two jobs are pushed [P1][P3].
struct spare_and_worker_versus_push : parking_test<spare_and_worker_versus_push, 3> {
    static constexpr int workers = 2, spares = 1, jobs = 2;
    static constexpr publish mode = publish::push;
};

}  // namespace

int main(int argc, char** argv) {
    const rl::iteration_t iterations = taskforge_model::iterations_from(argc, argv, 100000);
    bool all = true;
    all &= taskforge_model::check<push_versus_one_parking_worker>("push_versus_one_parking_worker", iterations);
    all &= taskforge_model::check<push_versus_two_parking_workers>("push_versus_two_parking_workers", iterations);
    all &= taskforge_model::check<injection_versus_two_parking_workers>("injection_versus_two_parking_workers",
                                                                        iterations);
    all &= taskforge_model::check<spare_timed_park_versus_notify>("spare_timed_park_versus_notify", iterations);
    all &= taskforge_model::check<spare_and_worker_versus_push>("spare_and_worker_versus_push", iterations);
    return all ? 0 : 1;
}
