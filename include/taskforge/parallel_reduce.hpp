/// @file
/// taskforge/parallel_reduce.hpp — parallel reductions, modelled on std::transform_reduce.
///
/// @code
///   long sum = taskforge::parallel_reduce(0, n, 0L, std::plus<>{}, [&](int i) { return cost(i); });
///   double total = taskforge::parallel_reduce(prices, 0.0, std::plus<>{}, [](const order& o) { return o.value; });
///   auto r = taskforge::parallel_reduce(v.begin(), v.end(), init, reduce, transform, taskforge::min_chunk{256});
///   auto r = taskforge::parallel_reduce(pool, 0, n, init, reduce, transform);   // on a given scheduler
/// @endcode
///
/// The result is reduce(init, t(x0) ⊕ t(x1) ⊕ ... ⊕ t(xn-1)) with `reduce` as ⊕ (init is used exactly once, first),
/// where t is `transform`, applied to each index (integral bounds) or to each element (iterators, ranges).
/// `reduce` must be associative; it need not be commutative (pieces are always combined left to right). The
/// association order (where pieces begin and end) depends on the partition: with the adaptive default it depends
/// on which pieces were stolen, so floating-point sums may differ in the last bits between runs; with
/// taskforge::static_partition{} it is fixed for a given thread_count() and range size, so results are
/// reproducible. An empty range returns init.
/// The result type is that of `init` (decayed): T must be move-constructible; transform's result must convert to T,
/// and reduce(T, T) must return something that converts to T.
/// Which thread runs what, exceptions, and the index rules: as parallel_for (parallel_for.hpp).
#pragma once

#include <cstddef>
#include <exception>
#include <functional>
#include <iterator>
#include <optional>
#include <ranges>
#include <type_traits>
#include <utility>

#include "detail/loop.hpp"
#include "parallel_for.hpp"
#include "partition.hpp"
#include "scheduler.hpp"

