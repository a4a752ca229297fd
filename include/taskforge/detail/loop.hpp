// taskforge/detail/loop.hpp — the engine of the parallel loops: a range of `count` iterations, numbered
// 0 .. count-1, cut into pieces by a tree of joins (join.hpp); the public headers map those numbers to indices or
// iterators.
//
// Who runs what
//   * On a worker of the loop's scheduler, the tree starts right there (loops nest: an inner loop is a subtree).
//   * On a thread outside any pool the tree starts right there too, in a guest slot of the loop's scheduler
//     (waiting.hpp [W4]): the caller is a worker of that pool for the length of the loop, so the pool's workers
//     steal the other halves and loops nested in the body stay on the pool. No spawn, no wake-up round trip: a
//     small loop runs on the caller alone.
//   * On a worker of another pool, or an outside thread when every guest slot is taken, the whole tree runs as
//     one task on the loop's scheduler while the caller waits (helping as a guest if a slot came free).
//   * An adaptive loop first runs serially on that worker while it takes under `serial_budget` (growing piece
//     sizes, a clock read between pieces), so a small loop never pays for a steal; what is left then splits by
//     adaptive_splitter (Rayon's thief-splitting, partition.hpp). A static loop splits into its pieces at once.
//
// Exceptions: the first body to throw (in time) records its exception and sets `failed`; every piece checks the
// flag before it starts and is skipped once it is set. The exception is rethrown after the whole tree returned,
// i.e. after every piece already started has finished.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <utility>

#include "../partition.hpp"
#include "../scheduler.hpp"
#include "join.hpp"
#include "runtime.hpp"
#include "waiting.hpp"

namespace taskforge::detail {

struct scheduler_access {
    static runtime& of(scheduler& pool) noexcept { return *pool.runtime_; }
};

// The options a loop was given (partition.hpp).
struct loop_settings {
    std::size_t min_chunk = 1;
    bool fixed = false;  // static_partition

    template <class... Options>
    static loop_settings from(const Options&... options) noexcept {
        loop_settings settings;
        (settings.apply(options), ...);
        return settings;
    }
    void apply(const taskforge::min_chunk& chunk) noexcept { min_chunk = std::max<std::size_t>(chunk.size, 1); }
    void apply(const static_partition&) noexcept { fixed = true; }
};

// The first exception of one loop, and whether pieces not yet started should be skipped.
class loop_failure {
public:
    // Any piece. Relaxed: a hint that only saves work; the exception itself reaches the caller through the joins,
    // whose latches order every piece's writes before the root's return (stack_job.hpp [J2]).
    bool failed() const noexcept { return failed_.load(std::memory_order_relaxed); }

    // Any piece, in its catch block. The exchange picks exactly one writer of `error_` (RMWs on one atomic are
    // totally ordered), so relaxed suffices; the reader runs after the tree returned (see failed()).
    void record(std::exception_ptr error) noexcept {
        if (!failed_.exchange(true, std::memory_order_relaxed)) error_ = std::move(error);
    }

    // The loop's caller, after the tree returned.
    void rethrow_if_failed() {
        if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
    }

private:
    std::atomic<bool> failed_{false};
    std::exception_ptr error_;
};

// Rayon's thief-splitting budget (partition.hpp). Copied into both halves of every split.
class adaptive_splitter {
public:
    explicit adaptive_splitter(std::size_t threads) noexcept : splits_(threads), threads_(threads) {}

