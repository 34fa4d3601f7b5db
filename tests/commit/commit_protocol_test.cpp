// Deterministic tests of the lock-free commit protocol itself
// (detail/transaction_descriptor.hpp, docs/commits.md): the test plays a committing
// owner that stalls after its first install, and a writer on another thread meets the
// installed entry. The writer must finish the commit (help it), not abort it: decide
// success when every record still holds, and failure only on a real change, including
// the slot hazard's case, where the not-yet-installed key was erased and its index
// entry dropped before the helper came (the helper must look the key up, never use
// the owner's slot pointer).
//
// The second half drives the real Store::commit through the protocol's preemption
// points (detail::CommitPoint): an owner parked after all installs, after its decision
// or before an install, a helper whose install lands after the decision, and two
// levels of nested helping; each with the outcomes and the final store checked.
#define VKV_TESTING_COMMIT_HOOKS  // before any vkv header: compiles the hook in
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <string>
#include <thread>
#include <vector>
#include <vkv/detail/epoch.hpp>
#include <vkv/vkv.hpp>

#include "support/commit_hook.hpp"

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
      entry.slot = slots[j];
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

// --- The real Store::commit, parked at its preemption points ---------------------

using StringStore = vkv::Store<std::string>;
using Tx = vkv::Transaction<std::string>;
using Parker = vkv_test::CommitParker<std::string>;
using vkv::detail::CommitPoint;

std::string text(const std::string& who, int n) {
  return who + " wrote " + std::to_string(n) + ", a value long enough to own heap memory";
}

class PreemptedCommit : public ::testing::Test {
 protected:
  // `count` records with keys of 36 (a UUID) and 120 characters, named in install order
  // (ascending slot address) in ids_.
  void make_records(std::size_t count) {
    std::vector<std::pair<std::uintptr_t, std::string>> by_address;
    for (std::size_t i = 0; i < count; ++i) {
      std::string id = i % 2 == 0 ? "6f1c2a3e-5b7d-4e9f-8a1b-" : std::string(96, 'p');
      id += "c0ffee" + std::to_string(100000 + i);
      store_.create(id, text("setup", static_cast<int>(i)));
      by_address.emplace_back(vkv_test::slot_address(store_, id), id);
      ASSERT_NE(by_address.back().first, 0u);
    }
    std::sort(by_address.begin(), by_address.end());
    for (const auto& [address, id] : by_address) {
      ids_.push_back(id);
      slots_.push_back(reinterpret_cast<const vkv::detail::RecordSlot<std::string>*>(address));
      versions_.push_back(store_.find(id)->version);
      values_.push_back(store_.find(id)->value);
    }
  }
  // Runs f on a new thread that parks at parker's point.
  template <class F>
  static std::thread parked(Parker& parker, F f) {
    return std::thread([&parker, f] {
      parker.arm();
      f();
      Parker::disarm();
    });
  }
  std::string value_of(std::size_t i) { return store_.find(ids_[i])->value; }
  std::uint64_t revision_of(std::size_t i) { return store_.find(ids_[i])->revision; }
  // Whether record i's slot holds a commit's entry word (its key must not have been
  // erased since make_records, so the slot is still the one found there).
  bool holds_entry(std::size_t i) {
    vkv::detail::epoch::Guard guard;
    return vkv::detail::is_entry_word(slots_[i]->word.load(std::memory_order_acquire));
  }
  void TearDown() override { EXPECT_EQ(vkv::detail::epoch::drain(), 0u); }

  StringStore store_;
  std::vector<std::string> ids_;
  std::vector<const vkv::detail::RecordSlot<std::string>*> slots_;
  std::vector<vkv::Version> versions_;
  std::vector<std::string> values_;
};

