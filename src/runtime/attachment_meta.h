// What a restarted daemon needs to know about a pinned attachment that the kernel objects themselves do
// not say: where it is attached, the program type its dispatcher was made for, which rule each counter
// slot belongs to, and the LOG actions behind log records. Kept as text in a pinned ARRAY map ("meta")
// next to the link, so the pins are self-describing.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "codegen/program.h"
#include "nfjit/result.h"
#include "runtime/fd.h"

namespace nfjit::runtime {

struct AttachmentMeta {
  codegen::AttachPoint at;
  uint32_t prog_type = 0;
  uint32_t expected_attach_type = 0;
  std::vector<codegen::CounterSlot> slots;
  std::vector<ir::LogAction> logs;
  bool operator==(const AttachmentMeta&) const;
};

std::string to_text(const AttachmentMeta& m);
Result<AttachmentMeta> meta_from_text(const std::string& text);

// Creates the ARRAY map holding `m` (64 KiB chunks; the first 4 bytes of chunk 0 are the text length).
Result<Fd> store_meta(const AttachmentMeta& m);
Result<AttachmentMeta> load_meta(int map_fd);

}  // namespace nfjit::runtime
