// SPDX-License-Identifier: MIT
// echo_server: a TCP echo server on 127.0.0.1 whose connections are served entirely by completion
// routines: read -> write back what came -> read again, until the client closes.
//
//   echo_server [PORT]        serve until killed (PORT 0 or none: any free port, printed)
//   echo_server --self-test   serve, connect 16 clients that each send 100 messages, check the echoes
#include <w3tp/w3tp.hpp>

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

#include <atomic>
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

socket_t listen_on(unsigned short port, unsigned short* bound) {
  socket_t l = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a = {};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  socklen_t len = sizeof(a);
  if (bind(l, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 || listen(l, 64) != 0 ||
      getsockname(l, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    std::perror("echo_server: listen on 127.0.0.1");
    std::exit(1);
  }
  *bound = ntohs(a.sin_port);
  return l;
}

/// The self-test's client: blocking sockets, 100 round trips of a message that names the client.
bool run_client(unsigned short port, int id) {
  socket_t s = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a = {};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  bool ok = connect(s, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
  for (int i = 0; ok && i < 100; ++i) {
    std::string msg = "client " + std::to_string(id) + " message " + std::to_string(i) + "\n";
    ok = send(s, msg.data(), static_cast<int>(msg.size()), 0) == static_cast<int>(msg.size());
    std::string got;
    while (ok && got.size() < msg.size()) {
      char buf[256];
      int n = static_cast<int>(recv(s, buf, sizeof(buf), 0));
      ok = n > 0;
      if (ok) got.append(buf, static_cast<size_t>(n));
    }
    ok = ok && got == msg;
  }
  W3TP_CLOSE_SOCKET(s);
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
#ifdef _WIN32
  WSADATA wsa;
  WSAStartup(MAKEWORD(2, 2), &wsa);
#endif
  const bool self_test = argc > 1 && std::strcmp(argv[1], "--self-test") == 0;
  unsigned short port = 0;
  socket_t l = listen_on(self_test || argc < 2 ? 0 : static_cast<unsigned short>(std::atoi(argv[1])), &port);
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
  std::atomic<int> passed{0};
  for (int i = 0; i < kClients; ++i) clients.emplace_back([&, i] { passed.fetch_add(run_client(port, i) ? 1 : 0); });
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
  return passed.load() == kClients ? 0 : 1;
}
