#include "daemon/pidfile.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>

namespace nfjit::daemon {

Result<Pidfile> Pidfile::create(const std::string& path) {
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  if (ec) return make_error(ec.value(), "creating the state directory of " + path + ": " + ec.message());
  Pidfile p;
  p.fd_.reset(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  if (!p.fd_.valid()) return make_error(errno, "open " + path + ": " + std::strerror(errno));
  if (::flock(p.fd_.get(), LOCK_EX | LOCK_NB) != 0) {
    char buf[32] = {};
    ssize_t n = ::pread(p.fd_.get(), buf, sizeof(buf) - 1, 0);
    (void)n;
    return make_error(EBUSY, "another nfjitd (pid " + std::string(buf, strcspn(buf, "\n")) + ") uses " + path);
  }
  std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(p.fd_.get(), 0) != 0 || ::pwrite(p.fd_.get(), pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size()))
    return make_error(errno, "write " + path + ": " + std::strerror(errno));
  p.path_ = path;
  return p;
}

Pidfile::~Pidfile() {
  if (!path_.empty()) ::unlink(path_.c_str());  // still locked by us, so still ours
}

}  // namespace nfjit::daemon
