// Where libnfjit-preload.so is, found relative to the running nfjit binary so that both the build tree
// (build/src/cli/nfjit -> build/src/preload/) and any install prefix (PREFIX/bin/nfjit ->
// PREFIX/<libdir>/) work without configuration.
#pragma once

#include <string>

#include "nfjit/result.h"

namespace nfjit::cli {

// $NFJIT_PRELOAD_LIB when set, else the first candidate next to the binary that exists.
Result<std::string> find_preload_library();

}  // namespace nfjit::cli
