#include "runtime/bpffs.h"

#include <bpf/bpf.h>
#include <dirent.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cstring>

namespace nfjit::runtime {

namespace {
constexpr long kBpfFsMagic = 0xcafe4a11;
}

bool is_bpffs(const std::string& path) {
  struct statfs st {};
  return statfs(path.c_str(), &st) == 0 && st.f_type == kBpfFsMagic;
}

Result<void> make_dirs(const std::string& path) {
  for (size_t pos = 1; pos <= path.size(); ++pos) {
    if (pos != path.size() && path[pos] != '/') continue;
    std::string part = path.substr(0, pos);
    if (mkdir(part.c_str(), 0700) != 0 && errno != EEXIST) {
      int err = errno;
      return make_error(err, "cannot create directory " + part + ": " + strerror(err));
    }
  }
  return {};
}

Result<void> pin_replace(int fd, const std::string& path) {
  if (unlink(path.c_str()) != 0 && errno != ENOENT) {
    int err = errno;
    return make_error(err, "cannot replace pin " + path + ": " + strerror(err));
  }
  if (bpf_obj_pin(fd, path.c_str()) != 0) {
    int err = errno;
    return make_error(err, "cannot pin " + path + ": " + strerror(err) +
                               (err == EPERM || err == EINVAL ? " (is it on a mounted bpf filesystem?)" : ""));
  }
  return {};
}

Result<Fd> open_pinned(const std::string& path) {
  int fd = bpf_obj_get(path.c_str());
  if (fd >= 0) return Fd(fd);
  int err = errno;
  return make_error(err, "cannot open pinned object " + path + ": " + strerror(err));
}

std::vector<std::string> list_dir(const std::string& path, bool dirs_only) {
  std::vector<std::string> out;
  DIR* d = opendir(path.c_str());
  if (!d) return out;
  while (dirent* e = readdir(d)) {
    std::string n = e->d_name;
    if (n == "." || n == "..") continue;
    if (dirs_only && e->d_type != DT_DIR) continue;
    out.push_back(n);
  }
  closedir(d);
  return out;
}

void remove_tree(const std::string& path) {
  for (const auto& n : list_dir(path, false)) {
    std::string p = path + "/" + n;
    struct stat st {};
    if (lstat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
      remove_tree(p);
    } else {
      unlink(p.c_str());
    }
  }
  rmdir(path.c_str());
}

}  // namespace nfjit::runtime
