/// @file
/// taskforge/join.hpp — fork-join at the cost of a function call.
///
/// @code
///   auto [left, right] = taskforge::join([] { return fib(n - 1); }, [] { return fib(n - 2); });
///   taskforge::parallel_invoke(sort_left, sort_right, build_index);
///   pool.join(f, g);  pool.parallel_invoke(f, g, h);   // on a given scheduler
/// @endcode
///
/// join(f, g) runs `f` on the calling thread while `g` waits, on the caller's own stack (no allocation), where an
/// idle worker may steal it. If nobody did, the caller then calls `g` itself — no atomic beyond the deque's, no
/// type-erased call. If `g` was stolen, the caller waits by the waiting rules (detail/waiting.hpp): it blocks on
/// `g`'s latch while its scheduler stands in a spare worker, and never runs unrelated work.
///
/// Results: std::pair of the two results; a void result is std::monostate, so both
///   `auto [a, b] = taskforge::join(f, g);`   and   `taskforge::join(f, g);`   read naturally.
/// Exceptions: if `f` throws, `g` still finishes first when it was stolen (its job lives in the caller's frame; if
/// it was not stolen it does not run), then `f`'s exception is rethrown; if only `g` throws, its exception is
/// rethrown; if both throw, `f`'s wins and `g`'s is dropped. parallel_invoke rethrows the leftmost exception;
/// callables to the right of a throwing one run only if another worker had already taken them.
/// From a thread that is not a worker, the whole join (or parallel_invoke) runs inside the scheduler while the
/// caller blocks. The free functions use the calling worker's scheduler, else default_scheduler(), like spawn().
#pragma once

#include <type_traits>
#include <utility>

#include "scheduler.hpp"

namespace taskforge {

/// Runs `first` on the calling thread and `second` possibly on another worker; returns both results as a std::pair
/// (std::monostate for a void result). On the calling worker's scheduler, else on default_scheduler(); see
/// join.hpp for how it waits and which exception wins.
template <class F, class G>
requires std::is_invocable_v<F&> && std::is_invocable_v<G&>
    std::pair<detail::join_result_t<F>, detail::join_result_t<G>> join(F&& first, G&& second) {
    if (detail::worker* self = detail::current_worker) return detail::join_on_worker(*self->pool, *self, first, second);
    return default_scheduler().join(std::forward<F>(first), std::forward<G>(second));
}

/// Runs every callable, in parallel where workers are free (a balanced tree of joins); returns when all returned.
/// If several throw, the leftmost one's exception is rethrown. On the calling worker's scheduler, else on
/// default_scheduler().
template <class... F>
requires(sizeof...(F) > 0 && (std::is_invocable_v<F&> && ...)) void parallel_invoke(F&&... calls) {
    scheduler* here = scheduler::current();
    (here != nullptr ? *here : default_scheduler()).parallel_invoke(std::forward<F>(calls)...);
}

}  // namespace taskforge
