/// @file
/// taskforge/parallel_for.hpp — parallel loops over indices and over random-access ranges.
///
/// @code
///   taskforge::parallel_for(0, n, [&](int i) { out[i] = f(in[i]); });
///   taskforge::parallel_for(0, n, body, taskforge::min_chunk{64});        // options: partition.hpp
///   taskforge::parallel_for_each(items, [](item& x) { x.update(); });     // random-access range
///   taskforge::parallel_for_each(items.begin(), items.end(), body);       // random-access iterators
///   taskforge::parallel_for(pool, 0, n, body);                            // every form takes a scheduler first too
/// @endcode
///
/// Without a scheduler they run on the calling worker's scheduler, else on default_scheduler(), like spawn().
/// Called from a worker they nest: a loop inside a loop's body is a subtree of joins on the same workers (no
/// deadlock, no extra threads). Called from any other thread they run on the scheduler's workers while the caller
/// waits, and return when every iteration is done. So every iteration runs on a worker of the loop's scheduler,
/// except that a range of exactly one iteration runs its body directly on the calling thread.
///
/// Indices: `first` and `last` may be any integral types (not bool) up to the width of std::size_t (a GNU __int128
/// does not compile); both are converted to their common type,
/// which is what `body` receives. `last <= first` is an empty loop. Ranges up to the index type's limits work
/// (the count is computed without overflow).
/// Exceptions: the first exception a body throws (first in time) is rethrown once every piece already started has
/// finished; pieces not started by then are skipped, so some iterations may not run. Other exceptions are dropped.
/// Partitioning and the options: partition.hpp.
#pragma once

#include <cstddef>
#include <exception>
#include <functional>
#include <iterator>
#include <ranges>
#include <type_traits>
#include <variant>

#include "detail/loop.hpp"
#include "partition.hpp"
#include "scheduler.hpp"

namespace taskforge {

namespace detail {

// Runs `at(i)` for every i in [0, count) on `pool`; see the top of the file.
template <class At>
void for_each_offset(scheduler& pool, std::size_t count, const loop_settings& settings, At& at) {
    if (count == 0) return;
    if (count == 1) {  // nothing to share
        at(std::size_t{0});
        return;
    }
    loop_failure failure;
    auto piece = [&](std::size_t begin, std::size_t end) {
        if (failure.failed()) return std::monostate{};
        try {
            At local = at;  // a copy nobody else can see: its captures stay in registers across the body
            for (std::size_t i = begin; i < end; ++i) local(i);
        } catch (...) {
            failure.record(std::current_exception());
        }
        return std::monostate{};
    };
    auto combine = [](std::monostate, std::monostate) { return std::monostate{}; };
    run_loop<std::monostate>(pool, count, settings, piece, combine);
    failure.rethrow_if_failed();
}

template <class Index, class Body>
void for_indices(scheduler& pool, Index first, Index last, Body& body, const loop_settings& settings) {
    auto at = [first, &body](std::size_t offset) { std::invoke(body, index_at(first, offset)); };
    for_each_offset(pool, index_count(first, last), settings, at);
}

template <class Iterator, class Body>
void for_elements(scheduler& pool, Iterator first, std::size_t count, Body& body, const loop_settings& settings) {
    auto at = [first, &body](std::size_t offset) {
        std::invoke(body, first[static_cast<std::iter_difference_t<Iterator>>(offset)]);
    };
    for_each_offset(pool, count, settings, at);
}

template <class Iterator>
std::size_t iterator_count(Iterator first, Iterator last) {
    const auto distance = last - first;
    return distance > 0 ? static_cast<std::size_t>(distance) : 0;
}

inline scheduler& loop_scheduler() {
    scheduler* here = scheduler::current();
    return here != nullptr ? *here : default_scheduler();
}

template <class I1, class I2>
using common_index = std::common_type_t<I1, I2>;

}  // namespace detail

// --- parallel_for: body(i) for every index i in [first, last) -------------------------------------------------

/// Calls `body(i)` for every index i in [first, last) on `pool`'s workers; returns when every iteration is done.
/// `first` and `last` are converted to their common integral type; `options` are min_chunk and static_partition
/// (partition.hpp). See parallel_for.hpp for threads and exceptions.
template <detail::loop_index I1, detail::loop_index I2, class Body, detail::loop_option... Options>
requires std::is_invocable_v<Body&, detail::common_index<I1, I2>>
void parallel_for(scheduler& pool, I1 first, I2 last, Body&& body, const Options&... options) {
    using index = detail::common_index<I1, I2>;
    detail::for_indices(pool, static_cast<index>(first), static_cast<index>(last), body,
                        detail::loop_settings::from(options...));
}

/// Calls `body(i)` for every index i in [first, last), on the calling worker's scheduler, else on
/// default_scheduler().
template <detail::loop_index I1, detail::loop_index I2, class Body, detail::loop_option... Options>
requires std::is_invocable_v<Body&, detail::common_index<I1, I2>>
void parallel_for(I1 first, I2 last, Body&& body, const Options&... options) {
    parallel_for(detail::loop_scheduler(), first, last, body, options...);
}

// --- parallel_for_each: body(element) for every element of a random-access range ------------------------------

/// Calls `body(element)` for every element of [first, last) on `pool`'s workers; returns when every call is done.
/// `options` are min_chunk and static_partition (partition.hpp).
template <std::random_access_iterator Iterator, class Body, detail::loop_option... Options>
requires std::is_invocable_v<Body&, std::iter_reference_t<Iterator>>
void parallel_for_each(scheduler& pool, Iterator first, Iterator last, Body&& body, const Options&... options) {
    detail::for_elements(pool, first, detail::iterator_count(first, last), body,
                         detail::loop_settings::from(options...));
}

/// Calls `body(element)` for every element of [first, last), on the calling worker's scheduler, else on
/// default_scheduler().
template <std::random_access_iterator Iterator, class Body, detail::loop_option... Options>
requires std::is_invocable_v<Body&, std::iter_reference_t<Iterator>>
void parallel_for_each(Iterator first, Iterator last, Body&& body, const Options&... options) {
    parallel_for_each(detail::loop_scheduler(), first, last, body, options...);
}

/// Calls `body(element)` for every element of a sized random-access range on `pool`'s workers; returns when every
/// call is done. `options` are min_chunk and static_partition (partition.hpp).
template <std::ranges::random_access_range Range, class Body, detail::loop_option... Options>
requires std::ranges::sized_range<Range> && std::is_invocable_v<Body&, std::ranges::range_reference_t<Range>>
void parallel_for_each(scheduler& pool, Range&& range, Body&& body, const Options&... options) {
    detail::for_elements(pool, std::ranges::begin(range), static_cast<std::size_t>(std::ranges::size(range)), body,
                         detail::loop_settings::from(options...));
}

/// Calls `body(element)` for every element of a sized random-access range, on the calling worker's scheduler, else
/// on default_scheduler().
template <std::ranges::random_access_range Range, class Body, detail::loop_option... Options>
requires std::ranges::sized_range<Range> && std::is_invocable_v<Body&, std::ranges::range_reference_t<Range>>
void parallel_for_each(Range&& range, Body&& body, const Options&... options) {
    parallel_for_each(detail::loop_scheduler(), range, body, options...);
}

}  // namespace taskforge