TEST_F(PreemptedCommit, AfterItsInstallsAWriterFinishesTheCommitAndLosesToIt) {
  make_records(2);
  Parker owner(CommitPoint::all_installed, 2);
  bool committed = false;
  std::thread a = parked(owner, [&] {
    Tx tx;
    tx.update(ids_[1], versions_[1], text("A", 1)).update(ids_[0], versions_[0], text("A", 0));
    committed = store_.try_commit(tx).ok();
  });
  owner.wait_parked();
  // Undecided: readers see the records as they were, without waiting.
  EXPECT_EQ(value_of(0), values_[0]);
  EXPECT_EQ(value_of(1), values_[1]);
  // A writer that read the old version meets the entry, finishes the commit (success:
  // every entry is in) and then loses to it.
  const std::uint64_t helps = vkv::detail::tx_probe.helps;
  auto lost = store_.try_update_with_version(ids_[1], versions_[1], text("W", 1));
  EXPECT_EQ(vkv::detail::tx_probe.helps - helps, 1u);
  ASSERT_FALSE(lost.ok());
  EXPECT_EQ(lost.error(), vkv::Errc::conflict);
  owner.release();
  a.join();
  EXPECT_TRUE(committed);  // its own deciding CAS found the decision made
  EXPECT_EQ(value_of(0), text("A", 0));
  EXPECT_EQ(value_of(1), text("A", 1));
  EXPECT_EQ(revision_of(0), 2u);
  EXPECT_EQ(revision_of(1), 2u);
}

TEST_F(PreemptedCommit, AfterItsDecisionWritersReplaceItsEntriesAndARevivalSurvives) {
  make_records(3);
  Parker owner(CommitPoint::decided, 3);
  bool committed = false;
  std::thread a = parked(owner, [&] {
    Tx tx;
    tx.update(ids_[0], versions_[0], text("A", 0))
        .erase(ids_[1], versions_[1])
        .check(ids_[2], versions_[2]);
    committed = store_.try_commit(tx).ok();
  });
  owner.wait_parked();
  // Decided, entries still in their slots: reads see the commit, writers resolve the
  // entries without helping (nothing to help) and write over them.
  EXPECT_TRUE(holds_entry(0) && holds_entry(1) && holds_entry(2));
  const std::uint64_t helps = vkv::detail::tx_probe.helps;
  const auto updated = store_.find(ids_[0]);
  ASSERT_TRUE(updated);
  EXPECT_EQ(updated->value, text("A", 0));
  EXPECT_FALSE(store_.find(ids_[1]));
  EXPECT_TRUE(store_.try_update_with_version(ids_[0], updated->version, text("W", 0)).ok());
  EXPECT_TRUE(store_.try_create(ids_[1], text("W", 1)).ok());  // revives the erased slot
  EXPECT_TRUE(store_.try_update_with_version(ids_[2], versions_[2], text("W", 2)).ok());
  EXPECT_EQ(vkv::detail::tx_probe.helps - helps, 0u);
  owner.release();
  a.join();
  // The owner's release pass finds every entry replaced; its index cleanup must not
  // drop the revived record.
  EXPECT_TRUE(committed);
  EXPECT_EQ(value_of(0), text("W", 0));
  EXPECT_EQ(revision_of(0), 3u);
  EXPECT_EQ(value_of(1), text("W", 1));
  EXPECT_EQ(revision_of(1), 1u);
  EXPECT_EQ(value_of(2), text("W", 2));
  EXPECT_EQ(revision_of(2), 2u);
  EXPECT_EQ(store_.size(), 3u);
}

TEST_F(PreemptedCommit, AWriteBeforeItsNextInstallMakesItFailWithoutATrace) {
  make_records(2);
  Parker owner(CommitPoint::before_install, 1);
  vkv::Result<std::vector<StringStore::record_type>> result{vkv::ErrorInfo{}};
  std::thread a = parked(owner, [&] {
    Tx tx;
    tx.update(ids_[0], versions_[0], text("A", 0)).update(ids_[1], versions_[1], text("A", 1));
    result = store_.try_commit(tx);
  });
  owner.wait_parked();
  // The second record changes between the owner's check and its install CAS.
  const auto w = store_.try_update_with_version(ids_[1], versions_[1], text("W", 1));
  ASSERT_TRUE(w.ok());
  owner.release();
  a.join();
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error(), vkv::Errc::conflict);
  EXPECT_EQ(result.error_info().entity_id, ids_[1]);
  EXPECT_EQ(value_of(0), values_[0]);
  EXPECT_EQ(revision_of(0), 1u);  // the first install was undone by the failed release
  EXPECT_EQ(store_.find(ids_[0])->version, versions_[0]);
  EXPECT_EQ(value_of(1), text("W", 1));
}

