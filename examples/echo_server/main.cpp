// SPDX-License-Identifier: MIT
// echo_server: a TCP echo server on 127.0.0.1 whose connections are served entirely by completion
// routines: read -> write back what came -> read again, until the client closes.
//
//   echo_server [PORT]                        serve until killed (PORT 0 or none: any free port, printed)
//   echo_server --client PORT [CLIENTS [MSGS]] connect CLIENTS clients (16) that each send MSGS
//                                             messages (1000) to a server on PORT; print round-trip
//                                             percentiles
//   echo_server --self-test                   serve, run 16 clients of 100 messages, check the echoes
//   echo_server --help
#include <w3tp/w3tp.hpp>

#include "../common/example.hpp"

#ifdef _WIN32
#include <winsock2.h>
#include <ws2tcpip.h>
using socket_t = SOCKET;
#define W3TP_CLOSE_SOCKET closesocket
#else
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>
using socket_t = int;
#define W3TP_CLOSE_SOCKET close
#endif

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

/// One client connection; the OVERLAPPED is first so that the routine's pointer leads back to it.
struct connection {
  OVERLAPPED overlapped = {};
  HANDLE handle = INVALID_HANDLE_VALUE;
  bool writing = false;
  char buffer[4096];
};

std::atomic<int> g_open_connections{0};
// Waited for with a condition variable, not std::atomic::wait, which can miss a notification with
// MinGW-w64's libstdc++ 12 (its wait without futexes checks the value outside its mutex).
std::mutex g_open_mutex;
std::condition_variable g_open_changed;

void start_read(connection* c);

void drop(connection* c) {
  CloseHandle(c->handle);
  delete c;
  g_open_connections.fetch_sub(1);
  std::lock_guard<std::mutex> lock(g_open_mutex);  // notified under the lock, as the waiter checks under it
  g_open_changed.notify_all();
}

VOID CALLBACK on_io(DWORD error, DWORD bytes, LPOVERLAPPED overlapped) {
  auto* c = reinterpret_cast<connection*>(overlapped);
  if (error != ERROR_SUCCESS || bytes == 0) return drop(c);  // closed, reset or cancelled
  if (c->writing) return start_read(c);
  // Echo what came; a write completes only when all of it is written.
  c->writing = true;
  c->overlapped = {};
  if (!WriteFile(c->handle, c->buffer, bytes, NULL, &c->overlapped) && GetLastError() != ERROR_IO_PENDING) drop(c);
}

void start_read(connection* c) {
  c->writing = false;
  c->overlapped = {};
  if (!ReadFile(c->handle, c->buffer, sizeof(c->buffer), NULL, &c->overlapped) && GetLastError() != ERROR_IO_PENDING)
    drop(c);
}

/// Hands an accepted socket to the pool and starts its first read.
bool serve(w3tp::thread_pool& pool, socket_t s) {
#ifdef _WIN32
  HANDLE h = reinterpret_cast<HANDLE>(s);  // a Winsock socket is an overlapped handle
#else
  HANDLE h = w3tp::adopt_fd(s);  // CloseHandle will close the descriptor
#endif
  if (h == INVALID_HANDLE_VALUE || FAILED(pool.associate(h, on_io))) {
    W3TP_CLOSE_SOCKET(s);
    return false;
  }
  auto* c = new connection;
  c->handle = h;
  g_open_connections.fetch_add(1);
  start_read(c);
  return true;
}

constexpr char kUsage[] =
    "usage: echo_server [PORT] | echo_server --client PORT [CLIENTS [MESSAGES]] | echo_server --self-test | "
    "echo_server --help";

/// The last socket error as a sentence (Winsock's code on Windows, errno's text elsewhere).
std::string socket_error() {
#ifdef _WIN32
  return example::describe_error(static_cast<DWORD>(WSAGetLastError()));
#else
  return std::strerror(errno);
#endif
}

/// A number in [lo, hi] from a command-line argument, or a usage error.
long parse_number(const char* arg, long lo, long hi, const char* what) {
  char* end = nullptr;
  long v = std::strtol(arg, &end, 10);
  if (end == arg || *end != '\0' || v < lo || v > hi)
    example::fail("echo_server", std::string(what) + " must be a number from " + std::to_string(lo) + " to " +
                                     std::to_string(hi) + ", not '" + arg + "'\n" + kUsage);
  return v;
}

