// The kernel's own list of instantiated xtables tables in the calling thread's network namespace:
// /proc/thread-self/net/ip_tables_names (IPv4) or ip6_tables_names (IPv6), newest table first.
//
// Read with open(2)/read(2), never stdio: the preload shim interposes fopen() for /proc/net/*_names,
// and nfjitd may itself run under /etc/ld.so.preload; its own read must reach the kernel.
#pragma once

#include <string>
#include <vector>

namespace nfjit::daemon {

// `family` 4 or 6. Empty when the file is absent (ip_tables not loaded) or unreadable.
std::vector<std::string> kernel_table_names(int family);

// Joins names as the /proc file shows them: one per line, each ending in '\n'.
std::string table_names_text(const std::vector<std::string>& names);

}  // namespace nfjit::daemon
