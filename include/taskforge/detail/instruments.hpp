// taskforge/detail/instruments.hpp — what one worker slot counts about itself (metrics.hpp) and where it records
// its trace (trace_ring.hpp).
//
// Who owns what
//   * `counts` are plain integers, written only by the thread that owns the slot: its worker, the spare running
//     in it, or the outside thread inside a guest slot. A slot changes hands only through the spare and guest
//     protocols (runtime.hpp [R2][R3], guest_slots.hpp), which order the previous owner's writes before the next
//     owner's. No atomic read-modify-write on the hot path: a counted event costs an increment of our own line.
//   * `published` mirrors them for readers on any thread (scheduler::metrics()), as Tokio's worker metrics do:
//     the owner copies its counts there every `publish_interval` tasks, and before it parks, blocks in a wait,
//     leaves a guest slot or exits. Each mirrored value is a relaxed atomic, so reading while the owner publishes
//     is no data race.
//   * `tracing` says whether the pool records a trace now (read once per task, relaxed); `ring` is the slot's
//     trace ring, made by the first start_trace() and kept until the runtime dies, so a worker that saw
//     `tracing` true just before a stop_trace() still writes into live memory.
//
// Invariants
//   [M1] A snapshot shows, for every field, a value its owner published: at most `publish_interval` tasks
//        behind while the worker runs, exact once it is idle (parked), blocked or gone.
//   [M2] steals <= steal_attempts in every snapshot: publish() stores steal_attempts before the release store of
//        steals; a reader loads steals first, with acquire, so it sees that steal_attempts or a later one.
#pragma once

#include <cstdint>

#include "platform.hpp"
#include "trace_ring.hpp"

namespace taskforge::detail {

enum counter : unsigned {
    tasks_run,
    local_pops,
    injected_taken,
    steal_attempts,
    steals,
    parks,
    wakeups,
    max_deque_depth,
    counter_count
};

class worker_instruments {
public:
    static constexpr std::uint64_t publish_interval = 256;

    // Owner only. -----------------------------------------------------------------------------------------------
    void count(counter which, std::uint64_t amount = 1) noexcept {
        if constexpr (metrics_enabled) counts_[which] += amount;
    }
    void note_deque_depth(std::int64_t depth) noexcept {
        if constexpr (metrics_enabled) {
            const auto value = static_cast<std::uint64_t>(depth);
            if (value > counts_[max_deque_depth]) counts_[max_deque_depth] = value;
        }
    }
    // A task's body finished on this slot (task_probe.hpp).
    void count_task() noexcept {
        if constexpr (metrics_enabled) {
            if (++counts_[tasks_run] % publish_interval == 0) publish();
        }
    }
    // Copies the counts to the mirror [M1][M2].
    void publish() noexcept {
        if constexpr (metrics_enabled) {
            for (unsigned field = 0; field < counter_count; ++field) {
                // Release on steals only [M2]: it orders the steal_attempts store before it.
                published_[field].store(counts_[field],
                                        field == steals ? std::memory_order_release : std::memory_order_relaxed);
            }
        }
    }

    // An instant event (a steal, park or wake-up) while the pool records a trace.
    void mark(trace_kind kind, std::uint64_t detail = 0) noexcept {
        if (trace_ring* ring = active_ring()) {
            const std::uint64_t now = rough_ticks();
            ring->write(kind, nullptr, now, now, detail);
        }
    }

    // The trace ring if the pool records now, else nullptr. Relaxed: a stale answer only records or skips one
    // task at the edge of a start or stop. Acquire on the ring pointer pairs with the release that published it
    // (set_ring), so the ring is fully built when we write to it.
    trace_ring* active_ring() const noexcept {
        if constexpr (!tracing_enabled) return nullptr;
        if (!tracing_.load(std::memory_order_relaxed)) return nullptr;
        return ring_.load(std::memory_order_acquire);
    }

    // Any thread. ---------------------------------------------------------------------------------------------
    // One field of the mirror [M2]: steals with acquire, the rest relaxed (read steals first).
    std::uint64_t read(counter which) const noexcept {
        return published_[which].load(which == steals ? std::memory_order_acquire : std::memory_order_relaxed);
    }

    // The runtime, under its trace lock. The ring is set once and never replaced (see above).
    trace_ring* ring() const noexcept { return ring_.load(std::memory_order_relaxed); }
    void set_ring(trace_ring* ring) noexcept {
        ring_.store(ring, std::memory_order_release);  // pairs with the acquire in active_ring()
    }
    void set_tracing(bool on) noexcept {
        tracing_.store(on, std::memory_order_relaxed);  // the ring itself is ordered by set_ring's release
    }

private:
    std::uint64_t counts_[counter_count] = {};
    atomic<bool> tracing_{false};
    atomic<trace_ring*> ring_{nullptr};
    alignas(cache_line) atomic<std::uint64_t> published_[counter_count] = {};
};

}  // namespace taskforge::detail
