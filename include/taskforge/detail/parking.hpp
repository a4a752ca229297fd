// taskforge/detail/parking.hpp — how idle workers sleep, and how new work wakes them without ever losing a wake-up.
//
// Who owns what
//   `state_` packs two counts: workers parked (asleep in this coordinator) and workers searching for work
//   (stealing). Workers that run a task, and workers blocked in a wait (waiting.hpp), are in neither count.
//   The sleeper list (under `sleepers_mutex_`, cold path only) holds the parked workers; each has a `parker`.
//   The list has room for every worker slot the runtime may ever start (its own workers and spares).
//
// How a worker goes to sleep (worker loop, runtime.hpp)
//   1. It finds nothing in its deque, the injection queue or its victims' deques while searching.
//   2. begin_park(): under the sleeper lock, one seq_cst RMW on `state_` adds it to the parked count (and removes
//      it from the searching count), and it joins the sleeper list. This is the announcement.
//   3. It issues a seq_cst fence and looks at every queue once more. Work seen here → notify_one() (it may wake
//      itself: its parker then returns at once).
//   4. parker::park() sleeps until someone unparks it. An unparked worker comes back counted as searching.
//      A spare worker parks with a timeout; when it expires, cancel_park() takes it off the list (if nobody
//      popped it meanwhile) with another seq_cst RMW, and the runtime decides whether it retires.
//
// How a publisher wakes a worker (spawn)
//   a. It makes the job visible (deque push, or the injection queue's seq_cst CAS).
//   b. It issues a seq_cst fence (the CAS already is one) and reads `state_`.
//   c. Only if nobody is searching and somebody is parked does it take the slow path: pop a sleeper, count it
//      searching, unpark it. So a spawn pays a system call only when no worker is awake and looking.
//
// Why no job is stranded with every worker asleep  (tests/model/parking_model.cpp checks this, invariant [P1])
//   [P1] Take a job J published with fence F_p, and the worker W whose step-2 RMW is last in `state_`'s order,
//   with fence F_w. The fences are totally ordered (S). If F_p precedes F_w, W's step-3 look sees J (fence-fence
//   rule, [atomics.order]) and W calls notify_one after everyone is parked, so it finds a sleeper to wake. If F_w
//   precedes F_p, the publisher's load in (b) sees W's RMW or a later one: nobody searching, a sleeper present —
//   it wakes one. Either way a worker is awake and searching after J is published. A searcher that finds work
//   while it was the last searcher wakes one more (end_search), so work spreads across sleeping workers.
//   [P2] A worker that blocks in a wait stops being a runner of the pool's work without parking: before it blocks
//   the runtime makes sure another worker stands in for it (waiting.hpp) and repeats step 3 (fence, look,
//   notify_one) for the jobs it leaves behind in its own deque.
//   [P4] A join's stack job (join.hpp) is announced without the fence of (b): its pusher always takes it back
//   with a pop or waits for it, and a waiter that would block repeats step 3 first ([P2]). So a wake-up missed
//   because a worker parked just then costs that one job its parallelism, never progress; the next push sees
//   the parked worker. The fence would cost every join a locked instruction.
//   [P3] notify_one() takes a sleeper off the list and counts it searching under the lock; cancel_park() takes
//   itself off under the same lock. So each parked worker leaves the list exactly once, and a token is only ever
//   sent to a worker that will consume it.
//
// Bounded searching: at most half of the pool's target worker count (at least one) search at once, as in Go and
// Tokio, so a burst of wake-ups does not make every core hammer the same victims.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <vector>

#include "platform.hpp"

namespace taskforge::detail {

// One sleeping worker's wake-up token (Tokio's park.rs in miniature): empty -> parked -> notified.
class parker {
public:
    // Owner only. Returns true after unpark() (a token left by an earlier unpark() makes it return at once), or
    // false when `deadline` (if given) passed first with no token.
    bool park(const std::chrono::steady_clock::time_point* deadline = nullptr) noexcept {
        // Acquire (also on failure) pairs with unpark's release: what the unparker did before is visible to us.
        std::uint32_t expected = empty;
        if (!state_.compare_exchange_strong(expected, parked, std::memory_order_acquire, std::memory_order_acquire)) {
            state_.store(empty, std::memory_order_relaxed);  // it was `notified`: consume the token
            return true;
        }
        for (;;) {
            futex_wait(state_, parked, deadline);
            expected = notified;
            if (state_.compare_exchange_strong(expected, empty, std::memory_order_acquire, std::memory_order_relaxed)) {
                return true;
            }
            if (deadline != nullptr && std::chrono::steady_clock::now() >= *deadline) {
                expected = parked;
                // Acquire on both outcomes: taking back our announcement publishes nothing, but on failure the
                // token arrived and we consume it (pairs with unpark's release, as above).
                if (state_.compare_exchange_strong(expected, empty, std::memory_order_acquire,
                                                   std::memory_order_acquire)) {
                    return false;
                }
                state_.store(empty, std::memory_order_relaxed);  // consume the token that raced the timeout
                return true;
            }
        }
    }

