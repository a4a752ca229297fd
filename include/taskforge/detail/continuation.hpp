// taskforge/detail/continuation.hpp — what runs after a task: then(), when_all(), when_any() (compose.hpp).
//
// A continuation is an ordinary task frame created `deferred` (task_frame.hpp): it is not queued, and nobody may
// start or claim it until it is fired; it may be cancelled meanwhile. It is attached to the frame it waits for as
// a node of that frame's `continuations` list, linked through job::next (a job that is in no queue does not use
// its link). The predecessor's executor fires every node when the task finishes ([S7]-[S9]):
//   * then():     the node is the continuation frame itself; firing submits it to its pool. Its body holds the
//                 predecessor's handle, so the predecessor frame lives until the body took the value.
//   * when_all(): one countdown_trigger per input, kept in the result frame's body; the last of N + 1 counts (one
//                 per input, one for the creator, which attaches first and counts last) fires the result frame.
//   * when_any(): one winner_trigger per input, kept in a shared any_of_state; the first to fire wins the CAS on
//                 `winner` and fires the result frame; every trigger drops a reference to the state, and the last
//                 frees it, so losers that finish after the winner (or after the result was consumed) still have
//                 their trigger to fire.
// Triggers are never queued: the executor runs them inline, and all they do is count, CAS and submit [S9].
// A then() whose function returns a task_handle<U> uses two frames (then_unwrapped, below).
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "job.hpp"
#include "runtime.hpp"
#include "task_frame.hpp"

namespace taskforge {
template <class T>
class task_handle;
}  // namespace taskforge

namespace taskforge::detail {

// The family of every trigger node: never in a queue, never a task frame.
inline constexpr char trigger_family = 0;

// What then(f) on a task_handle<T> returns a handle to.
template <class T, class F>
struct then_result {
    using type = std::decay_t<std::invoke_result_t<F, T&&>>;
};
template <class F>
struct then_result<void, F> {
    using type = std::decay_t<std::invoke_result_t<F>>;
};
template <class T, class F>
using then_result_t = typename then_result<T, F>::type;

template <class T, class F>
struct continuable_trait : std::is_invocable<F, T&&> {};
template <class F>
struct continuable_trait<void, F> : std::is_invocable<F> {};
template <class T, class F>
concept continuable = continuable_trait<T, F>::value;

// Throws predecessor_cancelled if `input` was cancelled (the composite is then cancelled too, task_frame.hpp).
template <class T>
void propagate_cancellation(const task_handle<T>& input) {
    if (static_cast<std::uint32_t>(input.status()) == task_state::cancelled) throw predecessor_cancelled{};
}

// The body of a then() continuation: takes the predecessor's value (rethrowing its exception; its cancellation
// makes this task cancelled too: propagates_cancellation) and calls the function with it.
template <class Handle, class F>
struct then_body {
    static constexpr bool propagates_cancellation = true;
    static constexpr bool is_named_task = true;  // traced under the function's name (task_probe.hpp)
    using value_type = typename Handle::value_type;

    Handle before;
    F function;

    const char* trace_name() const noexcept { return trace_name_of(function, "then"); }

    then_result_t<value_type, F> operator()() {
        propagate_cancellation(before);
        if constexpr (std::is_void_v<value_type>) {
            before.get();
            return std::invoke(std::move(function));
        } else {
            return std::invoke(std::move(function), before.get());
        }
    }
};

// Reaches into task_handle for the composition functions (compose.hpp).
struct handle_access {
    template <class T>
    static valued_frame<T>& frame(task_handle<T>& handle) {
        return handle.frame();  // throws future_error(no_state) on an empty handle
    }
    template <class T>
    static task_handle<T> adopt(valued_frame<T>* frame) noexcept {
        return task_handle<T>(frame);
    }
};

template <class H>
struct is_task_handle : std::false_type {};
template <class T>
struct is_task_handle<task_handle<T>> : std::true_type {};

// --- then() whose function returns a task_handle<U>: unwrapped into a task_handle<U> --------------------------
//
// Two frames: the user's handle is `outer`, a deferred frame whose body waits for an inner handle in its slot; a
// detached `forward` continuation of the predecessor runs the function, puts the inner handle it returned (or
// the exception it threw, or the predecessor's cancellation) into that slot, and attaches `outer` to the inner
// task (or fires it at once). The slot is written before `outer` is attached or fired, so whoever runs `outer`
// reads it after the attach's release push or the submission [S7][S9].
//
// An inner task of another scheduler: `outer` is then in no queue of its own scheduler, which shutdown() would
// drain, yet firing it reaches that scheduler. So it waits there as a suspended coroutine does (coroutine_frame.hpp
// [C4]): `outer`'s scheduler counts it before the attach, and a relay node, not `outer` itself, is attached; the
// relay fires `outer` (queued, or cancelled if the scheduler refuses) and then lets the scheduler go. Its shutdown
// and destruction wait until then, never longer.

template <class U>
struct unwrap_body;
template <class U>
using unwrap_frame = task_frame<U, unwrap_body<U>>;

// Fires `outer` when an inner task of another scheduler finished, then ends its [C4] count. Lives in `outer`'s
// body; read before the firing, after which `outer` (and the relay with it) may be gone.
template <class U>
struct cross_pool_relay : job {
    cross_pool_relay() noexcept : job(&fire, &trigger_family) {}
    // The body is moved into its frame before any relay is used: a copy is a fresh, unattached node.
    cross_pool_relay(const cross_pool_relay&) noexcept : cross_pool_relay() {}
    cross_pool_relay& operator=(const cross_pool_relay&) = delete;
    unwrap_frame<U>* outer = nullptr;

