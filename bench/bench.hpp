// SPDX-License-Identifier: MIT
// Shared pieces of w3tp's benchmark programs: case parameters, result lines, clocks, the test file,
// percentiles, RSS and CPU affinity. Every case runs in its own child process (spawned by the driver),
// reads its parameters as key=value words and prints "RESULT <metric> <value>" lines on stdout.
#pragma once

#include <fcntl.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

namespace bench {

/// Exit code of a case whose peer is not built in or cannot run here (CTest's and liburing's "skipped").
constexpr int k_skip = 77;

/// The page size of the file workload and the size of the test file.
constexpr std::size_t k_block = 4096;
constexpr std::uint64_t k_file_size = 64ull << 20;
constexpr std::uint64_t k_file_blocks = k_file_size / k_block;
/// Bytes per ping-pong message.
constexpr std::size_t k_msg = 64;

/// A case's parameters: key=value words from the command line.
class params {
 public:
  params(int argc, char** argv, int first) {
    for (int i = first; i < argc; ++i) {
      std::string_view a(argv[i]);
      auto eq = a.find('=');
      if (eq == std::string_view::npos) throw std::invalid_argument(fmt::format("expected key=value, got '{}'", a));
      kv_[std::string(a.substr(0, eq))] = std::string(a.substr(eq + 1));
    }
  }
  long num(const std::string& key, long def) const {
    auto it = kv_.find(key);
    return it == kv_.end() ? def : std::strtol(it->second.c_str(), nullptr, 10);
  }
  std::string str(const std::string& key, const std::string& def) const {
    auto it = kv_.find(key);
    return it == kv_.end() ? def : it->second;
  }

 private:
  std::map<std::string, std::string> kv_;
};

/// Prints one measured value for the driver.
inline void result(std::string_view metric, double value) {
  fmt::print("RESULT {} {:.6g}\n", metric, value);
  std::fflush(stdout);
}

/// Prints a note (why a case was skipped, what was observed) for the driver to show.
inline void note(std::string_view text) {
  fmt::print("NOTE {}\n", text);
  std::fflush(stdout);
}

[[noreturn]] inline void fail(std::string_view what) {
  fmt::print(stderr, "w3tp_bench: {}\n", what);
  std::exit(1);
}

inline std::uint64_t now_ns() noexcept {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
          .count());
}

/// A small fast generator for file offsets (xorshift64*), one per in-flight slot so that no two
/// threads share state.
struct rng {
  std::uint64_t s;
  explicit rng(std::uint64_t seed = 1) noexcept : s(seed * 0x9E3779B97F4A7C15ull + 1) {}
  std::uint64_t next() noexcept {
    s ^= s >> 12;
    s ^= s << 25;
    s ^= s >> 27;
    return s * 0x2545F4914F6CDD1Dull;
  }
  /// A block-aligned offset inside the test file.
  std::uint64_t offset() noexcept { return (next() >> 20) % k_file_blocks * k_block; }
};

/// The path of the 64 MiB test file (W3TP_BENCH_FILE, else in $TMPDIR or /var/tmp: not tmpfs, so
/// that posix_fadvise(DONTNEED) can really drop it from the page cache).
inline std::string file_path() {
  if (const char* p = std::getenv("W3TP_BENCH_FILE"); p != nullptr && *p != '\0') return p;
  const char* dir = std::getenv("TMPDIR");
  return fmt::format("{}/w3tp_bench_64MiB.dat", dir != nullptr && *dir != '\0' ? dir : "/var/tmp");
}

/// Creates the test file if it is missing or has the wrong size, and syncs it (dirty pages cannot be
/// dropped from the cache).
inline void ensure_file() {
  std::string path = file_path();
  struct stat st;
  if (::stat(path.c_str(), &st) == 0 && static_cast<std::uint64_t>(st.st_size) == k_file_size) return;
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) fail(fmt::format("cannot create {}: {}", path, std::strerror(errno)));
  std::vector<char> chunk(1 << 20);
  rng r(7);
  for (std::uint64_t done = 0; done < k_file_size; done += chunk.size()) {
    for (std::size_t i = 0; i < chunk.size(); i += 8) {
      std::uint64_t v = r.next();
      std::memcpy(chunk.data() + i, &v, 8);
    }
    if (::write(fd, chunk.data(), chunk.size()) != static_cast<ssize_t>(chunk.size())) fail("short write");
  }
  ::fsync(fd);
  ::close(fd);
}

/// Fraction of the file's pages that are in the page cache.
inline double cached_fraction(int fd) {
  void* p = ::mmap(nullptr, k_file_size, PROT_READ, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) return -1;
  std::vector<unsigned char> vec(k_file_blocks);
  double frac = -1;
  if (::mincore(p, k_file_size, vec.data()) == 0) {
    std::size_t in = 0;
    for (unsigned char c : vec) in += c & 1;
    frac = static_cast<double>(in) / static_cast<double>(vec.size());
  }
  ::munmap(p, k_file_size);
  return frac;
}

