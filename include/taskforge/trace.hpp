// taskforge/trace.hpp — names for tasks in a trace, and what scheduler::start_trace()/stop_trace() record.
//
//   pool.start_trace();
//   auto h = pool.spawn(taskforge::named("parse", parse), input);   // traced as "parse"
//   ...
//   std::ofstream out("trace.json");
//   pool.stop_trace(out);   // Chrome trace-event JSON: open it in ui.perfetto.dev or chrome://tracing
//
// A trace has one track per worker (and per guest slot or spare that ran something), named "worker 0",
// "guest 0", "spare 5". Each task body that ran is one complete event ("ph":"X") with its name, start and
// duration in microseconds (ns precision); joins' halves that a thief ran are named "join", group tasks
// "group task", continuations "then", other unnamed tasks "task". Steals, parks and wake-ups are instant events.
// A task a waiting worker runs inside its wait nests inside the waiting task's event. Each worker slot records
// into its own ring of options::trace_events_per_thread events, allocated by the first start_trace() and kept
// until the scheduler is destroyed: a long trace keeps the latest events and says how many it dropped
// ("otherData": {"dropped_events": N}). While no trace runs, a task pays one relaxed load for it.
//
// start_trace() and stop_trace() may be called from any thread, at any time, also while tasks run; a second
// start_trace() while tracing changes nothing; stop_trace() without a trace writes a valid trace with no events.
// Built with -DTASKFORGE_TRACING=0 nothing is recorded and stop_trace() writes an empty trace.
#pragma once

#include <functional>
#include <type_traits>
#include <utility>

namespace taskforge {

// A task's name in a trace: a string literal, or another constant string with static storage duration. The
// constructor is consteval, so a name that could dangle (a std::string's c_str(), a local buffer) does not compile.
class task_name {
public:
    consteval task_name(const char* text) noexcept : text_(text) {}  // NOLINT: implicit on purpose
    constexpr const char* c_str() const noexcept { return text_; }

private:
    const char* text_;
};

// A callable with a name: calls `function` exactly as spawn() would call it (stop tokens included).
template <class F>
class named_task {
public:
    static constexpr bool is_named_task = true;

    template <class G>
    named_task(task_name name, G&& function) : name_(name.c_str()), function_(std::forward<G>(function)) {}

    template <class... A>
    requires std::is_invocable_v<F&, A...>
    decltype(auto) operator()(A&&... arguments) & { return std::invoke(function_, std::forward<A>(arguments)...); }
    template <class... A>
    requires std::is_invocable_v<const F&, A...>
    decltype(auto) operator()(A&&... arguments) const& { return std::invoke(function_, std::forward<A>(arguments)...); }
    template <class... A>
    requires std::is_invocable_v<F, A...>
    decltype(auto) operator()(A&&... arguments) && {
        return std::invoke(std::move(function_), std::forward<A>(arguments)...);
    }

    const char* trace_name() const noexcept { return name_; }

private:
    const char* name_;
    F function_;
};

// `function`, traced under `name`: pool.spawn(named("parse", parse), input), group.spawn(named("tile", f)), ...
template <class F>
named_task<std::decay_t<F>> named(task_name name, F&& function) {
    return named_task<std::decay_t<F>>(name, std::forward<F>(function));
}

}  // namespace taskforge