    static void fire(job* work) noexcept {
        unwrap_frame<U>* const outer = static_cast<cross_pool_relay*>(work)->outer;
        runtime* const home = static_cast<runtime*>(const_cast<void*>(outer->pool));
        fire_deferred(*outer);  // queued on `home`, or run cancelled if it refuses (schedule_fired)
        home->coroutine_left();
    }
};

// The user's frame: the inner task's outcome becomes its own.
template <class U>
struct unwrap_body {
    static constexpr bool propagates_cancellation = true;

    std::variant<std::monostate, task_handle<U>, std::exception_ptr> source;
    cross_pool_relay<U> relay;  // used only for an inner task of another scheduler

    U operator()() {
        if (auto* error = std::get_if<std::exception_ptr>(&source)) std::rethrow_exception(*error);
        task_handle<U>& inner = std::get<task_handle<U>>(source);
        propagate_cancellation(inner);
        return inner.get();
    }
};

// The detached continuation of the predecessor that runs the function and hands its inner task to `outer`.
template <class Handle, class F, class U>
struct forward_body {
    static constexpr bool is_named_task = true;  // traced under the function's name (task_probe.hpp)
    using value_type = typename Handle::value_type;

    Handle before;
    F function;
    unwrap_frame<U>* outer;

    const char* trace_name() const noexcept { return trace_name_of(function, "then"); }

    void operator()() noexcept {
        auto& slot = outer->callable().source;
        try {
            propagate_cancellation(before);
            task_handle<U> inner = call();
            task_frame_base& inner_frame = handle_access::frame(inner);  // no_state if f returned an empty handle
            slot = std::move(inner);  // `inner_frame` stays alive: the slot holds its handle [S7]
            if (inner_frame.pool != outer->pool) return attach_across_pools(inner_frame);
            if (!inner_frame.attach_continuation(outer)) fire_deferred(*outer);
        } catch (...) {
            slot = std::current_exception();  // predecessor_cancelled included: `outer` ends cancelled
            fire_deferred(*outer);
        }
    }

    // `inner_frame` belongs to another scheduler: through the relay, counted by ours [C4]. We run as a task of our
    // scheduler, so it is alive for the arrival, and its shutdown waits for the relay from then on.
    void attach_across_pools(task_frame_base& inner_frame) noexcept {
        cross_pool_relay<U>& relay = outer->callable().relay;
        relay.outer = outer;
        static_cast<runtime*>(const_cast<void*>(outer->pool))->coroutine_arrived();
        if (!inner_frame.attach_continuation(&relay)) cross_pool_relay<U>::fire(&relay);
    }

