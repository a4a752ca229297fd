// taskforge/detail/trace_ring.hpp — one worker slot's trace: a ring of the latest events, written by the slot's
// owner, read by stop_trace() on any thread while the owner may still write.
//
// Who owns what
//   The owner (the slot's current thread, instruments.hpp) is the only writer; `next_` is its own count of
//   events written. A reader may copy the ring at any time; it never writes. The ring's memory lives as long as
//   the runtime (instruments.hpp), so a writer that started an event just before a stop never writes into freed
//   memory. Every field of a record is a relaxed atomic: a reader racing the writer reads a torn record, never
//   undefined behaviour, and the protocol below tells it which records to throw away.
//
// The protocol (a seqlock per record, in the style of a ring of sequence numbers)
//   [T1] The writer of event n first stores claimed_ = n + 1, then a release fence, then the record's fields in
//        slot n % capacity, then published_ = n + 1 with release.
//   [T2] A reader loads published_ (acquire) = P, copies the records of events [P - capacity, P), issues an
//        acquire fence and loads claimed_ = C. A record it copied may have been overwritten during the copy
//        only by an event numbered below C (a field read from a later write is ordered after that write's
//        claimed_ store by the fences of [T1] and [T2], so the reader's claimed_ load sees it). Event n's slot is
//        overwritten by event n + capacity, so every copied event numbered >= C - capacity is intact; older ones
//        are dropped as overwritten.
//   [T3] Events are numbered from the ring's creation; a trace starts at the number published when it started
//        (`first`), so events of an earlier trace are never reported again, and the events lost to wrapping are
//        counted exactly: (published - first) minus those reported.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "platform.hpp"

namespace taskforge::detail {

enum class trace_kind : std::uint32_t { task, steal, park, wakeup };

// A copied, intact event (reader side).
struct trace_event {
    trace_kind kind;
    const char* name;      // a task's name (static storage), or nullptr
    std::uint64_t start;   // rough_ticks() (platform.hpp)
    std::uint64_t end;     // == start for an instant event
    std::uint64_t detail;  // a steal's victim slot
};

class trace_ring {
public:
    // `capacity`: a power of two, at least 1.
    explicit trace_ring(std::size_t capacity) : mask_(capacity - 1), records_(std::make_unique<record[]>(capacity)) {}

    std::size_t capacity() const noexcept { return mask_ + 1; }

    // Owner only [T1].
    void write(trace_kind kind, const char* name, std::uint64_t start, std::uint64_t end,
               std::uint64_t detail = 0) noexcept {
        const std::uint64_t number = next_++;
#if !defined(TASKFORGE_MODEL_MUTANT_TRACE_LATE_CLAIM)
        claimed_.store(number + 1, std::memory_order_relaxed);  // ordered before the fields by the fence below
        fence_release();  // [T1]: a reader that reads any field below also sees this claim [T2]
#endif
        record& slot = records_[number & mask_];
        slot.kind.store(static_cast<std::uint32_t>(kind), std::memory_order_relaxed);
        slot.name.store(name, std::memory_order_relaxed);
        slot.start.store(start, std::memory_order_relaxed);
        slot.end.store(end, std::memory_order_relaxed);
        slot.detail.store(detail, std::memory_order_relaxed);
#if defined(TASKFORGE_MODEL_MUTANT_TRACE_LATE_CLAIM)  // mutant (model build only): the claim comes too late [T1]
        claimed_.store(number + 1, std::memory_order_relaxed);
#endif
        // Release: a reader that acquires this count reads the fields above [T2].
        published_.store(number + 1, std::memory_order_release);
    }

    // Any thread: events published so far (where a trace starting now begins [T3]).
    std::uint64_t published() const noexcept { return published_.load(std::memory_order_acquire); }

    // Any thread [T2][T3]: calls visit(trace_event) for each intact event numbered >= `first`, oldest first;
    // returns how many events numbered >= `first` were lost (overwritten before this read).
    template <class Visit>
    std::uint64_t read(std::uint64_t first, Visit visit) const {
        const std::uint64_t end = published();  // acquire: the records below are filled
        const std::uint64_t begin = std::max(first, end > capacity() ? end - capacity() : 0);
        std::unique_ptr<trace_event[]> copies = std::make_unique<trace_event[]>(end - begin);
        for (std::uint64_t number = begin; number < end; ++number) {
            const record& slot = records_[number & mask_];
            copies[number - begin] = {
                static_cast<trace_kind>(slot.kind.load(std::memory_order_relaxed)),
                slot.name.load(std::memory_order_relaxed), slot.start.load(std::memory_order_relaxed),
                slot.end.load(std::memory_order_relaxed), slot.detail.load(std::memory_order_relaxed)};
        }
        fence_acquire();  // [T2]: pairs with the writer's release fence, for any field we read from a later write
        const std::uint64_t claimed = claimed_.load(std::memory_order_relaxed);
        const std::uint64_t intact = std::max(begin, claimed > capacity() ? claimed - capacity() : 0);
        for (std::uint64_t number = intact; number < end; ++number) visit(copies[number - begin]);
        return (end > first ? end - first : 0) - (end > intact ? end - intact : 0);
    }

private:
    struct record {
        atomic<std::uint32_t> kind{0};
        atomic<const char*> name{nullptr};
        atomic<std::uint64_t> start{0};
        atomic<std::uint64_t> end{0};
        atomic<std::uint64_t> detail{0};
    };

    std::uint64_t next_ = 0;  // owner only: events written
    const std::size_t mask_;
    std::unique_ptr<record[]> records_;
    alignas(cache_line) atomic<std::uint64_t> claimed_{0};
    atomic<std::uint64_t> published_{0};
};

}  // namespace taskforge::detail
