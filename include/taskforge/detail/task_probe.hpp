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
    void finish(const char*) const noexcept {}
};
#else
// How many schedulers record a trace now (runtime.hpp, start_trace/stop_trace). While it is 0 a task pays one
// relaxed load of it for tracing and touches nothing else. Relaxed: a stale value only records or skips the one
// task that straddles a start or a stop, which the trace's window drops anyway (trace_json.hpp).
inline atomic<std::uint32_t> schedulers_tracing{0};

// Begins before a body runs and finishes after it returned or threw, on the same thread. Not a destructor on
// purpose: a plain object with no cleanup keeps its two words in registers across the body's call.
class task_probe {
public:
    // Caller: the thread about to run a body, on a worker slot.
    task_probe() noexcept {
        if constexpr (metrics_enabled) self_ = current_worker;
        if constexpr (tracing_enabled) {
            if (schedulers_tracing.load(std::memory_order_relaxed) != 0) begin_traced();
        }
    }

    // The same thread, once the body is over: `name` is what the trace calls it (a string with static storage).
    void finish(const char* name) const noexcept {
        if constexpr (metrics_enabled) {
            if (self_ != nullptr) self_->instruments.count_task();
        }
        if (start_ != 0) finish_traced(name);
    }

private:
    TASKFORGE_COLD void begin_traced() noexcept {
        self_ = current_worker;
        if (self_ != nullptr && self_->instruments.active_ring() != nullptr) start_ = rough_ticks();
    }

    // Written only if the trace still runs: a task that outlives a stop_trace() is not in the next trace.
    TASKFORGE_COLD void finish_traced(const char* name) const noexcept {
        if (trace_ring* ring = self_->instruments.active_ring()) {
            ring->write(trace_kind::task, name, start_, rough_ticks());
        }
    }

    worker* self_ = nullptr;
    std::uint64_t start_ = 0;  // 0: not traced
};
#endif

}  // namespace taskforge::detail
