// fopen()/fopen64() of exactly /proc/net/ip_tables_names and /proc/net/ip6_tables_names.
//
// iptables-legacy-save finds the tables to dump by reading that file, which lists only the tables the
// kernel's ip_tables instantiated in the namespace; nfjit's tables run as BPF and are not there. So the
// shim asks nfjitd for the list (wire::kTableNamesRequest) and hands back a memory stream over the text
// (fmemopen allocates its own buffer, as fopen does; the shim allocates nothing else). Every other path,
// and every case without a daemon for us (none listening, our own process, another namespace), goes to
// the real fopen untouched.
// Both symbols are defined here, so stdio.h must not alias fopen to fopen64 in this file (meson builds
// with -D_FILE_OFFSET_BITS=64, under which `fopen` is an asm label for fopen64).
#undef _FILE_OFFSET_BITS
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <dlfcn.h>

#include "daemon_call.h"
#include "nfjit/wire.h"

namespace {

using FopenFn = FILE* (*)(const char*, const char*);
FopenFn g_fopen = nullptr, g_fopen64 = nullptr;

FopenFn next_fopen(FopenFn* slot, const char* name) {
  FopenFn fn = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
  if (!fn) {
    fn = reinterpret_cast<FopenFn>(dlsym(RTLD_NEXT, name));
    if (fn) __atomic_store_n(slot, fn, __ATOMIC_RELEASE);
  }
  return fn;
}

// 4 or 6 for the two files, else 0.
int names_family(const char* path) {
  if (!path) return 0;
  if (strcmp(path, "/proc/net/ip_tables_names") == 0) return 4;
  if (strcmp(path, "/proc/net/ip6_tables_names") == 0) return 6;
  return 0;
}

// The daemon's answer as a read-only stream; *fall_through when the real file should be opened.
FILE* names_from_daemon(int family, bool* fall_through) {
  using namespace nfjit;
  *fall_through = false;
  preload::CallOutcome out{};
  int fd = preload::open_daemon_connection(&out);
  if (fd < 0) {
    *fall_through = out.fall_through;
    errno = out.err;
    return nullptr;
  }
  struct {
    wire::FrameHeader hdr;
    wire::TableNamesRequest req;
  } __attribute__((packed)) msg{{wire::kMagic, wire::kVersion, wire::kTableNamesRequest, sizeof(wire::TableNamesRequest)},
                                {static_cast<uint32_t>(family)}};
  wire::FrameHeader rh{};
  int err = preload::send_to_daemon(fd, &msg, sizeof(msg));
  if (!err) err = preload::recv_from_daemon(fd, &rh, sizeof(rh));
  if (!err && (rh.magic != wire::kMagic || rh.version != wire::kVersion || rh.length > (1u << 20))) err = EPROTO;
  FILE* f = nullptr;
  if (!err && rh.type == wire::kSockoptReply && rh.length >= sizeof(wire::SockoptReplyFixed)) {
    wire::SockoptReplyFixed rep{};
    err = preload::recv_from_daemon(fd, &rep, sizeof(rep));
    if (!err && rep.disposition == wire::kNotThisNamespace) *fall_through = true;
    else if (!err) err = rep.err ? rep.err : EPROTO;
  } else if (!err && rh.type == wire::kTableNamesReply) {
    // Room for the text and fmemopen's terminating NUL; "w+" starts the stream empty and reads stop
    // where writing stopped.
    f = fmemopen(nullptr, rh.length + 1, "w+");
    if (!f) err = errno;
    char chunk[512];
    for (uint64_t left = rh.length; f && !err && left > 0;) {
      size_t n = left < sizeof(chunk) ? static_cast<size_t>(left) : sizeof(chunk);
      err = preload::recv_from_daemon(fd, chunk, n);
      if (!err && fwrite(chunk, 1, n, f) != n) err = EIO;
      left -= n;
    }
    if (f && !err) rewind(f);
  } else if (!err) {
    err = EPROTO;  // includes kProtocolError: a daemon that does not speak our version
  }
  preload::close_daemon_connection(fd);
  if (err && f) {
    fclose(f);
    f = nullptr;
  }
  if (err) errno = err;
  return f;
}

FILE* open_names_or(FopenFn* slot, const char* sym, const char* path, const char* mode) {
  int family = names_family(path);
  if (family) {
    int saved = errno;
    bool fall_through = false;
    FILE* f = names_from_daemon(family, &fall_through);
    if (!fall_through) {
      if (f) errno = saved;
      return f;
    }
    errno = saved;
  }
  FopenFn fn = next_fopen(slot, sym);
  if (!fn) {
    errno = ENOSYS;
    return nullptr;
  }
  return fn(path, mode);
}

}  // namespace

extern "C" __attribute__((visibility("default"))) FILE* fopen(const char* path, const char* mode) {
  return open_names_or(&g_fopen, "fopen", path, mode);
}

extern "C" __attribute__((visibility("default"))) FILE* fopen64(const char* path, const char* mode) {
  return open_names_or(&g_fopen64, "fopen64", path, mode);
}
