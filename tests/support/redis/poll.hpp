// poll_until: a bounded wait for a condition (tests only; declared in server.hpp).
#pragma once

#include <chrono>
#include <thread>

namespace vkv_test::redis {

template <class F>
bool poll_until(std::chrono::milliseconds timeout, F&& condition, std::chrono::milliseconds every) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    bool held = false;
    try {
      held = condition();
    } catch (...) {
      held = false;
    }
    if (held) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(every);  // between polls of a condition with a deadline
  }
}

}  // namespace vkv_test::redis
