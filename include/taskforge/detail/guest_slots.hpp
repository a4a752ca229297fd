// taskforge/detail/guest_slots.hpp — the slots in which threads that are not workers help while they wait.
//
// Why (issue 11)
//   An outside thread that spawns a few tasks and waits for them used to sleep while the workers did everything:
//   every task hopped to a worker, and the waiter needed a wake-up at the end. Like a oneTBB arena's reserved
//   slot, a scheduler now keeps a few guest slots (options::guest_slots). A waiting outside thread takes one and
//   is, for the length of its wait, a worker of the pool in every respect the waiting rules care about
//   (waiting.hpp [W1]-[W3]): it has a deque the workers steal from, its spawns go there, and it runs only work it
//   is itself waiting for. With every slot taken it waits as before.
//
// Who owns what
//   * A slot's worker record and deque belong to the runtime; the thread inside a slot is their owner for the
//     length of one visit. Between visits the deque is empty [V3].
//   * `word_` holds one bit per slot (occupied), `closed` (shutdown began: no more visits) and `waiting`
//     (shutdown sleeps until the last guest leaves: the state_word.hpp protocol).
//
// Invariants (cited as [V1]..[V5])
//   [V1] A thread enters a slot with an acquire CAS that sets the slot's bit, and leaves with a release RMW that
//        clears it, so everything the previous guest did to the slot's deque and record happens-before the next
//        guest's first access. Thieves never need this edge: they use only the deque's own protocol.
//   [V2] No visit begins after close(): the CAS refuses a word with `closed` set. shutdown() closes the slots
//        before it closes the injection queue, so a worker that saw the queue closed (acquire) and then reads the
//        word sees every guest that entered before close() — it does not exit while one is inside (runtime.hpp).
//   [V3] A guest leaves with an empty deque: what it could not run goes back to the pool through the injection
//        queue (accepted work: also during shutdown) before its bit is cleared. So work is never stranded in a
//        slot nobody occupies (oneTBB #2056), and a worker that reads the cleared bit (acquire) sees that work —
//        which is why a worker deciding to exit reads the queue's `closed`, then this word, then the queue's
//        contents, in that order (runtime.hpp, worker_main).
//   tests/model/guest_model.cpp checks [V1]-[V4] under Relacy, with mutants for [V2], [V3] and the exit order.
//   [V4] shutdown() waits until every guest left before it lets the workers exit, so a guest never runs pool
//        work on a pool whose workers are gone, and the runtime outlives every visit.
//   [V5] Entering reads the runtime, which another thread may be destroying: a waiter first registers in
//        `guest_visitors` (a process-wide count; seq_cst RMW), then re-reads the state it waits on, and only if
//        the wait is still unfinished touches the runtime. A runtime's destructor runs after every task of its
//        pool finished and waits until the count reads zero (RMW). Either the destructor's RMW comes first in
//        the count's order — it synchronizes with the waiter's RMW, and the waiter's re-read sees the finish that
//        happened before it — or the waiter's comes first, and the destructor waits for the waiter to let go.
#pragma once

#include <atomic>
#include <bit>
#include <cstdint>
#include <thread>

#include "platform.hpp"
#include "state_word.hpp"

namespace taskforge::detail {

// Waiters between registering and having entered a slot (or given up) [V5]. Process-wide: it must outlive
// every runtime (a plain std::atomic, constant-initialised: usable during static destruction too).
inline constinit std::atomic<std::uint32_t> guest_visitors{0};

// A waiter's registration [V5]: while it lives, no runtime whose wait it found unfinished can be freed.
class guest_registration {
public:
    guest_registration() noexcept {
        // seq_cst: one of the two RMWs of [V5]; the waiter's re-read of its wait comes after it.
        guest_visitors.fetch_add(1, std::memory_order_seq_cst);
    }
    ~guest_registration() {
        // Release: our reads of the runtime happen-before the destructor's RMW that sees the count drop.
        guest_visitors.fetch_sub(1, std::memory_order_release);
    }
    guest_registration(const guest_registration&) = delete;
    guest_registration& operator=(const guest_registration&) = delete;

    // A runtime's destructor, after its pool finished every task [V5].
    static void wait_for_visitors() noexcept {
        // seq_cst RMW (not a load): it sits in the count's modification order, so a later registration reads
        // from it and synchronizes with it. Acquire pairs with the registrations' release decrement.
        while (guest_visitors.fetch_add(0, std::memory_order_seq_cst) != 0) std::this_thread::yield();
    }
};

class guest_slots {
public:
    static constexpr std::uint32_t max_slots = 30;

    explicit guest_slots(std::uint32_t count) noexcept
        : all_(count == 0 ? 0 : static_cast<std::uint32_t>((std::uint64_t{1} << count) - 1)) {}

    // Any thread. The index of the slot it entered [V1], or -1 when all are taken or shutdown began [V2].
    int try_enter() noexcept {
        std::uint32_t word = word_.load(std::memory_order_relaxed);
        for (;;) {
            const std::uint32_t free = ~word & all_;
            if ((word & closed) != 0 || free == 0) return -1;
            const std::uint32_t mine = free & (0U - free);  // lowest free slot
            // Acquire pairs with the previous guest's release in leave() [V1].
            if (word_.compare_exchange_weak(word, word | mine, std::memory_order_acquire, std::memory_order_relaxed)) {
                return std::countr_zero(mine);
            }
        }
    }

    // The guest of slot `index`, with its deque empty [V3].
    void leave(int index) noexcept {
        const std::uint32_t mine = 1U << index;
        const std::uint32_t all = all_;  // read first: after the RMW, shutdown may return and free us [V4]
        // Release [V1][V3]: our deque's last state and our hand-back happen-before the next reader of the bit.
#if defined(TASKFORGE_MODEL_MUTANT_GUEST_RELAXED_LEAVE)  // mutant (model build only): strands a hand-back [V3]
        const std::uint32_t before = word_.fetch_and(~mine, std::memory_order_relaxed);
#else
        const std::uint32_t before = word_.fetch_and(~mine, std::memory_order_release);
#endif
        // The last one out wakes shutdown(); the futex call never reads the word (platform.hpp).
        if ((before & waiting) != 0 && (before & all) == mine) futex_wake_all(word_);
    }

    // Any thread. Relaxed would do for a hint; acquire pairs with leave()'s release [V3].
    bool anyone_inside() const noexcept { return (word_.load(std::memory_order_acquire) & all_) != 0; }

    // Any thread: one bit per occupied slot. Relaxed: a hint for thieves, who use only the deque's own protocol
    // on what they find [V1]; a guest missed here is found by the next look.
    std::uint32_t occupied_hint() const noexcept { return word_.load(std::memory_order_relaxed) & all_; }

    // shutdown(): no visit begins from now on [V2].
    void close() noexcept {
        // seq_cst: ordered before the injection queue's close (also seq_cst) in shutdown's thread [V2].
        word_.fetch_or(closed, std::memory_order_seq_cst);
    }

    // shutdown(), after close(): until every guest left [V4].
    void wait_until_empty() noexcept {
        block_until(word_, waiting, [this](std::uint32_t word) { return (word & all_) == 0; });
    }

private:
    static constexpr std::uint32_t closed = 1U << 30;
    static constexpr std::uint32_t waiting = 1U << 31;

    const std::uint32_t all_;
    alignas(cache_line) atomic<std::uint32_t> word_{0};
};

}  // namespace taskforge::detail
