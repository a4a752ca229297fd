/// @file
/// taskforge/compose.hpp — waiting for several tasks without blocking a thread: when_all and when_any.
///
/// @code
///   auto all = taskforge::when_all(load_a, load_b, load_c);         // task_handle<std::tuple<A, B, C>>
///   auto merged = std::move(all).then([](std::tuple<A, B, C> parts) { return merge(parts); });
///   auto sums = taskforge::when_all(std::move(handles));  // vector<task_handle<T>> -> task_handle<vector<T>>
///   auto [index, answer] = taskforge::when_any(std::move(replicas)).get();   // the first to finish
/// @endcode
///
/// Contract
///   * Both consume their input handles (they are empty afterwards) and return at once: the result is a task that
///     becomes ready when its inputs allow, on the scheduler of the first input (for an empty when_all: the calling
///     worker's scheduler, else default_scheduler()). Nothing blocks, nothing runs on the calling thread.
///   * when_all: the values in argument (or vector) order; a void input gives std::monostate in the tuple, and a
///     vector of void handles gives a `task_handle<void>`. If inputs failed or were cancelled, the first of them in
///     that order decides: its exception is rethrown, or the result is cancelled. The result is ready only after
///     every input finished.
///   * when_any: (index, value) of the first input to finish — just its index for void inputs. If that one failed,
///     the result rethrows its exception (cancelled: the result is cancelled). The others run on undisturbed; their
///     results are dropped. An empty vector throws std::invalid_argument.
///   * An empty input handle throws std::future_error(no_state), and the same handle passed to when_all twice
///     throws std::invalid_argument, before any handle is consumed.
///   * Inputs already finished count at once. Inputs may come from different schedulers; the result is queued on
///     its own scheduler (cancelled if that one was shut down by then). That scheduler must still exist when the
///     result is due: destroying it while the result waits for an input of another scheduler is undefined
///     behaviour, like spawning on a destroyed scheduler. (Within one scheduler this cannot happen: its shutdown
///     runs every task, so every continuation fires before it returns.)
#pragma once

#include <array>
#include <cstddef>
#include <future>
#include <stdexcept>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "detail/continuation.hpp"
#include "detail/task_frame.hpp"
#include "scheduler.hpp"
#include "task_handle.hpp"

