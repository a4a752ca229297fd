// Relacy model check of a worker retiring on resize()'s request against shutdown() (detail/runtime.hpp, [R4] and
// [R5]), reduced to the decisions that matter: the retiring thread's claim and hand-over under the runtime's lock,
// shutdown()'s `closing` mark under the same lock before it closes the injection queue, the remaining worker's
// exit test (queue closed, then drained), and shutdown()'s wait for every started thread to count itself out.
// The queue is the stand-in of queue_model.hpp (close and requeue are seq_cst RMWs on one word).
//
// The fear: the retiring thread decides to leave, shutdown begins, the last worker finds the queue closed and
// empty and exits, and only then are the retiring thread's jobs requeued — stranded, never run. In the model a
// stranded job fails the RL_ASSERT in after(); the job's payload is a plain rl::var written by its spawner and
// read by its runner, so a runner not ordered after the hand-over is a DATA RACE.
//
// Mutant (built as a WILL_FAIL test by CMakeLists.txt):
//   TASKFORGE_MODEL_MUTANT_RESIZE_HANDOVER_AFTER_UNLOCK   the retiring thread requeues its jobs after it released
//                                                         the lock: shutdown may begin in between [R4].
#define TASKFORGE_RELACY 1
#include <cstdio>
#include <cstdlib>
#include <taskforge/detail/platform.hpp>

#include "model_runner.hpp"
#include "queue_model.hpp"

namespace {

using taskforge::detail::atomic;
using taskforge::detail::model_futex;
using taskforge::detail::mutex;

using taskforge_model::queue_model;

struct retire_during_shutdown : rl::test_suite<retire_during_shutdown, 3> {
    model_futex* futex = nullptr;
    queue_model queue;
    mutex lock;
    rl::var<bool> closing;        // runtime::closing_, guarded by `lock`
    rl::var<int> retire_request;  // runtime::retire_requests_, guarded by `lock` (the hint read is left out)
    rl::var<int> job_payload;     // the one job queued on the retiring worker's deque
    atomic<int> ran{0};
    atomic<std::uint32_t> alive{2};  // [R5] both workers counted by the constructor

    void before() {
        futex = new model_futex;
        model_futex::current() = futex;
        closing($) = false;
        retire_request($) = 1;  // resize() asked one thread to leave
    }
    void after() {
        RL_ASSERT(ran.load(std::memory_order_relaxed) == 1);  // the job ran, once, wherever it went
        model_futex::current() = nullptr;
        delete futex;
    }

    void run_job() {
        RL_ASSERT(job_payload($) == 7);  // ordered after its spawner's write, or a DATA RACE
        ran.fetch_add(1, std::memory_order_relaxed);
    }

    // Both workers leave the same way (runtime::depart): counted out with release, the waker reads nothing.
    void count_out() {
        alive.fetch_sub(1, std::memory_order_release);
        taskforge::detail::futex_wake_all(alive);
    }

    // The remaining worker: take jobs until the queue is closed and drained (runtime::worker_main's exit test).
    void worker_loop() {
        for (;;) {
            if (queue.try_take()) {
                run_job();
                continue;
            }
            if (queue.is_closed() && !queue.maybe_nonempty()) break;
            taskforge::detail::cpu_relax();
        }
        count_out();
    }

    // The worker that retires on request (runtime::retire_on_request), its job still on its own deque.
    void retiring_worker() {
        job_payload($) = 7;  // spawned onto its own deque
        bool retired = false;
        lock.lock();
        if (retire_request($) > 0 && !closing($)) {
            retire_request($) = 0;
            retired = true;
#if !defined(TASKFORGE_MODEL_MUTANT_RESIZE_HANDOVER_AFTER_UNLOCK)
            queue.requeue();  // [R4] hand-over before the lock is released
#endif
        }
        lock.unlock();
#if defined(TASKFORGE_MODEL_MUTANT_RESIZE_HANDOVER_AFTER_UNLOCK)
        if (retired) queue.requeue();
#endif
        if (retired) return count_out();
        run_job();  // not retired (shutdown began first): it runs its own deque and drains like any worker
        worker_loop();
    }

    // runtime::shutdown, reduced: mark closing under the lock, close the queue, wait for every thread [R5].
    void shutdown() {
        lock.lock();
        closing($) = true;
        lock.unlock();
        queue.close();
        for (std::uint32_t count = alive.load(std::memory_order_acquire); count != 0;
             count = alive.load(std::memory_order_acquire)) {
            taskforge::detail::futex_wait(alive, count);
        }
    }

    void thread(unsigned index) {
        if (index == 0) {
            retiring_worker();
        } else if (index == 1) {
            worker_loop();
        } else {
            shutdown();
        }
    }
};

}  // namespace

int main(int argc, char** argv) {
    const rl::iteration_t iterations = taskforge_model::iterations_from(argc, argv, 100000);
    return taskforge_model::check<retire_during_shutdown>("retire_during_shutdown", iterations) ? 0 : 1;
}
