// The injection queue as the worker loop's exit test and shutdown() see it (detail/injection_queue.hpp), for the
// models of protocols built on it (guest_model.cpp, resize_model.cpp): a count of queued jobs and a `closed` bit in
// one word, with the real queue's orderings where they matter — close and requeue are seq_cst RMWs on that word,
// and readers acquire it. Include after the Relacy-compiled taskforge headers.
#pragma once

namespace taskforge_model {

struct queue_model {
    static constexpr int closed = 1 << 20;
    taskforge::detail::atomic<int> word{0};

    void requeue() { word.fetch_add(1, std::memory_order_seq_cst); }  // accepted work: ignores `closed`
    void close() { word.fetch_or(closed, std::memory_order_seq_cst); }
    bool is_closed() const { return (word.load(std::memory_order_acquire) & closed) != 0; }
    bool maybe_nonempty() const { return (word.load(std::memory_order_acquire) & ~closed) != 0; }
    bool try_take() {
        int value = word.load(std::memory_order_acquire);
        while ((value & ~closed) != 0) {
            if (word.compare_exchange_weak(value, value - 1, std::memory_order_acq_rel, std::memory_order_acquire)) {
                return true;
            }
        }
        return false;
    }
};

}  // namespace taskforge_model
