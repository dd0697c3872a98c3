// SPDX-License-Identifier: MIT
// What the HTTP/1.1 server (src/iis/http_server.*) and the IIS pipeline (src/iis/pipeline.*) share: one
// request and the way back to its connection. The server parses a request, reads its whole body (up to
// its limit) and hands an exchange to the request_handler; the handler answers through send(), from any
// thread, at any later time. The connection reads its next request (keep-alive) only after the answer's
// last send().
#pragma once

#include <sys/socket.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace w3tp::iis {

/// One header line, as received or to send (names keep their case; lookups ignore it).
struct header {
  std::string name;
  std::string value;
};

/// A parsed request line and its headers.
struct request_head {
  std::string method;     ///< e.g. "GET"
  std::string target;     ///< the request target as sent: "/path?query"
  unsigned version = 11;  ///< 10 for HTTP/1.0, 11 for HTTP/1.1
  std::vector<header> headers;
  sockaddr_storage local{};   ///< the server's address of the connection
  sockaddr_storage remote{};  ///< the client's
};

/// The status line and headers of an answer. Content-Length or Transfer-Encoding are the server's
/// business: it sets Content-Length when the whole body comes with the first send(), and uses chunked
/// encoding (HTTP/1.1) or closes the connection (HTTP/1.0) when the body comes in parts.
struct response_head {
  unsigned status = 200;
  std::string reason = "OK";
  std::vector<header> headers;
  bool close = false;             ///< close the connection after this answer
  bool suppress_headers = false;  ///< send no status line and headers (IHttpResponse::SuppressHeaders)
};

/// One request's exchange with its connection.
class exchange {
 public:
  virtual ~exchange() = default;
  /// The request.
  virtual const request_head& head() const noexcept = 0;
  /// Its whole body (decoded from chunked transfer coding when it came so).
  virtual const std::string& body() const noexcept = 0;
  /// Sends part of the answer: the status line and headers with the first call (`head` is ignored
  /// afterwards), then `body`; `last` ends the answer. Calls must not overlap; they may come from any
  /// thread. False when the connection has gone (the rest of the answer is dropped).
  virtual bool send(const response_head& head, std::string_view body, bool last) = 0;
  /// False once the client has closed or reset the connection.
  virtual bool connected() const noexcept = 0;
};

/// What the server calls for each complete request (on a pool thread).
class request_handler {
 public:
  virtual ~request_handler() = default;
  virtual void handle(std::shared_ptr<exchange> ex) = 0;
};

}  // namespace w3tp::iis
