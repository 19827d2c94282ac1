// `nfjit status [--socket PATH]`: prints the daemon's account of every table (where it runs and why).
#pragma once

namespace nfjit::cli {

int run_status(int argc, char** argv);

}  // namespace nfjit::cli
