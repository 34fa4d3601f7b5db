#include "output.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <system_error>

namespace vkv::lab {
namespace {

namespace fs = std::filesystem;

std::string temporary_name(const fs::path& path) {
  return path.string() + ".tmp-" + std::to_string(::getpid());
}

// Creates and removes a file beside `path`: the only reliable test of whether the
// directory accepts new files (permissions, read-only mounts, ACLs).
std::optional<std::string> probe(const fs::path& path) {
  const std::string temp = temporary_name(path);
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0644);
  if (fd < 0) return std::string(std::strerror(errno));
  ::close(fd);
  ::unlink(temp.c_str());
  return std::nullopt;
}

}  // namespace

std::optional<std::string> check_writable_directory(const std::string& directory) {
  std::error_code error;
  const fs::path dir = directory.empty() ? fs::path(".") : fs::path(directory);
  if (!fs::exists(dir, error)) return "no such directory";
  if (!fs::is_directory(dir, error)) return "not a directory";
  return probe(dir / "vkv-lab-probe");
}

std::optional<std::string> check_writable_file(const std::string& path) {
  if (path.empty()) return "empty file name";
  std::error_code error;
  const fs::path file(path);
  if (fs::is_directory(file, error)) return "is a directory";
  const fs::path parent = file.has_parent_path() ? file.parent_path() : fs::path(".");
  if (!fs::exists(parent, error)) return "its directory " + parent.string() + " does not exist";
  if (!fs::is_directory(parent, error)) return parent.string() + " is not a directory";
  return probe(file);
}

std::optional<std::string> write_file_atomically(const std::string& path,
                                                 const std::string& contents) {
  const std::string temp = temporary_name(path);
  std::FILE* file = std::fopen(temp.c_str(), "wb");
  if (file == nullptr) return std::string(std::strerror(errno));
  const bool written = std::fwrite(contents.data(), 1, contents.size(), file) == contents.size();
  const int saved_errno = errno;
  if (std::fclose(file) != 0 || !written) {
    ::unlink(temp.c_str());
    return std::string(std::strerror(written ? errno : saved_errno));
  }
  if (std::rename(temp.c_str(), path.c_str()) != 0) {
    const int rename_errno = errno;
    ::unlink(temp.c_str());
    return std::string(std::strerror(rename_errno));
  }
  return std::nullopt;
}

}  // namespace vkv::lab
