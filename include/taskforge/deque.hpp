/// @file
/// taskforge/deque.hpp — `chase_lev_deque<T>`: a lock-free work-stealing deque, usable on its own.
///
/// One owner thread pushes and pops at the bottom (LIFO, cache-warm); any thread steals from the top (FIFO).
///
/// Algorithm: D. Chase and Y. Lev, "Dynamic Circular Work-Stealing Deque" (SPAA 2005), with the C11 memory
/// orderings of N. M. Lê, A. Pop, A. Cohen and F. Zappa Nardelli, "Correct and Efficient Work-Stealing for Weak
/// Memory Models" (PPoPP 2013), figure 1. Deliberate departures from that figure:
///   * slots are atomics read and written relaxed, so a thief reading a slot the owner overwrites is not a data
///     race (the paper's figure uses atomic slots too; many ports forget it);
///   * a grown buffer is published with a release store and loaded with acquire (the paper uses consume, which
///     compilers implement as acquire anyway);
///   * after a growth, push re-reads the buffer pointer — the paper's figure writes into the old one;
///   * retired buffers are kept until the deque dies (a thief may still read them); their total size stays below
///     the live buffer's, since each growth doubles;
///   * under ThreadSanitizer, which does not model standalone fences, each fence becomes the equivalent ordering
///     on the neighbouring operation (detail/platform.hpp, `sanitizer_replaces_fences`);
///   * a seq_cst fence is a locked RMW on x86-64 instead of clang's `mfence` (detail/platform.hpp).
///
/// Invariants (cited in the code as [I1]..[I5]):
///   * [I1] Only the owner writes `bottom_` and the buffer pointer; `top_` only grows, and only by a CAS.
///   * [I2] Items live at indices [top, bottom) of the current buffer; index i is slot i & mask.
///   * [I3] A slot is written (by push) before `bottom_` is published past it with release semantics, so a thief
///     that acquires that `bottom_` reads the item, not an older value.
///   * [I4] The last item (top == bottom - 1) is decided by a strong CAS on `top_` between the owner and thieves;
///     any other item has exactly one possible taker. A spurious CAS failure would drop an item, hence strong.
///   * [I5] Indices are signed 64-bit and never wrap: at one push per nanosecond, 2^63 pushes take 292 years.
///     Signed, because a pop on an empty deque computes bottom - 1 = -1 and must compare below top = 0.
#pragma once

#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <stdexcept>
#include <type_traits>

#include "detail/platform.hpp"

namespace taskforge {

/// What a single steal attempt found; `chase_lev_deque::try_steal` returns it with the item.
enum class steal_status {
    success,   ///< took the item
    empty,     ///< the deque was empty when looked at
    lost_race  ///< another thief or the owner took the top item first; the deque may still hold items
};

/// The outcome of chase_lev_deque::try_steal() and chase_lev_deque::try_steal_from(): a status and the item.
template <class T>
struct steal_result {
    steal_status status;  ///< whether the attempt took an item, found the deque empty or lost a race
    T item;               ///< meaningful only when status == steal_status::success
};

/// A lock-free work-stealing deque: one owner thread pushes and pops at the bottom, any thread steals from the top.
/// Items are trivially copyable and lock-free as atomics (pointers, indices); the buffer grows on demand.
///
/// See deque.hpp for the algorithm and its invariants. Each member says who may call it: "owner only" members must
/// be called by one thread at a time (the owner), "any thread" members from any thread, concurrently.
template <class T>
class chase_lev_deque {
    static_assert(std::is_trivially_copyable_v<T>,
                  "chase_lev_deque<T>: T must be trivially copyable (a thief copies it out of a slot that the owner "
                  "may overwrite); store pointers or handles to non-trivial objects");
    static_assert(std::atomic<T>::is_always_lock_free,
                  "chase_lev_deque<T>: std::atomic<T> must be lock-free (slots are atomics); use a pointer-sized T");

public:
    /// The initial number of slots of a default-constructed deque.
    static constexpr std::int64_t default_capacity = 64;

    /// An empty deque with default_capacity slots.
    chase_lev_deque() : chase_lev_deque(default_capacity) {}

    /// An empty deque. `capacity` is the initial number of slots: a power of two, at least 1 (else it throws
    /// std::invalid_argument). The deque grows on demand.
    explicit chase_lev_deque(std::int64_t capacity) : buffer_(new ring(checked_capacity(capacity))) {}

    chase_lev_deque(const chase_lev_deque&) = delete;             ///< Not copyable.
    chase_lev_deque& operator=(const chase_lev_deque&) = delete;  ///< Not copyable.

    /// Frees the buffers. No thread may use the deque any more.
    ~chase_lev_deque() { delete buffer_.load(std::memory_order_relaxed); }

