// vkv-race-example: the race condition of docs/guide.md, played live by two threads.
//
// Two workers read the same customer and both write. Worker A renames the customer;
// worker B deposits money. B's write names the version both of them read, which A's
// write has replaced, so B gets vkv::OptimisticLockError and nothing of its write
// lands. B then retries from the current record, and both changes survive.
//
// The workers take their turns in a fixed order (handed over with promises, never
// with sleeps) so that every run shows the interesting interleaving. The program
// prints each step and exits with 0 only if the store behaved as described; CTest
// runs it (test vkv-race-example) so the example cannot rot.

#include <cstdlib>
#include <future>
#include <iostream>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vkv/vkv.hpp>

namespace {

struct Customer {
  std::string name;
  std::string email;
  long balance_cents;
};

using CustomerStore = vkv::Store<Customer>;
using CustomerRecord = CustomerStore::record_type;

constexpr const char* kId = "cust-123";
constexpr long kInitialBalance = 10'000;
constexpr long kDeposit = 2'500;

// Both workers print; one line at a time keeps their lines whole.
std::mutex print_mutex;

void say(const std::string& who, const std::string& what) {
  std::lock_guard<std::mutex> lock(print_mutex);
  std::cout << "[" << who << "] " << what << '\n';
}

std::string describe(const CustomerRecord& record) {
  std::ostringstream out;
  out << "name=\"" << record.value.name << "\" balance=" << record.value.balance_cents
      << " revision=" << record.revision << " version=" << record.version;
  return out.str();
}

// What the workers saw, checked by main() once both have finished.
struct Outcome {
  vkv::Version read_by_a;
  vkv::Version read_by_b;
  vkv::Version written_by_a;
  std::optional<vkv::Version> conflict_expected;  // from B's OptimisticLockError
  std::optional<vkv::Version> conflict_actual;
  bool conflict_names_customer = false;
  std::optional<CustomerRecord> retried_by_b;
};

int check(bool ok, const std::string& what) {
  say("check", std::string(ok ? "ok:     " : "FAILED: ") + what);
  return ok ? 0 : 1;
}

}  // namespace

int main() {
  int conflict_events = 0;  // written only by worker B's thread (the failing one), read after join
  CustomerStore customers(vkv::StoreOptions{
      .entity_type = "Customer",
      .on_conflict =
          [&](const vkv::ConflictEvent& event) {
            ++conflict_events;
            say("store", "on_conflict: " + std::string(event.entity_type) + " " + event.entity_id +
                             " expected " + event.expected.to_string() + ", found " +
                             event.actual.to_string());
          },
  });

  const CustomerRecord initial =
      customers.create(kId, Customer{"Ada", "ada@example.com", kInitialBalance});
  say("main", "created " + describe(initial));

  // The hand-overs that fix the interleaving: both read, then A writes, then B writes.
  std::promise<void> a_has_read, b_has_read, a_has_written;
  std::shared_future<void> b_read_done = b_has_read.get_future().share();
  std::future<void> a_read_done = a_has_read.get_future();
  std::future<void> a_write_done = a_has_written.get_future();
  Outcome outcome;

  std::thread worker_a([&] {
    CustomerRecord seen = *customers.find(kId);
    outcome.read_by_a = seen.version;
    say("A", "read " + describe(seen));
    a_has_read.set_value();
    b_read_done.wait();  // B must read the same version before A writes

    Customer renamed = seen.value;
    renamed.name = "Ada Lovelace";
    CustomerRecord written = customers.update_with_version(kId, seen.version, renamed);
    outcome.written_by_a = written.version;
    say("A", "renamed the customer: " + describe(written));
    a_has_written.set_value();
  });

  std::thread worker_b([&] {
    a_read_done.wait();
    CustomerRecord seen = *customers.find(kId);
    outcome.read_by_b = seen.version;
    say("B", "read " + describe(seen));
    b_has_read.set_value();
    a_write_done.wait();  // now B's copy is stale

    Customer deposited = seen.value;
    deposited.balance_cents += kDeposit;
    say("B", "depositing " + std::to_string(kDeposit) + " with the version it read");
    try {
      customers.update_with_version(kId, seen.version, deposited);
      say("B", "the stale write went through (it must not)");
      return;
    } catch (const vkv::OptimisticLockError& error) {
      outcome.conflict_expected = error.expected_version();
      outcome.conflict_actual = error.actual_version();
      outcome.conflict_names_customer =
          error.entity_type() == "Customer" && error.entity_id() == kId;
      say("B", std::string("OptimisticLockError: ") + error.what());
    }

    // Retry from the current record: the conflict says which version won, so re-read
    // and redo the deposit on top of A's rename.
    CustomerRecord current = *customers.find(kId);
    say("B", "re-read " + describe(current));
    CustomerRecord retried = customers.patch_with_version(
        kId, current.version, [](Customer& customer) { customer.balance_cents += kDeposit; });
    outcome.retried_by_b = retried;
    say("B", "retried the deposit: " + describe(retried));
  });

  worker_a.join();
  worker_b.join();

  const std::optional<CustomerRecord> final_state = customers.find(kId);
  if (final_state) {
    say("main", "final " + describe(*final_state));
  }

  int failures = 0;
  failures += check(outcome.read_by_a == initial.version && outcome.read_by_b == initial.version,
                    "both workers read the initial version");
  failures += check(outcome.conflict_expected == outcome.read_by_b &&
                        outcome.conflict_actual == outcome.written_by_a,
                    "B's stale write failed: expected the version it read, found A's");
  failures += check(outcome.conflict_names_customer, "the error names Customer cust-123");
  failures += check(conflict_events == 1, "on_conflict was called exactly once");
  failures += check(outcome.retried_by_b.has_value(), "B's retry succeeded");
  failures += check(final_state.has_value() && final_state->value.name == "Ada Lovelace",
                    "A's rename survived");
  failures += check(
      final_state.has_value() && final_state->value.balance_cents == kInitialBalance + kDeposit,
      "B's deposit survived, exactly once");
  failures += check(final_state.has_value() && final_state->revision == 3 && outcome.retried_by_b &&
                        final_state->version == outcome.retried_by_b->version,
                    "three writes in all: create, A's rename, B's retried deposit");

  say("main", failures == 0 ? "outcome as expected" : "UNEXPECTED OUTCOME");
  return failures == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
