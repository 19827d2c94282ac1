// udpflood: the traffic half of the whole-path benchmark (bench/whole_path/run.sh).
//
//   udpflood send --dst ADDR --port P [--seconds S] [--count C] [--size B] [--batch K]
//   udpflood recv --port P [--ready FILE] [--warmup-ms W] [--idle-ms I] [--max-seconds S]
//
// send: one connected UDP socket, sendmmsg() of K identical datagrams of B payload bytes, until S
// seconds or C datagrams, whichever comes first (both bounded: the CONTRIBUTING rule on traffic loops).
// recv: drains its socket with recvmmsg() and counts what it got (`received`, used to check that a
// dropping rule drops). The rate comes from the kernel's own UDP counters of the namespace
// (/proc/self/net/snmp: InDatagrams + RcvbufErrors), read every >= 100 ms while datagrams flow: a
// datagram counted there has passed the receiver's netfilter INPUT hook, so the rate is the throughput
// of the whole path (veth, routing, the rules at INPUT, UDP delivery). Why not the receiver's own count
// per interval: it is taken when the receiver reads, so a receiver descheduled for 50 ms then reading
// a backlog in one go fakes a burst; the kernel counts at arrival. The first W ms after the first
// datagram are skipped (neighbour resolution, caches); the flood ends at I ms of silence or at
// SIGTERM/SIGINT (the script stops a receiver that got nothing). Reported: the median rate of the
// 100 ms intervals (robust to other processes on a shared machine stealing a few intervals), the mean
// over all of them, min and max.
// Each mode prints one line of key=value pairs on stdout for the script to parse.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

namespace {

volatile sig_atomic_t g_stop = 0;
extern "C" void on_stop(int) { g_stop = 1; }

double now_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return double(ts.tv_sec) + double(ts.tv_nsec) * 1e-9;
}

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "udpflood: %s: %s\n", what, std::strerror(errno));
  std::exit(1);
}

[[noreturn]] void usage() {
  std::fputs(
      "usage: udpflood send --dst ADDR --port P [--seconds S] [--count C] [--size B] [--batch K]\n"
      "       udpflood recv --port P [--ready FILE] [--warmup-ms W] [--idle-ms I] [--max-seconds S]\n",
      stderr);
  std::exit(2);
}

struct Args {
  std::string dst;
  std::string ready;
  int port = 0;
  double seconds = 3;
  uint64_t count = 50'000'000;  // an upper bound even if the clock misbehaves
  int size = 64;
  int batch = 64;
  int warmup_ms = 200;
  int idle_ms = 400;
  double max_seconds = 30;
};

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 2; i < argc; ++i) {
    std::string_view k = argv[i];
    if (i + 1 >= argc) usage();
    const char* v = argv[++i];
    if (k == "--dst") a.dst = v;
    else if (k == "--port") a.port = std::atoi(v);
    else if (k == "--seconds") a.seconds = std::atof(v);
    else if (k == "--count") a.count = std::strtoull(v, nullptr, 10);
    else if (k == "--size") a.size = std::atoi(v);
    else if (k == "--batch") a.batch = std::atoi(v);
    else if (k == "--ready") a.ready = v;
    else if (k == "--warmup-ms") a.warmup_ms = std::atoi(v);
    else if (k == "--idle-ms") a.idle_ms = std::atoi(v);
    else if (k == "--max-seconds") a.max_seconds = std::atof(v);
    else usage();
  }
  if (a.port <= 0 || a.port > 65535 || a.size < 0 || a.size > 1400 || a.batch < 1 || a.batch > 1024 ||
      a.seconds <= 0 || a.seconds > 60 || a.max_seconds <= 0 || a.max_seconds > 300)
    usage();
  return a;
}

int run_send(const Args& a) {
  sockaddr_in dst{};
  dst.sin_family = AF_INET;
  dst.sin_port = htons(uint16_t(a.port));
  if (inet_pton(AF_INET, a.dst.c_str(), &dst.sin_addr) != 1) usage();
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) die("socket");
  if (connect(fd, reinterpret_cast<sockaddr*>(&dst), sizeof dst) != 0) die("connect");

  // Fixed payload: every datagram is the same bytes, so the cost per packet never varies.
  std::vector<char> payload(size_t(a.size), 'x');
  std::vector<iovec> iov(size_t(a.batch));
  std::vector<mmsghdr> msgs(size_t(a.batch));
  for (int i = 0; i < a.batch; ++i) {
    iov[size_t(i)] = {payload.data(), payload.size()};
    msgs[size_t(i)].msg_hdr.msg_iov = &iov[size_t(i)];
    msgs[size_t(i)].msg_hdr.msg_iovlen = 1;
  }
  uint64_t sent = 0, errors = 0;
  const double start = now_seconds(), deadline = start + a.seconds;
  double t = start;
  while (sent < a.count && t < deadline) {
    unsigned want = unsigned(std::min<uint64_t>(uint64_t(a.batch), a.count - sent));
    int n = sendmmsg(fd, msgs.data(), want, 0);
    if (n < 0) {
      // ENOBUFS/ECONNREFUSED (an ICMP error from an earlier datagram): count and go on.
      if (errno != ENOBUFS && errno != ECONNREFUSED && errno != EAGAIN && errno != EINTR) die("sendmmsg");
      ++errors;
    } else {
      sent += uint64_t(n);
    }
    t = now_seconds();
  }
  const double elapsed = t - start;
  std::printf("sent=%llu errors=%llu seconds=%.3f pps=%.0f\n", (unsigned long long)sent,
              (unsigned long long)errors, elapsed, elapsed > 0 ? double(sent) / elapsed : 0.0);
  close(fd);
  return 0;
}

