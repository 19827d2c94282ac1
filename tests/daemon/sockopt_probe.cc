// A tiny client that makes xtables socket-option calls directly, for shim tests that need calls
// iptables never makes (a chosen counters pointer, non-xtables options). Run under LD_PRELOAD.
//   sockopt_probe replace NUM_COUNTERS   SET_REPLACE with a counters buffer of 0xee; prints
//                                        "rc=R errno=E counters=HEX"
//   sockopt_probe replace-badptr N       the same with counters pointing at unmapped memory
//   sockopt_probe others                 SO_RCVBUF / IP_TTL on a raw socket and option 64 on UDP;
//                                        prints each rc/errno
#include <errno.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>
// after netinet/in.h
#include <linux/netfilter_ipv4/ip_tables.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

int replace(unsigned num_counters, bool bad_pointer) {
  int fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
  if (fd < 0) {
    perror("socket");
    return 1;
  }
  std::vector<unsigned char> blob(sizeof(ipt_replace) + 64, 0x11);
  auto* rep = reinterpret_cast<ipt_replace*>(blob.data());
  std::strcpy(rep->name, "filter");
  rep->num_counters = num_counters;
  std::vector<xt_counters> counters(num_counters);
  std::memset(counters.data(), 0xee, counters.size() * sizeof(xt_counters));
  if (bad_pointer) {
    void* page = mmap(nullptr, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    rep->counters = static_cast<xt_counters*>(page);
  } else {
    rep->counters = counters.data();
  }
  errno = 0;
  int rc = setsockopt(fd, SOL_IP, IPT_SO_SET_REPLACE, blob.data(), static_cast<socklen_t>(blob.size()));
  int err = rc < 0 ? errno : 0;
  std::printf("rc=%d errno=%d counters=", rc, err);
  auto* bytes = reinterpret_cast<unsigned char*>(counters.data());
  for (size_t i = 0; i < counters.size() * sizeof(xt_counters); ++i) std::printf("%02x", bytes[i]);
  std::printf("\n");
  return 0;
}

void report(const char* what, int rc) { std::printf("%s rc=%d errno=%d\n", what, rc, rc < 0 ? errno : 0); }

int others() {
  int raw = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
  int udp = socket(AF_INET, SOCK_DGRAM, 0);
  int v = 65536;
  report("raw SO_RCVBUF", setsockopt(raw, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v)));
  socklen_t len = sizeof(v);
  report("raw IP_TTL", getsockopt(raw, SOL_IP, IP_TTL, &v, &len));
  char small[4] = {};
  report("udp set 64", setsockopt(udp, SOL_IP, IPT_SO_SET_REPLACE, small, sizeof(small)));
  len = sizeof(small);
  report("bad fd get 64", getsockopt(-1, SOL_IP, IPT_SO_GET_INFO, small, &len));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string cmd = argc > 1 ? argv[1] : "";
  if (cmd == "replace" && argc > 2) return replace(static_cast<unsigned>(std::atoi(argv[2])), false);
  if (cmd == "replace-badptr" && argc > 2) return replace(static_cast<unsigned>(std::atoi(argv[2])), true);
  if (cmd == "others") return others();
  std::fprintf(stderr, "usage: sockopt_probe replace N | replace-badptr N | others\n");
  return 2;
}