namespace taskforge {

namespace detail {

template <class H>
concept handle_argument = is_task_handle<std::remove_cvref_t<H>>::value && !std::is_const_v<std::remove_reference_t<H>>;

template <class T>
void require_valid(const task_handle<T>& input) {
    if (!input.valid()) throw std::future_error(std::future_errc::no_state);
}

// when_all(h, h): the second consumption would find the handle already moved from, and the task's outcome would be
// lost. Frames are unique to a handle (handles are move-only), so equal frames mean the same handle.
template <std::size_t Count>
void require_distinct(const std::array<task_frame_base*, Count>& frames) {
    for (std::size_t i = 0; i < Count; ++i) {
        for (std::size_t j = i + 1; j < Count; ++j) {
            if (frames[i] == frames[j])
                throw std::invalid_argument("taskforge: when_all was given the same handle twice");
        }
    }
}

// Creates when_all's deferred result frame on the first input's scheduler with `body` (which holds the inputs'
// handles and the gate), and arms the gate with the inputs' `frames`.
template <class Result, class Body, class Frames>
task_handle<Result> start_all_of(const Frames& frames, Body&& body) {
    using frame_type = task_frame<Result, std::remove_cvref_t<Body>>;
    frame_type* result =
        frame_type::create(frames[0]->report, frames[0]->pool, task_state::deferred, std::forward<Body>(body));
    auto handle = handle_access::adopt<Result>(result);
    arm_all_of(result->callable().gate, *result, frames);
    return handle;
}

}  // namespace detail

/// Ready when every input finished: `task_handle<std::tuple<T1, T2, ...>>` (void -> std::monostate).
///
/// Consumes `handles` (each a non-const task_handle, at least one); the result runs on the first input's
/// scheduler. The first input that failed or was cancelled, in argument order, decides the result's outcome.
/// Throws std::future_error(no_state) for an empty handle and std::invalid_argument for a handle passed twice,
/// before any handle is consumed.
template <detail::handle_argument... Handles>
requires(sizeof...(Handles) > 0) auto when_all(Handles&&... handles) {
    using body_type = detail::all_of_tuple_body<typename std::remove_cvref_t<Handles>::value_type...>;
    using result_type = std::invoke_result_t<body_type&>;
    (detail::require_valid(handles), ...);
    std::array<detail::task_frame_base*, sizeof...(Handles)> frames{&detail::handle_access::frame(handles)...};
    detail::require_distinct(frames);
    return detail::start_all_of<result_type>(frames, body_type{{std::move(handles)...}, {}});
}

/// Ready when every input finished: `task_handle<std::vector<T>>` (`task_handle<void>` for void inputs).
///
/// Consumes `handles`; the values come in vector order. An empty vector gives a task, on the calling worker's
/// scheduler or default_scheduler(), that returns an empty vector (nothing, for void). The first input that failed
/// or was cancelled, in vector order, decides the result's outcome. Throws std::future_error(no_state) for an
/// empty handle, before any handle is consumed.
template <class T>
auto when_all(std::vector<task_handle<T>>&& handles) {
    using body_type = detail::all_of_vector_body<T>;
    using result_type = typename body_type::result_type;
    if (handles.empty()) {
        scheduler* here = scheduler::current();
        return (here != nullptr ? *here : default_scheduler()).spawn([]() -> result_type {
            if constexpr (!std::is_void_v<result_type>) return {};
        });
    }
    for (const auto& input : handles) detail::require_valid(input);  // before anything is consumed
    std::vector<detail::task_frame_base*> frames;
    frames.reserve(handles.size());
    for (auto& input : handles) frames.push_back(&detail::handle_access::frame(input));
    body_type body{std::move(handles), {}};
    body.gate.triggers.resize(frames.size());
    return detail::start_all_of<result_type>(frames, std::move(body));
}

/// Ready when the first input finished: `task_handle<std::pair<std::size_t, T>>` (`task_handle<std::size_t>` for
/// void).
///
/// Consumes `handles`; the result holds the index of the first input to finish and its value, or rethrows its
/// exception (is cancelled if it was). The other inputs run on; their outcomes are dropped. Throws
/// std::invalid_argument for an empty vector and std::future_error(no_state) for an empty handle, before any
/// handle is consumed.
template <class T>
auto when_any(std::vector<task_handle<T>>&& handles) {
    using body_type = detail::any_of_body<T>;
    using result_type = typename body_type::result_type;
    using frame_type = detail::task_frame<result_type, body_type>;
    if (handles.empty()) throw std::invalid_argument("taskforge::when_any: no tasks to wait for");
    for (auto& input : handles) detail::require_valid(input);
    auto* state = new detail::any_of_state<T>(std::move(handles));
    detail::task_frame_base& first = detail::handle_access::frame(state->inputs[0]);
    frame_type* result = nullptr;
    try {
        result = frame_type::create(first.report, first.pool, detail::task_state::deferred, body_type{state});
    } catch (...) {
        delete state;  // the body that took it was destroyed with one reference less than the triggers count
        throw;
    }
    auto handle = detail::handle_access::adopt<result_type>(result);
    state->result = result;
    const std::size_t count = state->inputs.size();
    for (std::size_t i = 0; i < count; ++i) {
        detail::winner_trigger<T>& trigger = state->triggers[i];
        trigger.state = state;
        trigger.index = i;
        // After the last attach the state may be gone (every input finished and the result ran): read nothing
        // of it past the loop.
        detail::task_frame_base& input = detail::handle_access::frame(state->inputs[i]);
        if (!input.attach_continuation(&trigger)) detail::run(&trigger);  // finished already [S7]
    }
    return handle;
}

}  // namespace taskforge
