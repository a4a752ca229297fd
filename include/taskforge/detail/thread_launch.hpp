// taskforge/detail/thread_launch.hpp — starting a worker thread with a stack of a chosen size.
//
// std::thread cannot set a stack size, and help-while-wait nests task frames on a worker's stack (runtime.hpp), so
// on POSIX systems workers are pthreads with `stack_size` bytes of stack (reserved address space: pages are only
// committed when touched). Elsewhere std::thread is used and the size is ignored.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <system_error>
#include <thread>
#include <utility>

#if defined(__unix__) || defined(__APPLE__)
#include <pthread.h>
#include <unistd.h>

#include <climits>
#define TASKFORGE_HAS_PTHREAD 1
#endif

namespace taskforge::detail {

#if defined(TASKFORGE_HAS_PTHREAD)

// The smallest stack a thread may be given here (options::stack_size below it is refused).
inline std::size_t minimum_stack_size() noexcept {
    const long reported = sysconf(_SC_THREAD_STACK_MIN);
    return reported > 0 ? static_cast<std::size_t>(reported) : static_cast<std::size_t>(PTHREAD_STACK_MIN);
}

class launched_thread {
public:
    launched_thread() noexcept = default;
    launched_thread(launched_thread&& other) noexcept
        : handle_(other.handle_), joinable_(std::exchange(other.joinable_, false)) {}
    launched_thread& operator=(launched_thread&& other) noexcept {
        if (joinable_) std::terminate();  // like std::thread: a running thread's handle is never dropped
        handle_ = other.handle_;
        joinable_ = std::exchange(other.joinable_, false);
        return *this;
    }
    launched_thread(const launched_thread&) = delete;
    ~launched_thread() {
        if (joinable_) std::terminate();  // like std::thread: a worker must be joined
    }

    template <class Body>
    static launched_thread start(std::size_t stack_size, Body body) {
        auto owned = std::make_unique<std::function<void()>>(std::move(body));
        pthread_attr_t attributes;
        pthread_attr_init(&attributes);
        if (stack_size != 0) pthread_attr_setstacksize(&attributes, stack_size);
        launched_thread thread;
        const int error = pthread_create(&thread.handle_, &attributes, &entry, owned.get());
        pthread_attr_destroy(&attributes);
        if (error != 0) {
            // The stack is reserved address space: limits on it (ulimit -v, container limits) count it whole.
            throw std::system_error(error, std::generic_category(),
                                    "taskforge: cannot start a worker thread with a stack of " +
                                        std::to_string(stack_size >> 20) +
                                        " MiB of address space; lower options::stack_size (or options::threads), "
                                        "or raise the address-space limit (ulimit -v)");
        }
        owned.release();  // the thread owns it now
        thread.joinable_ = true;
        return thread;
    }

    bool joinable() const noexcept { return joinable_; }
    void join() {
        pthread_join(handle_, nullptr);
        joinable_ = false;
    }

private:
    static void* entry(void* argument) {
        std::unique_ptr<std::function<void()>> body(static_cast<std::function<void()>*>(argument));
        (*body)();
        return nullptr;
    }

    pthread_t handle_{};
    bool joinable_ = false;
};

template <class Body>
launched_thread launch_thread(std::size_t stack_size, Body body) {
    return launched_thread::start(stack_size, std::move(body));
}

// The calling thread's name as the system keeps it (what `top -H` shows); empty where it cannot be read.
inline std::string this_thread_name() {
    char name[64] = {};
    if (pthread_getname_np(pthread_self(), name, sizeof name) != 0) return {};
    return name;
}

#else

using launched_thread = std::thread;

inline std::size_t minimum_stack_size() noexcept { return 0; }

template <class Body>
launched_thread launch_thread(std::size_t, Body body) {
    return std::thread(std::move(body));
}

inline std::string this_thread_name() { return {}; }

#endif

}  // namespace taskforge::detail
