// taskforge/detail/after_finish.hpp — jobs that a finishing thread runs only once its finish is over.
//
// A finish (a task frame's, task_frame.hpp [S8]; a task group's last, group_state.hpp [G8]) fires the coroutines
// waiting for it. One whose pool refuses its resumption (coroutine_frame.hpp [C2]) resumes on the finishing thread
// instead, and its code must not run inside that finish: not before the finish woke its sleepers and fired its
// other continuations, and not nested in it. This thread-local list holds them until the outermost drain().
#pragma once

#include "job.hpp"

namespace taskforge::detail {

// Linked through job::next (the jobs are in no queue); run by the outermost drain() of the thread, one by one, so
// they never nest. This thread only.
struct after_finish {
    static void defer(job* work) noexcept {
        work->next.store(deferred(), std::memory_order_relaxed);  // this thread's own list
        deferred() = work;
    }
    static void drain() noexcept {
        if (draining() || deferred() == nullptr) return;
        draining() = true;
        while (job* const work = deferred()) {
            deferred() = work->next.load(std::memory_order_relaxed);  // before run(): it may go
            run(work);
        }
        draining() = false;
    }

private:
    static job*& deferred() noexcept {
        static thread_local job* jobs = nullptr;
        return jobs;
    }
    static bool& draining() noexcept {
        static thread_local bool running = false;
        return running;
    }
};

}  // namespace taskforge::detail
