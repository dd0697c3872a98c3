// SPDX-License-Identifier: MIT
// w3tp_bench: runs w3tp and its peers on the same workloads and prints one table with ratios.
//
//   w3tp_bench [run] [--quick] [--reps N] [--only WORD] [--json FILE] [--no-instructions]
//   w3tp_bench case <workload> <peer> key=value...     one measurement (what `run` spawns)
//   w3tp_bench list                                     the cases `run` would spawn
//
// Every measurement runs in a child process of its own (a fresh heap for RSS deltas, no threads or
// descriptors left over from the previous case, libuv's pool sized per case), `reps` times; the table
// shows the median. The Asio peers are separate programs beside this one (see asio_cases.cpp).
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <cmath>
#include <fstream>
#include <functional>
#include <optional>
#include <sstream>

#include "bench.hpp"

extern char** environ;

namespace bench {
namespace {

// ---------------------------------------------------------------------------------------------
// Child side: one case.

int run_case(int argc, char** argv) {
  if (argc < 4) {
    fmt::print(stderr, "usage: w3tp_bench case <workload> <peer> key=value...\n");
    return 2;
  }
  std::string_view w(argv[2]), peer(argv[3]);
  params p(argc, argv, 4);
  struct entry {
    std::string_view workload, peer;
    int (*fn)(const params&);
  };
  static const entry table[] = {
      {"posts", "w3tp", w3tp_posts},
      {"file", "w3tp", w3tp_file},
      {"pingpong", "w3tp", w3tp_pingpong},
      {"handles", "w3tp", w3tp_handles},
      {"memory", "w3tp", w3tp_memory},
      {"file", "uring", uring_file},
      {"pingpong", "uring", uring_pingpong},
      {"handles", "uring", uring_handles},
      {"file", "sys", sys_file},
      {"pingpong", "sys", sys_pingpong},
      {"file", "uv", uv_file},
      {"pingpong", "uv", uv_pingpong},
      {"memory", "uv", uv_memory},
  };
  for (const auto& e : table)
    if (e.workload == w && e.peer == peer) return e.fn(p);
  fmt::print(stderr, "w3tp_bench: no case '{} {}'\n", w, peer);
  return 2;
}

// ---------------------------------------------------------------------------------------------
// Driver side: the case list, child processes, medians, the table and the targets.

struct case_def {
  std::string workload;           // table group, first part
  std::string variant;            // table group, second part
  std::string peer;               // row label; "w3tp io_uring" and "w3tp epoll" are the reference rows
  std::string exe;                // "" (this program), "asio_epoll" or "asio_uring"
  std::vector<std::string> args;  // after the program: "case w p k=v..." or "w k=v..." for Asio
  bool instructions = false;      // measured under callgrind: two run lengths, instructions per op
  double instr_ops = 0;           // the shorter run length (the longer is 5 times it)
};

struct row {
  std::string workload, variant, peer, metric;
  double value = NAN;
  std::vector<double> reps;
  std::string note;
};

struct options {
  int reps = 5;  // targets are judged on medians of at least 5 repetitions
  double scale = 1.0;
  std::string only;
  std::string json = "w3tp_bench.jsonl";
  bool instructions = true;
};

std::string self_dir() {
  char buf[4096];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return ".";
  std::string s(buf, static_cast<std::size_t>(n));
  return s.substr(0, s.find_last_of('/'));
}

std::string ops_arg(double ops, const options& o) {
  return fmt::format("ops={}", static_cast<std::uint64_t>(std::max(1.0, ops * o.scale)));
}

// The whole benchmark. Op counts are fixed per case, sized for about half a second each on the
// 2-vCPU machines of DESIGN.md.
std::vector<case_def> make_cases(const options& o) {
  std::vector<case_def> v;
  auto self = [&](std::string wl, std::string var, std::string peer, std::string w, std::string p, double ops,
                  std::vector<std::string> kv) {
    std::vector<std::string> a = {"case", std::move(w), std::move(p), ops_arg(ops, o)};
    a.insert(a.end(), kv.begin(), kv.end());
    v.push_back({std::move(wl), std::move(var), std::move(peer), "", std::move(a)});
  };
  auto asio = [&](std::string wl, std::string var, std::string peer, std::string exe, std::string w, double ops,
                  std::vector<std::string> kv) {
    std::vector<std::string> a = {std::move(w), ops_arg(ops, o)};
    a.insert(a.end(), kv.begin(), kv.end());
    v.push_back({std::move(wl), std::move(var), std::move(peer), std::move(exe), std::move(a)});
  };

  // anchors: the ceiling's own scaling, measured first in every run (and kept by --only). A run in which
  // raw liburing or blocking pread does less than 1.6 times more on 2 threads than on 1 measured a
  // machine busy with other work: it is marked invalid and gives no verdicts.
  for (int t : {1, 2}) {
    std::string th = fmt::format("threads={}", t);
    self("anchors", fmt::format("file 4K rand, {} thr", t), "raw liburing (ring/thr)", "file", "uring", 5e5,
         {th, "depth=64"});
    self("anchors", fmt::format("file 4K rand, {} thr", t), "pread", "file", "sys", 5e5, {th});
  }

  // posts: 64 chains of routine -> post. Each peer's run lasts a few tenths of a second: w3tp's used to
  // take 4 M posts, 40-80 ms, short enough for this VM's second-to-second swings (1-thread rates of
  // 34 and 52 M/s a second apart) to decide the 2-thread / 1-thread ratio.
  for (int t : {2, 1}) {
    std::string var = fmt::format("64 chains, {} thr", t);
    std::string th = fmt::format("threads={}", t);
    self("posts", var, "w3tp io_uring", "posts", "w3tp", 2e7, {th, "backend=io_uring"});
    self("posts", var, "w3tp epoll", "posts", "w3tp", 2e7, {th, "backend=epoll"});
    asio("posts", var, "Asio epoll", "asio_epoll", "posts", 3e6, {th});
    asio("posts", var, "Asio io_uring", "asio_uring", "posts", 1.5e6, {th});
  }

  // file: random 4 KiB reads from the 64 MiB file, 64 in flight, 2 threads; hot and cold cache.
  for (int cold : {0, 1}) {
    std::string wl = cold ? "file cold" : "file";
    std::string var = "4K rand, 64 inflight, 2 thr";
    std::string c = fmt::format("cold={}", cold);
    double fast = cold ? 10e3 : 5e5, slow = cold ? 10e3 : 1e5;
    self(wl, var, "w3tp io_uring", "file", "w3tp", fast, {c, "threads=2", "depth=64", "backend=io_uring"});
    self(wl, var, "w3tp epoll", "file", "w3tp", fast, {c, "threads=2", "depth=64", "backend=epoll"});
    self(wl, var, "raw liburing (ring/thr)", "file", "uring", fast, {c, "threads=2", "depth=64"});
    self(wl, var, "pread, 2 thr", "file", "sys", fast, {c, "threads=2"});
    asio(wl, var, "Asio io_uring", "asio_uring", "file", slow, {c, "threads=2", "depth=64"});
    self(wl, var, "libuv (pool 2)", "file", "uv", slow * 0.6, {c, "threads=2", "depth=64"});
  }
  // file: the same reads spread over 64 handles of the file, and on one thread.
  {
    std::string var = "4K rand, 64 inflight, 2 thr, 64 handles";
    self("file", var, "w3tp io_uring", "file", "w3tp", 5e5,
         {"threads=2", "depth=64", "handles=64", "backend=io_uring"});
    self("file", var, "w3tp epoll", "file", "w3tp", 5e5, {"threads=2", "depth=64", "handles=64", "backend=epoll"});
    self("file", var, "raw liburing (ring/thr)", "file", "uring", 5e5, {"threads=2", "depth=64", "handles=64"});
    var = "4K rand, 64 inflight, 1 thr";
    self("file", var, "w3tp io_uring", "file", "w3tp", 5e5, {"threads=1", "depth=64", "backend=io_uring"});
    self("file", var, "w3tp epoll", "file", "w3tp", 5e5, {"threads=1", "depth=64", "backend=epoll"});
    self("file", var, "raw liburing (ring/thr)", "file", "uring", 5e5, {"threads=1", "depth=64"});
    self("file", var, "pread, 1 thr", "file", "sys", 5e5, {"threads=1"});
  }

  // ping-pong throughput: 64 socketpairs, 64-byte messages (ops = round trips).
  for (int t : {2, 1}) {
    std::string var = fmt::format("64 socketpairs, {} thr", t);
    std::string th = fmt::format("threads={}", t);
    self("pingpong", var, "w3tp io_uring", "pingpong", "w3tp", 4e4, {th, "pairs=64", "backend=io_uring"});
    self("pingpong", var, "w3tp epoll", "pingpong", "w3tp", 4e4, {th, "pairs=64", "backend=epoll"});
    self("pingpong", var, "raw liburing (ring/thr)", "pingpong", "uring", 4e4, {th, "pairs=64"});
    asio("pingpong", var, "Asio epoll", "asio_epoll", "pingpong", 4e4, {th, "pairs=64"});
    asio("pingpong", var, "Asio io_uring", "asio_uring", "pingpong", 4e4, {th, "pairs=64"});
    if (t == 1) self("pingpong", var, "libuv (1 loop)", "pingpong", "uv", 4e4, {"pairs=64"});
  }

  // latency: one pipe pair, one message in flight; same core (everything on CPU 0) and cross core.
  for (int cross : {0, 1}) {
    std::string wl = cross ? "latency cross-core" : "latency same-core";
    std::string var = "1 pipe pair, 64 B";
    std::string cpus = cross ? "cpus=0,1" : "cpus=0";
    double n = 3e4;
    self(wl, var, "w3tp io_uring", "pingpong", "w3tp", n,
         {cpus, "threads=2", "pairs=1", "pipes=1", "lat=1", "backend=io_uring"});
    self(wl, var, "w3tp epoll", "pingpong", "w3tp", n,
         {cpus, "threads=2", "pairs=1", "pipes=1", "lat=1", "backend=epoll"});
    if (cross)
      self(wl, var, "raw liburing (2 rings, pinned)", "pingpong", "uring", n,
           {cpus, "threads=2", "split=1", "pin=1", "pairs=1", "pipes=1", "lat=1"});
    else
      self(wl, var, "raw liburing (1 ring)", "pingpong", "uring", n,
           {cpus, "threads=1", "pairs=1", "pipes=1", "lat=1"});
    self(wl, var, "blocking read/write", "pingpong", "sys", n,
         {cpus, fmt::format("pin={}", cross), "pipes=1", "lat=1"});
    asio(wl, var, "Asio epoll", "asio_epoll", "pingpong", n, {cpus, "threads=2", "pairs=1", "pipes=1", "lat=1"});
    asio(wl, var, "Asio io_uring", "asio_uring", "pingpong", n, {cpus, "threads=2", "pairs=1", "pipes=1", "lat=1"});
    self(wl, var, "libuv (1 loop)", "pingpong", "uv", n, {cpus, "pairs=1", "pipes=1", "lat=1"});
  }

  // scale: idle associated handles (each with a pending read) beside the file workload.
  for (int h : {1, 100, 10000}) {
    std::string var = fmt::format("{} idle handles + file", h);
    std::string hs = fmt::format("handles={}", h);
    self("scale handles", var, "w3tp io_uring", "handles", "w3tp", 3e5, {hs, "threads=2", "backend=io_uring"});
    self("scale handles", var, "w3tp epoll", "handles", "w3tp", 3e5, {hs, "threads=2", "backend=epoll"});
    self("scale handles", var, "raw liburing (ring/thr)", "handles", "uring", 3e5, {hs, "threads=2"});
  }
  // scale: queue depth at 2 threads.
  for (int d : {1, 4, 16, 64, 256, 512}) {
    std::string var = fmt::format("file, depth {:>3}, 2 thr", d);
    std::string ds = fmt::format("depth={}", d);
    double n = d < 16 ? 5e4 : 3e5;
    self("scale depth", var, "w3tp io_uring", "file", "w3tp", n, {ds, "threads=2", "backend=io_uring"});
    self("scale depth", var, "w3tp epoll", "file", "w3tp", n, {ds, "threads=2", "backend=epoll"});
    self("scale depth", var, "raw liburing (ring/thr)", "file", "uring", n, {ds, "threads=2"});
  }
  // scale: threads at depth 64.
  for (int t : {1, 2, 4}) {
    std::string var = fmt::format("file, depth 64, {} thr", t);
    std::string th = fmt::format("threads={}", t);
    self("scale threads", var, "w3tp io_uring", "file", "w3tp", 3e5, {th, "depth=64", "backend=io_uring"});
    self("scale threads", var, "w3tp epoll", "file", "w3tp", 3e5, {th, "depth=64", "backend=epoll"});
    self("scale threads", var, "raw liburing (ring/thr)", "file", "uring", 3e5, {th, "depth=64"});
    self("scale threads", var, fmt::format("pread, {} thr", t), "file", "sys", 3e5, {th});
  }

  // memory: RSS delta over 16000 eventfd handles, then one pending 8-byte read on each.
  {
    std::string var = "16000 eventfds, RSS delta";
    v.push_back({"memory", var, "w3tp io_uring", "", {"case", "memory", "w3tp", "handles=16000", "backend=io_uring"}});
    v.push_back({"memory", var, "w3tp epoll", "", {"case", "memory", "w3tp", "handles=16000", "backend=epoll"}});
    v.push_back({"memory", var, "Asio epoll", "asio_epoll", {"memory", "handles=16000"}});
    v.push_back({"memory", var, "Asio io_uring", "asio_uring", {"memory", "handles=16000"}});
    v.push_back({"memory", var, "libuv", "", {"case", "memory", "uv", "handles=16000"}});
  }

  // instructions: user-space instructions per operation under callgrind (two run lengths).
  if (o.instructions) {
    double n = 1e4;  // the shorter run length of the current group
    auto instr = [&](std::string var, std::string peer, std::string exe, std::vector<std::string> a) {
      v.push_back({"instructions", std::move(var), std::move(peer), std::move(exe), std::move(a), true, n});
    };
    std::string fv = "file 4K read, 64 inflight, 1 thr";
    instr(fv, "w3tp io_uring", "", {"case", "file", "w3tp", "threads=1", "depth=64", "backend=io_uring"});
    instr(fv, "w3tp epoll", "", {"case", "file", "w3tp", "threads=1", "depth=64", "backend=epoll"});
    instr(fv, "raw liburing (ring/thr)", "", {"case", "file", "uring", "threads=1", "depth=64"});
    instr(fv, "pread, 1 thr", "", {"case", "file", "sys", "threads=1"});
    instr(fv, "Asio io_uring", "asio_uring", {"file", "threads=1", "depth=64"});
    n = 1e5;
    std::string pv = "post, 64 chains, 1 thr";
    instr(pv, "w3tp io_uring", "", {"case", "posts", "w3tp", "threads=1", "backend=io_uring"});
    instr(pv, "w3tp epoll", "", {"case", "posts", "w3tp", "threads=1", "backend=epoll"});
    instr(pv, "Asio epoll", "asio_epoll", {"posts", "threads=1"});
    n = 5e3;
    std::string pp = "ping-pong round trip, 64 pairs, 1 thr";
    instr(pp, "w3tp io_uring", "", {"case", "pingpong", "w3tp", "threads=1", "pairs=64", "backend=io_uring"});
    instr(pp, "w3tp epoll", "", {"case", "pingpong", "w3tp", "threads=1", "pairs=64", "backend=epoll"});
    instr(pp, "raw liburing (ring/thr)", "", {"case", "pingpong", "uring", "threads=1", "pairs=64"});
    instr(pp, "Asio epoll", "asio_epoll", {"pingpong", "threads=1", "pairs=64"});
  }

  if (!o.only.empty()) {
    std::erase_if(v, [&](const case_def& c) {
      return c.workload != "anchors" && (c.workload + " " + c.variant + " " + c.peer).find(o.only) == std::string::npos;
    });
  }
  return v;
}

struct child_out {
  int status = -1;  // exit code, or -1 when it did not exit normally
  std::vector<std::pair<std::string, double>> results;
  std::vector<std::string> notes;
};

// Spawns a program, collects its RESULT and NOTE lines, and kills it (by its pid) after `timeout_s`.
child_out spawn_collect(const std::vector<std::string>& argv, int timeout_s) {
  child_out out;
  int pfd[2];
  if (::pipe2(pfd, O_CLOEXEC) != 0) fail("pipe2");
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
  std::vector<char*> av;
  for (const auto& a : argv) av.push_back(const_cast<char*>(a.c_str()));
  av.push_back(nullptr);
  pid_t pid;
  int r = ::posix_spawnp(&pid, av[0], &fa, nullptr, av.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  ::close(pfd[1]);
  if (r != 0) {
    ::close(pfd[0]);
    out.notes.push_back(fmt::format("cannot start {}: {}", argv[0], std::strerror(r)));
    return out;
  }
  std::string text;
  std::uint64_t deadline = now_ns() + static_cast<std::uint64_t>(timeout_s) * 1'000'000'000ull;
  bool killed = false;
  for (;;) {
    std::uint64_t t = now_ns();
    if (t >= deadline && !killed) {
      ::kill(pid, SIGKILL);
      killed = true;
      out.notes.push_back(fmt::format("timed out after {} s", timeout_s));
    }
    struct pollfd p = {pfd[0], POLLIN, 0};
    int wait_ms = killed ? 1000 : static_cast<int>(std::min<std::uint64_t>((deadline - t) / 1'000'000 + 1, 1000));
    if (::poll(&p, 1, wait_ms) <= 0) continue;
    char buf[4096];
    ssize_t n = ::read(pfd[0], buf, sizeof buf);
    if (n <= 0) break;
    text.append(buf, static_cast<std::size_t>(n));
  }
  ::close(pfd[0]);
  int st = 0;
  ::waitpid(pid, &st, 0);
  out.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("RESULT ", 0) == 0) {
      std::istringstream ls(line.substr(7));
      std::string m;
      double v;
      if (ls >> m >> v) out.results.emplace_back(m, v);
    } else if (line.rfind("NOTE ", 0) == 0) {
      out.notes.push_back(line.substr(5));
    }
  }
  return out;
}

double median(std::vector<double> v) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

// Callgrind's total instruction count (the "summary:" or "totals:" line of its output).
double callgrind_total(const std::string& file) {
  std::ifstream in(file);
  std::string line;
  double total = NAN;
  while (std::getline(in, line)) {
    if (line.rfind("summary:", 0) == 0 || line.rfind("totals:", 0) == 0)
      total = std::strtod(line.c_str() + line.find(':') + 1, nullptr);
  }
  return total;
}

std::string with_ops(std::vector<std::string> a, std::uint64_t ops) {
  (void)a;
  return fmt::format("ops={}", ops);
}

const char* unit_of(const std::string& metric) {
  if (metric == "ops_per_s") return "ops/s";
  if (metric.find("_ns") != std::string::npos) return "ns";
  if (metric.rfind("bytes", 0) == 0) return "B";
  if (metric == "instr_per_op") return "instr";
  return "";
}

bool lower_is_better(const std::string& metric) { return metric != "ops_per_s" && metric != "cached_fraction"; }

std::string fmt_value(double v) {
  if (std::isnan(v)) return "-";
  double a = std::fabs(v);
  if (a >= 1e6) return fmt::format("{:.2f} M", v / 1e6);
  if (a >= 1e4) return fmt::format("{:.1f} k", v / 1e3);
  if (a >= 100) return fmt::format("{:.0f}", v);
  return fmt::format("{:.2f}", v);
}

std::string json_escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '"' || c == '\\') o += '\\';
    o += c;
  }
  return o;
}

