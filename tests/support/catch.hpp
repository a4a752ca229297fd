// Catch2 v2 (Debian 12 ships 2.13) and v3 spell their headers differently; tests include this instead.
#pragma once
#if defined(TASKFORGE_CATCH2_V3)
#include <catch2/catch_all.hpp>
#else
#include <catch2/catch.hpp>
#endif
