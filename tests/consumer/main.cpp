// A consumer's program: spawns a task and gets its result through the installed/fetched taskforge.
#include <cstdio>
#include <taskforge/taskforge.hpp>
#include <taskforge/version.hpp>  // generated from project(VERSION): present in every way of consuming taskforge

static_assert(TASKFORGE_VERSION >= 100, "taskforge 0.1.0 or later");
static_assert(taskforge::version_major == TASKFORGE_VERSION_MAJOR);

int main() {
    taskforge::scheduler pool{taskforge::options{.threads = 2}};
    const int value = pool.spawn([](int a, int b) { return a * b; }, 6, 7).get();
    std::printf("consumer of taskforge %s got %d\n", TASKFORGE_VERSION_STRING, value);
    return value == 42 ? 0 : 1;
}
