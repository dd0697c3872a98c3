// SPDX-License-Identifier: MIT
// Blocking system calls, the floor: pread on N threads for the file workload, and a blocking
// read/write pair of threads for ping-pong latency.
#include <thread>

#include "bench.hpp"

namespace bench {

int sys_file(const params& p) {
  prepare_cache(p.num("cold", 0) != 0);
  int fd = ::open(file_path().c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail("open");
  auto threads = static_cast<unsigned>(p.num("threads", 2));
  auto ops = static_cast<std::uint64_t>(p.num("ops", 1'000'000));
  std::atomic<std::uint64_t> errors{0};
  std::vector<std::thread> ts;
  std::uint64_t t0 = now_ns(), cpu0 = cpu_ns();
  for (unsigned t = 0; t < threads; ++t) {
    std::uint64_t n = ops / threads + (t < ops % threads ? 1 : 0);
    ts.emplace_back([&, n, t] {
      alignas(64) char buf[k_block];
      rng r(t + 1);
      for (std::uint64_t i = 0; i < n; ++i)
        if (::pread(fd, buf, k_block, static_cast<off_t>(r.offset())) != static_cast<ssize_t>(k_block))
          errors.fetch_add(1, std::memory_order_relaxed);
    });
  }
  for (auto& t : ts) t.join();
  report_rate(ops, now_ns() - t0);
  report_cpu(ops, cpu0);
  ::close(fd);
  return errors.load() == 0 ? 0 : 1;
}

namespace {

bool read_all(int fd, char* p, std::size_t n) {
  while (n != 0) {
    ssize_t r = ::read(fd, p, n);
    if (r <= 0) return false;
    p += r;
    n -= static_cast<std::size_t>(r);
  }
  return true;
}

bool write_all(int fd, const char* p, std::size_t n) {
  while (n != 0) {
    ssize_t r = ::write(fd, p, n);
    if (r <= 0) return false;
    p += r;
    n -= static_cast<std::size_t>(r);
  }
  return true;
}

}  // namespace

// One pair, one thread per side (pin=1: thread t on CPU t).
int sys_pingpong(const params& p) {
  apply_cpus(p);
  bool pipes = p.num("pipes", 1) != 0;
  bool pin = p.num("pin", 0) != 0;
  bool lat = p.num("lat", 1) != 0;
  auto rounds = static_cast<std::uint64_t>(p.num("ops", 100'000));
  auto fds = make_pairs(1, pipes);
  std::vector<std::uint64_t> rtt;
  rtt.reserve(rounds);
  bool ok = true;
  std::uint64_t t0 = now_ns();
  std::thread server([&] {
    if (pin) pin_self(1);
    char buf[k_msg];
    for (std::uint64_t i = 0; i < rounds; ++i)
      if (!read_all(fds[0].server_rd, buf, k_msg) || !write_all(fds[0].server_wr, buf, k_msg)) return;
  });
  {
    if (pin) pin_self(0);
    char buf[k_msg] = {};
    for (std::uint64_t i = 0; i < rounds && ok; ++i) {
      std::uint64_t s = now_ns();
      ok = write_all(fds[0].client_wr, buf, k_msg) && read_all(fds[0].client_rd, buf, k_msg);
      rtt.push_back(now_ns() - s);
    }
  }
  server.join();
  std::uint64_t ns = now_ns() - t0;
  if (lat)
    report_latency(rtt);
  else
    report_rate(rounds, ns);
  close_pairs(fds);
  return ok ? 0 : 1;
}

}  // namespace bench
