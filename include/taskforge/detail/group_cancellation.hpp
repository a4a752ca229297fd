// taskforge/detail/group_cancellation.hpp — task_group::cancel(): the flag its tasks check before they start, the
// stop source whose tokens its running tasks poll, and the link to the group whose task created it.
//
//   [K1] cancel() sets `cancelled_` for good (like a std::stop_source, a group stays cancelled); a task of the group
//        checks cancelled() before it starts and is skipped once it sees it set (it still counts as finished). The
//        flag publishes nothing, so reads may be relaxed: a task that starts just after cancel() may still run, as
//        one that started just before does.
//   [K2] A group made inside a task of another group — in the task's own code, or in a join half or loop piece
//        forked from it, wherever that runs (enclosing_group, group_state.hpp) — keeps a pointer to that group:
//        cancelled() is true when it or any group up the chain was cancelled, and its stop source (once made) is
//        stopped with the outer one's (a std::stop_callback on the outer token). The outer group lives at least as
//        long as the task that made the inner one, which must end before that task returns (task_group.hpp).
//        Plain tasks and continuations spawned from a group task are not inside it: they may outlive it.
//   [K3] The stop source is made on first use (a task that takes a std::stop_token), so groups whose tasks take
//        none allocate nothing. Its installer and cancel() form a store-buffering pair — the installer stores the
//        source then reads the flag, cancel() stores the flag then reads the source — so both sides use seq_cst:
//        at least one of them sees the other's store, and the stop request is never lost.
#pragma once

#include <optional>
#include <stop_token>

#include "platform.hpp"

namespace taskforge::detail {

class group_cancellation {
public:
    explicit group_cancellation(group_cancellation* outer = nullptr) noexcept : outer_(outer) {}
    group_cancellation(const group_cancellation&) = delete;
    group_cancellation& operator=(const group_cancellation&) = delete;
    ~group_cancellation() {  // the owner, after every task
        link_.reset();       // off the outer token before our source goes
        delete source_.load(std::memory_order_relaxed);
    }

    // Any thread [K1][K3].
    void cancel() noexcept {
        cancelled_.store(true, std::memory_order_seq_cst);
        if (std::stop_source* source = source_.load(std::memory_order_seq_cst)) source->request_stop();
    }

    // Any thread [K1][K2].
    bool cancelled() const noexcept {
        for (const group_cancellation* group = this; group != nullptr; group = group->outer_) {
            if (group->cancelled_.load(std::memory_order_relaxed)) return true;
        }
        return false;
    }

    // A task of the group that takes a stop token, before it runs [K3].
    std::stop_token token() {
        std::stop_source* source = source_.load(std::memory_order_acquire);  // pairs with the installing CAS
        if (source == nullptr) source = install();
        return source->get_token();
    }

private:
    std::stop_source* install() {
        auto* made = new std::stop_source();
        std::stop_source* expected = nullptr;
        // seq_cst [K3]; on failure acquire the winner's source (its construction happened-before its CAS).
        if (!source_.compare_exchange_strong(expected, made, std::memory_order_seq_cst, std::memory_order_acquire)) {
            delete made;
            return expected;
        }
        // [K2] stopped with the outer group: the callback runs at once if the outer stop came first. Only the
        // installer (the CAS winner) writes link_; the destructor resets it after every task.
        if (outer_ != nullptr) link_.emplace(outer_->token(), forward_stop{made});
        if (cancelled_.load(std::memory_order_seq_cst)) made->request_stop();  // [K3]: a cancel() that missed it
        return made;
    }

    struct forward_stop {
        std::stop_source* inner;
        void operator()() const noexcept { inner->request_stop(); }
    };

    group_cancellation* const outer_;
    atomic<bool> cancelled_{false};
    atomic<std::stop_source*> source_{nullptr};
    std::optional<std::stop_callback<forward_stop>> link_;
};

}  // namespace taskforge::detail
