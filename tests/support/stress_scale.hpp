// The volume of the stress suites: TASKFORGE_STRESS_SCALE (environment, a positive integer; default 1) multiplies
// their rounds.
#pragma once

#include <cstdlib>

inline int stress_scale() {
    const char* text = std::getenv("TASKFORGE_STRESS_SCALE");
    const int value = text != nullptr ? std::atoi(text) : 1;
    return value > 0 ? value : 1;
}
