// Gate for tests that need root (CAP_BPF / CAP_NET_ADMIN). Off CI a non-root run skips with a clear
// message; under CI=true a missing privilege is a failure, never a skip.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

namespace nfjit::test {

inline bool under_ci() {
  const char* ci = std::getenv("CI");
  return ci && std::strcmp(ci, "true") == 0;
}

}  // namespace nfjit::test

#define NFJIT_REQUIRE_ROOT()                                                                   \
  do {                                                                                         \
    if (geteuid() != 0) {                                                                      \
      if (::nfjit::test::under_ci()) FAIL() << "privileged test run without root under CI";   \
      GTEST_SKIP() << "needs root (CAP_BPF, CAP_NET_ADMIN); run the suite as root";            \
    }                                                                                          \
  } while (0)