namespace taskforge {

namespace detail {

// Reduces t(0) ⊕ ... ⊕ t(count - 1) by pieces; empty when count == 0 or after a failure (rethrown by the caller).
template <class T, class Reduce, class At>
T reduce_offsets(scheduler& pool, std::size_t count, T init, Reduce& reduce, At& at, const loop_settings& settings) {
    if (count == 0) return init;
    loop_failure failure;
    auto piece = [&](std::size_t begin, std::size_t end) -> std::optional<T> {
        if (failure.failed()) return std::nullopt;
        try {
            At local = at;  // a copy nobody else can see: its captures stay in registers across the calls
            T accumulator = static_cast<T>(local(begin));
            for (std::size_t i = begin + 1; i < end; ++i) {
                accumulator = static_cast<T>(std::invoke(reduce, std::move(accumulator), static_cast<T>(local(i))));
            }
            return accumulator;
        } catch (...) {
            failure.record(std::current_exception());
            return std::nullopt;
        }
    };
    auto combine = [&](std::optional<T> left, std::optional<T> right) -> std::optional<T> {
        if (!left || !right) return std::nullopt;  // only after a failure, rethrown below
        try {
            return static_cast<T>(std::invoke(reduce, std::move(*left), std::move(*right)));
        } catch (...) {
            failure.record(std::current_exception());
            return std::nullopt;
        }
    };
    std::optional<T> total = run_loop<std::optional<T>>(pool, count, settings, piece, combine);
    failure.rethrow_if_failed();
    return static_cast<T>(std::invoke(reduce, std::move(init), std::move(*total)));
}

}  // namespace detail

// --- over indices: transform(i) ------------------------------------------------------------------------------

/// Returns reduce(init, transform(first) ⊕ ... ⊕ transform(last - 1)) with `reduce` as ⊕, computed on `pool`'s workers.
/// `first` and `last` are converted to their common integral type; `options` are min_chunk and static_partition
/// (partition.hpp). An empty range returns `init`. See parallel_reduce.hpp for the association order.
template <detail::loop_index I1, detail::loop_index I2, class T, class Reduce, class Transform,
          detail::loop_option... Options>
requires std::is_invocable_v<Transform&, detail::common_index<I1, I2>> std::decay_t<T> parallel_reduce(
    scheduler& pool, I1 first, I2 last, T&& init, Reduce&& reduce, Transform&& transform, const Options&... options) {
    using index = detail::common_index<I1, I2>;
    const auto begin = static_cast<index>(first);
    auto at = [begin, &transform](std::size_t offset) {
        return std::invoke(transform, detail::index_at(begin, offset));
    };
    return detail::reduce_offsets<std::decay_t<T>>(pool, detail::index_count(begin, static_cast<index>(last)),
                                                   std::forward<T>(init), reduce, at,
                                                   detail::loop_settings::from(options...));
}

/// Returns reduce(init, transform(first) ⊕ ... ⊕ transform(last - 1)) with `reduce` as ⊕, on the calling worker's
/// scheduler, else on default_scheduler().
template <detail::loop_index I1, detail::loop_index I2, class T, class Reduce, class Transform,
          detail::loop_option... Options>
requires std::is_invocable_v<Transform&, detail::common_index<I1, I2>> std::decay_t<T> parallel_reduce(
    I1 first, I2 last, T&& init, Reduce&& reduce, Transform&& transform, const Options&... options) {
    return parallel_reduce(detail::loop_scheduler(), first, last, std::forward<T>(init), reduce, transform, options...);
}

// --- over random-access iterators and ranges: transform(element) ---------------------------------------------

/// Returns reduce(init, transform(*first) ⊕ ... ⊕ transform(*(last - 1))) with `reduce` as ⊕, computed on `pool`'s
/// workers. `options` are min_chunk and static_partition (partition.hpp). An empty range returns `init`.
template <std::random_access_iterator Iterator, class T, class Reduce, class Transform, detail::loop_option... Options>
requires std::is_invocable_v<Transform&, std::iter_reference_t<Iterator>> std::decay_t<T> parallel_reduce(
    scheduler& pool, Iterator first, Iterator last, T&& init, Reduce&& reduce, Transform&& transform,
    const Options&... options) {
    auto at = [first, &transform](std::size_t offset) {
        return std::invoke(transform, first[static_cast<std::iter_difference_t<Iterator>>(offset)]);
    };
    return detail::reduce_offsets<std::decay_t<T>>(pool, detail::iterator_count(first, last), std::forward<T>(init),
                                                   reduce, at, detail::loop_settings::from(options...));
}

/// Returns reduce(init, transform(*first) ⊕ ... ⊕ transform(*(last - 1))) with `reduce` as ⊕, on the calling worker's
/// scheduler, else on default_scheduler().
template <std::random_access_iterator Iterator, class T, class Reduce, class Transform, detail::loop_option... Options>
requires std::is_invocable_v<Transform&, std::iter_reference_t<Iterator>> std::decay_t<T> parallel_reduce(
    Iterator first, Iterator last, T&& init, Reduce&& reduce, Transform&& transform, const Options&... options) {
    return parallel_reduce(detail::loop_scheduler(), first, last, std::forward<T>(init), reduce, transform, options...);
}

/// Returns reduce(init, transform(x0) ⊕ ... ⊕ transform(xn-1)) over the elements of a sized random-access range, with
/// `reduce` as ⊕, computed on `pool`'s workers. `options` are min_chunk and static_partition (partition.hpp). An
/// empty range returns `init`.
template <std::ranges::random_access_range Range, class T, class Reduce, class Transform,
          detail::loop_option... Options>
requires std::ranges::sized_range<Range> && std::is_invocable_v<Transform&, std::ranges::range_reference_t<Range>>
    std::decay_t<T> parallel_reduce(scheduler& pool, Range&& range, T&& init, Reduce&& reduce, Transform&& transform,
                                    const Options&... options) {
    auto first = std::ranges::begin(range);
    auto at = [first, &transform](std::size_t offset) {
        return std::invoke(transform, first[static_cast<std::ranges::range_difference_t<Range>>(offset)]);
    };
    return detail::reduce_offsets<std::decay_t<T>>(pool, static_cast<std::size_t>(std::ranges::size(range)),
                                                   std::forward<T>(init), reduce, at,
                                                   detail::loop_settings::from(options...));
}

/// Returns reduce(init, transform(x0) ⊕ ... ⊕ transform(xn-1)) over the elements of a sized random-access range, with
/// `reduce` as ⊕, on the calling worker's scheduler, else on default_scheduler().
template <std::ranges::random_access_range Range, class T, class Reduce, class Transform,
          detail::loop_option... Options>
requires std::ranges::sized_range<Range> && std::is_invocable_v<Transform&, std::ranges::range_reference_t<Range>>
    std::decay_t<T> parallel_reduce(Range&& range, T&& init, Reduce&& reduce, Transform&& transform,
                                    const Options&... options) {
    return parallel_reduce(detail::loop_scheduler(), range, std::forward<T>(init), reduce, transform, options...);
}

}  // namespace taskforge
