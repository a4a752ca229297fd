// A consumer's program: spawns a task and gets its result through the installed/fetched taskforge.
#include <cstdio>
#include <taskforge/taskforge.hpp>

int main() {
    taskforge::scheduler pool{taskforge::options{.threads = 2}};
    const int value = pool.spawn([](int a, int b) { return a * b; }, 6, 7).get();
    std::printf("consumer got %d\n", value);
    return value == 42 ? 0 : 1;
}
