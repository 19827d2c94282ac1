// Pinning objects under a bpffs directory, so attached rulesets outlive the daemon, and finding them again.
#pragma once

#include <string>
#include <vector>

#include "nfjit/result.h"
#include "runtime/fd.h"

namespace nfjit::runtime {

// True when `path` is (inside) a mounted bpf filesystem.
bool is_bpffs(const std::string& path);

Result<void> make_dirs(const std::string& path);

// Pins `fd` at `path`, replacing whatever was pinned there.
Result<void> pin_replace(int fd, const std::string& path);

// Opens a pinned object; ENOENT when nothing is pinned there.
Result<Fd> open_pinned(const std::string& path);

// Names of the subdirectories / entries of `path` (empty when it does not exist).
std::vector<std::string> list_dir(const std::string& path, bool dirs_only);

// Unpins everything under `path` and removes the directories.
void remove_tree(const std::string& path);

}  // namespace nfjit::runtime
