// Deterministic tests of the lock-free commit protocol itself
// (detail/transaction_descriptor.hpp, docs/commits.md): the test plays a committing
// owner that stalls after its first install, and a writer on another thread meets the
// installed entry. The writer must finish the commit (help it), not abort it: decide
// success when every record still holds, and failure only on a real change, including
// the slot hazard's case, where the not-yet-installed key was erased and its index
// entry dropped before the helper came (the helper must look the key up, never use
// the owner's slot pointer).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <string>
#include <thread>
#include <vector>
#include <vkv/detail/epoch.hpp>
#include <vkv/vkv.hpp>

namespace {

using Node = vkv::detail::Node<int>;
using Slot = vkv::detail::RecordSlot<int>;
using Index = vkv::detail::ShardedIndex<std::string, Slot, std::hash<std::string>,
                                        std::equal_to<std::string>>;
using Descriptor = vkv::detail::KeyedTxDescriptor<int, std::string, Index>;
using vkv::detail::TxStatus;

Node* make_node(int value) { return new Node{value, vkv::detail::next_version(), 1, 0}; }

// Two records "a" and "b", and a commit of updates to both whose owner has installed
// its first entry (in slot order) and stalled.
class StalledOwner : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(vkv::detail::epoch::drain(), 0u);
    vkv::detail::epoch::Guard guard;
    for (const std::string& id : {std::string("a"), std::string("b")}) {
      vkv::detail::epoch::reserve(2);
      Node* existing = nullptr;
      Node* node = make_node(1);
      ASSERT_EQ(index_.insert_or_revive(index_.hashed(id), node, existing),
                Index::InsertOutcome::inserted);
    }
    // The owner: read both, build the descriptor in slot order, install the first.
    std::vector<std::string> ids{"a", "b"};
    std::vector<const Slot*> slots;
    for (const auto& id : ids) slots.push_back(index_.find(index_.hashed(id)));
    if (std::less<const Slot*>()(slots[1], slots[0])) {
      std::swap(slots[0], slots[1]);
      std::swap(ids[0], ids[1]);
    }
    descriptor_ = new Descriptor(2, index_);
    for (std::size_t j = 0; j < 2; ++j) {
      vkv::detail::TxEntry<int>& entry = descriptor_->entries[j];
      entry.expected = slots[j]->load();
      entry.expected_version = entry.expected->version;
      entry.desired = make_node(2);
      descriptor_->keys.push_back(ids[j]);
      owner_slots_[j] = slots[j];
      expected_[j] = entry.expected;
      desired_[j] = entry.desired;
    }
    std::uintptr_t seen = vkv::detail::node_word(expected_[0]);
    ASSERT_TRUE(owner_slots_[0]->word.compare_exchange_strong(
        seen, vkv::detail::entry_word(&descriptor_->entries[0])));
    second_id_ = descriptor_->keys[1];
  }

  // A writer on another thread meets the entry in the first slot (load_for_write, as
  // every write does) and returns the node it then sees there; counts its helps.
  Node* writer_meets_first_entry(std::uint64_t& helps) {
    Node* seen = nullptr;
    std::thread([&] {
      vkv::detail::epoch::Guard guard;
      const std::uint64_t before = vkv::detail::tx_probe.helps;
      const Slot* slot = index_.find(index_.hashed(descriptor_->keys[0]));
      seen = slot->load_for_write();
      helps = vkv::detail::tx_probe.helps - before;
    }).join();
    return seen;
  }

  // The owner wakes up: finishes as Store::commit_attempt does, and returns the decision.
  // `second_gone`: the second slot's memory was freed, which only happens once the
  // owner has left its Guard; then the owner must not touch it either.
  TxStatus owner_resumes(bool second_gone = false) {
    vkv::detail::epoch::Guard guard;
    vkv::detail::epoch::reserve(3);
    const TxStatus status = vkv::detail::run_commit(
        *descriptor_, [&](std::size_t j) { return owner_slots_[j]; }, true, 3);
    for (std::size_t j = 0; j < (second_gone ? 1u : 2u); ++j) {
      vkv::detail::release_entry(*owner_slots_[j], descriptor_->entries[j], status);
    }
    for (std::size_t j = 0; j < 2; ++j) {
      if (status == TxStatus::succeeded) {
        vkv::detail::epoch::retire(expected_[j]);
      } else {
        delete desired_[j];  // never reachable: readers take desired only on success
      }
    }
    vkv::detail::drop_reference<int>(*descriptor_);
    return status;
  }

  void TearDown() override {
    {
      vkv::detail::epoch::Guard guard;
      for (const std::string& id : {std::string("a"), std::string("b")}) {
        const Slot* slot = index_.find(index_.hashed(id));
        if (slot != nullptr) delete slot->load();
      }
    }
    EXPECT_EQ(vkv::detail::epoch::drain(), 0u);
  }

  Index index_{4};
  Descriptor* descriptor_ = nullptr;
  const Slot* owner_slots_[2] = {};
  Node* expected_[2] = {};
  Node* desired_[2] = {};
  std::string second_id_;
};