TEST_F(PreemptedCommit, AHelpersInstallAfterTheDecisionIsUndoneByTheHelper) {
  make_records(2);
  // A checks its second record: a success releases that slot back to the very node a
  // parked helper still expects, so the helper's install lands after the decision.
  Parker owner(CommitPoint::installed, 0);
  Parker helper(CommitPoint::before_install, 1, /*owner=*/false);
  bool committed = false;
  std::thread a = parked(owner, [&] {
    Tx tx;
    tx.update(ids_[0], versions_[0], text("A", 0)).check(ids_[1], versions_[1]);
    committed = store_.try_commit(tx).ok();
  });
  owner.wait_parked();
  bool writer_ok = true;
  std::thread w = parked(helper, [&] {
    writer_ok = store_.try_update_with_version(ids_[0], versions_[0], text("W", 0)).ok();
  });
  helper.wait_parked();
  owner.release();
  a.join();  // A installed, decided and released, all while the helper is parked
  EXPECT_TRUE(committed);
  helper.release();
  w.join();
  EXPECT_FALSE(writer_ok);                                // it expected the version A replaced
  EXPECT_EQ(helper.reached(CommitPoint::installed), 1u);  // the late install
  // The late install was undone: the checked record holds a plain node (not an entry
  // of a descriptor that is retired now), so a write meets no entry.
  EXPECT_FALSE(holds_entry(0));
  EXPECT_FALSE(holds_entry(1));
  const std::uint64_t helps = vkv::detail::tx_probe.helps;
  EXPECT_TRUE(store_.try_update_with_version(ids_[1], versions_[1], text("W", 1)).ok());
  EXPECT_EQ(vkv::detail::tx_probe.helps - helps, 0u);
  EXPECT_EQ(value_of(0), text("A", 0));
  EXPECT_EQ(revision_of(1), 2u);
}

TEST_F(PreemptedCommit, NestedHelpingFinishesBothCommitsTwoLevelsDeep) {
  make_records(3);  // x < y < z by slot address
  // A on {y, z} holds y; B on {x, y} holds x and read y through A's entry.
  Parker a_owner(CommitPoint::installed, 0);
  Parker b_owner(CommitPoint::installed, 0);
  bool a_ok = false;
  vkv::Result<std::vector<StringStore::record_type>> b_result{vkv::ErrorInfo{}};
  std::thread a = parked(a_owner, [&] {
    Tx tx;
    tx.update(ids_[1], versions_[1], text("A", 1)).update(ids_[2], versions_[2], text("A", 2));
    a_ok = store_.try_commit(tx).ok();
  });
  a_owner.wait_parked();
  std::thread b = parked(b_owner, [&] {
    Tx tx;
    tx.update(ids_[0], versions_[0], text("B", 0)).update(ids_[1], versions_[1], text("B", 1));
    b_result = store_.try_commit(tx);
  });
  b_owner.wait_parked();
  // A writer on x helps B; B's helper meets A at y (the node B expects) and helps A,
  // which succeeds; B then fails on y; the writer's own update goes in.
  vkv::detail::tx_probe = {};
  EXPECT_TRUE(store_.try_update_with_version(ids_[0], versions_[0], text("W", 0)).ok());
  EXPECT_EQ(vkv::detail::tx_probe.helps, 2u);
  EXPECT_EQ(vkv::detail::tx_probe.deepest, 2u);
  a_owner.release();
  b_owner.release();
  a.join();
  b.join();
  EXPECT_TRUE(a_ok);
  ASSERT_FALSE(b_result.ok());
  EXPECT_EQ(b_result.error(), vkv::Errc::conflict);
  EXPECT_EQ(value_of(0), text("W", 0));
  EXPECT_EQ(value_of(1), text("A", 1));
  EXPECT_EQ(value_of(2), text("A", 2));
  for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ(revision_of(i), 2u);
}

}  // namespace
