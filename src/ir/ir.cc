#include "ir/ir.h"

namespace nfjit::ir {

const Chain* Table::find_chain(const std::string& n) const {
  for (const auto& c : chains)
    if (c.name == n) return &c;
  return nullptr;
}

const Set* Table::find_set(const std::string& n) const {
  for (const auto& s : sets)
    if (s.name == n) return &s;
  return nullptr;
}

const char* to_string(Family f) {
  switch (f) {
    case Family::Ipv4: return "ip";
    case Family::Ipv6: return "ip6";
    case Family::Inet: return "inet";
    case Family::Netdev: return "netdev";
  }
  return "?";
}

const char* to_string(Hook h) {
  switch (h) {
    case Hook::Prerouting: return "prerouting";
    case Hook::Input: return "input";
    case Hook::Forward: return "forward";
    case Hook::Output: return "output";
    case Hook::Postrouting: return "postrouting";
    case Hook::Ingress: return "ingress";
    case Hook::Egress: return "egress";
  }
  return "?";
}

const char* to_string(Field f) {
  switch (f) {
    case Field::NfProto: return "nfproto";
    case Field::L4Proto: return "l4proto";
    case Field::Fragment: return "fragment";
    case Field::Saddr: return "saddr";
    case Field::Daddr: return "daddr";
    case Field::Sport: return "sport";
    case Field::Dport: return "dport";
    case Field::TcpFlags: return "tcp-flags";
    case Field::IcmpType: return "icmp-type";
    case Field::IcmpCode: return "icmp-code";
    case Field::Length: return "length";
    case Field::Ttl: return "ttl";
    case Field::Tos: return "tos";
    case Field::Dscp: return "dscp";
    case Field::PktType: return "pkttype";
    case Field::Mark: return "mark";
    case Field::CtState: return "ct-state";
    case Field::CtMark: return "ct-mark";
    case Field::IifIndex: return "iif";
    case Field::OifIndex: return "oif";
    case Field::SkUid: return "skuid";
  }
  return "?";
}

const char* to_string(ActionKind k) {
  switch (k) {
    case ActionKind::Continue: return "continue";
    case ActionKind::Accept: return "accept";
    case ActionKind::Drop: return "drop";
    case ActionKind::Reject: return "reject";
    case ActionKind::Jump: return "jump";
    case ActionKind::Goto: return "goto";
    case ActionKind::Return: return "return";
    case ActionKind::Log: return "log";
    case ActionKind::SetMark: return "mark";
  }
  return "?";
}

}  // namespace nfjit::ir
