#include "daemon/daemonize.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>

namespace nfjit::daemon {
namespace {
int g_ready_fd = -1;
}

void daemonize_begin() {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) {
    std::perror("nfjitd: pipe");
    std::exit(1);
  }
  pid_t pid = ::fork();
  if (pid < 0) {
    std::perror("nfjitd: fork");
    std::exit(1);
  }
  if (pid > 0) {
    ::close(p[1]);
    char c;
    ssize_t n;
    do n = ::read(p[0], &c, 1);
    while (n < 0 && errno == EINTR);
    ::_exit(n == 1 ? 0 : 1);  // EOF: the child exited before it was ready (it logged why)
  }
  ::close(p[0]);
  g_ready_fd = p[1];
  ::setsid();
  if (::chdir("/") != 0) std::perror("nfjitd: chdir /");
}

void daemonize_ready() {
  if (g_ready_fd < 0) return;
  int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null >= 0) {
    ::dup2(null, 0);
    ::dup2(null, 1);
    ::dup2(null, 2);
    if (null > 2) ::close(null);
  }
  char c = 1;
  ssize_t n = ::write(g_ready_fd, &c, 1);
  (void)n;
  ::close(g_ready_fd);
  g_ready_fd = -1;
}

}  // namespace nfjit::daemon
