#include "verify/kernel_model.h"

#include <cstring>
#include <sstream>

#include "frontend/xtables/blob.h"
#include "frontend/xtables/kernel_passthrough.h"
#include "frontend/xtables/tables.h"
#include "verify/process.h"

namespace nfjit::verify {

Result<std::vector<TableModel>> read_kernel_tables(const std::string& ns, int family,
                                                   const std::vector<std::string>& tables) {
  const xt::FamilyAbi& abi = family == 6 ? xt::abi_ipv6() : xt::abi_ipv4();
  std::vector<TableModel> out;
  InNetns guard(ns);
  xt::KernelXtables kernel;
  for (const auto& name : tables) {
    auto gi = kernel.info(abi, name);
    if (!gi.ok()) return make_error(gi.error().err, "reading table " + name + " back from the kernel: " + gi.error().message);
    std::vector<uint8_t> buf(sizeof(ipt_get_entries) + gi->size, 0);
    auto* ge = reinterpret_cast<ipt_get_entries*>(buf.data());
    std::strncpy(ge->name, name.c_str(), sizeof(ge->name) - 1);
    ge->size = gi->size;
    SockoptRequest req;
    req.set = false;
    req.level = abi.level;
    req.optname = IPT_SO_GET_ENTRIES;
    req.optlen = static_cast<uint32_t>(buf.size());
    req.data = buf;
    SockoptReply rep = kernel.forward(req);
    if (rep.err) return make_error(rep.err, "GET_ENTRIES " + name + " from the kernel");
    xt::ReplaceHeader h;
    h.name = name;
    h.valid_hooks = gi->valid_hooks;
    h.num_entries = gi->num_entries;
    h.size = gi->size;
    for (unsigned i = 0; i < xt::kNumHooks; ++i) {
      h.hook_entry[i] = gi->hook_entry[i];
      h.underflow[i] = gi->underflow[i];
    }
    std::vector<uint8_t> blob(rep.data.begin() + sizeof(ipt_get_entries), rep.data.end());
    blob.resize(gi->size);
    auto t = xt::validate_structure(abi, h, std::move(blob));
    if (!t.ok()) return make_error(t.error().err, "table " + name + " read back from the kernel: " + t.error().message);
    const xt::TableSpec* spec = xt::find_table_spec(name);
    TableModel m;
    m.name = name;
    xt::Lowered low = xt::lower_table(*t, spec ? spec->priority : 0);
    m.ir = std::move(low.table);
    m.refusals = std::move(low.refusals);
    if (!spec || !spec->lowered) m.refusals.push_back({"table " + name, "nfjit leaves this table to the kernel"});
    out.push_back(std::move(m));
  }
  return out;
}

std::vector<Placement> parse_status(const std::string& status, int family) {
  std::vector<Placement> out;
  std::istringstream in(status);
  std::string line, prefix = family == 6 ? "ip6 " : "ip ";
  while (std::getline(in, line)) {
    if (line.rfind(prefix, 0) != 0) continue;
    size_t colon = line.find(": ");
    if (colon == std::string::npos) continue;
    Placement p;
    p.table = line.substr(prefix.size(), colon - prefix.size());
    std::string rest = line.substr(colon + 2);
    p.bpf = rest.rfind("BPF", 0) == 0;
    if (!p.bpf) {
      size_t o = rest.find(" (");
      if (o != std::string::npos && rest.back() == ')') p.why = rest.substr(o + 2, rest.size() - o - 3);
    }
    out.push_back(p);
  }
  return out;
}

}  // namespace nfjit::verify