// Datagrams that reached UDP in this network namespace: delivered (InDatagrams) plus dropped at a full
// socket buffer (RcvbufErrors); both passed INPUT. Counted by the kernel when the packet arrives, so a
// rate between two readings is exact however late this process reads.
uint64_t udp_arrivals() {
  FILE* f = std::fopen("/proc/self/net/snmp", "r");
  if (!f) die("/proc/self/net/snmp");
  char head[1024], vals[1024];
  uint64_t result = 0;
  bool found = false;
  while (!found && std::fgets(head, sizeof head, f)) {
    if (std::strncmp(head, "Udp:", 4) != 0 || !std::fgets(vals, sizeof vals, f)) continue;
    char *hs = nullptr, *vs = nullptr;
    char* h = strtok_r(head, " \n", &hs);
    char* v = strtok_r(vals, " \n", &vs);
    for (; h && v; h = strtok_r(nullptr, " \n", &hs), v = strtok_r(nullptr, " \n", &vs))
      if (!std::strcmp(h, "InDatagrams") || !std::strcmp(h, "RcvbufErrors")) result += std::strtoull(v, nullptr, 10);
    found = true;
  }
  std::fclose(f);
  if (!found) { errno = EINVAL; die("no Udp: line in /proc/self/net/snmp"); }
  return result;
}

int run_recv(const Args& a) {
  struct sigaction sa{};
  sa.sa_handler = on_stop;  // no SA_RESTART: poll() returns EINTR and the loop ends
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) die("socket");
  int rcvbuf = 64 << 20;
  // SO_RCVBUFFORCE ignores net.core.rmem_max (we are root): the receiver must never be the bottleneck.
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) != 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  sockaddr_in me{};
  me.sin_family = AF_INET;
  me.sin_port = htons(uint16_t(a.port));
  if (bind(fd, reinterpret_cast<sockaddr*>(&me), sizeof me) != 0) die("bind");
  if (!a.ready.empty()) {
    // The ready file holds our pid: `ip netns exec` may run us as its child, and the script stops
    // exactly this process.
    FILE* f = std::fopen((a.ready + ".tmp").c_str(), "w");
    if (!f) die("ready file");
    std::fprintf(f, "%d\n", int(getpid()));
    std::fclose(f);
    if (std::rename((a.ready + ".tmp").c_str(), a.ready.c_str()) != 0) die("ready file");
  }

  constexpr int kBatch = 256;
  static char bufs[kBatch][2048];
  iovec iov[kBatch];
  mmsghdr msgs[kBatch];
  for (int i = 0; i < kBatch; ++i) {
    iov[i] = {bufs[i], sizeof bufs[i]};
    msgs[i] = {};
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }
  // Readings of udp_arrivals() at least kInterval apart, from the end of the warm-up on.
  constexpr double kInterval = 0.1;
  struct Reading { double t; uint64_t arrivals; };
  std::vector<Reading> readings;
  uint64_t received = 0;
  double first = 0;
  const double give_up = now_seconds() + a.max_seconds;
  while (!g_stop) {
    double t = now_seconds();
    if (t >= give_up) break;
    // At most 100 ms per poll: a SIGTERM landing between the g_stop check and poll() is seen soon.
    int timeout_ms = received == 0 ? 100 : a.idle_ms;
    pollfd p{fd, POLLIN, 0};
    int r = poll(&p, 1, timeout_ms);
    if (r < 0) {
      if (errno == EINTR) continue;  // g_stop is checked by the loop
      die("poll");
    }
    if (r == 0) {
      if (received) break;  // silence after traffic: the sender is done
      continue;
    }
    int n = recvmmsg(fd, msgs, kBatch, MSG_DONTWAIT, nullptr);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      die("recvmmsg");
    }
    t = now_seconds();
    if (received == 0) first = t;
    received += uint64_t(n);
    if (t - first >= a.warmup_ms / 1000.0 && (readings.empty() || t - readings.back().t >= kInterval)) {
      uint64_t c = udp_arrivals();
      readings.push_back({now_seconds(), c});
    }
  }
  // Intervals up to the last one in which datagrams still arrived; that one is dropped too (the flood
  // ended inside it), as are the silent ones after it (the receiver draining its queue).
  std::vector<double> rates;
  uint64_t sum_n = 0;
  double sum_t = 0;
  size_t end = readings.size();
  while (end >= 2 && readings[end - 1].arrivals == readings[end - 2].arrivals) --end;
  if (end >= 3) --end;
  for (size_t i = 0; i + 1 < end; ++i) {
    uint64_t dn = readings[i + 1].arrivals - readings[i].arrivals;
    double dt = readings[i + 1].t - readings[i].t;
    rates.push_back(double(dn) / dt);
    sum_n += dn;
    sum_t += dt;
  }
  std::sort(rates.begin(), rates.end());
  const double median = rates.empty() ? 0 : rates.size() % 2 ? rates[rates.size() / 2]
                                           : (rates[rates.size() / 2 - 1] + rates[rates.size() / 2]) / 2;
  std::printf("received=%llu intervals=%zu window=%.3f pps=%.0f mean_pps=%.0f min_pps=%.0f max_pps=%.0f\n",
              (unsigned long long)received, rates.size(), sum_t, median, sum_t > 0 ? double(sum_n) / sum_t : 0.0,
              rates.empty() ? 0.0 : rates.front(), rates.empty() ? 0.0 : rates.back());
  close(fd);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) usage();
  std::string_view mode = argv[1];
  Args a = parse(argc, argv);
  if (mode == "send") return a.dst.empty() ? (usage(), 1) : run_send(a);
  if (mode == "recv") return run_recv(a);
  usage();
}