    // Any thread. Wakes the owner, or leaves a token for its next park().
    void unpark() noexcept {
        // Release: pairs with park's acquire. The system call only when the owner really sleeps.
        if (state_.exchange(notified, std::memory_order_release) == parked) futex_wake_one(state_);
    }

private:
    static constexpr std::uint32_t empty = 0, parked = 1, notified = 2;
    alignas(cache_line) atomic<std::uint32_t> state_{empty};
};

class idle_coordinator {
public:
    // `target`: the pool's own worker count (bounds searching); `slots`: every worker slot, spares included.
    idle_coordinator(std::size_t target, std::size_t slots)
        : target_(static_cast<std::uint32_t>(target)), parkers_(slots) {
        sleepers_.reserve(slots);
    }

    // resize() changed the pool's own worker count. Relaxed: the target only bounds searching and picks which
    // sleeper to wake first; no data is published through it.
    void set_target(std::size_t target) noexcept {
        target_.store(static_cast<std::uint32_t>(target), std::memory_order_relaxed);
    }

    // Publisher, after a deque push (needs the fence; see (b) above).
    void notify_after_push() noexcept {
#if !defined(TASKFORGE_MODEL_MUTANT_PUSH_WITHOUT_FENCE)  // mutant (model build only): strands a job [P1]
        fence_seq_cst();
#endif
        if (should_wake(state_.load(std::memory_order_relaxed))) notify_one();
    }

    // Publisher of a job it will itself take back or wait for (a join's stack job) [P4]. Relaxed: no ordering
    // against the push is claimed; a stale read only delays the wake-up to a later push.
    void notify_without_fence() noexcept {
        if (should_wake(state_.load(std::memory_order_relaxed))) notify_one();
    }

    // Publisher, after a seq_cst RMW made the job visible (the injection queue's CAS): the RMW orders it already.
    void notify_after_seq_cst_publish() noexcept {
        // seq_cst load: in the single total order after our seq_cst CAS, so either it sees a parker's RMW or that
        // parker's fence comes later and its re-check sees the CAS ([atomics.order], the sc-fence rule).
        if (should_wake(state_.load(std::memory_order_seq_cst))) notify_one();
    }

    // Wakes one sleeper if nobody searches. Any thread [P3].
    void notify_one() noexcept {
        std::size_t sleeper = 0;
        {
            std::lock_guard<mutex> lock(sleepers_mutex_);
            if (!should_wake(state_.load(std::memory_order_relaxed)) || sleepers_.empty()) return;
            sleeper = take_sleeper_locked();
            // It comes back searching. Relaxed inside the lock: begin_park's RMW is ordered by the lock.
            state_.fetch_add(one_searching - one_parked, std::memory_order_relaxed);
        }
        parkers_[sleeper].unpark();
    }

    // Worker. Become a searcher unless half the target already are (at least one may always search).
    bool try_begin_search() noexcept {
        std::uint64_t state = state_.load(std::memory_order_relaxed);
        for (;;) {
            const std::uint64_t searching = searching_of(state);
            if (searching > 0 && 2 * searching >= target_.load(std::memory_order_relaxed)) return false;
            // Relaxed: the count only bounds contention; no data is published through it.
            if (state_.compare_exchange_weak(state, state + one_searching, std::memory_order_relaxed,
                                             std::memory_order_relaxed)) {
                return true;
            }
        }
    }

    // Worker that found work while searching. Returns whether it was the last searcher: then the caller fences,
    // looks for more visible work and, if there is some, wakes another worker to take it (notify_one). A
    // publisher that reads the state after this RMW sees "nobody searching" and wakes someone itself; one that
    // read it before has its job seen by the caller's look (the fence pair of the protocol above).
    bool end_search() noexcept {
        // seq_cst: one of the RMWs the protocol's total order is built from.
        return searching_of(state_.fetch_sub(one_searching, std::memory_order_seq_cst)) == 1;
    }

    // Worker, step 2: announce the intent to sleep. Returns false (and stays awake) when the pool is closing.
    bool begin_park(std::size_t worker, bool searching) noexcept {
        std::lock_guard<mutex> lock(sleepers_mutex_);
        if (closing_) return false;
        // seq_cst: the announcement of the protocol above; pairs with the publisher's fence and load [P1].
        state_.fetch_add(one_parked - (searching ? one_searching : 0), std::memory_order_seq_cst);
        sleepers_.push_back(worker);
        return true;
    }

