// The README's quick-start snippet, built and run by CI.
#include <cstdio>
#include <taskforge/taskforge.hpp>
#include <vector>

int main() {
    taskforge::scheduler pool{taskforge::options{.threads = 4}};

    auto answer = pool.spawn([](int a, int b) { return a + b; }, 40, 2);  // task_handle<int>
    std::printf("answer = %d\n", answer.get());

    std::vector<int> items(1000, 1);
    taskforge::task_group group{pool};
    for (int& item : items) group.spawn([](int& value) { value *= 2; }, std::ref(item));
    group.wait();  // rethrows the first exception of the group, if any
    std::printf("items[0] = %d\n", items[0]);

    auto failing = pool.spawn([]() -> int { throw std::runtime_error("task failed"); });
    try {
        failing.get();
    } catch (const std::exception& error) {
        std::printf("caught: %s\n", error.what());
    }
    return answer.valid() ? 1 : 0;  // get() consumed the handle
}
