/// @file
/// taskforge/trace.hpp — names for tasks in a trace, and what scheduler::start_trace()/stop_trace() record.
///
/// @code
///   pool.start_trace();
///   auto h = pool.spawn(taskforge::named("parse", parse), input);   // traced as "parse"
///   ...
///   std::ofstream out("trace.json");
///   pool.stop_trace(out);   // Chrome trace-event JSON: open it in ui.perfetto.dev or chrome://tracing
/// @endcode
///
/// A trace has one track per worker (and per guest slot or spare that ran something), named "worker 0",
/// "guest 0", "spare 5". Each task body that ran is one complete event ("ph":"X") with its name, start and
/// duration in microseconds (ns precision); joins' halves that a thief ran are named "join", group tasks
/// "group task", continuations their function's name or "then", other unnamed tasks "task". Steals (one per visit
/// to a victim that took work), parks and wake-ups are instant events.
/// A task a waiting worker runs inside its wait nests inside the waiting task's event. Each worker slot records
/// into its own ring of options::trace_events_per_thread events, allocated by the first start_trace() and kept
/// until the scheduler is destroyed: a long trace keeps the latest events and says how many it dropped
/// ("otherData": {"dropped_events": N}). While no trace runs, a task pays one relaxed load for it.
///
/// start_trace() and stop_trace() may be called from any thread, at any time, also while tasks run; a second
/// start_trace() while tracing changes nothing; stop_trace() without a trace (or in a fork() child) writes a valid
/// trace with no events. If start_trace() cannot allocate the rings it throws std::bad_alloc and changes nothing.
/// Built with -DTASKFORGE_TRACING=0 nothing is recorded and stop_trace() writes an empty trace.
#pragma once

#include <cstddef>
#include <functional>
#include <type_traits>
#include <utility>

namespace taskforge {

// Refusals of task_name's checks, named for the compiler's error message (not constexpr: calling one at compile
// time is the error).
namespace detail {
inline void task_name_must_be_a_nul_terminated_string_literal() {}
inline void task_name_must_be_printable_utf8_without_control_characters() {}
}  // namespace detail

/// A task's name in a trace: a string literal. The constructor is consteval: a name that could dangle (a
/// std::string's c_str(), a local buffer), an array without its terminating NUL, and a name with control
/// characters or bytes that are not UTF-8 do not compile, so every trace is valid JSON and draws as valid SVG.
class task_name {
public:
    /// The name `text`, a string literal (implicit, so named("parse", f) reads naturally). Does not compile for an
    /// array without its terminating NUL or for text that is not printable UTF-8.
    template <std::size_t Size>
    consteval task_name(const char (&text)[Size]) noexcept : text_(text) {  // NOLINT: implicit on purpose
        if (Size == 0 || text[Size - 1] != '\0') detail::task_name_must_be_a_nul_terminated_string_literal();
        if (!printable_utf8(text, Size - 1)) detail::task_name_must_be_printable_utf8_without_control_characters();
    }
    /// The name, NUL-terminated; it has static storage duration.
    constexpr const char* c_str() const noexcept { return text_; }

private:
    // Well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF), no control character.
    static constexpr bool printable_utf8(const char* text, std::size_t length) noexcept {
        for (std::size_t i = 0; i < length;) {
            const auto lead = static_cast<unsigned char>(text[i]);
            if (lead < 0x80) {
                if (lead < 0x20 || lead == 0x7f) return false;
                ++i;
                continue;
            }
            const std::size_t extra = lead >= 0xc2 && lead <= 0xdf   ? 1
                                      : lead >= 0xe0 && lead <= 0xef ? 2
                                      : lead >= 0xf0 && lead <= 0xf4 ? 3
                                                                     : 0;
            if (extra == 0 || i + extra >= length) return false;
            const auto second = static_cast<unsigned char>(text[i + 1]);
            const unsigned char low = lead == 0xe0 ? 0xa0 : lead == 0xf0 ? 0x90 : 0x80;
            const unsigned char high = lead == 0xed ? 0x9f : lead == 0xf4 ? 0x8f : 0xbf;
            if (second < low || second > high) return false;
            for (std::size_t k = 2; k <= extra; ++k) {
                if ((static_cast<unsigned char>(text[i + k]) & 0xc0) != 0x80) return false;
            }
            i += extra + 1;
        }
        return true;
    }

    const char* text_;
};

/// A callable with a name: calls `function` exactly as spawn() would call it (stop tokens included). Made by
/// named(); spawned tasks, group tasks and continuations made from one appear in a trace under its name.
template <class F>
class named_task {
public:
    /// Marks the type as a named callable for the trace machinery.
    static constexpr bool is_named_task = true;

    /// Keeps `function` (decay-copied, moved when given as an rvalue) under `name`.
    template <class G>
    named_task(task_name name, G&& function) : name_(name.c_str()), function_(std::forward<G>(function)) {}

    /// Calls the function (an lvalue) with `arguments`.
    template <class... A>
    requires std::is_invocable_v<F&, A...>
    decltype(auto) operator()(A&&... arguments) & { return std::invoke(function_, std::forward<A>(arguments)...); }
    /// Calls the function (a const lvalue) with `arguments`.
    template <class... A>
    requires std::is_invocable_v<const F&, A...>
    decltype(auto) operator()(A&&... arguments) const& { return std::invoke(function_, std::forward<A>(arguments)...); }
    /// Calls the function (an rvalue: moved from) with `arguments`.
    template <class... A>
    requires std::is_invocable_v<F, A...>
    decltype(auto) operator()(A&&... arguments) && {
        return std::invoke(std::move(function_), std::forward<A>(arguments)...);
    }

    /// The name the task appears under in a trace.
    const char* trace_name() const noexcept { return name_; }

private:
    const char* name_;
    F function_;
};

/// `function`, traced under `name`: pool.spawn(named("parse", parse), input), group.spawn(named("tile", f)), ...
template <class F>
named_task<std::decay_t<F>> named(task_name name, F&& function) {
    return named_task<std::decay_t<F>>(name, std::forward<F>(function));
}

}  // namespace taskforge
