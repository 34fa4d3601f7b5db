// The umbrella header: everything public in vkv.
#pragma once

#include "vkv/errors.hpp"
#include "vkv/metrics.hpp"
#include "vkv/options.hpp"
#include "vkv/record.hpp"
#include "vkv/result.hpp"
#include "vkv/retry.hpp"
#include "vkv/stats.hpp"
#include "vkv/store.hpp"
#include "vkv/transaction.hpp"
#include "vkv/version.hpp"