TEST_F(StalledOwner, AWriterThatMeetsTheCommitFinishesIt) {
  std::uint64_t helps = 0;
  // The writer installs the second entry, decides success and sees the new value.
  EXPECT_EQ(writer_meets_first_entry(helps), desired_[0]);
  EXPECT_EQ(helps, 1u);
  EXPECT_EQ(descriptor_->status.load(), TxStatus::succeeded);
  {
    vkv::detail::epoch::Guard guard;
    // Readers see the commit whole before the owner wakes.
    EXPECT_EQ(index_.find(index_.hashed(second_id_))->load(), desired_[1]);
  }
  EXPECT_EQ(owner_resumes(), TxStatus::succeeded);
  vkv::detail::epoch::Guard guard;
  EXPECT_EQ(owner_slots_[1]->word.load(), vkv::detail::node_word(desired_[1]));
}

TEST_F(StalledOwner, AWriterDecidesFailureOnlyOnARealChange) {
  Node* replacement = make_node(7);
  {
    // A plain write lands on the second record before anyone installs there.
    vkv::detail::epoch::Guard guard;
    vkv::detail::epoch::reserve(1);
    std::uintptr_t observed;
    ASSERT_TRUE(owner_slots_[1]->install(expected_[1], replacement, observed));
    vkv::detail::epoch::retire(expected_[1]);
  }
  std::uint64_t helps = 0;
  EXPECT_EQ(writer_meets_first_entry(helps), expected_[0]);  // the first record as it was
  EXPECT_EQ(helps, 1u);
  EXPECT_EQ(descriptor_->status.load(), TxStatus::failed);
  expected_[1] = nullptr;  // retired above; owner_resumes() retires nothing on failure
  EXPECT_EQ(owner_resumes(), TxStatus::failed);
  vkv::detail::epoch::Guard guard;
  EXPECT_EQ(owner_slots_[0]->load(), expected_[0]);
  EXPECT_EQ(owner_slots_[1]->load(), replacement);
}

TEST_F(StalledOwner, AHelperLooksKeysUpAndFailsOnAnErasedOne) {
  {
    // The second record is erased and its index entry dropped (its node is retired
    // through the epoch scheme): the owner's pointer to that slot is stale for anyone
    // whose Guard begins later.
    vkv::detail::epoch::Guard guard;
    vkv::detail::epoch::reserve(2);
    std::uintptr_t observed;
    ASSERT_TRUE(owner_slots_[1]->install(expected_[1], nullptr, observed));
    vkv::detail::epoch::retire(expected_[1]);
    index_.remove_if_erased(index_.hashed(second_id_), owner_slots_[1]);
    ASSERT_EQ(index_.find(index_.hashed(second_id_)), nullptr);
  }
  // Nobody is inside a Guard: the slot's index node is freed now, so a helper that
  // used the owner's pointer to it would read freed memory (ASan reports it).
  EXPECT_EQ(vkv::detail::epoch::drain(), 0u);
  std::uint64_t helps = 0;
  EXPECT_EQ(writer_meets_first_entry(helps), expected_[0]);
  EXPECT_EQ(helps, 1u);
  EXPECT_EQ(descriptor_->status.load(), TxStatus::failed);
  expected_[1] = nullptr;
  EXPECT_EQ(owner_resumes(/*second_gone=*/true), TxStatus::failed);
  vkv::detail::epoch::Guard guard;
  EXPECT_EQ(owner_slots_[0]->load(), expected_[0]);
}

}  // namespace
