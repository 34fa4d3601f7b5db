// Links against the installed vkv and checks one optimistic write cycle.
#include <cstdio>
#include <string>
#include <vkv/vkv.hpp>

int main() {
  vkv::Store<std::string> store(vkv::StoreOptions{.entity_type = "Note"});
  const auto created = store.create("n-1", "draft");
  const auto updated = store.update_with_version("n-1", created.version, "final");
  auto stale = store.try_update_with_version("n-1", created.version, "lost");
  const bool ok = updated.revision == 2 && !stale && stale.error() == vkv::Errc::conflict &&
                  store.find("n-1")->value == "final";
  std::puts(ok ? "vkv install test: ok" : "vkv install test: FAILED");
  return ok ? 0 : 1;
}