/// Puts the whole file in the page cache (hot) or drops it (cold), and reports what it got.
inline void prepare_cache(bool cold) {
  int fd = ::open(file_path().c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail("cannot open the test file (run the driver once to create it)");
  if (cold) {
    ::fdatasync(fd);
    ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  } else {
    std::vector<char> buf(1 << 20);
    for (std::uint64_t off = 0; off < k_file_size; off += buf.size())
      if (::pread(fd, buf.data(), buf.size(), static_cast<off_t>(off)) <= 0) break;
  }
  result("cached_fraction", cached_fraction(fd));
  ::close(fd);
}

/// Parses "0" or "0,1" and restricts the process (and the threads it makes later) to those CPUs.
inline void apply_cpus(const params& p) {
  std::string cpus = p.str("cpus", "");
  if (cpus.empty()) return;
  cpu_set_t set;
  CPU_ZERO(&set);
  for (std::size_t pos = 0; pos < cpus.size();) {
    std::size_t comma = cpus.find(',', pos);
    if (comma == std::string::npos) comma = cpus.size();
    CPU_SET(std::atoi(cpus.substr(pos, comma - pos).c_str()), &set);
    pos = comma + 1;
  }
  if (::sched_setaffinity(0, sizeof set, &set) != 0) fail("sched_setaffinity");
}

/// Pins the calling thread to one CPU (modulo the CPU count).
inline void pin_self(unsigned cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  long n = ::sysconf(_SC_NPROCESSORS_ONLN);
  CPU_SET(cpu % static_cast<unsigned>(n > 0 ? n : 1), &set);
  ::sched_setaffinity(0, sizeof set, &set);
}

/// Raises the soft descriptor limit to the hard one (the scale and memory cases open thousands).
inline void raise_nofile() {
  struct rlimit rl;
  if (::getrlimit(RLIMIT_NOFILE, &rl) == 0) {
    rl.rlim_cur = rl.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &rl);
  }
}

/// Anonymous resident memory in bytes (RssAnon of /proc/self/status).
inline std::int64_t rss_bytes() {
  // RssAnon, not statm's resident count: that one also counts the pages of shared libraries' code as it
  // is first run (a library function first called inside a measured loop faulted in 64 KiB of libc's
  // text, 4 bytes per handle over 16 000 handles), which is no memory the measured objects use.
  std::FILE* f = std::fopen("/proc/self/status", "r");
  if (f == nullptr) return -1;
  char line[256];
  long kib = -1;
  while (std::fgets(line, sizeof line, f) != nullptr)
    if (std::sscanf(line, "RssAnon: %ld kB", &kib) == 1) break;
  std::fclose(f);
  return kib < 0 ? -1 : static_cast<std::int64_t>(kib) * 1024;
}

/// The p-th percentile (0..100) of the samples (sorted in place).
inline double percentile(std::vector<std::uint64_t>& v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  auto i = static_cast<std::size_t>(p / 100.0 * static_cast<double>(v.size() - 1) + 0.5);
  return static_cast<double>(v[std::min(i, v.size() - 1)]);
}

/// Reports round-trip samples as p50/p99 in nanoseconds.
inline void report_latency(std::vector<std::uint64_t>& rtt) {
  result("rtt_p50_ns", percentile(rtt, 50));
  result("rtt_p99_ns", percentile(rtt, 99));
}

/// The descriptors of a ping-pong run: `pairs` connected pairs. With pipes, each side has a read and
/// a write descriptor (two pipes per pair); with socketpairs both are the same descriptor.
struct pp_fds {
  int client_rd, client_wr, server_rd, server_wr;
};

inline std::vector<pp_fds> make_pairs(unsigned pairs, bool pipes) {
  std::vector<pp_fds> v;
  for (unsigned i = 0; i < pairs; ++i) {
    if (pipes) {
      int up[2], down[2];  // up: client -> server, down: server -> client
      if (::pipe2(up, O_CLOEXEC) != 0 || ::pipe2(down, O_CLOEXEC) != 0) fail("pipe2");
      v.push_back({down[0], up[1], up[0], down[1]});
    } else {
      int sv[2];
      if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) fail("socketpair");
      v.push_back({sv[0], sv[0], sv[1], sv[1]});
    }
  }
  return v;
}

/// Closes what make_pairs made (for peers that do not own the descriptors).
inline void close_pairs(const std::vector<pp_fds>& v) {
  for (const auto& p : v) {
    ::close(p.client_rd);
    if (p.client_wr != p.client_rd) ::close(p.client_wr);
    ::close(p.server_rd);
    if (p.server_wr != p.server_rd) ::close(p.server_wr);
  }
}

/// Waits until an atomic counter reaches zero (the measuring thread sleeps in the kernel meanwhile).
template <class T>
void wait_zero(std::atomic<T>& a) {
  for (T v = a.load(std::memory_order_acquire); v != 0; v = a.load(std::memory_order_acquire))
    a.wait(v, std::memory_order_acquire);
}

/// Reports an operation rate.
inline void report_rate(std::uint64_t ops, std::uint64_t ns) {
  result("ops_per_s", static_cast<double>(ops) * 1e9 / static_cast<double>(ns ? ns : 1));
}

/// CPU time (user + system, getrusage) of this process so far, in nanoseconds.
inline std::uint64_t cpu_ns() noexcept {
  struct rusage ru {};
  ::getrusage(RUSAGE_SELF, &ru);
  auto ns = [](const timeval& tv) {
    return static_cast<std::uint64_t>(tv.tv_sec) * 1'000'000'000ull + static_cast<std::uint64_t>(tv.tv_usec) * 1000ull;
  };
  return ns(ru.ru_utime) + ns(ru.ru_stime);
}

/// Reports the CPU time per operation spent since cpu0 = cpu_ns() (every thread of the process).
inline void report_cpu(std::uint64_t ops, std::uint64_t cpu0) {
  result("cpu_ns_per_op", static_cast<double>(cpu_ns() - cpu0) / static_cast<double>(ops ? ops : 1));
}

// Case entry points (each returns the process exit code: 0, k_skip or 1).
int w3tp_posts(const params&);
int w3tp_file(const params&);
int w3tp_pingpong(const params&);
int w3tp_handles(const params&);
int w3tp_memory(const params&);
int uring_file(const params&);
int uring_pingpong(const params&);
int uring_handles(const params&);
int sys_file(const params&);
int sys_pingpong(const params&);
int uv_file(const params&);
int uv_pingpong(const params&);
int uv_memory(const params&);

}  // namespace bench
