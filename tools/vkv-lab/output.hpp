// Report files are written whole or not at all: paths are checked before any work
// starts, and each file is written to a temporary name beside it and renamed.
#pragma once

#include <optional>
#include <string>

namespace vkv::lab {

// nullopt if a file can be created at `path` (its directory exists and accepts a new
// file, and `path` is not a directory); otherwise why not, in a few words.
std::optional<std::string> check_writable_file(const std::string& path);

// Same for a directory that files will be written into.
std::optional<std::string> check_writable_directory(const std::string& directory);

// Writes `contents` to `path` via a temporary file in the same directory and a
// rename, so readers never see half a file. Returns why it failed, or nullopt.
std::optional<std::string> write_file_atomically(const std::string& path,
                                                 const std::string& contents);

}  // namespace vkv::lab
