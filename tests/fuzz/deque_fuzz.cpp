// libFuzzer target: random push/pop/steal sequences on one thread, checked against std::deque as the reference.
// Each input byte is one operation: 0-1 push (value = running counter), 2 pop, 3 steal; the upper bits of a
// push byte repeat it (bursts make the deque grow). Initial capacity comes from the first byte.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <taskforge/deque.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const std::int64_t capacity = std::int64_t{1} << (data[0] % 6);
    taskforge::chase_lev_deque<std::uint64_t> deque(capacity);
    std::deque<std::uint64_t> reference;
    std::uint64_t counter = 0;
    for (std::size_t i = 1; i < size; ++i) {
        const unsigned operation = data[i] & 3U;
        const unsigned repeat = (data[i] >> 2U) + 1U;
        if (operation <= 1) {
            for (unsigned r = 0; r < repeat; ++r) {
                deque.push(counter);
                reference.push_back(counter++);
            }
        } else if (operation == 2) {
            const auto item = deque.pop();
            if (reference.empty() != !item.has_value()) std::abort();
            if (item) {
                if (*item != reference.back()) std::abort();
                reference.pop_back();
            }
        } else {
            const auto item = deque.steal();  // single thread: a steal can never lose a race
            if (reference.empty() != !item.has_value()) std::abort();
            if (item) {
                if (*item != reference.front()) std::abort();
                reference.pop_front();
            }
        }
        if (deque.size() != static_cast<std::int64_t>(reference.size())) std::abort();
    }
    return 0;
}
