// taskforge/detail/injection_queue.hpp — where threads that are not workers hand jobs to a scheduler.
//
// Push and pop of a worker's deque are owner-only, so outside threads never touch a deque: they push here. This is
// D. Vyukov's intrusive multi-producer single-consumer queue (a stub node, producers exchange the head, the consumer
// walks `next` links from the tail), with two additions:
//   * the head carries a `closed` bit: close() sets it, and a push that sees it fails — shutdown() and racing
//     spawns agree on every job through that one word;
//   * consumers are the workers, so one at a time holds the consumer lock (try-lock; a worker that loses simply
//     looks elsewhere) and takes a batch.
//
// Invariants (cited as [Q1]..[Q4]):
//   [Q1] Producers touch only `head_` and the `next` of the node they replaced; `tail_` belongs to the lock holder.
//   [Q2] A push is linearised at its successful CAS on `head_`; it is refused iff `closed` was already set there.
//   [Q3] A pushed node is reachable from the tail once its producer stores the link (release; the consumer's acquire
//        load of `next` then reads the job). Between the CAS and that store the queue looks "busy", not empty.
//   [Q4] The queue is empty iff head (without the closed bit) and tail are both the stub. While the consumer hands
//        out the last node, tail is that node (never the stub) until the stub is back in, and a reader that
//        acquires the head the stub's re-insertion wrote sees that tail. So `maybe_nonempty()` is never falsely
//        false — the parking protocol relies on it. (Head alone is not enough: a producer can slip in between
//        the consumer's check and the stub's re-insertion, leaving its job ahead of the stub.)
#pragma once

#include <cstdint>

#include "job.hpp"

namespace taskforge::detail {

class injection_queue {
public:
    injection_queue() noexcept : head_(address(&stub_)), tail_(&stub_) {}
    injection_queue(const injection_queue&) = delete;
    injection_queue& operator=(const injection_queue&) = delete;

    // Any thread. Appends `work` unless the queue is closed [Q2]; returns whether it did.
    bool push(job* work) noexcept { return append(work, false); }

    // A worker of the queue's pool only: appends a job the pool accepted earlier (one it must hand on without
    // running it, join.hpp), also while shutdown drains the queue — `closed` refuses new work, not accepted work.
    void requeue(job* work) noexcept { append(work, true); }

    // Any thread, idempotent. Refuses every later push [Q2].
    void close() noexcept {
        head_.fetch_or(closed, std::memory_order_seq_cst);  // seq_cst: ordered with pushes and idle-state checks
    }

    bool is_closed() const noexcept { return (head_.load(std::memory_order_acquire) & closed) != 0; }

    // Any thread. False only if the queue is empty [Q4]; a push in progress counts as non-empty.
    bool maybe_nonempty() const noexcept {
        // Acquire pairs with push_stub's release CAS, so the tail read below is at least as new [Q4]. Callers that
        // need ordering against pushes (the parking re-check) precede this with a seq_cst fence.
        if ((head_.load(std::memory_order_acquire) & ~closed) != address(&stub_)) return true;
        return tail_.load(std::memory_order_relaxed) != &stub_;
    }

    // Any thread; the hot-path look before taking the consumer lock. Reads only the consumer's end, so polling
    // workers do not pull the producers' `head_` line away from them. False while a push is half done [Q3] — so
    // the parking protocol uses maybe_nonempty() instead.
    bool has_linked_job() const noexcept {
        // Relaxed: a hint; pop() re-reads everything with the right orderings under the consumer lock.
        const job* tail = tail_.load(std::memory_order_relaxed);
        return tail != &stub_ || stub_.next.load(std::memory_order_relaxed) != nullptr;
    }

    // Any thread; a one-load hint for a queue that is usually unused (the priority levels' queues): false when
    // the head is the stub (nothing pushed since the queue was last drained), true while it holds a job or a push
    // or the last pop is under way. It reads the producers' line, so a queue with a steady producer is watched
    // with has_linked_job() instead.
    bool may_hold_jobs() const noexcept {
        // Relaxed: a hint; whoever acts on it takes the consumer lock and pops with the right orderings.
        return (head_.load(std::memory_order_relaxed) & ~closed) != address(&stub_);
    }

