// Creates a Program's maps, patches their fds into its instructions, and loads it into the kernel.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "codegen/program.h"
#include "nfjit/result.h"
#include "runtime/fd.h"

namespace nfjit::runtime {

struct LoadedProgram {
  Fd prog;
  std::vector<Fd> maps;       // same order as Program::maps
  std::string verifier_log;   // kept when requested (LoadOptions::log_level > 0)
  uint32_t prog_id = 0;
};

struct LoadOptions {
  uint32_t log_level = 0;     // 0: log only on failure (retried with level 1); 1/2: always
  // Maps with MapSpec::shared set: name -> fd of the map already created for another program of the
  // same table (reused, not written); maps created here are added. Null: every map is created.
  std::map<std::string, int>* shared = nullptr;
};

// On a verifier refusal the Error carries EINVAL/EACCES/... and the tail of the verifier log.
Result<LoadedProgram> load_program(const codegen::Program& p, const LoadOptions& opt = {});

// Creates one map from its spec and writes the initial entries.
Result<Fd> create_map(const codegen::MapSpec& spec);

// Runs the program once on `data` with BPF_PROG_TEST_RUN. `ctx` is the context blob where the program
// type needs one (netfilter: a struct nf_hook_state with hook and pf set). Returns the program's retval.
struct TestRunResult {
  uint32_t retval = 0;
  uint32_t duration_ns = 0;   // average per repetition
  std::vector<uint8_t> data_out;
};
Result<TestRunResult> test_run(int prog_fd, const std::vector<uint8_t>& data,
                               const std::vector<uint8_t>& ctx = {}, uint32_t repeat = 1);

}  // namespace nfjit::runtime