socket_t listen_on(unsigned short port, unsigned short* bound) {
  socket_t l = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a = {};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  socklen_t len = sizeof(a);
  if (bind(l, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 || listen(l, 64) != 0 ||
      getsockname(l, reinterpret_cast<sockaddr*>(&a), &len) != 0)
    example::fail("echo_server", "could not listen on 127.0.0.1:" + std::to_string(port) + ": " + socket_error());
  *bound = ntohs(a.sin_port);
  return l;
}

/// A client: blocking sockets, `messages` round trips of a message that names the client; each round
/// trip's time goes to `rtt_ns` when it is given. False (with `why`) when an echo is missing or wrong.
bool run_client(unsigned short port, int id, int messages, std::vector<long long>* rtt_ns, std::string* why) {
  socket_t s = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a = {};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  bool ok = connect(s, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
  if (!ok && why != nullptr) *why = "could not connect to 127.0.0.1:" + std::to_string(port) + ": " + socket_error();
  for (int i = 0; ok && i < messages; ++i) {
    std::string msg = "client " + std::to_string(id) + " message " + std::to_string(i) + "\n";
    const auto t0 = std::chrono::steady_clock::now();
    ok = send(s, msg.data(), static_cast<int>(msg.size()), 0) == static_cast<int>(msg.size());
    std::string got;
    while (ok && got.size() < msg.size()) {
      char buf[256];
      int n = static_cast<int>(recv(s, buf, sizeof(buf), 0));
      ok = n > 0;
      if (ok) got.append(buf, static_cast<size_t>(n));
    }
    ok = ok && got == msg;
    if (!ok && why != nullptr && why->empty())
      *why = "echo " + std::to_string(i) + " of client " + std::to_string(id) + " was wrong or missing";
    if (ok && rtt_ns != nullptr)
      rtt_ns->push_back(
          std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count());
  }
  W3TP_CLOSE_SOCKET(s);
  return ok;
}

/// --client: CLIENTS threads against a server on PORT; prints the round-trip percentiles.
int client_mode(unsigned short port, int clients, int messages) {
  std::vector<std::vector<long long>> rtts(static_cast<std::size_t>(clients));
  std::vector<std::string> whys(static_cast<std::size_t>(clients));
  std::vector<std::thread> threads;
  std::atomic<int> passed{0};
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < clients; ++i)
    threads.emplace_back([&, i] { passed.fetch_add(run_client(port, i, messages, &rtts[i], &whys[i]) ? 1 : 0); });
  for (auto& t : threads) t.join();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::vector<long long> all;
  for (auto& r : rtts) all.insert(all.end(), r.begin(), r.end());
  std::sort(all.begin(), all.end());
  auto pct = [&](double p) {
    return all.empty() ? 0.0 : all[std::min(all.size() - 1, static_cast<std::size_t>(p * all.size()))] / 1000.0;
  };
  if (!all.empty()) {
    std::printf("echo_server --client: %d clients x %d messages to 127.0.0.1:%u: %zu round trips in %.2f s (%.0f/s)\n",
                clients, messages, port, all.size(), seconds, all.size() / (seconds > 0 ? seconds : 1));
    std::printf("round trip: p50 %.1f us, p90 %.1f us, p99 %.1f us, max %.1f us\n", pct(0.50), pct(0.90), pct(0.99),
                all.empty() ? 0.0 : all.back() / 1000.0);
  }
  if (passed.load() != clients) {
    for (auto& w : whys)
      if (!w.empty()) example::fail("echo_server", w);
    example::fail("echo_server", "a client failed");
  }
  return 0;
}

int run(int argc, char** argv) {
  const std::string first = argc > 1 ? argv[1] : "";
  if (first == "--help") {
    std::printf(
        "%s\n\nA TCP echo server on 127.0.0.1 whose connections are served by completion routines on a "
        "w3tp pool\n(read, write back, read again). --client measures one; --self-test runs both and checks "
        "every echo.\nW3TP_BACKEND (auto, io_uring, epoll, iocp) chooses the backend. Exit status 1, with a "
        "sentence, on failure.\n",
        kUsage);
    return 0;
  }
  if (first == "--client") {
    if (argc < 3 || argc > 5) example::fail("echo_server", std::string("bad arguments\n") + kUsage);
    auto port = static_cast<unsigned short>(parse_number(argv[2], 1, 65535, "PORT"));
    int clients = argc > 3 ? static_cast<int>(parse_number(argv[3], 1, 1000, "CLIENTS")) : 16;
    int messages = argc > 4 ? static_cast<int>(parse_number(argv[4], 1, 10000000, "MESSAGES")) : 1000;
    return client_mode(port, clients, messages);
  }
  const bool self_test = first == "--self-test";
  if (argc > 2 || (!self_test && !first.empty() && first[0] == '-'))
    example::fail("echo_server", std::string("bad arguments\n") + kUsage);
  const unsigned short wanted =
      self_test || first.empty() ? 0 : static_cast<unsigned short>(parse_number(argv[1], 0, 65535, "PORT"));
  unsigned short port = 0;
  socket_t l = listen_on(wanted, &port);
  w3tp::thread_pool pool;
  std::printf("echo_server: 127.0.0.1:%u, backend %s\n", port,
              std::string(w3tp::to_string(pool.active_backend())).c_str());
  std::fflush(stdout);

  if (!self_test) {
    for (;;) {
      socket_t s = accept(l, nullptr, nullptr);
      if (s != static_cast<socket_t>(-1)) serve(pool, s);
    }
  }

  constexpr int kClients = 16;
  std::vector<std::thread> clients;
  std::vector<std::string> whys(kClients);
  std::atomic<int> passed{0};
  for (int i = 0; i < kClients; ++i)
    clients.emplace_back([&, i] { passed.fetch_add(run_client(port, i, 100, nullptr, &whys[i]) ? 1 : 0); });
  for (int i = 0; i < kClients; ++i) {
    socket_t s = accept(l, nullptr, nullptr);
    if (s == static_cast<socket_t>(-1) || !serve(pool, s)) break;
  }
  for (auto& t : clients) t.join();
  // Every connection's routine closes it when its client goes away.
  {
    std::unique_lock<std::mutex> lock(g_open_mutex);
    g_open_changed.wait(lock, [] { return g_open_connections.load() == 0; });
  }
  W3TP_CLOSE_SOCKET(l);
  std::printf("echo_server: %d of %d clients got every echo back\n", passed.load(), kClients);
  if (passed.load() != kClients) {
    for (auto& w : whys)
      if (!w.empty()) example::fail("echo_server", w);
    example::fail("echo_server", "a client failed");
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
#ifdef _WIN32
  WSADATA wsa;
  WSAStartup(MAKEWORD(2, 2), &wsa);
#endif
  return example::guarded_main("echo_server", [&] { return run(argc, argv); });
}
