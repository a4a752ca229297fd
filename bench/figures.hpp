// bench/figures.hpp — figures measured outside Google Benchmark (W4, W5, W6).
#pragma once

#include <string>
#include <vector>

namespace bench {

struct figure {
    std::string workload;
    std::string contender;
    std::string metric;
    double value;
};

std::vector<figure> measure_figures();

}  // namespace bench
