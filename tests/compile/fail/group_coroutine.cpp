// Must NOT compile: a task_group would drop a coroutine function's lazy task, so it would never run (issue 15).
#include <taskforge/taskforge.hpp>

taskforge::task<int> answer() { co_return 42; }

int main() {
    taskforge::scheduler pool{taskforge::options{.threads = 1}};
    taskforge::task_group group{pool};
    group.spawn(answer);
    group.wait();
    return 0;
}
