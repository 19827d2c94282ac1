// nfjitd's pidfile in its state directory, locked (flock) for the daemon's lifetime so that two
// daemons never share one state directory, and removed on clean exit.
#pragma once

#include <string>

#include "nfjit/result.h"
#include "runtime/fd.h"

namespace nfjit::daemon {

class Pidfile {
 public:
  static Result<Pidfile> create(const std::string& path);
  Pidfile(Pidfile&&) = default;
  Pidfile& operator=(Pidfile&&) = default;
  ~Pidfile();

 private:
  Pidfile() = default;
  runtime::Fd fd_;
  std::string path_;
};

}  // namespace nfjit::daemon
