#include "user_memory.h"

#include <errno.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cstring>

namespace nfjit::preload {
namespace {

// process_vm_{read,write}v on our own pid is always permitted (same thread group) and reports EFAULT
// for unmapped memory. Where it is unavailable (seccomp filters, ENOSYS) fall back to a plain copy.
int checked_copy(void* dst, const void* src, size_t n, bool to_caller) {
  if (n == 0) return 0;
  iovec local{to_caller ? const_cast<void*>(src) : dst, n};
  iovec remote{to_caller ? dst : const_cast<void*>(src), n};
  int saved = errno;
  ssize_t r = to_caller ? process_vm_writev(getpid(), &local, 1, &remote, 1, 0)
                        : process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
  int err = errno;
  errno = saved;
  if (r == static_cast<ssize_t>(n)) return 0;
  if (r >= 0 || err == EFAULT) return EFAULT;
  std::memcpy(dst, src, n);
  return 0;
}

}  // namespace

int copy_from_caller(void* dst, const void* src, size_t n) { return checked_copy(dst, src, n, false); }
int copy_to_caller(void* dst, const void* src, size_t n) { return checked_copy(dst, src, n, true); }

}  // namespace nfjit::preload
