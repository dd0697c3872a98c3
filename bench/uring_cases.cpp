// SPDX-License-Identifier: MIT
// Raw liburing, the ceiling w3tp's io_uring backend is held to: one ring per thread, each thread
// reaping its own completions and preparing the next requests itself, one submit per loop.
#include "bench.hpp"

#ifdef W3TP_BENCH_HAVE_LIBURING
#include <liburing.h>
#include <sys/eventfd.h>

#include <thread>
#endif

namespace bench {

#ifndef W3TP_BENCH_HAVE_LIBURING
int uring_file(const params&) { return k_skip; }
int uring_pingpong(const params&) { return k_skip; }
int uring_handles(const params&) { return k_skip; }
#else

namespace {

void init_ring(struct io_uring& ring, unsigned entries) {
  if (int r = io_uring_queue_init(std::max(entries, 8u), &ring, 0); r < 0)
    fail(fmt::format("io_uring_queue_init: {}", std::strerror(-r)));
}

struct io_uring_sqe* sqe_of(struct io_uring& ring) {
  struct io_uring_sqe* sqe = io_uring_get_sqe(&ring);
  while (sqe == nullptr) {
    io_uring_submit(&ring);
    sqe = io_uring_get_sqe(&ring);
  }
  return sqe;
}

// One thread's share of the file workload: `depth` reads in flight on its own ring, `ops` in all. Its
// read slot i is the workload's slot first_slot + i and reads through fds[that % fds.size()], as the
// w3tp peer's slot does (so that "64 handles" spreads the reads over 64 descriptors here too).
void file_thread(const std::vector<int>& fds, unsigned first_slot, unsigned depth, std::uint64_t ops, unsigned seed,
                 std::atomic<std::uint64_t>& errors) {
  auto fd_of = [&](std::uint64_t i) { return fds[(first_slot + i) % fds.size()]; };
  struct io_uring ring;
  init_ring(ring, depth);
  std::vector<char> bufs(static_cast<std::size_t>(depth) * k_block);
  rng r(seed);
  std::uint64_t issued = 0, done = 0;
  for (unsigned i = 0; i < depth && issued < ops; ++i, ++issued) {
    struct io_uring_sqe* sqe = sqe_of(ring);
    io_uring_prep_read(sqe, fd_of(i), bufs.data() + static_cast<std::size_t>(i) * k_block, k_block, r.offset());
    io_uring_sqe_set_data64(sqe, i);
  }
  while (done < ops) {
    io_uring_submit_and_wait(&ring, 1);
    struct io_uring_cqe* cqe;
    unsigned head, seen = 0;
    io_uring_for_each_cqe(&ring, head, cqe) {
      ++seen;
      ++done;
      if (cqe->res != static_cast<int>(k_block)) errors.fetch_add(1, std::memory_order_relaxed);
      if (issued < ops) {
        ++issued;
        auto i = cqe->user_data;
        struct io_uring_sqe* sqe = sqe_of(ring);
        io_uring_prep_read(sqe, fd_of(i), bufs.data() + i * k_block, k_block, r.offset());
        io_uring_sqe_set_data64(sqe, i);
      }
    }
    io_uring_cq_advance(&ring, seen);
  }
  io_uring_queue_exit(&ring);
}

// Runs the file workload, thread t on fds[t % fds.size()]; reports the rate and the CPU per read.
void run_file(const std::vector<int>& fds, unsigned threads, unsigned depth, std::uint64_t ops,
              std::atomic<std::uint64_t>& errors) {
  std::vector<std::thread> ts;
  std::uint64_t t0 = now_ns(), cpu0 = cpu_ns();
  unsigned first_slot = 0;
  for (unsigned t = 0; t < threads; ++t) {
    unsigned d = depth / threads + (t < depth % threads ? 1 : 0);
    std::uint64_t n = ops / threads + (t < ops % threads ? 1 : 0);
    ts.emplace_back([=, &fds, &errors] { file_thread(fds, first_slot, std::max(d, 1u), n, t + 1, errors); });
    first_slot += d;
  }
  for (auto& t : ts) t.join();
  report_rate(ops, now_ns() - t0);
  report_cpu(ops, cpu0);
}

// Ping-pong on one ring: the ends given to this thread, each a serial chain write -> read -> write.
struct end_state {
  int rd, wr;
  bool client;
  unsigned got = 0;
  std::uint64_t left = 0;
  std::uint64_t t0 = 0;
  char rbuf[k_msg];
  char wbuf[k_msg];
};

void pp_thread(std::vector<end_state*> ends, std::vector<std::uint64_t>* rtt, std::atomic<std::uint64_t>& errors) {
  struct io_uring ring;
  init_ring(ring, static_cast<unsigned>(2 * ends.size() + 8));
  // user_data: end pointer | 1 for a write.
  auto start_read = [&](end_state* e) {
    struct io_uring_sqe* sqe = sqe_of(ring);
    io_uring_prep_read(sqe, e->rd, e->rbuf + e->got, static_cast<unsigned>(k_msg - e->got), static_cast<__u64>(-1));
    io_uring_sqe_set_data64(sqe, reinterpret_cast<std::uintptr_t>(e));
  };
  auto start_write = [&](end_state* e) {
    if (rtt != nullptr) e->t0 = now_ns();
    struct io_uring_sqe* sqe = sqe_of(ring);
    io_uring_prep_write(sqe, e->wr, e->wbuf, k_msg, static_cast<__u64>(-1));
    io_uring_sqe_set_data64(sqe, reinterpret_cast<std::uintptr_t>(e) | 1);
  };
  unsigned clients = 0;
  for (end_state* e : ends) {
    std::memset(e->wbuf, 'x', k_msg);
    if (e->client) {
      ++clients;
      start_write(e);
    } else {
      start_read(e);
    }
  }
  // A thread that serves only servers cannot see its clients finish: it counts the answers it owes.
  std::uint64_t server_msgs = 0;
  for (end_state* e : ends)
    if (!e->client) server_msgs += e->left;
  while (clients != 0 || server_msgs != 0) {
    io_uring_submit_and_wait(&ring, 1);
    struct io_uring_cqe* cqe;
    unsigned head, seen = 0;
    io_uring_for_each_cqe(&ring, head, cqe) {
      ++seen;
      auto* e = reinterpret_cast<end_state*>(cqe->user_data & ~std::uint64_t{1});
      bool write = (cqe->user_data & 1) != 0;
      if (cqe->res <= 0 || (write && cqe->res != static_cast<int>(k_msg))) {
        errors.fetch_add(1);
        fail(fmt::format("liburing ping-pong: res {}", cqe->res));
      }
      if (write) {
        e->got = 0;
        if (!e->client) {
          --server_msgs;
          if (--e->left == 0) continue;  // a server that answered its last message reads no more
        }
        start_read(e);
        continue;
      }
      e->got += static_cast<unsigned>(cqe->res);
      if (e->got < k_msg) {
        start_read(e);
        continue;
      }
      if (e->client) {
        if (rtt != nullptr) rtt->push_back(now_ns() - e->t0);
        if (--e->left == 0) {
          --clients;
          continue;
        }
      }
      start_write(e);
    }
    io_uring_cq_advance(&ring, seen);
  }
  io_uring_queue_exit(&ring);
}

}  // namespace

int uring_file(const params& p) {
  prepare_cache(p.num("cold", 0) != 0);
  // handles=N: N descriptors of the same file (read slot i reads through descriptor i % N).
  std::vector<int> fds(static_cast<std::size_t>(std::max<long>(1, p.num("handles", 1))));
  for (int& fd : fds)
    if ((fd = ::open(file_path().c_str(), O_RDONLY | O_CLOEXEC)) < 0) fail("open");
  std::atomic<std::uint64_t> errors{0};
  auto ops = static_cast<std::uint64_t>(p.num("ops", 1'000'000));
  run_file(fds, static_cast<unsigned>(p.num("threads", 2)), static_cast<unsigned>(p.num("depth", 64)), ops, errors);
  for (int fd : fds) ::close(fd);
  return errors.load() == 0 ? 0 : 1;
}

// threads=1: every end on one ring. threads=2: split=0 puts pair i (both ends) on ring i%2, split=1
// puts every client on ring 0 and every server on ring 1 (so each message crosses threads). pin=1
// pins thread t to CPU t.
int uring_pingpong(const params& p) {
  apply_cpus(p);
  auto pairs = static_cast<unsigned>(p.num("pairs", 64));
  bool pipes = p.num("pipes", 0) != 0;
  bool lat = p.num("lat", 0) != 0;
  auto threads = static_cast<unsigned>(p.num("threads", 1));
  bool split = p.num("split", 0) != 0;
  bool pin = p.num("pin", 0) != 0;
  auto ops = static_cast<std::uint64_t>(p.num("ops", 400'000));
  std::uint64_t rounds = std::max<std::uint64_t>(1, ops / pairs);
  auto fds = make_pairs(pairs, pipes);
  std::vector<end_state> ends(2 * pairs);
  std::vector<std::vector<end_state*> > per_thread(threads);
  for (unsigned i = 0; i < pairs; ++i) {
    end_state& c = ends[2 * i];
    end_state& s = ends[2 * i + 1];
    c.rd = fds[i].client_rd, c.wr = fds[i].client_wr, c.client = true, c.left = rounds;
    s.rd = fds[i].server_rd, s.wr = fds[i].server_wr, s.client = false, s.left = rounds;
    unsigned tc = split ? 0 : i % threads;
    unsigned ts = split ? 1 % threads : i % threads;
    per_thread[tc].push_back(&c);
    per_thread[ts].push_back(&s);
  }
  std::vector<std::uint64_t> rtt;
  if (lat) rtt.reserve(rounds);
  std::atomic<std::uint64_t> errors{0};
  std::vector<std::thread> ts;
  std::uint64_t t0 = now_ns();
  for (unsigned t = 0; t < threads; ++t) {
    bool has_client = false;
    for (end_state* e : per_thread[t]) has_client = has_client || e->client;
    ts.emplace_back([&, t, has_client] {
      if (pin) pin_self(t);
      pp_thread(per_thread[t], lat && has_client ? &rtt : nullptr, errors);
    });
  }
  for (auto& t : ts) t.join();
  std::uint64_t ns = now_ns() - t0;
  if (lat)
    report_latency(rtt);
  else
    report_rate(rounds * pairs, ns);
  close_pairs(fds);
  return errors.load() == 0 ? 0 : 1;
}

// The scale case for raw liburing: `handles` idle eventfd reads pending on thread 0's ring... which
// a ring-per-thread program cannot share with its file threads, so they sit on a ring of their own
// that nobody reaps (the kernel keeps them armed), and the file workload runs beside them.
int uring_handles(const params& p) {
  raise_nofile();
  prepare_cache(false);
  auto handles = static_cast<unsigned>(p.num("handles", 1));
  struct io_uring idle;
  init_ring(idle, 1024);
  std::vector<int> efds(handles);
  std::vector<std::uint64_t> vals(handles);
  std::uint64_t s0 = now_ns();
  for (unsigned i = 0; i < handles; ++i) {
    if ((efds[i] = ::eventfd(0, EFD_CLOEXEC)) < 0) fail("eventfd");
    struct io_uring_sqe* sqe = sqe_of(idle);
    io_uring_prep_read(sqe, efds[i], &vals[i], 8, 0);
    io_uring_sqe_set_data64(sqe, i);
  }
  io_uring_submit(&idle);
  result("setup_ns_per_handle", static_cast<double>(now_ns() - s0) / handles);
  int fd = ::open(file_path().c_str(), O_RDONLY | O_CLOEXEC);
  std::atomic<std::uint64_t> errors{0};
  auto ops = static_cast<std::uint64_t>(p.num("ops", 1'000'000));
  run_file({fd}, static_cast<unsigned>(p.num("threads", 2)), static_cast<unsigned>(p.num("depth", 64)), ops, errors);
  std::uint64_t c0 = now_ns();
  for (int e : efds) ::close(e);
  io_uring_queue_exit(&idle);
  result("teardown_ns_per_handle", static_cast<double>(now_ns() - c0) / handles);
  ::close(fd);
  return errors.load() == 0 ? 0 : 1;
}

#endif

}  // namespace bench
