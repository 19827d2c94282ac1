// libFuzzer target: arbitrary bytes as a SET_REPLACE option through the blob validator, the extension
// checks, the decoders/lowering and the GET_ENTRIES serialiser. No sockets: pure front-end code.
// Built and run by scripts/fuzz-xtables.sh (clang -fsanitize=fuzzer,address,undefined).
#include <cstddef>
#include <cstdint>
#include <vector>

#include "frontend/xtables/blob.h"
#include "frontend/xtables/entries_reply.h"
#include "frontend/xtables/extension_check.h"
#include "frontend/xtables/lower.h"

using namespace nfjit::xt;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const FamilyAbi& abi = (data[0] & 1) ? abi_ipv6() : abi_ipv4();
  std::span<const uint8_t> opt(data + 1, size - 1);
  auto hdr = parse_replace_header(opt);
  if (!hdr.ok()) return 0;
  std::vector<uint8_t> blob(opt.begin() + sizeof(ipt_replace), opt.begin() + sizeof(ipt_replace) + hdr->size);
  auto t = validate_structure(abi, *hdr, std::move(blob));
  if (!t.ok()) return 0;
  auto ext = check_extensions(*t);
  if (!ext.ok()) return 0;
  Lowered low = lower_table(*t, 0);
  for (size_t i = 0; i < t->entries.size(); ++i) (void)rule_text(*t, i, "C");
  std::vector<xt_counters> counters(t->entries.size());
  std::vector<uint8_t> req(sizeof(ipt_get_entries) + t->blob.size());
  (void)entries_reply(*t, counters, req);
  return 0;
}
