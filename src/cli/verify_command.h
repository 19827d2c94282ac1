// `nfjit verify [--seed N] [--max-packets N] [--json] [-4|-6] FILE` (see src/verify/verify.h).
#pragma once

namespace nfjit::cli {

int run_verify(int argc, char** argv);

}  // namespace nfjit::cli