    bool try_lock_consumer() noexcept {
        // Acquire/release around `tail_`: the next lock holder sees the previous one's tail [Q1].
        return !consumer_locked_.load(std::memory_order_relaxed) &&
               !consumer_locked_.exchange(true, std::memory_order_acquire);
    }
    void unlock_consumer() noexcept { consumer_locked_.store(false, std::memory_order_release); }

    // Consumer-lock holder only. The oldest job, or nullptr when empty or when a push is half done [Q3].
    job* pop() noexcept {
        return pop_if([](const job*) { return true; });
    }

    // Consumer-lock holder only. The oldest job if `wanted(job)`; else nullptr, and the queue keeps it.
    template <class Wanted>
    job* pop_if(Wanted wanted) noexcept {
        job* tail = tail_.load(std::memory_order_relaxed);  // [Q1] ours while we hold the lock
        // Acquire pairs with the release link store in push [Q3]: the job's contents are visible.
        job* next = tail->next.load(std::memory_order_acquire);
        if (tail == &stub_) {
            if (next == nullptr) return nullptr;
            tail_.store(next, std::memory_order_relaxed);  // ordered before push_stub by its release [Q4]
            tail = next;
            next = next->next.load(std::memory_order_acquire);
        }
        // The stub is behind us: `tail` is the oldest job, linked and read under the acquire above [Q3]. Leaving it
        // here keeps the queue valid: tail_ points at a real node, which counts as non-empty [Q4].
        if (!wanted(static_cast<const job*>(tail))) return nullptr;
        if (next != nullptr) {
            tail_.store(next, std::memory_order_relaxed);
            return tail;
        }
        // `tail` is the last node. Only if no producer is mid-push can we hand it out: re-insert the stub behind it
        // so the queue never becomes node-less.
        if (address(tail) != (head_.load(std::memory_order_acquire) & ~closed)) return nullptr;  // busy [Q3]
        push_stub();
        next = tail->next.load(std::memory_order_acquire);
        if (next == nullptr) return nullptr;           // a producer slipped in and has not linked yet: retry later
        tail_.store(next, std::memory_order_relaxed);  // the stub, or the job that slipped in ahead of it
        return tail;
    }

private:
    static constexpr std::uintptr_t closed = 1;  // jobs are at least pointer-aligned, so bit 0 is free

    static std::uintptr_t address(const job* node) noexcept { return reinterpret_cast<std::uintptr_t>(node); }

    static void link(std::uintptr_t previous, job* work) noexcept {
        // Release: the consumer's acquire load of this link reads `work`'s contents [Q3].
        reinterpret_cast<job*>(previous & ~closed)->next.store(work, std::memory_order_release);
    }

    // Like push, but ignores `closed`: the stub must go back even while shutdown drains the queue.
    void push_stub() noexcept {
        stub_.next.store(nullptr, std::memory_order_relaxed);
        std::uintptr_t head = head_.load(std::memory_order_relaxed);
        // acq_rel: as in push (release of the stub's reset link); keeps `closed` as it was.
        while (!head_.compare_exchange_weak(head, address(&stub_) | (head & closed), std::memory_order_acq_rel,
                                            std::memory_order_relaxed)) {
        }
        link(head, &stub_);
    }

    bool append(job* work, bool accepted) noexcept {
        work->next.store(nullptr, std::memory_order_relaxed);  // published by the CAS below
        std::uintptr_t head = head_.load(std::memory_order_relaxed);
        do {
            if ((head & closed) != 0 && !accepted) return false;
            // seq_cst: the publisher's side of the parking protocol (parking.hpp) orders this against its load of
            // the idle state; it also releases `work`'s contents to the consumer that acquires the link. Keeps
            // `closed` as it was.
        } while (!head_.compare_exchange_weak(head, address(work) | (head & closed), std::memory_order_seq_cst,
                                              std::memory_order_relaxed));
        link(head, work);
        return true;
    }

    static void no_execute(job*) noexcept {}

    alignas(cache_line) std::atomic<std::uintptr_t> head_;
    alignas(cache_line) std::atomic<job*> tail_;  // written by the lock holder only; read by maybe_nonempty
    job stub_{&no_execute};
    std::atomic<bool> consumer_locked_{false};
};

}  // namespace taskforge::detail
