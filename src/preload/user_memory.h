// Reads and writes of the caller's memory that fail with EFAULT instead of crashing the process, as the
// kernel's copy_from_user/copy_to_user do: the shim runs in every process and must never turn a bad
// pointer passed to getsockopt into a SIGSEGV.
#pragma once

#include <cstddef>

namespace nfjit::preload {

// 0 on success, else a positive errno (EFAULT).
int copy_from_caller(void* dst, const void* src, size_t n);
int copy_to_caller(void* dst, const void* src, size_t n);

}  // namespace nfjit::preload
