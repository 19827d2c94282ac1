#include "runtime/log_format.h"

#include <arpa/inet.h>

#include <cstdarg>
#include <cstring>

namespace nfjit::runtime {

namespace {

constexpr uint8_t kLogTcpSeq = 0x01, kLogTcpOpt = 0x02, kLogIpOpt = 0x04, kLogMacDecode = 0x20;

void add(std::string& s, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
void add(std::string& s, const char* fmt, ...) {
  char buf[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  s += buf;
}

uint16_t be16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
uint32_t be32(const uint8_t* p) { return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3]; }

void hex_opts(std::string& s, const uint8_t* p, size_t n) {
  s += "OPT (";
  for (size_t i = 0; i < n; ++i) add(s, "%02X", p[i]);
  s += ") ";
}

// nf_log_dump_tcp_header / nf_log_dump_udp_header. Returns false when the header was cut short.
bool dump_l4(std::string& s, uint8_t proto, bool fragment, const uint8_t* l4, size_t avail, uint32_t len_left,
             uint8_t flags) {
  if (proto == IPPROTO_TCP) {
    s += "PROTO=TCP ";
    if (fragment) return true;
    if (avail < 20) {
      add(s, "INCOMPLETE [%u bytes] ", len_left);
      return false;
    }
    add(s, "SPT=%u DPT=%u ", be16(l4), be16(l4 + 2));
    if (flags & kLogTcpSeq) add(s, "SEQ=%u ACK=%u ", be32(l4 + 4), be32(l4 + 8));
    add(s, "WINDOW=%u ", be16(l4 + 14));
    add(s, "RES=0x%02x ", static_cast<uint8_t>((be32(l4 + 12) & 0x0F000000u) >> 22));
    uint8_t f = l4[13];
    static const char* names[] = {"CWR ", "ECE ", "URG ", "ACK ", "PSH ", "RST ", "SYN ", "FIN "};
    for (int i = 0; i < 8; ++i)
      if (f & (0x80 >> i)) s += names[i];
    add(s, "URGP=%u ", be16(l4 + 18));
    size_t doff = (l4[12] >> 4) * 4u;
    if ((flags & kLogTcpOpt) && doff > 20 && avail >= doff) hex_opts(s, l4 + 20, doff - 20);
    return true;
  }
  s += proto == IPPROTO_UDP ? "PROTO=UDP " : "PROTO=UDPLITE ";
  if (fragment) return true;
  if (avail < 8) {
    add(s, "INCOMPLETE [%u bytes] ", len_left);
    return false;
  }
  add(s, "SPT=%u DPT=%u LEN=%u ", be16(l4), be16(l4 + 2), be16(l4 + 4));
  return true;
}

void dump_mac(std::string& s, const codegen::LogRecord& r, uint8_t flags) {
  if (!r.in_name[0]) return;  // the kernel dumps the MAC header only for packets with an input device
  if ((flags & kLogMacDecode) && r.mac_len >= 14) {
    add(s, "MACSRC=%02x:%02x:%02x:%02x:%02x:%02x MACDST=%02x:%02x:%02x:%02x:%02x:%02x MACPROTO=%04x ", r.mac[6],
        r.mac[7], r.mac[8], r.mac[9], r.mac[10], r.mac[11], r.mac[0], r.mac[1], r.mac[2], r.mac[3], r.mac[4],
        r.mac[5], be16(r.mac + 12));
    return;
  }
  s += "MAC=";
  for (unsigned i = 0; i < r.mac_len && i < codegen::kLogMacBytes; ++i) add(s, i ? ":%02x" : "%02x", r.mac[i]);
  s += " ";
}

void dump_ipv4(std::string& s, const codegen::LogRecord& r, uint8_t flags) {
  const uint8_t* ih = r.hdr;
  size_t avail = std::min<size_t>(r.hdr_len, codegen::kLogHeaderBytes);
  if (avail < 20) {
    add(s, "TRUNCATED ");
    return;
  }
  char src[INET_ADDRSTRLEN], dst[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, ih + 12, src, sizeof src);
  inet_ntop(AF_INET, ih + 16, dst, sizeof dst);
  add(s, "SRC=%s DST=%s ", src, dst);
  uint8_t tos = ih[1];
  add(s, "LEN=%u TOS=0x%02X PREC=0x%02X TTL=%u ID=%u ", be16(ih + 2), tos & 0x1E, tos & 0xE0, ih[8], be16(ih + 4));
  uint16_t frag = be16(ih + 6);
  if (frag & 0x8000) s += "CE ";
  if (frag & 0x4000) s += "DF ";
  if (frag & 0x2000) s += "MF ";
  if (frag & 0x1FFF) add(s, "FRAG:%u ", frag & 0x1FFF);
  size_t ihl = (ih[0] & 0x0F) * 4u;
  if ((flags & kLogIpOpt) && ihl > 20 && avail >= ihl) hex_opts(s, ih + 20, ihl - 20);
  const uint8_t proto = ih[9];
  const bool fragment = frag & 0x1FFF;
  const uint8_t* l4 = ih + ihl;
  size_t l4_avail = avail > ihl ? avail - ihl : 0;
  uint32_t len_left = r.pkt_len > ihl ? static_cast<uint32_t>(r.pkt_len - ihl) : 0;
  switch (proto) {
    case IPPROTO_TCP:
    case IPPROTO_UDP:
    case IPPROTO_UDPLITE:
      if (!dump_l4(s, proto, fragment, l4, l4_avail, len_left, flags)) return;
      break;
    case IPPROTO_ICMP:
      s += "PROTO=ICMP ";
      if (fragment) break;
      if (l4_avail < 4) {
        add(s, "INCOMPLETE [%u bytes] ", len_left);
        return;
      }
      add(s, "TYPE=%u CODE=%u ", l4[0], l4[1]);
      if ((l4[0] == 0 || l4[0] == 8) && l4_avail >= 8) add(s, "ID=%u SEQ=%u ", be16(l4 + 4), be16(l4 + 6));
      break;
    default:
      add(s, "PROTO=%u ", proto);
  }
  if (r.mark) add(s, "MARK=0x%x ", r.mark);
}

void dump_ipv6(std::string& s, const codegen::LogRecord& r) {
  const uint8_t* ih = r.hdr;
  size_t avail = std::min<size_t>(r.hdr_len, codegen::kLogHeaderBytes);
  if (avail < 40) {
    add(s, "TRUNCATED ");
    return;
  }
  // %pI6: eight groups of four hex digits, never compressed.
  auto full6 = [](const uint8_t* a) {
    std::string o;
    for (int i = 0; i < 16; i += 2) add(o, i ? ":%02x%02x" : "%02x%02x", a[i], a[i + 1]);
    return o;
  };
  add(s, "SRC=%s DST=%s ", full6(ih + 8).c_str(), full6(ih + 24).c_str());
  uint32_t w = be32(ih);
  add(s, "LEN=%u TC=%u HOPLIMIT=%u FLOWLBL=%u ", be16(ih + 4) + 40u, (w & 0x0ff00000u) >> 20, ih[7], w & 0x000fffffu);
  // Extension headers are not walked here: the record's next header is the upper layer in the common
  // case; anything else is printed as its protocol number, as the kernel does for unknown headers.
  uint8_t nexthdr = ih[6];
  const uint8_t* l4 = ih + 40;
  size_t l4_avail = avail - 40;
  uint32_t len_left = r.pkt_len > 40 ? r.pkt_len - 40 : 0;
  switch (nexthdr) {
    case IPPROTO_TCP:
    case IPPROTO_UDP:
    case IPPROTO_UDPLITE:
      if (!dump_l4(s, nexthdr, false, l4, l4_avail, len_left, 0)) return;
      break;
    case IPPROTO_ICMPV6:
      s += "PROTO=ICMPv6 ";
      if (l4_avail < 4) {
        add(s, "INCOMPLETE [%u bytes] ", len_left);
        return;
      }
      add(s, "TYPE=%u CODE=%u ", l4[0], l4[1]);
      if ((l4[0] == 128 || l4[0] == 129) && l4_avail >= 8) add(s, "ID=%u SEQ=%u ", be16(l4 + 4), be16(l4 + 6));
      break;
    default:
      add(s, "PROTO=%u ", nexthdr);
  }
  if (r.mark) add(s, "MARK=0x%x ", r.mark);
}

}  // namespace

std::string format_log_line(const codegen::LogRecord& rec, const ir::LogAction& action) {
  std::string s = action.prefix;
  std::string in(rec.in_name, strnlen(rec.in_name, sizeof rec.in_name));
  std::string out(rec.out_name, strnlen(rec.out_name, sizeof rec.out_name));
  add(s, "IN=%s OUT=%s ", in.c_str(), out.c_str());
  dump_mac(s, rec, action.flags);
  if (rec.nfproto == 10) {
    dump_ipv6(s, rec);
  } else {
    dump_ipv4(s, rec, action.flags);
  }
  return s;
}

}  // namespace nfjit::runtime
