// SPDX-License-Identifier: MIT
// libFuzzer target over w3tp-iishost's HTTP/1.1 server (src/iis/http_server.*): each input is the bytes
// a client sends on one loopback connection, then it half-closes. The server must answer or close
// within a bounded time (a hang aborts, so libFuzzer keeps the input), never crash (ASan/UBSan), and
// give every connection slot back. The handler answers each request at once, from the pool thread.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <thread>

#include "iis/http_server.hpp"

namespace {

class echo_handler final : public w3tp::iis::request_handler {
 public:
  void handle(std::shared_ptr<w3tp::iis::exchange> ex) override {
    w3tp::iis::response_head h;
    h.headers.push_back({"Content-Type", "text/plain"});
    const std::string body = ex->head().method + " " + ex->head().target + " " + std::to_string(ex->body().size());
    ex->send(h, body, true);
  }
};

struct server {
  w3tp::thread_pool pool;
  echo_handler handler;
  w3tp::iis::http_server http;
  std::uint16_t port = 0;

  static w3tp::iis::http_server_options options() {
    w3tp::iis::http_server_options o;
    o.max_header_bytes = 2048;
    o.max_body_bytes = 8192;
    o.read_timeout = std::chrono::milliseconds(500);
    o.idle_timeout = std::chrono::milliseconds(500);
    return o;
  }
  server()
      : pool([] {
          w3tp::pool_options o;
          o.threads = 2;
          return o;
        }()),
        http(pool, handler, options()) {
    if (FAILED(http.listen("127.0.0.1", 0))) {
      std::fprintf(stderr, "fuzz_http: listen failed: %s\n", http.last_error().c_str());
      std::abort();
    }
    port = http.port();
  }
};

server& the_server() {
  static server* s = new server();  // never destroyed: libFuzzer exits without static destructors' help
  return *s;
}

[[noreturn]] void hang(const char* what) {
  std::fprintf(stderr, "fuzz_http: %s within 5 s\n", what);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  server& s = the_server();
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(s.port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return 0;
  }
  // Send everything (reading what comes back meanwhile, so that neither side blocks), then half-close.
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  std::size_t sent = 0;
  bool open = true;
  char buf[4096];
  while (open) {
    if (std::chrono::steady_clock::now() > end) hang("the server neither read nor closed");
    pollfd p{fd, static_cast<short>(POLLIN | (sent < size ? POLLOUT : 0)), 0};
    if (::poll(&p, 1, 100) < 0) break;
    if ((p.revents & POLLOUT) != 0 && sent < size) {
      const ssize_t n = ::send(fd, data + sent, size - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) sent += static_cast<std::size_t>(n);
      if (n < 0 && errno != EAGAIN) sent = size;  // reset by the server: nothing more to send
      if (sent == size) ::shutdown(fd, SHUT_WR);
    } else if (sent == size && p.revents == 0) {
      continue;
    }
    if ((p.revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
      const ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
      if (n == 0 || (n < 0 && errno != EAGAIN)) open = false;
    }
    if (size == 0 && sent == 0) {
      ::shutdown(fd, SHUT_WR);
      sent = 1;  // nothing to send; wait for the close
    }
  }
  ::close(fd);
  // Every connection slot comes back once the server saw the close.
  while (s.http.connections() != 0) {
    if (std::chrono::steady_clock::now() > end) hang("a connection slot was not given back");
    std::this_thread::yield();
  }
  return 0;
}
