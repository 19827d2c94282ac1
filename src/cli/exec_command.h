// `nfjit exec [--socket PATH] -- CMD ARGS...`: runs CMD with the preload shim in front of it.
#pragma once

namespace nfjit::cli {

// Returns only on failure (an exit status); on success the process becomes CMD.
int run_exec(int argc, char** argv);

}  // namespace nfjit::cli
