// Must NOT compile, and the first error must name the fix (issue 16, point 9): f takes std::vector<int>&, and
// spawn passes a copy of `values`, as std::thread does.
#include <taskforge/taskforge.hpp>
#include <vector>

void fill(std::vector<int>& values) { values.assign(3, 7); }

int main() {
    taskforge::scheduler pool{taskforge::options{.threads = 1}};
    std::vector<int> values;
#if defined(TASKFORGE_FAIL_CASE_GROUP)
    taskforge::task_group group{pool};
    group.spawn(fill, values);
#elif defined(TASKFORGE_FAIL_CASE_FREE)
    (void)taskforge::spawn(fill, values);
#else
    (void)pool.spawn(fill, values);
#endif
    return 0;
}