// A measured group: the rows of one workload and variant.
const row* find_row(const std::vector<row>& rows, const std::string& w, const std::string& var, const std::string& peer,
                    const std::string& metric) {
  for (const auto& r : rows)
    if (r.workload == w && r.variant == var && r.peer == peer && r.metric == metric && !std::isnan(r.value)) return &r;
  return nullptr;
}

int run_all(const options& o) {
  ensure_file();
  std::string dir = self_dir();
  auto cases = make_cases(o);
  std::vector<row> rows;
  bool have_valgrind = ::system("valgrind --version >/dev/null 2>&1") == 0;
  fmt::print(stderr, "w3tp_bench: {} cases x {} reps; test file {}\n", cases.size(), o.reps, file_path());
  std::uint64_t t_start = now_ns();
  // What one case gathered over its repetitions.
  struct gathered {
    std::vector<std::string> argv;  // empty: nothing to repeat (not built, or measured already)
    std::map<std::string, std::vector<double>> got;
    std::vector<std::string> notes;
    bool skipped = false;
    bool row = true;                       // a skipped case still gets its empty row, unless valgrind is missing
    const char* row_prefix = "skipped: ";  // before the notes, in a skipped case's row
  };
  // The cases of one workload, whose figures are compared with one another (peers, and 1 thread with 2),
  // are run repetition by repetition: rep 1 of every case, then rep 2, ... A shared VM's speed drifts
  // over seconds, and five runs of one peer followed by five of the next put that drift into the ratio
  // between them.
  auto same_group = [](const case_def& a, const case_def& b) { return a.workload == b.workload; };
  for (std::size_t g = 0; g < cases.size();) {
    std::size_t g_end = g + 1;
    while (g_end < cases.size() && same_group(cases[g], cases[g_end])) ++g_end;
    std::vector<gathered> acc(g_end - g);
    for (std::size_t k = g; k < g_end; ++k) {
      const case_def& c = cases[k];
      gathered& a = acc[k - g];
      std::vector<std::string> argv;
      if (c.exe.empty())
        argv.push_back(dir + "/w3tp_bench");
      else
        argv.push_back(dir + "/w3tp_bench_" + c.exe);
      if (!c.exe.empty() && ::access(argv[0].c_str(), X_OK) != 0) {
        a.skipped = true;
        a.row_prefix = "";
        a.notes.push_back("not built");
        continue;
      }
      if (c.instructions && c.peer == "w3tp io_uring") {
        // Valgrind 3.19 keeps its global lock while a thread sleeps in io_uring_enter (liburing issue
        // #657): an idle io_uring pool thread stops every other thread, and the run never ends.
        a.skipped = true;
        a.notes.push_back("valgrind 3.19 deadlocks on an idle io_uring_enter (liburing#657)");
        continue;
      }
      if (c.instructions) {
        if (!have_valgrind) {
          a.skipped = true;
          a.row = false;
          a.notes.push_back("no valgrind");
          continue;
        }
        // Two run lengths; start-up and tear-down cancel out in the difference.
        const std::uint64_t n1 = static_cast<std::uint64_t>(c.instr_ops * std::max(o.scale, 0.25));
        const std::uint64_t n2 = 5 * n1;
        double tot[2];
        for (int j = 0; j < 2; ++j) {
          std::string outf = fmt::format("/tmp/w3tp_bench_callgrind.{}.{}.out", ::getpid(), j);
          std::vector<std::string> va = {"valgrind", "-q", "--tool=callgrind", "--callgrind-out-file=" + outf};
          va.insert(va.end(), argv.begin(), argv.end());
          va.insert(va.end(), c.args.begin(), c.args.end());
          va.push_back(with_ops(c.args, j == 0 ? n1 : n2));
          child_out co = spawn_collect(va, 120);
          tot[j] = co.status == 0 ? callgrind_total(outf) : NAN;
          if (co.status == k_skip) a.skipped = true;
          ::unlink(outf.c_str());
        }
        a.got["instr_per_op"].push_back((tot[1] - tot[0]) / static_cast<double>(n2 - n1));
        continue;
      }
      argv.insert(argv.end(), c.args.begin(), c.args.end());
      a.argv = std::move(argv);
    }
    for (int rep = 0; rep < o.reps; ++rep) {
      for (gathered& a : acc) {
        if (a.argv.empty() || a.skipped) continue;
        child_out co = spawn_collect(a.argv, 40);
        if (co.status == k_skip) a.skipped = true;
        if (co.status != 0 && co.status != k_skip) a.notes.push_back(fmt::format("exit {}", co.status));
        for (auto& [m, v] : co.results) a.got[m].push_back(v);
        for (auto& n : co.notes)
          if (std::find(a.notes.begin(), a.notes.end(), n) == a.notes.end()) a.notes.push_back(n);
      }
    }
    for (std::size_t k = g; k < g_end; ++k) {
      const case_def& c = cases[k];
      gathered& a = acc[k - g];
      fmt::print(stderr, "  {:<20} {:<34} {:<32}", c.workload, c.variant, c.peer);
      std::string note;
      for (auto& n : a.notes) note += (note.empty() ? "" : "; ") + n;
      if (a.skipped) {
        fmt::print(stderr, " skipped ({})\n", note);
        if (a.row)
          rows.push_back({c.workload,
                          c.variant,
                          c.peer,
                          c.instructions ? "instr_per_op" : "ops_per_s",
                          NAN,
                          {},
                          a.row_prefix + note});
        continue;
      }
      std::string shown;
      for (auto& [m, vals] : a.got) {
        double med = median(vals);
        if (m == "cached_fraction") {
          note += fmt::format("{}page cache {:.0f}%", note.empty() ? "" : "; ", med * 100);
          continue;
        }
        rows.push_back({c.workload, c.variant, c.peer, m, med, vals, ""});
        shown += fmt::format(" {}={}", m, fmt_value(med));
      }
      for (auto& r : rows)
        if (r.workload == c.workload && r.variant == c.variant && r.peer == c.peer) r.note = note;
      fmt::print(stderr, "{}{}\n", shown, note.empty() ? "" : "  (" + note + ")");
    }
    if (cases[g].workload == "anchors") {
      // The ceiling's scaling, as soon as it is known: a run on a busy machine can be stopped here.
      auto rate = [&](const char* var, const char* peer) {
        const row* r = find_row(rows, "anchors", var, peer, "ops_per_s");
        return r ? r->value : NAN;
      };
      fmt::print(stderr,
                 "  anchors: raw liburing scales {:.2f}x, pread {:.2f}x from 1 to 2 threads (valid from 1.6x)\n",
                 rate("file 4K rand, 2 thr", "raw liburing (ring/thr)") /
                     rate("file 4K rand, 1 thr", "raw liburing (ring/thr)"),
                 rate("file 4K rand, 2 thr", "pread") / rate("file 4K rand, 1 thr", "pread"));
    }
    g = g_end;
  }
  double elapsed = static_cast<double>(now_ns() - t_start) / 1e9;

  std::ofstream js(o.json);
  auto val = [&](const std::string& w, const std::string& var, const std::string& peer,
                 const std::string& metric) -> std::optional<double> {
    const row* r = find_row(rows, w, var, peer, metric);
    return r ? std::optional<double>(r->value) : std::nullopt;
  };
  // Is this run a measurement? The ceiling must scale from 1 to 2 threads in the same run.
  auto scaling = [&](const std::string& peer) -> std::optional<double> {
    auto one = val("anchors", "file 4K rand, 1 thr", peer, "ops_per_s");
    auto two = val("anchors", "file 4K rand, 2 thr", peer, "ops_per_s");
    if (!one || !two || *one == 0) return std::nullopt;
    return *two / *one;
  };
  const auto raw_scaling = scaling("raw liburing (ring/thr)"), pread_scaling = scaling("pread");
  constexpr double k_min_scaling = 1.6;
  const bool valid = raw_scaling && pread_scaling && *raw_scaling >= k_min_scaling && *pread_scaling >= k_min_scaling;
  auto show = [](std::optional<double> x) { return x ? fmt::format("{:.2f}", *x) : std::string("-"); };
  std::string anchors = fmt::format(
      "anchors (2 threads / 1 thread, medians of {}): raw liburing {}, pread {} -> {}", o.reps, show(raw_scaling),
      show(pread_scaling),
      valid ? "VALID run"
            : fmt::format("INVALID run: the ceiling scaled less than {}x, the machine was busy; no verdicts",
                          k_min_scaling));
  js << fmt::format("{{\"anchors\":{{\"raw_liburing\":{},\"pread\":{},\"min\":{}}},\"valid\":{},\"reps\":{}}}\n",
                    raw_scaling ? fmt::format("{:.4g}", *raw_scaling) : "null",
                    pread_scaling ? fmt::format("{:.4g}", *pread_scaling) : "null", k_min_scaling,
                    valid ? "true" : "false", o.reps);
  // Whether this run measured anything comes first.
  fmt::print("{}\n", anchors);

  // The table: every row with the ratio of each w3tp backend to it (w3tp / peer, same metric).
  fmt::print("\n{:<20} | {:<34} | {:<32} | {:<22} | {:>10} | {:>9} | {:>9}\n", "workload", "variant", "peer", "metric",
             "value", "uring/peer", "epoll/peer");
  fmt::print("{}\n", std::string(20 + 34 + 32 + 22 + 10 + 9 + 9 + 18, '-'));
  for (const auto& r : rows) {
    const row* u = find_row(rows, r.workload, r.variant, "w3tp io_uring", r.metric);
    const row* e = find_row(rows, r.workload, r.variant, "w3tp epoll", r.metric);
    auto ratio = [&](const row* w) -> double {
      return (w == nullptr || std::isnan(r.value) || r.value == 0) ? NAN : w->value / r.value;
    };
    double ru = ratio(u), re = ratio(e);
    std::string metric = r.metric + (lower_is_better(r.metric) ? " (low)" : "");
    fmt::print("{:<20} | {:<34} | {:<32} | {:<22} | {:>10} | {:>9} | {:>9}{}\n", r.workload, r.variant, r.peer, metric,
               fmt_value(r.value), std::isnan(ru) ? "-" : fmt::format("{:.2f}", ru),
               std::isnan(re) ? "-" : fmt::format("{:.2f}", re), r.note.empty() ? "" : "  " + r.note);
    std::string reps;
    for (double x : r.reps) reps += (reps.empty() ? "" : ",") + fmt::format("{:.6g}", x);
    js << fmt::format(
        "{{\"workload\":\"{}\",\"variant\":\"{}\",\"peer\":\"{}\",\"metric\":\"{}\",\"unit\":\"{}\",\"value\":{},"
        "\"reps\":[{}],\"uring_ratio\":{},\"epoll_ratio\":{},\"note\":\"{}\"}}\n",
        json_escape(r.workload), json_escape(r.variant), json_escape(r.peer), r.metric, unit_of(r.metric),
        std::isnan(r.value) ? "null" : fmt::format("{:.6g}", r.value), reps,
        std::isnan(ru) ? "null" : fmt::format("{:.4g}", ru), std::isnan(re) ? "null" : fmt::format("{:.4g}", re),
        json_escape(r.note));
  }

  struct target {
    std::string what;
    std::optional<double> got;
    double limit;
    bool at_most;  // got <= limit (else got >= limit)
  };
  auto div = [](std::optional<double> a, std::optional<double> b) -> std::optional<double> {
    if (!a || !b || *b == 0) return std::nullopt;
    return *a / *b;
  };
  auto sub = [](std::optional<double> a, std::optional<double> b) -> std::optional<double> {
    if (!a || !b) return std::nullopt;
    return *a - *b;
  };
  const std::string fv = "4K rand, 64 inflight, 2 thr", ops = "ops_per_s";
  auto better = [](std::optional<double> a, std::optional<double> b) -> std::optional<double> {
    if (!a) return b;
    if (!b) return a;
    return std::max(*a, *b);
  };
  const std::string fv64 = "4K rand, 64 inflight, 2 thr, 64 handles", fv1 = "4K rand, 64 inflight, 1 thr";
  std::vector<target> ts = {
      {"file: io_uring / raw liburing (ring per thread), 2 thr",
       div(val("file", fv, "w3tp io_uring", ops), val("file", fv, "raw liburing (ring/thr)", ops)), 0.9, false},
      {"file: io_uring / raw liburing, 2 thr, 64 handles",
       div(val("file", fv64, "w3tp io_uring", ops), val("file", fv64, "raw liburing (ring/thr)", ops)), 0.9, false},
      {"file: io_uring / raw liburing, 1 thr",
       div(val("file", fv1, "w3tp io_uring", ops), val("file", fv1, "raw liburing (ring/thr)", ops)), 0.9, false},
      {"file: CPU per read, io_uring / raw liburing, 1 thr",
       div(val("file", fv1, "w3tp io_uring", "cpu_ns_per_op"),
           val("file", fv1, "raw liburing (ring/thr)", "cpu_ns_per_op")),
       1.15, true},
      {"file: io_uring / Asio io_uring",
       div(val("file", fv, "w3tp io_uring", ops), val("file", fv, "Asio io_uring", ops)), 8, false},
      {"file: io_uring / libuv", div(val("file", fv, "w3tp io_uring", ops), val("file", fv, "libuv (pool 2)", ops)), 3,
       false},
      {"file: epoll / pread on 2 threads",
       div(val("file", fv, "w3tp epoll", ops), val("file", fv, "pread, 2 thr", ops)), 0.8, false},
      {"ping-pong 64: io_uring / better of Asio epoll, io_uring",
       div(val("pingpong", "64 socketpairs, 2 thr", "w3tp io_uring", ops),
           better(val("pingpong", "64 socketpairs, 2 thr", "Asio epoll", ops),
                  val("pingpong", "64 socketpairs, 2 thr", "Asio io_uring", ops))),
       1.0, false},
      {"ping-pong 64: epoll / better of Asio epoll, io_uring",
       div(val("pingpong", "64 socketpairs, 2 thr", "w3tp epoll", ops),
           better(val("pingpong", "64 socketpairs, 2 thr", "Asio epoll", ops),
                  val("pingpong", "64 socketpairs, 2 thr", "Asio io_uring", ops))),
       1.0, false},
      {"ping-pong 64: io_uring (2 thr) / raw liburing (1 thr)",
       div(val("pingpong", "64 socketpairs, 2 thr", "w3tp io_uring", ops),
           val("pingpong", "64 socketpairs, 1 thr", "raw liburing (ring/thr)", ops)),
       1.0, false},
      {"ping-pong 64: io_uring (1 thr) / raw liburing (1 thr)",
       div(val("pingpong", "64 socketpairs, 1 thr", "w3tp io_uring", ops),
           val("pingpong", "64 socketpairs, 1 thr", "raw liburing (ring/thr)", ops)),
       1.0, false},
      {"posts: io_uring 2 thr / 1 thr",
       div(val("posts", "64 chains, 2 thr", "w3tp io_uring", ops),
           val("posts", "64 chains, 1 thr", "w3tp io_uring", ops)),
       1.8, false},
      {"posts: epoll 2 thr / 1 thr",
       div(val("posts", "64 chains, 2 thr", "w3tp epoll", ops), val("posts", "64 chains, 1 thr", "w3tp epoll", ops)),
       1.8, false},
      {"latency same core p50: io_uring - raw liburing (ns)",
       sub(val("latency same-core", "1 pipe pair, 64 B", "w3tp io_uring", "rtt_p50_ns"),
           val("latency same-core", "1 pipe pair, 64 B", "raw liburing (1 ring)", "rtt_p50_ns")),
       1000, true},
  };
  for (const char* b : {"w3tp io_uring", "w3tp epoll"}) {
    ts.push_back({fmt::format("memory: {} bytes per handle", b),
                  val("memory", "16000 eventfds, RSS delta", b, "bytes_per_handle"), 64, true});
    ts.push_back({fmt::format("memory: {} bytes per pending op", b),
                  val("memory", "16000 eventfds, RSS delta", b, "bytes_per_op"), 96, true});
  }
  fmt::print("\ntargets (2 pool threads unless stated){}:\n", valid ? "" : ", no verdicts: this run is invalid");
  for (const auto& t : ts) {
    std::string verdict = !t.got   ? "not measured"
                          : !valid ? "no verdict"
                                   : ((t.at_most ? *t.got <= t.limit : *t.got >= t.limit) ? "MET" : "MISSED");
    fmt::print("  {:<58} {:>10} {} {:<8} {}\n", t.what, t.got ? fmt::format("{:.2f}", *t.got) : "-",
               t.at_most ? "<=" : ">=", t.limit, verdict);
    js << fmt::format("{{\"target\":\"{}\",\"value\":{},\"limit\":{},\"at_most\":{},\"met\":{}}}\n",
                      json_escape(t.what), t.got ? fmt::format("{:.4g}", *t.got) : "null", t.limit,
                      t.at_most ? "true" : "false", verdict == "MET" ? "true" : "false");
  }
  fmt::print("\n{}\n{} cases in {:.0f} s; JSON lines in {}\n", anchors, cases.size(), elapsed, o.json);
  return 0;
}

}  // namespace
}  // namespace bench

