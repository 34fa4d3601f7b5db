// Store::visit: the zero-copy read. It sees exactly what find() sees, calls f once or
// not at all, hands out references to the stored record, and lets f call back in.
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

#include "vkv/vkv.hpp"

namespace {

struct Item {
  std::string name;
  long amount = 0;
};

TEST(Visit, CallsOnceWithTheRecordAsFindSeesIt) {
  vkv::Store<Item> store;
  const auto made = store.create("a", {"apple", 3});
  int calls = 0;
  const bool found = store.visit("a", [&](const vkv::RecordView<Item>& view) {
    ++calls;
    EXPECT_EQ(view.id, "a");
    EXPECT_EQ(view.value.name, "apple");
    EXPECT_EQ(view.value.amount, 3);
    EXPECT_EQ(view.version, made.version);
    EXPECT_EQ(view.revision, 1u);
    EXPECT_FALSE(view.deleted);
    EXPECT_FALSE(view.expires_at.has_value());
  });
  EXPECT_TRUE(found);
  EXPECT_EQ(calls, 1);
}

TEST(Visit, MissesWithoutCallingForAbsentErasedAndSoftDeleted) {
  vkv::Store<Item> store;
  int calls = 0;
  auto count = [&](const auto&) { ++calls; };
  EXPECT_FALSE(store.visit("none", count));
  const auto a = store.create("a", {"a", 1});
  store.erase("a", a.version);
  EXPECT_FALSE(store.visit("a", count));
  const auto b = store.create("b", {"b", 2});
  const auto deleted = store.soft_delete("b", b.version);
  EXPECT_FALSE(store.visit("b", count));
  EXPECT_EQ(calls, 0);
  // Included on request, as find() does.
  EXPECT_TRUE(store.visit(
      "b",
      [&](const vkv::RecordView<Item>& view) {
        ++calls;
        EXPECT_TRUE(view.deleted);
        EXPECT_EQ(view.version, deleted.version);
      },
      vkv::ReadOptions{.include_soft_deleted = true}));
  EXPECT_EQ(calls, 1);
}

TEST(Visit, HandsOutTheStoredValueNotACopy) {
  vkv::Store<Item> store;
  store.create("a", {"apple", 3});
  const Item* first = nullptr;
  const Item* second = nullptr;
  store.visit("a", [&](const vkv::RecordView<Item>& view) { first = &view.value; });
  store.visit("a", [&](const vkv::RecordView<Item>& view) { second = &view.value; });
  EXPECT_EQ(first, second);  // the same node, since nothing wrote in between
}

TEST(Visit, CallbackMayWriteTheSameKeyAndSeesTheStateItWasCalledWith) {
  vkv::Store<Item> store;
  const auto made = store.create("a", {"apple", 3});
  vkv::Version written;
  store.visit("a", [&](const vkv::RecordView<Item>& view) {
    written = store.update_with_version("a", view.version, {"apricot", 4}).version;
    // The view still shows the state it was called with: nodes are immutable and
    // this one is protected until the call returns.
    EXPECT_EQ(view.value.name, "apple");
    EXPECT_EQ(view.version, made.version);
  });
  const auto now = store.find("a");
  ASSERT_TRUE(now);
  EXPECT_EQ(now->version, written);
  EXPECT_EQ(now->value.name, "apricot");
}

TEST(Visit, ThrowingCallbackPropagatesAndChangesNothing) {
  vkv::Store<Item> store;
  const auto made = store.create("a", {"apple", 3});
  EXPECT_THROW(store.visit("a", [](const auto&) { throw std::runtime_error("boom"); }),
               std::runtime_error);
  const auto now = store.find("a");
  ASSERT_TRUE(now);
  EXPECT_EQ(now->version, made.version);
  EXPECT_EQ(store.stats().writes, 0u);
}

TEST(Visit, CountsAsARead) {
  vkv::Store<Item> store;
  store.create("a", {"apple", 3});
  store.visit("a", [](const auto&) {});
  store.visit("missing", [](const auto&) {});
  EXPECT_EQ(store.stats().reads, 2u);
}

TEST(Visit, WorksWithIntegerKeys) {
  vkv::Store<int, int> store;
  for (int i = 0; i < 1000; ++i) store.create(i, i * 2);
  long sum = 0;
  for (int i = 0; i < 1000; ++i) {
    EXPECT_TRUE(store.visit(i, [&](const vkv::RecordView<int, int>& view) { sum += view.value; }));
  }
  EXPECT_EQ(sum, 999L * 1000L);
}

}  // namespace
