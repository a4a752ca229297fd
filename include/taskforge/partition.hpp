/// @file
/// taskforge/partition.hpp — how the parallel loops (parallel_for.hpp, parallel_reduce.hpp) cut their range.
///
/// By default a loop partitions adaptively, as Rayon does ("thief-splitting"): it starts with about
/// thread_count() splits and halves the remaining budget at every split; a piece that turns out to have been
/// stolen — so some worker was idle — gets its budget reset to thread_count(). Pieces are split in halves, never
/// below `min_chunk` iterations. Busy pools therefore split little, idle workers get work where they steal it, and
/// nobody has to pick a grain size. One addition to Rayon's scheme: a loop first runs serially for ~4 us (a piece of
/// min_chunk iterations, then 4, 16, ... times as many), and only what is left splits — a loop of a few thousand
/// cheap iterations is over before a steal could pay off.
///
/// @code
///   taskforge::parallel_for(0, n, body, taskforge::min_chunk{64});     // never run fewer than 64 per piece
///   taskforge::parallel_for(0, n, body, taskforge::static_partition{}); // thread_count() equal pieces
/// @endcode
///
/// static_partition suits uniform loops, where the cheapest split wins; it also fixes a reduction's association
/// order for a given thread_count() and range size (parallel_reduce.hpp). Both options may be given together.
#pragma once

#include <cstddef>
#include <type_traits>

namespace taskforge {

/// The fewest iterations a piece of a loop may have (0 counts as 1): an option of parallel_for, parallel_for_each
/// and parallel_reduce.
struct min_chunk {
    std::size_t size = 1;  ///< the fewest iterations per piece
};

/// Cut the range into thread_count() equal pieces (fewer when min_chunk asks for it), with no adaptive splitting.
/// An option of parallel_for, parallel_for_each and parallel_reduce.
struct static_partition {};

namespace detail {
template <class T>
concept loop_option = std::is_same_v<std::decay_t<T>, min_chunk> || std::is_same_v<std::decay_t<T>, static_partition>;
}  // namespace detail

}  // namespace taskforge
