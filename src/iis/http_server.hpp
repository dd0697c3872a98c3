// SPDX-License-Identifier: MIT
// The HTTP/1.1 server of w3tp-iishost, run on w3tp's own pool the way IIS runs its request I/O: every
// accepted socket is adopted as a HANDLE and associated with the pool, and each connection is driven
// by overlapped ReadFile/WriteFile calls whose completion routines run on pool threads. Boost.Beast
// parses the requests and serialises the answers. Each complete request (head and whole body) goes to
// the request_handler (exchange.hpp) on a pool thread; the handler answers through exchange::send,
// from any thread, and the connection reads its next request once the answer's last part is queued.
// Limits and timeouts end a connection with IIS's answers (400, 408, 413, 431), then a close.
#pragma once

#include <w3tp/w3tp.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "iis/exchange.hpp"

namespace w3tp::iis {

namespace detail {
struct server_state;
}  // namespace detail

/// The limits and timeouts of an http_server.
struct http_server_options {
  /// The request line and the header fields together; a longer header section gets 431.
  std::size_t max_header_bytes = 16384;
  /// A request body declared (Content-Length) or decoded (chunked) past this gets 413.
  std::size_t max_body_bytes = 4u * 1024u * 1024u;
  /// How long a connection may wait for its next request (or a new one for its first) before it is closed.
  std::chrono::milliseconds idle_timeout = std::chrono::seconds(120);
  /// How long a started request's head may take to arrive, and how long its body may pause; past it
  /// the client gets 408 Request Timeout and the connection closes.
  std::chrono::milliseconds read_timeout = std::chrono::seconds(30);
  /// Connections served at once (at least 1); at the limit the server accepts no more until one closes
  /// (new clients wait in the listen backlog).
  std::size_t max_connections = 10000;
};

/// An HTTP/1.1 server whose connections run on a w3tp pool. The pool and the handler must outlive it.
class http_server {
 public:
  /// A server that does not listen yet.
  http_server(thread_pool& pool, request_handler& handler, http_server_options options = {});
  /// Stops accepting, closes every connection (the send() of an exchange still held then returns
  /// false) and returns once no routine of the server runs any more. Not from inside
  /// request_handler::handle.
  ~http_server();
  http_server(const http_server&) = delete;
  http_server& operator=(const http_server&) = delete;

  /// Listens on ip:port and accepts on a thread of the server's own. `ip` is an IPv4 or IPv6 address
  /// ("127.0.0.1", "::1", "[::1]"), or "", "*" for every IPv4 address; port 0 picks a free port. S_OK,
  /// or HRESULT_FROM_WIN32 of the Win32 error (Winsock's WSAE* for socket calls) with last_error()
  /// saying what failed. A server listens once.
  HRESULT listen(const std::string& ip, std::uint16_t port);
  /// The sentence that says why listen() failed, or "".
  std::string last_error() const;
  /// The port listened on (the one picked when listen() got 0), or 0 before listen().
  std::uint16_t port() const noexcept;
  /// Stops accepting and closes the listening socket; open connections go on. Idempotent.
  void stop_accepting();
  /// Stops accepting, closes every connection that has no exchange in flight, lets each exchange in
  /// flight finish its answer (sent with Connection: close) and waits up to `limit` until the last
  /// connection has closed. True when all closed in time.
  bool drain(std::chrono::milliseconds limit);
  /// The number of connections open now.
  std::size_t connections() const noexcept;

 private:
  std::shared_ptr<detail::server_state> state_;
  mutable std::mutex control_;  // listen, stop_accepting and last_error
  int listen_fd_ = -1;
  bool listened_ = false;
  std::atomic<std::uint16_t> port_{0};
  std::string last_error_;
  std::thread acceptor_;
  std::thread timer_;
};

}  // namespace w3tp::iis
