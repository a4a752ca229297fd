// The README's first example, built and run by CI (tests/readme_example.cmake checks they are the same code).
#include <cstdio>
#include <taskforge/taskforge.hpp>

int main() {
    taskforge::scheduler pool{taskforge::options{.threads = 4}};
    auto answer = pool.spawn([](int a, int b) { return a + b; }, 40, 2);  // task_handle<int>

    int squares[100];
    taskforge::task_group group{pool};
    for (int i = 0; i < 100; ++i) group.spawn([&squares, i] { squares[i] = i * i; });
    group.wait();  // rethrows the first exception a task threw, if any

    const int value = answer.get();  // the value, or the task's exception rethrown
    std::printf("answer = %d, squares[99] = %d\n", value, squares[99]);
    return value == 42 && squares[99] == 9801 ? 0 : 1;
}
