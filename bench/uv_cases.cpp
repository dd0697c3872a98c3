// SPDX-License-Identifier: MIT
// libuv: file reads with uv_fs_read (its thread pool does the pread, the loop thread runs the
// callback: two hops), ping-pong with uv pipes (uv_pipe_open on the descriptors, uv_read_start and
// uv_write), all on one loop thread as libuv programs are written.
#include "bench.hpp"

#ifdef W3TP_BENCH_HAVE_UV
#include <sys/eventfd.h>
#include <uv.h>
#endif

namespace bench {

#ifndef W3TP_BENCH_HAVE_UV
int uv_file(const params&) { return k_skip; }
int uv_pingpong(const params&) { return k_skip; }
int uv_memory(const params&) { return k_skip; }
#else

namespace {

std::uint64_t g_errors = 0;
int g_fd = -1;

struct alignas(64) fs_slot {
  uv_fs_t req;
  uv_buf_t buf;
  rng r;
  std::uint64_t left;
};

void issue(fs_slot* s);

void on_read(uv_fs_t* req) {
  auto* s = static_cast<fs_slot*>(req->data);
  if (req->result != static_cast<ssize_t>(k_block)) ++g_errors;
  uv_fs_req_cleanup(req);
  if (--s->left != 0) issue(s);
}

void issue(fs_slot* s) {
  s->req.data = s;
  if (uv_fs_read(uv_default_loop(), &s->req, g_fd, &s->buf, 1, static_cast<std::int64_t>(s->r.offset()), on_read) != 0)
    ++g_errors;
}

struct uv_end {
  uv_pipe_t rd;
  uv_pipe_t wr_own;
  uv_stream_t* wr = nullptr;
  uv_write_t wreq;
  bool client = false;
  unsigned got = 0;
  std::uint64_t left = 0;
  std::uint64_t t0 = 0;
  std::vector<std::uint64_t>* rtt = nullptr;
  char rbuf[k_msg];
  char wbuf[k_msg];
};

unsigned g_clients = 0;

void on_write(uv_write_t* req, int status) {
  if (status != 0) ++g_errors;
  (void)req;
}

void start_write(uv_end* e) {
  if (e->rtt != nullptr) e->t0 = now_ns();
  uv_buf_t b = uv_buf_init(e->wbuf, k_msg);
  if (uv_write(&e->wreq, e->wr, &b, 1, on_write) != 0) ++g_errors;
}

void on_alloc(uv_handle_t* h, size_t, uv_buf_t* buf) {
  auto* e = static_cast<uv_end*>(h->data);
  *buf = uv_buf_init(e->rbuf + e->got, static_cast<unsigned>(k_msg - e->got));
}

void on_data(uv_stream_t* s, ssize_t nread, const uv_buf_t*) {
  auto* e = static_cast<uv_end*>(s->data);
  if (nread == 0) return;  // EAGAIN
  if (nread < 0) {
    ++g_errors;
    uv_read_stop(s);
    return;
  }
  e->got += static_cast<unsigned>(nread);
  if (e->got < k_msg) return;
  e->got = 0;
  if (e->client && e->rtt != nullptr) e->rtt->push_back(now_ns() - e->t0);
  if (--e->left == 0) {
    uv_read_stop(s);
    if (e->client && --g_clients == 0) uv_stop(uv_default_loop());
    if (e->client) return;
  }
  start_write(e);
}

void open_pipe(uv_pipe_t* p, int fd, void* data) {
  if (uv_pipe_init(uv_default_loop(), p, 0) != 0 || uv_pipe_open(p, fd) != 0) fail("uv_pipe_open");
  p->data = data;
}

void close_all_handles() {
  uv_walk(
      uv_default_loop(),
      [](uv_handle_t* h, void*) {
        if (!uv_is_closing(h)) uv_close(h, nullptr);
      },
      nullptr);
  uv_run(uv_default_loop(), UV_RUN_DEFAULT);
}

}  // namespace

int uv_file(const params& p) {
  prepare_cache(p.num("cold", 0) != 0);
  // libuv's pool is sized once per process, before its first use.
  ::setenv("UV_THREADPOOL_SIZE", std::to_string(p.num("threads", 2)).c_str(), 1);
  g_fd = ::open(file_path().c_str(), O_RDONLY | O_CLOEXEC);
  if (g_fd < 0) fail("open");
  auto depth = static_cast<unsigned>(p.num("depth", 64));
  auto ops = static_cast<std::uint64_t>(p.num("ops", 200'000));
  std::vector<fs_slot> slots(depth);
  std::vector<char> bufs(static_cast<std::size_t>(depth) * k_block);
  for (unsigned i = 0; i < depth; ++i) {
    slots[i].buf = uv_buf_init(bufs.data() + static_cast<std::size_t>(i) * k_block, k_block);
    slots[i].r = rng(i + 1);
    slots[i].left = ops / depth + (i < ops % depth ? 1 : 0);
  }
  std::uint64_t t0 = now_ns();
  for (auto& s : slots)
    if (s.left != 0) issue(&s);
  uv_run(uv_default_loop(), UV_RUN_DEFAULT);
  report_rate(ops, now_ns() - t0);
  ::close(g_fd);
  return g_errors == 0 ? 0 : 1;
}

int uv_pingpong(const params& p) {
  apply_cpus(p);
  auto pairs = static_cast<unsigned>(p.num("pairs", 64));
  bool pipes = p.num("pipes", 0) != 0;
  bool lat = p.num("lat", 0) != 0;
  auto ops = static_cast<std::uint64_t>(p.num("ops", 400'000));
  std::uint64_t rounds = std::max<std::uint64_t>(1, ops / pairs);
  auto fds = make_pairs(pairs, pipes);
  std::vector<uv_end> ends(2 * pairs);
  std::vector<std::uint64_t> rtt;
  if (lat) rtt.reserve(rounds);
  for (unsigned i = 0; i < pairs; ++i) {
    for (int side = 0; side < 2; ++side) {
      uv_end& e = ends[2 * i + side];
      e.client = side == 0;
      e.left = rounds;
      e.rtt = lat && e.client ? &rtt : nullptr;
      std::memset(e.wbuf, 'x', k_msg);
      int rd = e.client ? fds[i].client_rd : fds[i].server_rd;
      int wr = e.client ? fds[i].client_wr : fds[i].server_wr;
      open_pipe(&e.rd, rd, &e);
      if (wr != rd) {
        open_pipe(&e.wr_own, wr, &e);
        e.wr = reinterpret_cast<uv_stream_t*>(&e.wr_own);
      } else {
        e.wr = reinterpret_cast<uv_stream_t*>(&e.rd);
      }
      uv_read_start(reinterpret_cast<uv_stream_t*>(&e.rd), on_alloc, on_data);
    }
  }
  g_clients = pairs;
  std::uint64_t t0 = now_ns();
  for (unsigned i = 0; i < pairs; ++i) start_write(&ends[2 * i]);
  uv_run(uv_default_loop(), UV_RUN_DEFAULT);
  std::uint64_t ns = now_ns() - t0;
  if (lat)
    report_latency(rtt);
  else
    report_rate(rounds * pairs, ns);
  close_all_handles();  // uv_close closes the descriptors
  return g_errors == 0 ? 0 : 1;
}

int uv_memory(const params& p) {
  raise_nofile();
  auto n = static_cast<unsigned>(p.num("handles", 16000));
  std::vector<int> fds(n);
  for (auto& fd : fds)
    if ((fd = ::eventfd(0, EFD_CLOEXEC)) < 0) fail("eventfd");
  uv_run(uv_default_loop(), UV_RUN_NOWAIT);
  std::int64_t r0 = rss_bytes();
  // In libuv the handle object is the per-handle state; the application allocates it.
  std::vector<uv_pipe_t> pipes(n);
  for (unsigned i = 0; i < n; ++i) open_pipe(&pipes[i], fds[i], nullptr);
  uv_run(uv_default_loop(), UV_RUN_NOWAIT);
  std::int64_t r1 = rss_bytes();
  for (auto& pp : pipes)
    uv_read_start(
        reinterpret_cast<uv_stream_t*>(&pp),
        [](uv_handle_t*, size_t, uv_buf_t* b) {
          static char one[8];
          *b = uv_buf_init(one, 8);
        },
        [](uv_stream_t*, ssize_t, const uv_buf_t*) {});
  uv_run(uv_default_loop(), UV_RUN_NOWAIT);
  std::int64_t r2 = rss_bytes();
  result("bytes_per_handle", static_cast<double>(r1 - r0) / n);
  result("bytes_per_op", static_cast<double>(r2 - r1) / n);
  close_all_handles();
  return 0;
}

#endif

}  // namespace bench
