#include "udp_flow.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <vector>

namespace nfjit::test {

namespace {

socklen_t make_addr(const std::string& ip, uint16_t port, sockaddr_storage& ss) {
  std::memset(&ss, 0, sizeof ss);
  if (ip.find(':') != std::string::npos) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(port);
    inet_pton(AF_INET6, ip.c_str(), &a->sin6_addr);
    return sizeof(*a);
  }
  auto* a = reinterpret_cast<sockaddr_in*>(&ss);
  a->sin_family = AF_INET;
  a->sin_port = htons(port);
  inet_pton(AF_INET, ip.c_str(), &a->sin_addr);
  return sizeof(*a);
}

}  // namespace

UdpFlow::UdpFlow(const Netns& from, const Netns& to, const std::string& dst, uint16_t port)
    : v6_(dst.find(':') != std::string::npos), dst_(dst), port_(port) {
  int fam = v6_ ? AF_INET6 : AF_INET;
  {
    EnterNetns in(to);
    rx_ = socket(fam, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    int big = 4 << 20;
    setsockopt(rx_, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof big);
    sockaddr_storage ss;
    socklen_t len = make_addr(dst, port, ss);
    if (bind(rx_, reinterpret_cast<sockaddr*>(&ss), len) != 0) ADD_FAILURE() << "bind " << dst << ": " << strerror(errno);
  }
  {
    EnterNetns in(from);
    tx_ = socket(fam, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  }
}

UdpFlow::~UdpFlow() {
  close(tx_);
  close(rx_);
}

int UdpFlow::send(int n, size_t payload) {
  sockaddr_storage ss;
  socklen_t len = make_addr(dst_, port_, ss);
  std::vector<char> buf(payload, 'x');
  int ok = 0;
  for (int i = 0; i < n; ++i)
    if (sendto(tx_, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&ss), len) == static_cast<ssize_t>(payload)) ++ok;
  return ok;
}

int UdpFlow::receive(int quiet_ms) {
  int got = 0;
  char buf[65536];
  pollfd p{rx_, POLLIN, 0};
  while (poll(&p, 1, quiet_ms) > 0)
    while (recv(rx_, buf, sizeof buf, MSG_DONTWAIT) >= 0) ++got;
  return got;
}

bool UdpFlow::round_trip(size_t payload, int timeout_ms) {
  if (send(1, payload) != 1) return false;
  char buf[65536];
  pollfd p{rx_, POLLIN, 0};
  if (poll(&p, 1, timeout_ms) <= 0) return false;
  return recv(rx_, buf, sizeof buf, MSG_DONTWAIT) >= 0;
}

}  // namespace nfjit::test