    /// Owner only: adds `item` at the bottom; grows the buffer when it is full. Returns how many items the deque
    /// held just after, as the owner saw it (thieves may have taken some since): the depth metrics report.
    TASKFORGE_HOT_INLINE std::int64_t push(T item) {
        const std::int64_t bottom = bottom_.load(std::memory_order_relaxed);  // [I1] we are its only writer
        // Acquire pairs with the thieves' CAS on `top_`: a slot we are about to reuse has been read completely
        // by the thief that took it before we overwrite it.
        const std::int64_t top = top_.load(std::memory_order_acquire);
        ring* buffer = buffer_.load(std::memory_order_relaxed);  // [I1]
        if (bottom - top > buffer->capacity - 1) {
            buffer = grow(buffer, top, bottom);  // re-read after growth: the paper's figure misses this
        }
        buffer->slot(bottom).store(item, std::memory_order_relaxed);  // [I3] published by the release below
        publish_bottom(bottom + 1);
        return bottom + 1 - top;
    }

    /// Owner only: takes the most recently pushed item, if any.
    TASKFORGE_HOT_INLINE std::optional<T> pop() {
        const std::int64_t bottom = bottom_.load(std::memory_order_relaxed) - 1;  // [I1]
        ring* buffer = buffer_.load(std::memory_order_relaxed);                   // [I1]
        const std::int64_t top = reserve_bottom(bottom);
        if (top > bottom) {                                        // it was empty: undo the reservation
            bottom_.store(bottom + 1, std::memory_order_relaxed);  // [I1] only we read it relaxed; thieves saw t >= b
            return std::nullopt;
        }
        T item = buffer->slot(bottom).load(std::memory_order_relaxed);  // we wrote it [I1]
        if (top < bottom) {
            return item;  // [I4] more than one item: no thief can reach this one
        }
        // The last item: race the thieves for it with a strong CAS [I4]. seq_cst keeps it in the same total
        // order as the fences that ordered our bottom store against the thieves' reads.
        std::int64_t expected = top;
        const bool won =
            top_.compare_exchange_strong(expected, top + 1, std::memory_order_seq_cst, std::memory_order_relaxed);
        bottom_.store(bottom + 1, std::memory_order_relaxed);  // empty either way: bottom == top
        return won ? std::optional<T>(item) : std::nullopt;
    }

    /// Any thread: takes the oldest item; empty when the deque is empty or another taker won the race.
    std::optional<T> steal() {
        const steal_result<T> result = try_steal();
        return result.status == steal_status::success ? std::optional<T>(result.item) : std::nullopt;
    }

    /// Any thread: like steal(), but tells an empty deque from a lost race (a caller should retry the latter).
    steal_result<T> try_steal() { return try_steal_from(std::numeric_limits<std::int64_t>::min()); }

    /// Any thread: like try_steal(), but takes only an item whose index is at least `lowest` (an earlier
    /// bottom_index() of the owner: then only items pushed since), and reports a deque whose oldest item is older
    /// as empty. Indices never repeat [I5], so the item at an index is the one pushed there.
    steal_result<T> try_steal_from(std::int64_t lowest) {
        std::int64_t top = 0;
        std::int64_t bottom = 0;
        read_ends_for_steal(top, bottom);
        if (top >= bottom || top < lowest) {
            return {steal_status::empty, T{}};
        }
        // Acquire pairs with the release store in `grow`: the slots of a buffer we see are filled.
        ring* buffer = buffer_.load(model_weakened_grow_acquire());
        T item = buffer->slot(top).load(std::memory_order_relaxed);  // [I3] published before the bottom we read
        // [I4] strong: a spurious failure would only be a needless retry here, but the owner's CAS on the last
        // item must not fail spuriously, and both sides use the same operation. seq_cst: see pop().
        if (!top_.compare_exchange_strong(top, top + 1, std::memory_order_seq_cst, std::memory_order_relaxed)) {
            return {steal_status::lost_race, T{}};
        }
        return {steal_status::success, item};
    }

    /// Owner only: the item pop() would return next, without taking it, or nullopt when the deque looks empty. A
    /// hint: a thief may take that item at any moment, so only pop() decides. Relaxed: we are the only writer of
    /// `bottom_` and of the slot [I1][I3]; a stale `top_` only makes the answer staler.
    std::optional<T> peek() const noexcept {
        const std::int64_t bottom = bottom_.load(std::memory_order_relaxed) - 1;
        if (top_.load(std::memory_order_relaxed) > bottom) return std::nullopt;
        return buffer_.load(std::memory_order_relaxed)->slot(bottom).load(std::memory_order_relaxed);
    }

    /// Owner only: the index the next push() will use. Relaxed: we are the only writer of `bottom_` [I1].
    std::int64_t bottom_index() const noexcept { return bottom_.load(std::memory_order_relaxed); }

    /// Any thread: how many items the deque holds; a snapshot that may be stale by the time it returns.
    std::int64_t size() const noexcept {
        const std::int64_t bottom = bottom_.load(std::memory_order_relaxed);  // snapshot only: no ordering needed
        const std::int64_t top = top_.load(std::memory_order_relaxed);
        return bottom > top ? bottom - top : 0;
    }
    /// Any thread: whether size() is 0; a snapshot, like size().
    bool empty() const noexcept { return size() == 0; }