    // Worker, step 4. False only when `deadline` passed with no wake-up (the worker is still on the list).
    bool park(std::size_t worker, const std::chrono::steady_clock::time_point* deadline = nullptr) noexcept {
        return parkers_[worker].park(deadline);
    }

    // Worker whose timed park expired [P3]: true if it took itself off the list (it is now awake, not searching);
    // false if a notifier popped it first — its token is on the way, and it must park() once more to consume it.
    bool cancel_park(std::size_t worker) noexcept {
        std::lock_guard<mutex> lock(sleepers_mutex_);
        for (std::size_t i = 0; i < sleepers_.size(); ++i) {
            if (sleepers_[i] != worker) continue;
            sleepers_[i] = sleepers_.back();
            sleepers_.pop_back();
            // seq_cst, like begin_park: a publisher that reads the state after this sees one fewer sleeper.
            state_.fetch_sub(one_parked, std::memory_order_seq_cst);
            return true;
        }
        return false;
    }

    // Worker leaving the pool (shutdown, or a spare retiring): it no longer counts as searching.
    void retire(bool searching) noexcept {
        // seq_cst, like begin_park: publishers that read the state afterwards see one fewer searcher.
        if (searching) state_.fetch_sub(one_searching, std::memory_order_seq_cst);
    }

    bool closing() noexcept {
        std::lock_guard<mutex> lock(sleepers_mutex_);
        return closing_;
    }

    // Wakes every worker asleep now, counted as searching (resize() asked some to retire: runtime.hpp [R4]). Any
    // thread. One at a time, without allocating; one that parks again meanwhile may be woken a second time.
    void wake_all() noexcept {
        std::size_t asleep = 0;
        {
            std::lock_guard<mutex> lock(sleepers_mutex_);
            asleep = sleepers_.size();
        }
        for (; asleep > 0; --asleep) {
            std::size_t sleeper = 0;
            {
                std::lock_guard<mutex> lock(sleepers_mutex_);
                if (sleepers_.empty()) return;
                sleeper = sleepers_.back();
                sleepers_.pop_back();
                // Relaxed inside the lock, as in notify_one.
                state_.fetch_add(one_searching - one_parked, std::memory_order_relaxed);
            }
            parkers_[sleeper].unpark();
        }
    }

    // shutdown(): from now on no worker parks, and every sleeper wakes up to drain and exit.
    void close() noexcept {
        std::vector<std::size_t> wake;
        {
            std::lock_guard<mutex> lock(sleepers_mutex_);
            closing_ = true;
            wake.swap(sleepers_);
            // They come back searching, like any unparked worker. Relaxed: ordered by the lock.
            state_.fetch_add(wake.size() * (one_searching - one_parked), std::memory_order_relaxed);
        }
        for (const std::size_t sleeper : wake) parkers_[sleeper].unpark();
    }

private:
    static constexpr std::uint64_t one_searching = 1;
    static constexpr std::uint64_t one_parked = std::uint64_t{1} << 32;
    static constexpr std::uint64_t searching_of(std::uint64_t state) { return state & 0xffff'ffff; }
    static constexpr std::uint64_t parked_of(std::uint64_t state) { return state >> 32; }
    static bool should_wake(std::uint64_t state) noexcept { return searching_of(state) == 0 && parked_of(state) > 0; }

    // Under sleepers_mutex_, with the list not empty: the sleeper to wake. One of the pool's own workers (slots
    // below target_) when any sleeps, else a spare: a spare runs only while an own worker is blocked in a wait
    // (runtime.hpp [R1]); woken while one of those sleeps, it would only add a thread to the cores' load.
    std::size_t take_sleeper_locked() noexcept {
        std::size_t position = sleepers_.size() - 1;
        for (std::size_t i = sleepers_.size(); i-- > 0;) {
            if (sleepers_[i] < target_.load(std::memory_order_relaxed)) {  // after a resize, a heuristic
                position = i;
                break;
            }
        }
        const std::size_t sleeper = sleepers_[position];
        sleepers_[position] = sleepers_.back();
        sleepers_.pop_back();
        return sleeper;
    }

    atomic<std::uint32_t> target_;
    std::vector<parker> parkers_;
    alignas(cache_line) atomic<std::uint64_t> state_{0};
    alignas(cache_line) mutex sleepers_mutex_;
    std::vector<std::size_t> sleepers_;  // guarded by sleepers_mutex_
    bool closing_ = false;               // guarded by sleepers_mutex_
};

}  // namespace taskforge::detail
