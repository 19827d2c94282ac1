#include "daemon/listen_socket.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>

namespace nfjit::daemon {
namespace {

Error sys_error(const std::string& what) { return make_error(errno, what + ": " + std::strerror(errno)); }

// True when some process accepts connections on `addr` right now.
bool someone_listens(const sockaddr_un& addr) {
  runtime::Fd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  return probe.valid() && ::connect(probe.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0;
}

}  // namespace

Result<ListenSocket> ListenSocket::open(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(addr.sun_path))
    return make_error(ENAMETOOLONG, "socket path '" + path + "' is empty or too long");
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);

  std::error_code ec;
  auto dir = std::filesystem::path(path).parent_path();
  if (!dir.empty()) {
    std::filesystem::create_directories(dir, ec);
    if (ec) return make_error(ec.value(), "creating " + dir.string() + ": " + ec.message());
  }
  struct stat st;
  if (lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) return make_error(EEXIST, path + " exists and is not a socket");
    if (someone_listens(addr)) return make_error(EADDRINUSE, "another nfjitd already serves " + path);
    ::unlink(path.c_str());  // left behind by a daemon that did not exit cleanly
  }

  ListenSocket ls;
  ls.fd_.reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!ls.fd_.valid()) return sys_error("socket");
  if (::bind(ls.fd_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) return sys_error("bind " + path);
  ls.path_ = path;
  if (::stat(path.c_str(), &st) == 0) ls.ino_ = st.st_ino;
  if (::chmod(path.c_str(), 0666) != 0) return sys_error("chmod " + path);
  if (::listen(ls.fd_.get(), SOMAXCONN) != 0) return sys_error("listen " + path);
  return ls;
}

ListenSocket::~ListenSocket() {
  if (path_.empty()) return;
  // A successor may already have replaced a stale-looking socket: remove only the one we created.
  struct stat st;
  if (::lstat(path_.c_str(), &st) == 0 && st.st_ino == ino_) ::unlink(path_.c_str());
}

}  // namespace nfjit::daemon
