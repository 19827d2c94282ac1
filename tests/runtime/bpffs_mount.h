// A private bpf filesystem on a temporary directory for one test, unmounted and removed afterwards.
#pragma once

#include <stdlib.h>
#include <unistd.h>

#include <string>

#include "netns.h"

namespace nfjit::test {

class BpffsMount {
 public:
  BpffsMount() {
    char tmpl[] = "/tmp/nfjit-bpffs-XXXXXX";
    if (mkdtemp(tmpl)) path_ = tmpl;
    sh_ok("mount -t bpf bpf " + path_);
  }
  ~BpffsMount() {
    sh("umount " + path_);
    rmdir(path_.c_str());
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace nfjit::test
