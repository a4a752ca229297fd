// taskforge/task_group.hpp — fork-join without a handle per task.
//
//   taskforge::task_group group{pool};
//   for (auto& item : items) group.spawn(process, std::ref(item));
//   group.wait();   // helps on a worker; then rethrows the first exception, if any
//
// Contract
//   * spawn() is thread-safe: from the owner, from other threads, and from the group's own tasks, also while wait()
//     runs on another thread. It throws scheduler_closed (and runs nothing) after the pool's shutdown began, unless
//     called from one of the pool's running tasks.
//   * wait() returns when every task spawned into the group so far has finished; then it rethrows the first
//     exception a task threw (later ones are dropped) and the group is ready for reuse.
//   * The destructor waits if wait() was not called; an exception it would have rethrown goes to the pool's
//     options::on_unhandled_exception instead.
//   * wait() from inside one of the group's own tasks would wait for itself: don't.
#pragma once

#include <exception>
#include <type_traits>
#include <utility>

#include "detail/group_frame.hpp"
#include "detail/runtime.hpp"
#include "scheduler.hpp"

namespace taskforge {

class task_group {
public:
    explicit task_group(scheduler& pool) noexcept : pool_(pool) {}
    task_group(const task_group&) = delete;
    task_group& operator=(const task_group&) = delete;

    ~task_group() {
        try {
            wait();
        } catch (...) {
            pool_.report_unhandled(std::current_exception());
        }
    }

    template <class F, class... Args>
    requires std::is_invocable_v<std::decay_t<F>, std::decay_t<Args>...>
    void spawn(F&& function, Args&&... arguments) {
        using frame_type = detail::group_frame<std::decay_t<F>, std::decay_t<Args>...>;
        state_.add();
        frame_type* frame = nullptr;
        try {
            frame = frame_type::create(state_, std::forward<F>(function), std::forward<Args>(arguments)...);
            pool_.submit(frame);
        } catch (...) {
            if (frame != nullptr) frame_type::discard(frame);
            state_.finish();
            throw;
        }
    }

    void wait() {
        detail::wait_on_word(state_.word(), detail::group_state::waiting, &detail::group_state::no_tasks_left);
        state_.settle();
        if (std::exception_ptr error = state_.take_error()) std::rethrow_exception(std::move(error));
    }

private:
    scheduler& pool_;
    detail::group_state state_;
};

}  // namespace taskforge