    task_handle<U> call() {
        if constexpr (std::is_void_v<value_type>) {
            before.get();
            return std::invoke(std::move(function));
        } else {
            return std::invoke(std::move(function), before.get());
        }
    }
};

// task_handle::then for a function that returns a task_handle<U>.
template <class Handle, class F>
auto then_unwrapped(Handle&& before, F&& function) {
    using inner_handle = then_result_t<typename std::remove_cvref_t<Handle>::value_type, std::decay_t<F>>;
    using U = typename inner_handle::value_type;
    using body_type = forward_body<std::remove_cvref_t<Handle>, std::decay_t<F>, U>;
    task_frame_base& predecessor = handle_access::frame(before);  // throws no_state on an empty handle
    unwrap_frame<U>* outer =
        unwrap_frame<U>::create(predecessor.report, predecessor.pool, task_state::deferred, unwrap_body<U>{});
    auto result = handle_access::adopt<U>(outer);
    task_frame<void, body_type>* forward = nullptr;
    try {
        // Detached (handle_gone from the start): its frame is freed when it ran [S2].
        forward = task_frame<void, body_type>::create(predecessor.report, predecessor.pool,
                                                      task_state::deferred | task_state::handle_gone,
                                                      body_type{std::move(before), std::forward<F>(function), outer});
    } catch (...) {  // `outer` was never attached: end it here, cancelled, so its frame is released normally
        outer->cancel();
        outer->state.fetch_and(~task_state::deferred, std::memory_order_relaxed);  // ours alone: never published
        run(outer);
        throw;
    }
    if (!predecessor.attach_continuation(forward)) fire_deferred(*forward);
    return result;
}

// A void input's slot in when_all's tuple.
template <class T>
using value_or_empty_t = std::conditional_t<std::is_void_v<T>, std::monostate, T>;

// The value of a finished input (its exception propagates, its cancellation as predecessor_cancelled).
template <class T>
value_or_empty_t<T> take_value(task_handle<T>& input) {
    propagate_cancellation(input);
    if constexpr (std::is_void_v<T>) {
        input.get();
        return {};
    } else {
        return input.get();
    }
}

// Drops the outcome of a finished input nobody will read: its value, or its exception, which the composite's own
// outcome replaces (so it does not reach options::on_unhandled_exception).
template <class T>
void discard_outcome(task_handle<T>& input) noexcept {
    if (!input.valid() || !input.ready()) return;  // unfinished (a failed setup): detached instead
    try {
        input.get();
    } catch (...) {  // dropped on purpose, see above
    }
}

// --- when_all ---------------------------------------------------------------------------------------------------

// One input's node: counts down the result's gate; the last count fires the result frame.
struct countdown_trigger : job {
    countdown_trigger() noexcept : job(&fire, &trigger_family) {}
    // Moves happen only before any trigger is attached (the body is moved into its frame): a fresh trigger.
    countdown_trigger(countdown_trigger&&) noexcept : countdown_trigger() {}

    atomic<std::size_t>* remaining = nullptr;
    task_frame_base* result = nullptr;

    static void fire(job* node) noexcept {
        auto* self = static_cast<countdown_trigger*>(node);
        task_frame_base* const result = self->result;
        // acq_rel: every input's count (and the creator's setup, counted last by the creator) happens-before the
        // last one, which fires the result; nothing here is read after our own count unless we were last.
        if (self->remaining->fetch_sub(1, std::memory_order_acq_rel) == 1) fire_deferred(*result);
    }
};

// when_all's counts: one per input and one for the creator. Kept in the result frame's body.
template <class Triggers>
struct all_of_gate {
    all_of_gate() = default;
    all_of_gate(all_of_gate&& other) noexcept : triggers(std::move(other.triggers)) {}  // before any attach

    atomic<std::size_t> remaining{0};
    Triggers triggers;
};

// The result of when_all(h1, h2, ...): the tuple of values, taken in argument order (so the first input in that
// order that failed or was cancelled decides the outcome).
template <class... T>
struct all_of_tuple_body {
    static constexpr bool propagates_cancellation = true;

    std::tuple<task_handle<T>...> inputs;
    all_of_gate<std::array<countdown_trigger, sizeof...(T)>> gate;

    std::tuple<value_or_empty_t<T>...> operator()() {
        try {
            return std::apply([](auto&... input) { return std::tuple<value_or_empty_t<T>...>{take_value(input)...}; },
                              inputs);
        } catch (...) {
            std::apply([](auto&... input) { (discard_outcome(input), ...); }, inputs);
            throw;
        }
    }
};

// The result of when_all(vector): the values in the vector's order (void inputs: nothing).
template <class T>
struct all_of_vector_body {
    static constexpr bool propagates_cancellation = true;
    using result_type = std::conditional_t<std::is_void_v<T>, void, std::vector<value_or_empty_t<T>>>;

    std::vector<task_handle<T>> inputs;
    all_of_gate<std::vector<countdown_trigger>> gate;

