// Links against the installed vkv::redis: the package config found hiredis by itself.
// Needs no server: a malformed URI is refused by the constructor, and a store pointed
// at a port nobody listens on reports Errc::unavailable (nothing applied).
#include <cstdio>
#include <stdexcept>
#include <string>
#include <vkv/redis.hpp>

int main() {
  bool refused = false;
  try {
    vkv::redis::Store<std::string> bad(vkv::redis::Options{.nodes = {"http://nowhere"}});
  } catch (const std::invalid_argument&) {
    refused = true;
  }
  vkv::redis::Options options;
  options.nodes = {"redis://127.0.0.1:1"};  // port 1: nothing listens there
  options.connect_timeout = std::chrono::milliseconds(200);
  vkv::redis::Store<std::string> store(options);
  const auto created = store.try_create("n-1", "draft");
  const bool ok = refused && !created && created.error() == vkv::Errc::unavailable;
  std::puts(ok ? "vkv::redis install test: ok" : "vkv::redis install test: FAILED");
  return ok ? 0 : 1;
}