int main(int argc, char** argv) {
  using namespace bench;
  try {
    std::string_view cmd = argc > 1 ? argv[1] : "run";
    if (cmd == "case") return run_case(argc, argv);
    options o;
    for (int i = (cmd == "run" || cmd == "list") ? 2 : 1; i < argc; ++i) {
      std::string_view a(argv[i]);
      auto next = [&]() -> std::string {
        if (i + 1 >= argc) fail(fmt::format("{} needs a value", a));
        return argv[++i];
      };
      if (a == "--quick") {
        o.reps = 1;
        o.scale = 0.2;
      } else if (a == "--reps") {
        o.reps = std::max(1, std::atoi(next().c_str()));
      } else if (a == "--scale") {
        o.scale = std::atof(next().c_str());
      } else if (a == "--only") {
        o.only = next();
      } else if (a == "--json") {
        o.json = next();
      } else if (a == "--no-instructions") {
        o.instructions = false;
      } else {
        fail(fmt::format("unknown option '{}'", a));
      }
    }
    if (cmd == "list") {
      for (const auto& c : make_cases(o)) {
        std::string a;
        for (const auto& s : c.args) a += " " + s;
        fmt::print("{:<20} {:<34} {:<32} {}{}{}\n", c.workload, c.variant, c.peer,
                   c.exe.empty() ? "w3tp_bench" : "w3tp_bench_" + c.exe, a, c.instructions ? "  [callgrind]" : "");
      }
      return 0;
    }
    return run_all(o);
  } catch (const std::exception& e) {
    fmt::print(stderr, "w3tp_bench: {}\n", e.what());
    return 1;
  }
}
