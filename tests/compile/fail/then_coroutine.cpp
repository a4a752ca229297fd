// Must NOT compile: then() and parallel_invoke would drop a coroutine function's lazy task unstarted (issue 15).
#include <taskforge/taskforge.hpp>

taskforge::task<int> answer() { co_return 42; }

int main() {
    taskforge::scheduler pool{taskforge::options{.threads = 1}};
#if defined(TASKFORGE_FAIL_CASE_PARALLEL_INVOKE)
    pool.parallel_invoke(answer, answer);
#else
    auto next = pool.spawn([] { return 1; }).then([](int) { return answer(); });
    (void)next;
#endif
    return 0;
}
