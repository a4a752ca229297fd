// taskforge/detail/task_probe.hpp — the one hook around every task body: counts it (metrics) and, while the pool
// records a trace, writes its complete event (trace_ring.hpp).
//
// Every kind of work that runs user code on a worker slot goes through a probe: a task frame's body
// (task_frame.hpp, also when a waiting worker claims it), a group task (group_frame.hpp) and a join's half run by
// a thief (stack_job.hpp). A join's half that its owner takes back runs as a plain call: it is part of the task
// that forked it. Skipped work (cancelled tasks, spent queue entries) runs no user code and is not counted.
// Only slot owners run bodies (outside threads without a guest slot only wait), so `current_worker` is set.
#pragma once

#include <concepts>

#if !defined(TASKFORGE_RELACY)
#include "worker.hpp"
#endif

namespace taskforge::detail {

// A callable made by taskforge::named() (trace.hpp).
template <class Fn>
concept named_callable = requires(const Fn& function) {
    Fn::is_named_task;
    { function.trace_name() } -> std::convertible_to<const char*>;
};

// The name `function` is traced under: its own if it has one, else `otherwise` (a string literal).
template <class Fn>
const char* trace_name_of(const Fn& function, const char* otherwise) noexcept {
    if constexpr (named_callable<Fn>) {
        return function.trace_name();
    } else {
        (void)function;
        return otherwise;
    }
}

#if defined(TASKFORGE_RELACY)
struct task_probe {  // the model build has no instruments
    explicit task_probe(const char*) noexcept {}
};
#else
class task_probe {
public:
    // Caller: the thread about to run a body, on a worker slot. Turned off, tracing costs one relaxed load here.
    explicit task_probe(const char* name) noexcept : self_(current_worker), name_(name) {
        if (self_ != nullptr && self_->instruments.active_ring() != nullptr) start_ = rough_ticks();
    }
    ~task_probe() {
        if (self_ == nullptr) return;
        self_->instruments.count_task();
        if (start_ == 0) return;
        // Written only if the trace still runs: a task that outlives a stop_trace() is not in the next trace.
        if (trace_ring* ring = self_->instruments.active_ring())
            ring->write(trace_kind::task, name_, start_, rough_ticks());
    }
    task_probe(const task_probe&) = delete;
    task_probe& operator=(const task_probe&) = delete;

private:
    worker* const self_;
    const char* const name_;
    std::uint64_t start_ = 0;  // 0: not traced
};
#endif

}  // namespace taskforge::detail
