#include "support/redis/cluster.hpp"

#include <algorithm>
#include <sstream>
#include <stdexcept>

#include "support/redis/admin.hpp"

namespace vkv_test::redis {

namespace {

// A node's slot map, normalized: "start-end:master_port" sorted.
std::string slot_map(Admin& admin) {
  const Reply slots = admin.checked({"CLUSTER", "SLOTS"});
  std::vector<std::string> ranges;
  for (const auto& range : slots.elements) {
    if (range.elements.size() < 3) continue;
    const auto& master = range.elements[2];
    const long long port = master.elements.size() > 1 ? master.elements[1].integer : 0;
    ranges.push_back(std::to_string(range.elements[0].integer) + "-" +
                     std::to_string(range.elements[1].integer) + ":" + std::to_string(port));
  }
  std::sort(ranges.begin(), ranges.end());
  std::string out;
  for (const auto& r : ranges) out += r + " ";
  return out;
}

}  // namespace

RedisCluster::RedisCluster(int masters, std::chrono::milliseconds ready_timeout)
    : dir_("vkv-redis-cluster") {
  const int count = masters * 2;
  ServerOptions options;
  options.cluster_enabled = true;
  // Failure detection is not what these tests exercise (their failovers are manual), so
  // a node timeout well above a sanitizer's stalls keeps automatic failovers out.
  options.extra_args = {"--cluster-node-timeout", "5000", "--cluster-allow-replica-migration",
                        "no"};
  for (int i = 0; i < count; ++i) {
    nodes_.push_back(
        std::make_unique<RedisServer>(dir_.path() / ("node" + std::to_string(i)), options));
  }
  std::vector<std::string> argv = {"redis-cli", "--cluster", "create"};
  for (const auto& n : nodes_) argv.push_back(n->address());
  for (std::string a : {"--cluster-replicas", "1", "--cluster-yes"}) argv.push_back(a);
  const auto log = dir_.path() / "create.log";
  ChildProcess create(argv, log);
  const int status =
      create.wait_exit(std::chrono::duration_cast<std::chrono::milliseconds>(ready_timeout));
  if (status != 0) {
    throw std::runtime_error("redis-cli --cluster create failed (status " + std::to_string(status) +
                             "):\n" + tail_of(log));
  }
  wait_stable(ready_timeout);
}

RedisCluster::~RedisCluster() {
  for (auto& n : nodes_) n->kill9();
}

std::vector<std::string> RedisCluster::seed_uris() const {
  std::vector<std::string> out;
  for (const auto& n : nodes_) out.push_back(n->uri());
  return out;
}

RedisServer& RedisCluster::node_at_port(int port) {
  for (auto& n : nodes_) {
    if (n->port() == port) return *n;
  }
  throw std::invalid_argument("no cluster node on port " + std::to_string(port));
}

int RedisCluster::any_live_port() {
  for (auto& n : nodes_) {
    if (n->running()) return n->port();
  }
  throw std::runtime_error("no cluster node is running");
}

std::vector<ClusterNode> RedisCluster::topology() {
  Admin admin("127.0.0.1", any_live_port());
  const Reply r = admin.checked({"CLUSTER", "NODES"});
  std::vector<ClusterNode> out;
  std::istringstream lines(r.text);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream fields(line);
    std::string id, address, flags, master;
    if (!(fields >> id >> address >> flags >> master)) continue;
    ClusterNode node;
    node.id = id;
    const auto colon = address.find(':');
    const auto at = address.find('@');
    node.port = std::stoi(address.substr(colon + 1, at - colon - 1));
    node.master = flags.find("master") != std::string::npos;
    node.failed = flags.find("fail") != std::string::npos;
    if (master != "-") node.master_id = master;
    out.push_back(node);
  }
  return out;
}

int RedisCluster::key_slot(const std::string& key) {
  Admin admin("127.0.0.1", any_live_port());
  return static_cast<int>(admin.checked({"CLUSTER", "KEYSLOT", key}).integer);
}

int RedisCluster::master_port_of_slot(int slot) {
  Admin admin("127.0.0.1", any_live_port());
  const Reply slots = admin.checked({"CLUSTER", "SLOTS"});
  for (const auto& range : slots.elements) {
    if (range.elements.size() >= 3 && range.elements[0].integer <= slot &&
        slot <= range.elements[1].integer) {
      return static_cast<int>(range.elements[2].elements[1].integer);
    }
  }
  throw std::runtime_error("slot " + std::to_string(slot) + " is not served");
}

int RedisCluster::replica_port_of(int master_port) {
  const auto nodes = topology();
  std::string master_id;
  for (const auto& n : nodes) {
    if (n.port == master_port) master_id = n.id;
  }
  for (const auto& n : nodes) {
    if (!n.master && !n.failed && n.master_id == master_id) return n.port;
  }
  throw std::runtime_error("the master on port " + std::to_string(master_port) +
                           " has no live replica");
}

int RedisCluster::graceful_failover(int master_port) {
  const int replica = replica_port_of(master_port);
  Admin("127.0.0.1", replica).checked({"CLUSTER", "FAILOVER"});
  const bool promoted = poll_until(std::chrono::seconds(30), [&] {
    Admin admin("127.0.0.1", replica);
    return info_field(admin.checked({"INFO", "replication"}).text, "role") == "master";
  });
  if (!promoted) throw std::runtime_error("CLUSTER FAILOVER: the replica was not promoted");
  wait_stable();
  return replica;
}

int RedisCluster::takeover_failover(int master_port) {
  const int replica = replica_port_of(master_port);
  node_at_port(master_port).kill9();
  Admin("127.0.0.1", replica).checked({"CLUSTER", "FAILOVER", "TAKEOVER"});
  const bool promoted = poll_until(std::chrono::seconds(30), [&] {
    Admin admin("127.0.0.1", replica);
    return info_field(admin.checked({"INFO", "replication"}).text, "role") == "master";
  });
  if (!promoted) throw std::runtime_error("CLUSTER FAILOVER TAKEOVER: no promotion");
  wait_stable();
  return replica;
}

void RedisCluster::restart_node(int port) {
  node_at_port(port).restart();
  wait_stable();
}

bool RedisCluster::stable_now(std::string& why) {
  std::string reference;
  for (auto& n : nodes_) {
    if (!n->running()) continue;
    Admin admin("127.0.0.1", n->port());
    const auto state = info_field(admin.checked({"CLUSTER", "INFO"}).text, "cluster_state");
    if (state != "ok") {
      why = n->address() + " cluster_state " + state.value_or("?");
      return false;
    }
    const std::string map = slot_map(admin);
    if (reference.empty()) reference = map;
    if (map != reference) {
      why = n->address() + " disagrees on the slots: " + map + "vs " + reference;
      return false;
    }
    const std::string replication = admin.checked({"INFO", "replication"}).text;
    if (info_field(replication, "role") == "slave" &&
        info_field(replication, "master_link_status") != "up") {
      why = n->address() + " replica link down";
      return false;
    }
  }
  return !reference.empty();
}

void RedisCluster::wait_stable(std::chrono::milliseconds timeout) {
  std::string why = "no answer";
  const bool ok = poll_until(
      timeout, [&] { return stable_now(why); }, std::chrono::milliseconds(50));
  if (!ok) throw std::runtime_error("redis cluster not stable: " + why);
}

}  // namespace vkv_test::redis