    /// Owner only (the buffer pointer changes when the owner grows it): the number of slots of the current buffer.
    std::int64_t capacity() const noexcept { return buffer_.load(std::memory_order_relaxed)->capacity; }

private:
    struct ring {
        explicit ring(std::int64_t size)
            : capacity(size), mask(size - 1), slots(new detail::atomic<T>[static_cast<std::size_t>(size)]) {}
        detail::atomic<T>& slot(std::int64_t index) noexcept {
            return slots[static_cast<std::size_t>(index & mask)];
        }  // [I2]

        const std::int64_t capacity;
        const std::int64_t mask;
        std::unique_ptr<detail::atomic<T>[]> slots;
        std::unique_ptr<ring> retired;  // the buffer this one replaced; thieves may still read it
    };

    static std::int64_t checked_capacity(std::int64_t capacity) {
        if (capacity < 1 || (capacity & (capacity - 1)) != 0) {
            throw std::invalid_argument("chase_lev_deque: capacity must be a power of two >= 1");
        }
        return capacity;
    }

    // Owner only, cold: doubles the buffer, copying the live items [top, bottom).
    TASKFORGE_COLD ring* grow(ring* old, std::int64_t top, std::int64_t bottom) {
        auto bigger = std::make_unique<ring>(old->capacity * 2);
        for (std::int64_t i = top; i < bottom; ++i) {
            bigger->slot(i).store(old->slot(i).load(std::memory_order_relaxed), std::memory_order_relaxed);
        }
        bigger->retired.reset(old);
        ring* fresh = bigger.release();
        // Release: a thief that acquires this pointer sees the copied slots above (pairs with try_steal).
        buffer_.store(fresh, model_weakened_grow_release());
        return fresh;
    }

    // push's publication [I3]: the slot write happens-before any thief that acquires the new bottom.
    void publish_bottom(std::int64_t bottom) {
        if constexpr (detail::sanitizer_replaces_fences) {
            bottom_.store(bottom, std::memory_order_release);  // what the fence below means, in a form TSan sees
        } else {
#if !defined(TASKFORGE_MODEL_WEAKEN_PUSH_RELEASE)
            detail::fence_release();  // orders the slot store before the bottom store for acquiring thieves
#endif
            bottom_.store(bottom, std::memory_order_relaxed);
        }
    }

    // pop's reservation: announce bottom - 1, then read top. The seq_cst fence (Dekker) guarantees that either
    // a racing thief sees the smaller bottom, or we see its incremented top — never neither, which would hand
    // the same item to both.
    std::int64_t reserve_bottom(std::int64_t bottom) {
        if constexpr (detail::sanitizer_replaces_fences) {
            bottom_.store(bottom, std::memory_order_seq_cst);  // seq_cst store + seq_cst load: the same
            return top_.load(std::memory_order_seq_cst);       // Dekker ordering without a fence
        } else {
            bottom_.store(bottom, std::memory_order_relaxed);
#if !defined(TASKFORGE_MODEL_WEAKEN_POP_FENCE)
            detail::fence_seq_cst();
#endif
            return top_.load(std::memory_order_relaxed);
        }
    }

    // steal's reading of both ends: top, then bottom, with the other half of pop's Dekker fence in between.
    void read_ends_for_steal(std::int64_t& top, std::int64_t& bottom) {
        if constexpr (detail::sanitizer_replaces_fences) {
            top = top_.load(std::memory_order_seq_cst);
            bottom = bottom_.load(std::memory_order_seq_cst);  // acquire part pairs with publish_bottom
        } else {
            // Acquire pairs with the CAS of a thief that took top before us, so slot reads stay in order.
            top = top_.load(std::memory_order_acquire);
#if !defined(TASKFORGE_MODEL_WEAKEN_STEAL_FENCE)
            detail::fence_seq_cst();  // pairs with pop's fence in reserve_bottom
#endif
            bottom = bottom_.load(std::memory_order_acquire);  // pairs with publish_bottom [I3]
        }
    }

    static constexpr std::memory_order model_weakened_grow_release() {
#if defined(TASKFORGE_MODEL_WEAKEN_GROW_RELEASE)
        return std::memory_order_relaxed;
#else
        return std::memory_order_release;
#endif
    }
    static constexpr std::memory_order model_weakened_grow_acquire() {
#if defined(TASKFORGE_MODEL_WEAKEN_GROW_RELEASE)
        return std::memory_order_relaxed;
#else
        return std::memory_order_acquire;
#endif
    }

    alignas(detail::cache_line) detail::atomic<std::int64_t> top_{0};
    alignas(detail::cache_line) detail::atomic<std::int64_t> bottom_{0};
    alignas(detail::cache_line) detail::atomic<ring*> buffer_;
};

}  // namespace taskforge