    bool try_split(std::size_t length, std::size_t min_chunk, bool stolen) noexcept {
        if (length / 2 < min_chunk) return false;
        if (stolen) {  // some worker was idle: split as if starting afresh
            splits_ = std::max(threads_, splits_ / 2);
            return true;
        }
        if (splits_ == 0) return false;
        splits_ /= 2;
        return true;
    }

private:
    std::size_t splits_;
    std::size_t threads_;
};

// Worker of `pool` only. `piece(begin, end)` over [begin, end), split adaptively; `combine(left, right)` merges
// the halves' results (R: what a piece returns).
template <class R, class Piece, class Combine>
R split_adaptive(runtime& pool, std::size_t begin, std::size_t end, adaptive_splitter splitter, bool stolen,
                 std::size_t min_chunk, Piece& piece, Combine& combine) {
    if (!splitter.try_split(end - begin, min_chunk, stolen)) return piece(begin, end);
    const std::size_t middle = begin + (end - begin) / 2;
    worker* const here = current_worker;
    auto left = [&] { return split_adaptive<R>(pool, begin, middle, splitter, false, min_chunk, piece, combine); };
    auto right = [&] {
        return split_adaptive<R>(pool, middle, end, splitter, current_worker != here, min_chunk, piece, combine);
    };
    auto [left_result, right_result] = join_on_worker(pool, *here, left, right);
    return combine(std::move(left_result), std::move(right_result));
}

// Worker of `pool` only. [begin, end) in `pieces` nearly equal parts (a balanced tree of joins).
template <class R, class Piece, class Combine>
R split_static(runtime& pool, std::size_t begin, std::size_t end, std::size_t pieces, Piece& piece, Combine& combine) {
    if (pieces <= 1 || end - begin < 2) return piece(begin, end);
    const std::size_t left_pieces = pieces / 2;
    const std::size_t length = end - begin;
    // length * left_pieces / pieces without overflow.
    const std::size_t middle = begin + length / pieces * left_pieces + length % pieces * left_pieces / pieces;
    auto left = [&] { return split_static<R>(pool, begin, middle, left_pieces, piece, combine); };
    auto right = [&] { return split_static<R>(pool, middle, end, pieces - left_pieces, piece, combine); };
    auto [left_result, right_result] = join_on_worker(pool, *current_worker, left, right);
    return combine(std::move(left_result), std::move(right_result));
}

// Worker of `pool` only: the whole tree over [begin, end) (non-empty).
template <class R, class Piece, class Combine>
R split_range(runtime& pool, std::size_t begin, std::size_t end, const loop_settings& settings, Piece& piece,
              Combine& combine) {
    const std::size_t threads = pool.thread_count();
    if (settings.fixed) {
        const std::size_t pieces = std::clamp<std::size_t>((end - begin) / settings.min_chunk, 1, threads);
        return split_static<R>(pool, begin, end, pieces, piece, combine);
    }
    return split_adaptive<R>(pool, begin, end, adaptive_splitter(threads), false, settings.min_chunk, piece, combine);
}

// A loop first runs serially on its worker for about this long: one that is over by then (most loops of a few
// thousand cheap iterations) never pays for a steal, which costs a thief's wake-up and a cold cache.
inline constexpr std::uint64_t serial_budget = 4 * rough_ticks_per_microsecond;  // ~4 us (platform.hpp)

// Worker of `pool` only: the whole loop over [0, count) (count > 0). Adaptive loops run pieces of min_chunk, then
// 4, 16, ... times as many iterations here while the budget lasts (at most ~4x the budget in all, or the first
// piece), then split what is left; static loops split at once (their association order must not depend on timing).
template <class R, class Piece, class Combine>
R run_on_worker(runtime& pool, std::size_t count, const loop_settings& settings, Piece& piece, Combine& combine) {
    if (settings.fixed) return split_range<R>(pool, 0, count, settings, piece, combine);
    const std::uint64_t start = rough_ticks();
    std::size_t done = std::min(settings.min_chunk, count);
    R prefix = piece(0, done);
    constexpr std::size_t growth = 4;  // few clock reads; saturates, never wraps to 0
    for (std::size_t step = done; done<count; step = step> SIZE_MAX / growth ? SIZE_MAX : step * growth) {
        if (rough_ticks() - start > serial_budget) {
            return combine(std::move(prefix), split_range<R>(pool, done, count, settings, piece, combine));
        }
        const std::size_t end = count - done > step ? done + step : count;
        prefix = combine(std::move(prefix), piece(done, end));
        done = end;
    }
    return prefix;
}

// Runs the loop over [0, count) (count > 0) with `piece` and `combine` on `pool`; see the top of the file.
// Returns the combined result of every piece.
template <class R, class Piece, class Combine>
R run_loop(scheduler& pool, std::size_t count, const loop_settings& settings, Piece& piece, Combine& combine) {
    runtime& inside = scheduler_access::of(pool);
    worker* const self = current_worker;
    if (self != nullptr && self->pool == &inside) return run_on_worker<R>(inside, count, settings, piece, combine);
    if (self == nullptr) {  // an outside thread runs the tree itself in a guest slot (waiting.hpp [W4])
        const guest_visit visit(inside, [] { return true; });
        if (visit.slot() != nullptr) return run_on_worker<R>(inside, count, settings, piece, combine);
    }
    return pool.spawn([&] { return run_on_worker<R>(inside, count, settings, piece, combine); }).get();
}

// Number of iterations from `first` to `last` of an integral index type: 0 when last <= first; never overflows.
template <class Index>
std::size_t index_count(Index first, Index last) noexcept {
    using wide = std::make_unsigned_t<Index>;
    if (!(first < last)) return 0;
    return static_cast<std::size_t>(static_cast<wide>(static_cast<wide>(last) - static_cast<wide>(first)));
}

// The index `offset` iterations after `first` (inside the range, so it is representable).
template <class Index>
Index index_at(Index first, std::size_t offset) noexcept {
    using wide = std::make_unsigned_t<Index>;
    return static_cast<Index>(static_cast<wide>(static_cast<wide>(first) + static_cast<wide>(offset)));
}

// Integral, not bool, and no wider than std::size_t, in which a range's count is kept (a GNU __int128 range could
// hold more iterations than that).
template <class T>
concept loop_index = std::integral<T> && !std::is_same_v<std::remove_cv_t<T>, bool> && sizeof(T) <= sizeof(std::size_t);

}  // namespace taskforge::detail
