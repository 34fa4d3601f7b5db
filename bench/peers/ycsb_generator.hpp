// The benchmarks' names for YCSB's request distributions (src/workload/ycsb_keys.hpp,
// shared with `vkv-lab cache`).
#pragma once

#include "peers/common.hpp"
#include "workload/ycsb_keys.hpp"

namespace vkv_bench {

using ZipfianGenerator = vkv::workload::ZipfGenerator;
using Distribution = vkv::workload::YcsbDistribution;
using vkv::workload::fnv1a64;
using vkv::workload::KeyChooser;

}  // namespace vkv_bench
