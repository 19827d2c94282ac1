#include "kernel_tables.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

namespace nfjit::xt::test {

namespace {
int raw_socket(const FamilyAbi& abi) {
  return socket(abi.family == ir::Family::Ipv6 ? AF_INET6 : AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
}
}  // namespace

KernelTable capture(const FamilyAbi& abi, const std::string& table) {
  KernelTable k;
  int fd = raw_socket(abi);
  EXPECT_GE(fd, 0);
  std::strncpy(k.gi.name, table.c_str(), sizeof k.gi.name - 1);
  socklen_t len = sizeof k.gi;
  EXPECT_EQ(getsockopt(fd, abi.level, IPT_SO_GET_INFO, &k.gi, &len), 0) << table << ": " << strerror(errno);
  k.info.assign(reinterpret_cast<uint8_t*>(&k.gi), reinterpret_cast<uint8_t*>(&k.gi) + sizeof k.gi);
  k.entries.assign(sizeof(ipt_get_entries) + k.gi.size, 0);
  auto* ge = reinterpret_cast<ipt_get_entries*>(k.entries.data());
  std::strncpy(ge->name, table.c_str(), sizeof ge->name - 1);
  ge->size = k.gi.size;
  len = k.entries.size();
  EXPECT_EQ(getsockopt(fd, abi.level, IPT_SO_GET_ENTRIES, k.entries.data(), &len), 0) << strerror(errno);
  close(fd);
  return k;
}

std::vector<uint8_t> replace_option(const KernelTable& k, uint32_t num_counters) {
  std::vector<uint8_t> opt(sizeof(ipt_replace), 0);
  auto* r = reinterpret_cast<ipt_replace*>(opt.data());
  std::memcpy(r->name, k.gi.name, sizeof r->name);
  r->valid_hooks = k.gi.valid_hooks;
  r->num_entries = k.gi.num_entries;
  r->size = k.gi.size;
  std::memcpy(r->hook_entry, k.gi.hook_entry, sizeof r->hook_entry);
  std::memcpy(r->underflow, k.gi.underflow, sizeof r->underflow);
  r->num_counters = num_counters;
  auto b = k.blob();
  opt.insert(opt.end(), b.begin(), b.end());
  return opt;
}

int kernel_replace_errno(const FamilyAbi& abi, std::vector<uint8_t> opt) {
  int fd = raw_socket(abi);
  std::vector<xt_counters> old(4096);
  if (opt.size() >= sizeof(ipt_replace)) {
    auto* r = reinterpret_cast<ipt_replace*>(opt.data());
    if (r->num_counters <= old.size()) r->counters = old.data();
  }
  int rc = setsockopt(fd, abi.level, IPT_SO_SET_REPLACE, opt.data(), opt.size());
  int err = rc < 0 ? errno : 0;
  close(fd);
  return err;
}

void zero_counters(const FamilyAbi& abi, std::vector<uint8_t>& a) {
  for (size_t pos = sizeof(ipt_get_entries); pos + abi.entry_size <= a.size();) {
    std::memset(&a[pos + abi.off_counters], 0, sizeof(xt_counters));
    uint16_t next;
    std::memcpy(&next, &a[pos + abi.off_next_offset], 2);
    if (!next) break;
    pos += next;
  }
}

SockoptRequest get_info_request(const FamilyAbi& abi, const std::string& table) {
  SockoptRequest r;
  r.level = abi.level;
  r.optname = IPT_SO_GET_INFO;
  r.optlen = sizeof(ipt_getinfo);
  r.data.assign(sizeof(ipt_getinfo), 0);
  std::memcpy(r.data.data(), table.c_str(), table.size());
  return r;
}

SockoptRequest get_entries_request(const FamilyAbi& abi, const std::string& table, uint32_t size) {
  SockoptRequest r;
  r.level = abi.level;
  r.optname = IPT_SO_GET_ENTRIES;
  r.optlen = sizeof(ipt_get_entries) + size;
  r.data.assign(r.optlen, 0);
  auto* ge = reinterpret_cast<ipt_get_entries*>(r.data.data());
  std::strncpy(ge->name, table.c_str(), sizeof ge->name - 1);
  ge->size = size;
  return r;
}

SockoptRequest set_request(const FamilyAbi& abi, int optname, std::vector<uint8_t> data) {
  SockoptRequest r;
  r.set = true;
  r.level = abi.level;
  r.optname = optname;
  r.optlen = data.size();
  r.data = std::move(data);
  return r;
}

std::string data_path(const std::string& file) { return std::string(NFJIT_XT_DATA_DIR) + "/" + file; }

}  // namespace nfjit::xt::test