    result_type operator()() {
        try {
            if constexpr (std::is_void_v<T>) {
                for (auto& input : inputs) take_value(input);
            } else {
                std::vector<T> values;
                values.reserve(inputs.size());
                for (auto& input : inputs) values.push_back(take_value(input));
                return values;
            }
        } catch (...) {
            for (auto& input : inputs) discard_outcome(input);
            throw;
        }
    }
};

// Creator of a deferred result frame `result` whose body keeps `gate`, with `frames[i]` the inputs' frames (all
// valid, their handles in the body): attaches one trigger per input, then counts for itself. Inputs already
// finished count at once.
template <class Gate, class Frames>
void arm_all_of(Gate& gate, task_frame_base& result, const Frames& frames) noexcept {
    const std::size_t count = std::size(frames);
    // Relaxed: published to the triggers' threads by the attach's release push (or used here).
    gate.remaining.store(count + 1, std::memory_order_relaxed);
    for (std::size_t i = 0; i < count; ++i) {
        countdown_trigger& trigger = gate.triggers[i];
        trigger.remaining = &gate.remaining;
        trigger.result = &result;
        if (!frames[i]->attach_continuation(&trigger)) run(&trigger);  // finished already: count now [S7]
    }
    // The creator's count, last: acq_rel as in countdown_trigger::fire.
    if (gate.remaining.fetch_sub(1, std::memory_order_acq_rel) == 1) fire_deferred(result);
}

// --- when_any ---------------------------------------------------------------------------------------------------

template <class T>
struct any_of_state;

// One input's node: the first to fire wins and fires the result frame; each drops its reference to the state.
template <class T>
struct winner_trigger : job {
    winner_trigger() noexcept : job(&fire, &trigger_family) {}

    any_of_state<T>* state = nullptr;
    std::size_t index = 0;

    static void fire(job* node) noexcept {
        auto* self = static_cast<winner_trigger*>(node);
        any_of_state<T>* const state = self->state;
        std::size_t expected = any_of_state<T>::undecided;
        // acq_rel on success: the result body's acquire load of `winner` sees our input finished (its final status
        // was published before its executor fired us). One CAS decides: every later one fails.
        if (state->winner.compare_exchange_strong(expected, self->index, std::memory_order_acq_rel,
                                                  std::memory_order_relaxed)) {
            fire_deferred(*state->result);
        }
        state->release();  // `self` may be gone after this
    }
};

// Shared by the inputs' triggers and the result's body: freed by whichever lets go last.
template <class T>
struct any_of_state {
    static constexpr std::size_t undecided = std::numeric_limits<std::size_t>::max();

    explicit any_of_state(std::vector<task_handle<T>> handles)
        : inputs(std::move(handles)), triggers(inputs.size()), references(inputs.size() + 1) {}

    void release() noexcept {
        // acq_rel: every holder's last access happens-before the delete by the last one.
        if (references.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
    }
    // Last reference gone: every trigger fired, so every input finished; the losers' outcomes are dropped.
    ~any_of_state() {
        for (auto& input : inputs) discard_outcome(input);
    }

    std::vector<task_handle<T>> inputs;
    std::vector<winner_trigger<T>> triggers;
    atomic<std::size_t> winner{undecided};
    atomic<std::size_t> references;  // one per trigger, one for the result's body
    task_frame_base* result = nullptr;
};

// The result of when_any: (index, value) of the first input to finish; its exception if it failed.
template <class T>
struct any_of_body {
    static constexpr bool propagates_cancellation = true;
    using result_type = std::conditional_t<std::is_void_v<T>, std::size_t, std::pair<std::size_t, T>>;

    explicit any_of_body(any_of_state<T>* shared) noexcept : state(shared) {}
    any_of_body(any_of_body&& other) noexcept : state(std::exchange(other.state, nullptr)) {}
    any_of_body& operator=(any_of_body&&) = delete;
    ~any_of_body() {
        if (state != nullptr) state->release();  // also when the result was cancelled and never ran
    }

    result_type operator()() {
        // Acquire pairs with the winning trigger's CAS.
        const std::size_t index = state->winner.load(std::memory_order_acquire);
        if constexpr (std::is_void_v<T>) {
            take_value(state->inputs[index]);
            return index;
        } else {
            return {index, take_value(state->inputs[index])};
        }
    }

    any_of_state<T>* state;
};

}  // namespace taskforge::detail
