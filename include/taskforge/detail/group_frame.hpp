// taskforge/detail/group_frame.hpp — the frame of a task spawned into a task_group (see group_state.hpp).
#pragma once

#include <exception>
#include <new>
#include <stop_token>
#include <type_traits>
#include <utility>

#include "frame_pool.hpp"
#include "group_state.hpp"
#include "job.hpp"
#include "task_frame.hpp"
#include "task_probe.hpp"

namespace taskforge::detail {

// A task spawned into a group: no handle, no status word; its outcome goes to the group.
template <class Fn, class... Args>
class group_frame final : public job {
public:
    template <class F, class... A>
    static group_frame* create(group_state& group, F&& function, A&&... arguments) {
        void* memory = frame_cache::allocate(sizeof(group_frame), alignof(group_frame));
        try {
            return ::new (memory) group_frame(group, std::forward<F>(function), std::forward<A>(arguments)...);
        } catch (...) {
            frame_cache::deallocate(memory);
            throw;
        }
    }

    // Destroys a frame that was never submitted (the scheduler refused it).
    static void discard(group_frame* self) noexcept {
        self->call_.destroy();
        self->~group_frame();
        frame_cache::deallocate(self);
    }

private:
    template <class F, class... A>
    group_frame(group_state& group, F&& function, A&&... arguments)
        : job(&execute, &group), group_(&group), call_(std::forward<F>(function), std::forward<A>(arguments)...) {}

    static void execute(job* work) noexcept {
        auto* self = static_cast<group_frame*>(work);
        group_state& group = *self->group_;
        deferred_finishes::before_running(&group);  // [G4]
        if (group.cancellation.cancelled()) [[unlikely]] {
            skip(self, group);  // [K1] skipped once the group (or one it nests in) is cancelled
            return;
        }
        std::exception_ptr error;
        const running_group*& innermost = running_group::innermost();
        const running_group record{&group, innermost};
        innermost = &record;  // waiting.hpp [W5]: a wait on this group from in here is a cycle
        const task_probe probe;
        try {
            const enclosing_group inside(&group);  // [K2] groups made in here nest in this one
            if constexpr (std::is_invocable_v<Fn, std::stop_token, Args...>) {
                self->call_.invoke(group.cancellation.token());  // [K3]
            } else {
                self->call_.invoke();
            }
        } catch (...) {
            error = std::current_exception();
        }
        innermost = record.outer;
        probe.finish(trace_name_of(self->call_.function(), "group task"));
        discard(self);  // frame memory back before the group can be seen finished
        if (error) group.record(std::move(error));
        deferred_finishes::add(group);  // released by this worker soon [G4]
    }

    // A task of a cancelled group: no user code runs, so no probe (task_probe.hpp) and no exception to catch; it
    // still counts as finished.
    TASKFORGE_COLD static void skip(group_frame* self, group_state& group) noexcept {
        discard(self);
        deferred_finishes::add(group);  // [G4]
    }

    group_state* group_;
    invocation<Fn, Args...> call_;
};

}  // namespace taskforge::detail
