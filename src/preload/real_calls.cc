#include "real_calls.h"

#include <dlfcn.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace nfjit::preload {
namespace {

using GetFn = int (*)(int, int, int, void*, socklen_t*);
using SetFn = int (*)(int, int, int, const void*, socklen_t);

// Resolved lazily and cached with relaxed atomics: no constructor runs at load time, and two threads
// racing here both store the same pointer. RTLD_NEXT keeps any interposer loaded after us in the chain.
GetFn g_get = nullptr;
SetFn g_set = nullptr;

template <typename Fn>
Fn resolve(Fn* slot, const char* name) {
  Fn fn = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
  if (!fn) {
    fn = reinterpret_cast<Fn>(dlsym(RTLD_NEXT, name));
    if (fn) __atomic_store_n(slot, fn, __ATOMIC_RELEASE);
  }
  return fn;
}

}  // namespace

int real_getsockopt(int fd, int level, int optname, void* optval, socklen_t* optlen) {
  if (GetFn fn = resolve(&g_get, "getsockopt")) return fn(fd, level, optname, optval, optlen);
  // No next definition (we were dlopen()ed oddly): the system call is what libc would have made.
  return static_cast<int>(syscall(SYS_getsockopt, fd, level, optname, optval, optlen));
}

int real_setsockopt(int fd, int level, int optname, const void* optval, socklen_t optlen) {
  if (SetFn fn = resolve(&g_set, "setsockopt")) return fn(fd, level, optname, optval, optlen);
  return static_cast<int>(syscall(SYS_setsockopt, fd, level, optname, optval, optlen));
}

}  // namespace nfjit::preload
