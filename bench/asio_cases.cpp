// SPDX-License-Identifier: MIT
// Boost.Asio as a peer. This file is built twice, as two programs: once with Asio's default Linux
// backend (epoll) and once with BOOST_ASIO_HAS_IO_URING and BOOST_ASIO_DISABLE_EPOLL (io_uring for
// everything, and the only way Asio does asynchronous file I/O on Linux). The two configurations
// cannot share a program: Asio is header-only and the macros change its types (ODR).
//
// Usage: w3tp_bench_asio_{epoll,uring} <posts|file|pingpong|memory> key=value...
#include <sys/eventfd.h>

#include <boost/asio.hpp>
#include <memory>
#include <thread>

#include "bench.hpp"

#if defined(BOOST_ASIO_HAS_FILE)
#include <boost/asio/random_access_file.hpp>
#endif

namespace asio = boost::asio;

namespace bench {
namespace {

std::atomic<std::uint64_t> g_errors{0};

void run_threads(asio::io_context& ioc, unsigned threads) {
  std::vector<std::thread> ts;
  for (unsigned t = 1; t < threads; ++t) ts.emplace_back([&] { ioc.run(); });
  ioc.run();
  for (auto& t : ts) t.join();
}

// posts: chains of post -> handler -> post.
struct alignas(64) chain {  // one cache line each, as the w3tp program's chains
  asio::io_context* ioc;
  std::uint64_t left;
  void step() {
    if (--left == 0) return;
    asio::post(*ioc, [this] { step(); });
  }
};

int posts(const params& p) {
  auto threads = static_cast<unsigned>(p.num("threads", 2));
  auto chains = static_cast<unsigned>(p.num("chains", 64));
  auto ops = static_cast<std::uint64_t>(p.num("ops", 2'000'000));
  asio::io_context ioc(static_cast<int>(threads));
  std::vector<chain> c(chains, chain{&ioc, ops / chains});
  std::uint64_t t0 = now_ns();
  for (auto& ch : c) asio::post(ioc, [&ch] { ch.step(); });
  run_threads(ioc, threads);
  report_rate(ops / chains * chains, now_ns() - t0);
  return 0;
}

#if defined(BOOST_ASIO_HAS_FILE)
struct alignas(64) file_slot {
  asio::random_access_file* f;
  rng r;
  std::uint64_t left;
  char* buf;
  void issue() {
    f->async_read_some_at(r.offset(), asio::buffer(buf, k_block), [this](boost::system::error_code ec, std::size_t n) {
      if (ec || n != k_block) g_errors.fetch_add(1, std::memory_order_relaxed);
      if (--left != 0) issue();
    });
  }
};

int file(const params& p) {
  prepare_cache(p.num("cold", 0) != 0);
  auto threads = static_cast<unsigned>(p.num("threads", 2));
  auto depth = static_cast<unsigned>(p.num("depth", 64));
  auto ops = static_cast<std::uint64_t>(p.num("ops", 200'000));
  asio::io_context ioc(static_cast<int>(threads));
  asio::random_access_file f(ioc, file_path(), asio::random_access_file::read_only);
  std::vector<char> bufs(static_cast<std::size_t>(depth) * k_block);
  std::vector<file_slot> slots(depth);
  for (unsigned i = 0; i < depth; ++i)
    slots[i] = {&f, rng(i + 1), ops / depth + (i < ops % depth ? 1 : 0), bufs.data() + std::size_t{i} * k_block};
  std::uint64_t t0 = now_ns();
  for (auto& s : slots)
    if (s.left != 0) s.issue();
  run_threads(ioc, threads);
  report_rate(ops, now_ns() - t0);
  return g_errors.load() == 0 ? 0 : 1;
}
#else
int file(const params&) {
  note("Asio has no asynchronous file I/O without io_uring");
  return k_skip;
}
#endif

// ping-pong: serial chains write -> read -> write per side, as in the w3tp program.
struct end {
  std::unique_ptr<asio::posix::stream_descriptor> rd, wr_own;
  asio::posix::stream_descriptor* wr = nullptr;
  bool client = false;
  std::uint64_t left = 0;
  std::uint64_t t0 = 0;
  std::vector<std::uint64_t>* rtt = nullptr;
  std::atomic<unsigned>* clients = nullptr;
  asio::io_context* ioc = nullptr;
  char rbuf[k_msg];
  char wbuf[k_msg];

  void start_write() {
    if (rtt != nullptr) t0 = now_ns();
    asio::async_write(*wr, asio::buffer(wbuf, k_msg), [this](boost::system::error_code ec, std::size_t) {
      if (ec) {
        g_errors.fetch_add(1);
        return;
      }
      start_read();
    });
  }
  void start_read() {
    asio::async_read(*rd, asio::buffer(rbuf, k_msg), [this](boost::system::error_code ec, std::size_t) {
      if (ec) {
        if (ec != asio::error::operation_aborted) g_errors.fetch_add(1);
        return;
      }
      if (client) {
        if (rtt != nullptr) rtt->push_back(now_ns() - t0);
        if (--left == 0) {
          if (clients->fetch_sub(1) == 1) ioc->stop();
          return;
        }
      }
      start_write();
    });
  }
};

int pingpong(const params& p) {
  apply_cpus(p);
  auto threads = static_cast<unsigned>(p.num("threads", 2));
  auto pairs = static_cast<unsigned>(p.num("pairs", 64));
  bool pipes = p.num("pipes", 0) != 0;
  bool lat = p.num("lat", 0) != 0;
  auto ops = static_cast<std::uint64_t>(p.num("ops", 400'000));
  std::uint64_t rounds = std::max<std::uint64_t>(1, ops / pairs);
  asio::io_context ioc(static_cast<int>(threads));
  auto fds = make_pairs(pairs, pipes);
  std::vector<end> ends(2 * pairs);
  std::vector<std::uint64_t> rtt;
  if (lat) rtt.reserve(rounds);
  std::atomic<unsigned> clients{pairs};
  for (unsigned i = 0; i < pairs; ++i) {
    for (int side = 0; side < 2; ++side) {
      end& e = ends[2 * i + side];
      e.client = side == 0;
      e.left = rounds;
      e.clients = &clients;
      e.ioc = &ioc;
      e.rtt = lat && e.client ? &rtt : nullptr;
      std::memset(e.wbuf, 'x', k_msg);
      int rd = e.client ? fds[i].client_rd : fds[i].server_rd;
      int wr = e.client ? fds[i].client_wr : fds[i].server_wr;
      e.rd = std::make_unique<asio::posix::stream_descriptor>(ioc, rd);
      if (wr != rd) {
        e.wr_own = std::make_unique<asio::posix::stream_descriptor>(ioc, wr);
        e.wr = e.wr_own.get();
      } else {
        e.wr = e.rd.get();
      }
    }
  }
  for (unsigned i = 0; i < pairs; ++i) ends[2 * i + 1].start_read();
  std::uint64_t t0 = now_ns();
  for (unsigned i = 0; i < pairs; ++i) ends[2 * i].start_write();
  run_threads(ioc, threads);
  std::uint64_t ns = now_ns() - t0;
  if (lat)
    report_latency(rtt);
  else
    report_rate(rounds * pairs, ns);
  return g_errors.load() == 0 ? 0 : 1;
}

int memory(const params& p) {
  raise_nofile();
  auto n = static_cast<unsigned>(p.num("handles", 16000));
  std::vector<int> fds(n);
  for (auto& fd : fds)
    if ((fd = ::eventfd(0, EFD_CLOEXEC)) < 0) fail("eventfd");
  std::vector<std::uint64_t> vals(n, 0);
  asio::io_context ioc(2);
  {
    // Warm-up: Asio's services and the reactor exist before the first sample.
    asio::posix::stream_descriptor d(ioc, ::eventfd(0, EFD_CLOEXEC));
    asio::post(ioc, [] {});
    ioc.poll();
    ioc.restart();
  }
  std::int64_t r0 = rss_bytes();
  // The I/O object is Asio's per-handle state (the application allocates it, as it would here).
  std::vector<asio::posix::stream_descriptor> ds;
  ds.reserve(n);
  for (unsigned i = 0; i < n; ++i) ds.emplace_back(ioc, fds[i]);
  std::int64_t r1 = rss_bytes();
  for (unsigned i = 0; i < n; ++i)
    ds[i].async_read_some(asio::buffer(&vals[i], 8), [](boost::system::error_code, std::size_t) {});
  ioc.poll();
  std::int64_t r2 = rss_bytes();
  result("bytes_per_handle", static_cast<double>(r1 - r0) / n);
  result("bytes_per_op", static_cast<double>(r2 - r1) / n);
  for (auto& d : ds) d.close();
  ioc.poll();
  return 0;
}

}  // namespace
}  // namespace bench

int main(int argc, char** argv) {
  if (argc < 2) {
    fmt::print(stderr, "usage: {} <posts|file|pingpong|memory> key=value...\n", argv[0]);
    return 2;
  }
  try {
    bench::params p(argc, argv, 2);
    std::string_view w(argv[1]);
    if (w == "posts") return bench::posts(p);
    if (w == "file") return bench::file(p);
    if (w == "pingpong") return bench::pingpong(p);
    if (w == "memory") return bench::memory(p);
    fmt::print(stderr, "unknown workload '{}'\n", w);
    return 2;
  } catch (const std::exception& e) {
    fmt::print(stderr, "w3tp_bench_asio: {}\n", e.what());
    return 1;
  }
}
