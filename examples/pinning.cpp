// Placement hooks: pin worker i to CPU i % (CPUs this process may use) and name it "taskforge-i", so `top -H`,
// debuggers and the pool's trace tracks show which worker is which. Every task then checks it runs on its worker's
// CPU. (With no CPU restrictions, "the i-th CPU this process may use" is CPU i % hardware_concurrency().)
//
//   example_pinning [trace.json]    also writes a trace whose tracks carry the thread names
#include <cstdio>
#include <fstream>
#include <string>
#include <system_error>
#include <taskforge/taskforge.hpp>
#include <vector>

#if defined(__linux__)
#include <pthread.h>
#include <sched.h>

#include <atomic>

namespace {

// The CPUs this process may run on, in order.
std::vector<int> allowed_cpus() {
    cpu_set_t set;
    CPU_ZERO(&set);
    std::vector<int> cpus;
    if (sched_getaffinity(0, sizeof set, &set) != 0) return cpus;
    for (std::size_t cpu = 0; cpu < static_cast<std::size_t>(CPU_SETSIZE); ++cpu) {
        if (CPU_ISSET(cpu, &set)) cpus.push_back(static_cast<int>(cpu));
    }
    return cpus;
}

thread_local int pinned_cpu = -1;  // set by the start hook on the pool's threads; -1 elsewhere (e.g. main)

void pin_and_name(const std::vector<int>& cpus, std::size_t index) {
    const int cpu = cpus[index % cpus.size()];
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(static_cast<std::size_t>(cpu), &set);
    if (const int error = pthread_setaffinity_np(pthread_self(), sizeof set, &set); error != 0) {
        throw std::system_error(error, std::generic_category(), "pthread_setaffinity_np");  // reported, not fatal
    }
    pinned_cpu = cpu;
    const std::string name = "taskforge-" + std::to_string(index);  // at most 15 characters on Linux
    pthread_setname_np(pthread_self(), name.c_str());
}

}  // namespace

int main(int argc, char** argv) {
    const std::vector<int> cpus = allowed_cpus();
    if (cpus.empty()) {
        std::puts("no CPU affinity information: nothing to pin");
        return 0;
    }
    taskforge::options settings{.threads = cpus.size()};
    settings.on_worker_start = [&cpus](std::size_t index) { pin_and_name(cpus, index); };
    settings.on_worker_stop = [](std::size_t index) { std::printf("worker %zu stopped\n", index); };
    taskforge::scheduler pool{settings};
    if (argc > 1) pool.start_trace();

    std::atomic<long> checked{0};
    std::atomic<long> misplaced{0};
    taskforge::parallel_for(pool, 0, 200'000, [&](int i) {
        volatile int sink = i;  // a little work per iteration
        (void)sink;
        if (pinned_cpu < 0) return;  // the calling thread helping as a guest: not one of the pinned workers
        checked.fetch_add(1, std::memory_order_relaxed);
        if (sched_getcpu() != pinned_cpu) misplaced.fetch_add(1, std::memory_order_relaxed);
    });

    if (argc > 1) {
        std::ofstream out(argv[1]);
        pool.stop_trace(out);
    }
    std::printf("%zu workers pinned to CPUs", cpus.size());
    for (int cpu : cpus) std::printf(" %d", cpu);
    std::printf("; %ld iterations checked on pinned workers, %ld on another CPU\n", checked.load(), misplaced.load());
    return misplaced.load() == 0 ? 0 : 1;
}

#else

int main() {
    std::puts("pinning needs Linux (pthread_setaffinity_np)");
    return 0;
}

#endif
