#include "frontend/xtables/entries_reply.h"

#include "frontend/xtables/decode/extension.h"

namespace nfjit::xt {

namespace {

// xt_obj_to_user + xt_data_to_user for one match/target.
void copy_ext(const Table& t, const Entry& e, const ExtRef& x, bool target, uint8_t* dst) {
  const uint8_t* src = t.blob.data() + e.offset + x.offset;
  std::memcpy(dst, src, 2);                                  // u.user.match_size / target_size
  std::memcpy(dst + 2, x.name.c_str(), x.name.size() + 1);   // name and its NUL
  dst[2 + XT_EXTENSION_MAXNAMELEN] = x.revision;
  const Extension* ext = find_extension(target, x.name, x.revision, t.abi->family);
  size_t aligned = x.data_size();
  size_t user = aligned;
  if (ext) {
    aligned = xt_align(ext->size);
    user = ext->usersize ? ext->usersize : ext->size;
  }
  std::memcpy(dst + sizeof(xt_entry_match), src + sizeof(xt_entry_match), user);
  std::memset(dst + sizeof(xt_entry_match) + user, 0, aligned - user);
}

}  // namespace

std::vector<uint8_t> entries_reply(const Table& t, std::span<const xt_counters> counters,
                                   std::span<const uint8_t> request) {
  const size_t hdr = sizeof(ipt_get_entries);
  std::vector<uint8_t> out(request.begin(), request.end());
  out.resize(hdr + t.blob.size());
  const FamilyAbi& abi = *t.abi;
  for (size_t i = 0; i < t.entries.size(); ++i) {
    const Entry& e = t.entries[i];
    uint8_t* dst = out.data() + hdr + e.offset;
    std::memcpy(dst, t.blob.data() + e.offset, abi.entry_size);
    store<uint32_t>(dst + abi.off_comefrom, e.comefrom);
    store<xt_counters>(dst + abi.off_counters, i < counters.size() ? counters[i] : xt_counters{});
    for (const ExtRef& m : e.matches) copy_ext(t, e, m, false, dst + m.offset);
    copy_ext(t, e, e.target, true, dst + e.target.offset);
  }
  return out;
}

}  // namespace nfjit::xt
