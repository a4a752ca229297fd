// Must NOT compile: this_task::stop_token() in a coroutine that is not a taskforge::task<T> has no task to ask
// (issue 15).
#include <coroutine>
#include <taskforge/taskforge.hpp>

struct fire_and_forget {
    struct promise_type {
        fire_and_forget get_return_object() noexcept { return {}; }
        std::suspend_never initial_suspend() const noexcept { return {}; }
        std::suspend_never final_suspend() const noexcept { return {}; }
        void return_void() const noexcept {}
        void unhandled_exception() const noexcept {}
    };
};

fire_and_forget not_a_task() { (void)co_await taskforge::this_task::stop_token(); }

int main() {
    not_a_task();
    return 0;
}
