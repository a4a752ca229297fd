// Which sanitizer this test binary runs under: g++ defines __SANITIZE_*__, clang answers __has_feature.
#pragma once

#if defined(__SANITIZE_THREAD__)
#define TASKFORGE_TEST_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define TASKFORGE_TEST_TSAN 1
#endif
#endif
#ifndef TASKFORGE_TEST_TSAN
#define TASKFORGE_TEST_TSAN 0
#endif

#if defined(__SANITIZE_ADDRESS__)
#define TASKFORGE_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TASKFORGE_TEST_ASAN 1
#endif
#endif
#ifndef TASKFORGE_TEST_ASAN
#define TASKFORGE_TEST_ASAN 0
#endif
