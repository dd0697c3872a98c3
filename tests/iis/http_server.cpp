// SPDX-License-Identifier: MIT
// w3tp::iis::http_server (src/iis/http_server.*) on 127.0.0.1 against blocking test clients: answers
// with a length, keep-alive, pipelining, chunked request bodies, answers in parts from another thread,
// HEAD, HTTP/1.0, the malformed-request table, the slow-client and idle timeouts, resets, 1,000
// concurrent connections, drain and the destructor with exchanges still held. The handler records what
// it saw on pool threads; every check runs on the test thread, and every wait is bounded.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include "backend/common.hpp"
#include "iis/http_server.hpp"

namespace {

using namespace std::chrono_literals;
namespace http = boost::beast::http;
namespace iis = w3tp::iis;
using response = http::response<http::string_body>;
using clock_type = std::chrono::steady_clock;

/// The bound of every wait that should succeed.
constexpr std::chrono::milliseconds k_wait = 10s;

/// Waits (bounded by `limit`) until pred() holds, checking it every few milliseconds.
template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds limit = k_wait) {
  std::mutex mu;
  std::condition_variable never;
  std::unique_lock lock(mu);
  const auto end = clock_type::now() + limit;
  while (!pred()) {
    if (clock_type::now() >= end) return pred();
    never.wait_for(lock, 2ms);
  }
  return true;
}

/// A blocking loopback client whose every wait is bounded by poll().
class client {
 public:
  explicit client(std::uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    connected_ = fd_ >= 0 && ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    const int one = 1;
    if (connected_) ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  ~client() { close(); }
  client(const client&) = delete;
  client& operator=(const client&) = delete;

  bool connected() const { return connected_; }
  /// Why the last read_response or send failed.
  const std::string& why() const { return why_; }
  /// The client's own port (the server's request_head::remote).
  std::uint16_t local_port() const {
    sockaddr_in a{};
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    return ntohs(a.sin_port);
  }

  /// Sends all of `data`; false when the server closed or the time ran out.
  bool send(std::string_view data) {
    const auto end = clock_type::now() + k_wait;
    while (!data.empty()) {
      if (!wait(POLLOUT, end)) return fail("send timed out");
      const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (n <= 0) return fail("send failed");
      data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }

  /// Reads and parses one answer (a HEAD answer when `head`); nullopt, with why(), on a timeout, a
  /// close before the answer ended, or bytes that are not HTTP.
  std::optional<response> read_response(bool head = false, std::chrono::milliseconds limit = k_wait) {
    http::response_parser<http::string_body> p;
    p.body_limit(boost::none);
    p.header_limit(1u << 20);
    p.eager(true);
    if (head) p.skip(true);
    const auto end = clock_type::now() + limit;
    for (;;) {
      while (!buf_.empty() && !p.is_done()) {
        boost::system::error_code ec;
        const std::size_t n = p.put(boost::asio::buffer(buf_), ec);
        buf_.erase(0, n);
        if (ec == http::error::need_more) break;
        if (ec) {
          fail("the answer is not HTTP: " + ec.message());
          return std::nullopt;
        }
        if (n == 0) break;
      }
      if (p.is_done()) {
        last_chunked_ = p.chunked();
        return p.release();
      }
      const int r = read_some(end);
      if (r == 0) {
        boost::system::error_code ec;
        p.put_eof(ec);
        if (!ec && p.is_done()) {
          last_chunked_ = false;
          return p.release();
        }
        fail("the server closed before the answer ended");
        return std::nullopt;
      }
      if (r < 0) return std::nullopt;
    }
  }
  /// True when the last answer read came chunked.
  bool last_chunked() const { return last_chunked_; }

  /// True when the server closes the connection (end of file or reset) within `limit`; the bytes that
  /// came before go to extra().
  bool closed_by_server(std::chrono::milliseconds limit = k_wait) {
    const auto end = clock_type::now() + limit;
    for (;;) {
      extra_ += buf_;
      buf_.clear();
      const int r = read_some(end);
      if (r == 0) return true;
      if (r < 0) return why_ == "reset";
    }
  }
  /// What closed_by_server() read before the close.
  const std::string& extra() const { return extra_; }

  /// Closes with a reset (SO_LINGER 0) instead of a FIN.
  void reset() {
    linger l{1, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    close();
  }
  /// Closes the socket.
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  bool fail(std::string why) {
    why_ = std::move(why);
    return false;
  }
  bool wait(short events, clock_type::time_point end) {
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - clock_type::now()).count();
      if (left <= 0) return false;
      pollfd p{fd_, events, 0};
      const int r = ::poll(&p, 1, static_cast<int>(left));
      if (r > 0) return true;
      if (r < 0 && errno != EINTR) return false;
    }
  }
  // > 0: bytes appended to buf_; 0: end of file; < 0: timeout or error (why_ says which).
  int read_some(clock_type::time_point end) {
    if (!wait(POLLIN, end)) {
      fail("timed out");
      return -1;
    }
    char chunk[65536];
    const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n < 0) {
      fail(errno == ECONNRESET ? "reset" : "recv failed");
      return -1;
    }
    buf_.append(chunk, static_cast<std::size_t>(n));
    return static_cast<int>(n);
  }

  int fd_ = -1;
  bool connected_ = false;
  bool last_chunked_ = false;
  std::string buf_;
  std::string extra_;
  std::string why_;
};

/// A request as the tests send it.
std::string get(const std::string& target, const std::string& extra = "") {
  return "GET " + target + " HTTP/1.1\r\nHost: localhost\r\n" + extra + "\r\n";
}
std::string post(const std::string& target, const std::string& body) {
  return "POST " + target + " HTTP/1.1\r\nHost: localhost\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\n\r\n" + body;
}

/// What the handler saw of one request.
struct seen {
  std::string method, target, body;
  unsigned version = 0;
  std::vector<iis::header> headers;
  sockaddr_storage remote{};
  bool on_pool = false;
};

/// The handler: answers "<method> <target> <body size>" at once, or holds the exchange for the test.
class handler final : public iis::request_handler {
 public:
  explicit handler(w3tp::thread_pool& pool) : pool_(pool) {}

  void handle(std::shared_ptr<iis::exchange> ex) override {
    seen s;
    s.method = ex->head().method;
    s.target = ex->head().target;
    s.body = ex->body();
    s.version = ex->head().version;
    s.headers = ex->head().headers;
    s.remote = ex->head().remote;
    s.on_pool = pool_.get_executor().running_in_this_thread();
    if (hold.load()) {
      std::lock_guard lock(mu_);
      requests_.push_back(std::move(s));
      held_.push_back(std::move(ex));
      cv_.notify_all();
      return;
    }
    if (drop.load()) {
      std::lock_guard lock(mu_);
      requests_.push_back(std::move(s));
      cv_.notify_all();
      return;  // the exchange goes without an answer
    }
    iis::response_head h;
    h.headers = {{"Content-Type", "text/plain"}};
    const std::string answer = s.method + " " + s.target + " " + std::to_string(s.body.size());
    {
      std::lock_guard lock(mu_);  // recorded before the answer, which the client may see at once
      requests_.push_back(std::move(s));
      cv_.notify_all();
    }
    if (!ex->send(h, answer, true)) {
      std::lock_guard lock(mu_);
      ++failed_sends_;
    }
  }

  /// Waits until `n` requests have arrived.
  bool wait_requests(std::size_t n, std::chrono::milliseconds limit = k_wait) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, limit, [&] { return requests_.size() >= n; });
  }
  /// The oldest held exchange, waited for (bounded); null when none came.
  std::shared_ptr<iis::exchange> take_held(std::chrono::milliseconds limit = k_wait) {
    std::unique_lock lock(mu_);
    if (!cv_.wait_for(lock, limit, [&] { return !held_.empty(); })) return nullptr;
    auto ex = std::move(held_.front());
    held_.pop_front();
    return ex;
  }
  std::vector<seen> requests() {
    std::lock_guard lock(mu_);
    return requests_;
  }
  std::size_t failed_sends() {
    std::lock_guard lock(mu_);
    return failed_sends_;
  }

  std::atomic<bool> hold{false};  // keep the exchanges for the test to answer
  std::atomic<bool> drop{false};  // let them go without an answer

 private:
  w3tp::thread_pool& pool_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<seen> requests_;
  std::deque<std::shared_ptr<iis::exchange>> held_;
  std::size_t failed_sends_ = 0;
};

/// A pool, the handler and a server listening on 127.0.0.1 (destroyed in the reverse order).
struct fixture {
  explicit fixture(iis::http_server_options o = {}, unsigned threads = 2)
      : pool(w3tp_test::test_options(threads)), h(pool), server(pool, h, o) {
    REQUIRE(server.listen("127.0.0.1", 0) == S_OK);
    port = server.port();
    REQUIRE(port != 0);
  }
  w3tp::thread_pool pool;
  handler h;
  iis::http_server server;
  std::uint16_t port = 0;
};

/// The value of a header the handler saw, or "".
std::string header_of(const seen& s, const std::string& name) {
  for (const auto& h : s.headers)
    if (boost::beast::iequals(h.name, name)) return h.value;
  return "";
}

/// The answer's value of a header, as a string.
std::string field(const response& r, http::field f) { return std::string(r[f]); }

}  // namespace

TEST_CASE("http_server: a GET is answered with its body and Content-Length", "[iis][http]") {
  fixture f;
  client c(f.port);
  REQUIRE(c.connected());
  REQUIRE(c.send(get("/hello?x=1", "X-Test: Value\r\n")));
  auto r = c.read_response();
  INFO(c.why());
  REQUIRE(r);
  CHECK(r->result_int() == 200);
  CHECK(r->reason() == "OK");
  CHECK(r->body() == "GET /hello?x=1 0");
  CHECK(field(*r, http::field::content_length) == std::to_string(r->body().size()));
  CHECK(field(*r, http::field::content_type) == "text/plain");
  CHECK(field(*r, http::field::server) == "w3tp-iishost");
  CHECK(field(*r, http::field::date).size() == 29);  // "Sun, 06 Nov 1994 08:49:37 GMT"
  CHECK(r->keep_alive());
  CHECK_FALSE(c.last_chunked());

  REQUIRE(f.h.wait_requests(1));
  const auto reqs = f.h.requests();
  REQUIRE(reqs.size() == 1);
  CHECK(reqs[0].method == "GET");
  CHECK(reqs[0].target == "/hello?x=1");
  CHECK(reqs[0].version == 11);
  CHECK(reqs[0].on_pool);
  CHECK(header_of(reqs[0], "x-test") == "Value");
  CHECK(header_of(reqs[0], "Host") == "localhost");
  REQUIRE(reqs[0].remote.ss_family == AF_INET);
  const auto* remote = reinterpret_cast<const sockaddr_in*>(&reqs[0].remote);
  CHECK(ntohs(remote->sin_port) == c.local_port());
  CHECK(ntohl(remote->sin_addr.s_addr) == INADDR_LOOPBACK);
  CHECK(f.server.connections() == 1);
}

TEST_CASE("http_server: keep-alive serves 100 requests on one connection", "[iis][http]") {
  fixture f;
  client c(f.port);
  REQUIRE(c.connected());
  int good = 0;
  for (int i = 0; i < 100; ++i) {
    const std::string target = "/k" + std::to_string(i);
    if (!c.send(get(target))) break;
    auto r = c.read_response();
    if (!r || r->result_int() != 200 || r->body() != "GET " + target + " 0" || !r->keep_alive()) break;
    ++good;
  }
  INFO(c.why());
  CHECK(good == 100);
  CHECK(f.server.connections() == 1);
  CHECK(f.h.requests().size() == 100);
  CHECK(f.h.failed_sends() == 0);
}

TEST_CASE("http_server: pipelined requests are answered in order", "[iis][http]") {
  fixture f;
  client c(f.port);
  REQUIRE(c.connected());
  const std::string chunked =
      "POST /p3 HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nwxyz\r\n0\r\n\r\n";
  REQUIRE(c.send(get("/p0") + post("/p1", "abc") + get("/p2") + chunked + get("/p4") + post("/p5", "")));
  const std::vector<std::string> expected = {"GET /p0 0",  "POST /p1 3", "GET /p2 0",
                                             "POST /p3 4", "GET /p4 0",  "POST /p5 0"};
  std::vector<std::string> got;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    auto r = c.read_response();
    if (!r) break;
    got.push_back(r->body());
  }
  INFO(c.why());
  CHECK(got == expected);
  const auto reqs = f.h.requests();
  REQUIRE(reqs.size() == expected.size());
  for (std::size_t i = 0; i < reqs.size(); ++i) CHECK(reqs[i].target == "/p" + std::to_string(i));
  CHECK(reqs[3].body == "wxyz");
}

TEST_CASE("http_server: a chunked request body is decoded", "[iis][http]") {
  fixture f;
  client c(f.port);
  REQUIRE(c.connected());
  // In pieces, with an extension and a trailer, so that chunk headers arrive split across reads.
  REQUIRE(c.send("POST /up HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n"));
  REQUIRE(c.send("5;name=value\r\nhel"));
  REQUIRE(c.send("lo\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n"));
  REQUIRE(c.send("0\r\nX-Trailer: t\r\n\r\n"));
  auto r = c.read_response();
  INFO(c.why());
  REQUIRE(r);
  CHECK(r->body() == "POST /up 31");

  // A larger body: 1 MiB in 64 KiB chunks, sent at once.
  std::string big, wire = "POST /big HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 16; ++i) {
    const std::string part(65536, static_cast<char>('a' + i));
    big += part;
    wire += "10000\r\n" + part + "\r\n";
  }
  wire += "0\r\n\r\n";
  REQUIRE(c.send(wire));
  r = c.read_response();
  REQUIRE(r);
  CHECK(r->body() == "POST /big 1048576");
  const auto reqs = f.h.requests();
  REQUIRE(reqs.size() == 2);
  CHECK(reqs[0].body == "helloabcdefghijklmnopqrstuvwxyz");
  CHECK(reqs[1].body == big);
}

TEST_CASE("http_server: an answer sent in 3 parts from another thread goes chunked", "[iis][http]") {
  fixture f;
  f.h.hold = true;
  client c(f.port);
  REQUIRE(c.connected());
  REQUIRE(c.send(get("/parts")));
  auto ex = f.h.take_held();
  REQUIRE(ex);
  bool sent[3] = {false, false, false};
  std::thread answerer([&] {
    iis::response_head h;
    h.headers = {{"Content-Type", "text/plain"}, {"Content-Length", "999"}};  // the server's business: dropped
    sent[0] = ex->send(h, "first,", false);
    sent[1] = ex->send(h, "second,", false);
    sent[2] = ex->send(h, "third", true);
  });
  answerer.join();
  CHECK(sent[0]);
  CHECK(sent[1]);
  CHECK(sent[2]);
  auto r = c.read_response();
  INFO(c.why());
  REQUIRE(r);
  CHECK(r->result_int() == 200);
  CHECK(r->body() == "first,second,third");
  CHECK(c.last_chunked());
  CHECK(field(*r, http::field::transfer_encoding) == "chunked");
  CHECK(field(*r, http::field::content_length).empty());
  CHECK_FALSE(ex->send({}, "late", true));  // the answer has ended
  ex.reset();

  // The connection goes on with the next request.
  f.h.hold = false;
  REQUIRE(c.send(get("/after")));
  r = c.read_response();
  REQUIRE(r);
  CHECK(r->body() == "GET /after 0");

  // HTTP/1.0 has no chunks: the answer has no length, and the close ends it.
  f.h.hold = true;
  client old(f.port);
  REQUIRE(old.connected());
  REQUIRE(old.send("GET /old HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
  ex = f.h.take_held();
  REQUIRE(ex);
  std::thread answerer10([&] {
    sent[0] = ex->send({}, "one,", false);
    sent[1] = ex->send({}, "two", true);
  });
  answerer10.join();
  CHECK(sent[0]);
  CHECK(sent[1]);
  r = old.read_response();
  INFO(old.why());
  REQUIRE(r);
  CHECK(r->body() == "one,two");
  CHECK(field(*r, http::field::connection) == "close");
  CHECK(field(*r, http::field::content_length).empty());
  CHECK(old.closed_by_server());
}

TEST_CASE("http_server: HEAD gets the headers only", "[iis][http]") {
  fixture f;
  client c(f.port);
  REQUIRE(c.connected());
  REQUIRE(c.send("HEAD /h HTTP/1.1\r\nHost: localhost\r\n\r\n"));
  auto r = c.read_response(true);
  INFO(c.why());
  REQUIRE(r);
  CHECK(r->result_int() == 200);
  CHECK(field(*r, http::field::content_length) == std::to_string(std::string("HEAD /h 0").size()));
  CHECK(r->body().empty());
  // No body bytes followed: the next answer on the connection parses from its first byte.
  REQUIRE(c.send(get("/next")));
  r = c.read_response();
  REQUIRE(r);
  CHECK(r->body() == "GET /next 0");

  // A HEAD answered in parts, with the length given by the handler: headers only, then the next request.
  f.h.hold = true;
  REQUIRE(c.send("HEAD /given HTTP/1.1\r\nHost: localhost\r\n\r\n"));
  auto ex = f.h.take_held();
  REQUIRE(ex);
  iis::response_head h;
  h.headers = {{"Content-Length", "12345"}};
  CHECK(ex->send(h, "ignored", false));
  CHECK(ex->send(h, "ignored too", true));
  ex.reset();
  r = c.read_response(true);
  REQUIRE(r);
  CHECK(field(*r, http::field::content_length) == "12345");
  f.h.hold = false;
  REQUIRE(c.send(get("/last")));
  r = c.read_response();
  REQUIRE(r);
  CHECK(r->body() == "GET /last 0");
}

TEST_CASE("http_server: HTTP/1.0 without keep-alive closes, with keep-alive stays", "[iis][http]") {
  fixture f;
  {
    client c(f.port);
    REQUIRE(c.connected());
    REQUIRE(c.send("GET /once HTTP/1.0\r\n\r\n"));
    auto r = c.read_response();
    INFO(c.why());
    REQUIRE(r);
    CHECK(r->body() == "GET /once 0");
    CHECK(field(*r, http::field::connection) == "close");
    CHECK(field(*r, http::field::content_length) == "11");
    CHECK(c.closed_by_server());
    CHECK(c.extra().empty());
  }
  {
    client c(f.port);
    REQUIRE(c.connected());
    for (int i = 0; i < 3; ++i) {
      REQUIRE(c.send("GET /ka HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
      auto r = c.read_response();
      INFO(c.why());
      REQUIRE(r);
      CHECK(r->body() == "GET /ka 0");
      CHECK(field(*r, http::field::connection) == "keep-alive");
    }
    const auto reqs = f.h.requests();
    REQUIRE_FALSE(reqs.empty());
    CHECK(reqs.back().version == 10);
  }
  {
    client c(f.port);  // Connection: close from an HTTP/1.1 client
    REQUIRE(c.connected());
    REQUIRE(c.send(get("/bye", "Connection: close\r\n")));
    auto r = c.read_response();
    REQUIRE(r);
    CHECK(field(*r, http::field::connection) == "close");
    CHECK(c.closed_by_server());
  }
  {
    f.h.hold = true;  // Connection: close from the handler
    client c(f.port);
    REQUIRE(c.connected());
    REQUIRE(c.send(get("/handler-closes")));
    auto ex = f.h.take_held();
    REQUIRE(ex);
    iis::response_head h;
    h.close = true;
    CHECK(ex->send(h, "bye", true));
    auto r = c.read_response();
    REQUIRE(r);
    CHECK(r->body() == "bye");
    CHECK(field(*r, http::field::connection) == "close");
    CHECK(c.closed_by_server());
  }
  CHECK(eventually([&] { return f.server.connections() == 0; }));
}

TEST_CASE("http_server: malformed requests get their status and a close", "[iis][http]") {
  struct bad {
    const char* name;
    std::string input;
    unsigned status;
  };
  const std::string big_header(20000, 'h');
  const std::string big_extension(20000, 'e');
  const std::vector<bad> table = {
      {"binary garbage (a TLS ClientHello)", std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11), 400},
      {"NUL in a header value", std::string("GET / HTTP/1.1\r\nHost: x\r\nX-A: a\0b\r\n\r\n", 36), 400},
      {"bad chunk size", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
       400},
      {"Content-Length: -1", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400},
      {"two different Content-Lengths",
       "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", 400},
      {"Content-Length and chunked",
       "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
      {"header section over the limit", "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + big_header + "\r\n\r\n", 431},
      {"request line over the limit", "GET /" + big_header + " HTTP/1.1\r\nHost: x\r\n\r\n", 431},
      {"declared body over the limit", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5000000\r\n\r\n", 413},
      {"chunked body over the limit", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n500000\r\nabc",
       413},
      {"HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 400},
      {"request line ending in a bare LF", "GET / HTTP/1.1\nHost: x\n\n", 400},
      {"header line ending in a bare LF", "GET / HTTP/1.1\r\nHost: x\nX-A: b\n\n", 400},
      {"HTTP/1.1 without Host", "GET / HTTP/1.1\r\nAccept: */*\r\n\r\n", 400},
      {"two Host headers", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},
      {"space before the colon", "GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400},
      {"huge chunk extension",
       "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;" + big_extension + "\r\nhello\r\n0\r\n\r\n",
       400},
      {"unsupported Transfer-Encoding", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 400},
      {"gzip, chunked (a coding the server does not implement)",
       "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501},
      {"chunked, gzip (chunked not last)",
       "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n", 400},
      {"chunked twice",
       "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
      {"bad method", "G(T / HTTP/1.1\r\nHost: x\r\n\r\n", 400},
      {"unknown version", "GET / HTTP/3.1\r\nHost: x\r\n\r\n", 400},
      {"an unknown expectation", "POST / HTTP/1.1\r\nHost: x\r\nExpect: magic\r\nContent-Length: 1\r\n\r\nx", 417},
  };
  fixture f;
  for (const bad& b : table) {
    INFO(b.name);
    client c(f.port);
    REQUIRE(c.connected());
    CHECK(c.send(b.input));
    auto r = c.read_response();
    INFO(c.why());
    if (!r) {
      CHECK(r.has_value());
      continue;
    }
    CHECK(r->result_int() == b.status);
    CHECK(field(*r, http::field::connection) == "close");
    CHECK(field(*r, http::field::server) == "w3tp-iishost");
    CHECK(field(*r, http::field::content_type) == "text/html; charset=us-ascii");
    CHECK(r->body().find("HTTP Error " + std::to_string(b.status)) != std::string::npos);
    CHECK(c.closed_by_server());
    CHECK(c.extra().empty());
  }
  CHECK(f.h.requests().empty());  // none reached the handler
  client c(f.port);
  REQUIRE(c.connected());
  REQUIRE(c.send(get("/still-serving")));
  auto r = c.read_response();
  REQUIRE(r);
  CHECK(r->body() == "GET /still-serving 0");
  c.close();
  CHECK(eventually([&] { return f.server.connections() == 0; }));
}

TEST_CASE("http_server: Expect: 100-continue gets an interim answer before the body", "[iis][http]") {
  fixture f;
  client c(f.port);
  REQUIRE(c.connected());
  REQUIRE(c.send("POST /c HTTP/1.1\r\nHost: localhost\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n"));
  auto r = c.read_response();
  INFO(c.why());
  REQUIRE(r);
  CHECK(r->result_int() == 100);
  REQUIRE(c.send("12345"));
  r = c.read_response();
  REQUIRE(r);
  CHECK(r->result_int() == 200);
  CHECK(r->body() == "POST /c 5");
}

TEST_CASE("http_server: a slow client gets 408 after read_timeout", "[iis][http]") {
  iis::http_server_options o;
  o.read_timeout = 300ms;
  fixture f(o);
  client head(f.port), body(f.port);
  REQUIRE(head.connected());
  REQUIRE(body.connected());
  const auto t0 = clock_type::now();
  REQUIRE(head.send("GET /slow HTTP/1.1\r\nHost: localhost\r\n"));                                // half a head
  REQUIRE(body.send("POST /slow HTTP/1.1\r\nHost: localhost\r\nContent-Length: 10\r\n\r\nabc"));  // part of a body
  auto r = head.read_response(false, 5s);
  const auto waited = clock_type::now() - t0;
  INFO(head.why());
  REQUIRE(r);
  CHECK(r->result_int() == 408);
  CHECK(waited >= 250ms);
  CHECK(head.closed_by_server(5s));
  r = body.read_response(false, 5s);
  INFO(body.why());
  REQUIRE(r);
  CHECK(r->result_int() == 408);
  CHECK(body.closed_by_server(5s));
  CHECK(f.h.requests().empty());
  CHECK(eventually([&] { return f.server.connections() == 0; }, 5s));
}

TEST_CASE("http_server: an idle keep-alive connection closes after idle_timeout", "[iis][http]") {
  iis::http_server_options o;
  o.idle_timeout = 300ms;
  fixture f(o);
  client c(f.port), silent(f.port);
  REQUIRE(c.connected());
  REQUIRE(silent.connected());
  REQUIRE(c.send(get("/once")));
  auto r = c.read_response();
  REQUIRE(r);
  const auto t0 = clock_type::now();
  CHECK(c.closed_by_server(5s));
  CHECK(clock_type::now() - t0 >= 250ms);
  CHECK(c.extra().empty());  // closed without a word: it asked for nothing
  CHECK(silent.closed_by_server(5s));
  CHECK(silent.extra().empty());
  CHECK(eventually([&] { return f.server.connections() == 0; }, 5s));
}

TEST_CASE("http_server: a client reset does not leak its connection", "[iis][http]") {
  fixture f;
  {
    client c(f.port);  // reset in the middle of a body
    REQUIRE(c.connected());
    REQUIRE(c.send("POST /r HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100000\r\n\r\n" + std::string(1000, 'x')));
    REQUIRE(eventually([&] { return f.server.connections() == 1; }));
    c.reset();
    CHECK(eventually([&] { return f.server.connections() == 0; }));
  }
  {
    f.h.hold = true;  // reset while the handler holds the exchange
    client c(f.port);
    REQUIRE(c.connected());
    REQUIRE(c.send(get("/held")));
    auto ex = f.h.take_held();
    REQUIRE(ex);
    CHECK(ex->connected());
    c.reset();
    CHECK(eventually([&] { return !ex->connected(); }));
    CHECK_FALSE(ex->send({}, "too late", true));
    CHECK(eventually([&] { return f.server.connections() == 0; }));
  }
  CHECK(f.h.requests().size() == 1);
}

TEST_CASE("http_server: an exchange dropped without an answer gets 500", "[iis][http]") {
  fixture f;
  f.h.drop = true;
  client c(f.port);
  REQUIRE(c.connected());
  REQUIRE(c.send(get("/dropped")));
  auto r = c.read_response();
  INFO(c.why());
  REQUIRE(r);
  CHECK(r->result_int() == 500);
  CHECK(c.closed_by_server());
}

TEST_CASE("http_server: 1,000 concurrent keep-alive connections, 3 requests each", "[iis][http]") {
  constexpr int k_clients = 1000;
  rlimit rl{};
  REQUIRE(::getrlimit(RLIMIT_NOFILE, &rl) == 0);
  if (rl.rlim_cur < 2 * k_clients + 200) {
    rl.rlim_cur = rl.rlim_max;
    REQUIRE(::setrlimit(RLIMIT_NOFILE, &rl) == 0);
  }
  REQUIRE(rl.rlim_cur >= 2 * k_clients + 200);
  fixture f({}, 4);
  std::vector<std::unique_ptr<client>> clients;
  for (int i = 0; i < k_clients; ++i) clients.push_back(std::make_unique<client>(f.port));
  int connected = 0;
  for (auto& c : clients) connected += c->connected() ? 1 : 0;
  REQUIRE(connected == k_clients);
  CHECK(eventually([&] { return f.server.connections() == k_clients; }));

  constexpr int k_threads = 4;
  std::atomic<int> answered{0}, wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < k_threads; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 3; ++round) {
        for (int i = t; i < k_clients; i += k_threads) {  // every client sends, then every client reads
          if (!clients[i]->send(get("/c" + std::to_string(i) + "/" + std::to_string(round)))) wrong.fetch_add(1);
        }
        for (int i = t; i < k_clients; i += k_threads) {
          auto r = clients[i]->read_response();
          const std::string want = "GET /c" + std::to_string(i) + "/" + std::to_string(round) + " 0";
          if (r && r->result_int() == 200 && r->body() == want && r->keep_alive())
            answered.fetch_add(1);
          else
            wrong.fetch_add(1);
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(answered.load() == 3 * k_clients);
  CHECK(wrong.load() == 0);
  CHECK(f.h.failed_sends() == 0);
  CHECK(f.server.connections() == k_clients);
  clients.clear();
  CHECK(eventually([&] { return f.server.connections() == 0; }));
}

TEST_CASE("http_server: drain answers what is in flight and closes the rest", "[iis][http]") {
  fixture f;
  f.h.hold = true;
  client busy(f.port), idle(f.port), partial(f.port);
  REQUIRE(busy.connected());
  REQUIRE(idle.connected());
  REQUIRE(partial.connected());
  REQUIRE(busy.send(get("/in-flight")));
  REQUIRE(partial.send("GET /partial HTTP/1.1\r\n"));
  auto ex = f.h.take_held();
  REQUIRE(ex);
  REQUIRE(eventually([&] { return f.server.connections() == 3; }));

  auto drained = std::async(std::launch::async, [&] { return f.server.drain(k_wait); });
  CHECK(idle.closed_by_server());
  CHECK(idle.extra().empty());
  CHECK(partial.closed_by_server());
  CHECK(ex->connected());
  CHECK(drained.wait_for(100ms) == std::future_status::timeout);  // the exchange in flight holds it
  CHECK(ex->send({}, "drained", true));
  auto r = busy.read_response();
  INFO(busy.why());
  REQUIRE(r);
  CHECK(r->body() == "drained");
  CHECK(field(*r, http::field::connection) == "close");
  CHECK(busy.closed_by_server());
  busy.close();
  REQUIRE(drained.wait_for(k_wait) == std::future_status::ready);
  CHECK(drained.get());
  CHECK(f.server.connections() == 0);
  client late(f.port);
  CHECK_FALSE(late.connected());  // the listening socket is closed
}

TEST_CASE("http_server: the destructor closes connections whose exchanges are still held", "[iis][http]") {
  w3tp::thread_pool pool(w3tp_test::test_options());
  handler h(pool);
  h.hold = true;
  auto server = std::make_unique<iis::http_server>(pool, h);
  REQUIRE(server->listen("127.0.0.1", 0) == S_OK);
  client a(server->port()), b(server->port());
  REQUIRE(a.connected());
  REQUIRE(b.connected());
  REQUIRE(a.send(get("/held")));
  auto ex = h.take_held();
  REQUIRE(ex);
  REQUIRE(eventually([&] { return server->connections() == 2; }));
  server.reset();
  CHECK_FALSE(ex->connected());
  CHECK_FALSE(ex->send({}, "after the server", true));
  CHECK(a.closed_by_server());
  CHECK(b.closed_by_server());
  ex.reset();  // the last reference goes after the server: nothing of it is touched
}

TEST_CASE("http_server: max_connections holds new clients in the backlog", "[iis][http]") {
  iis::http_server_options o;
  o.max_connections = 2;
  fixture f(o);
  client a(f.port), b(f.port), c(f.port);
  REQUIRE(a.connected());
  REQUIRE(b.connected());
  REQUIRE(c.connected());  // the kernel's backlog takes it
  REQUIRE(eventually([&] { return f.server.connections() == 2; }));
  REQUIRE(c.send(get("/third")));
  CHECK_FALSE(c.read_response(false, 300ms));  // not accepted yet
  a.close();
  auto r = c.read_response();
  INFO(c.why());
  REQUIRE(r);
  CHECK(r->body() == "GET /third 0");
}

TEST_CASE("http_server: listen reports errors as HRESULTs with a sentence", "[iis][http]") {
  w3tp::thread_pool pool(w3tp_test::test_options());
  handler h(pool);
  iis::http_server first(pool, h), second(pool, h), third(pool, h);
  CHECK(third.listen("not-an-ip", 0) == HRESULT_FROM_WIN32(ERROR_INVALID_PARAMETER));
  CHECK(third.last_error().find("not-an-ip") != std::string::npos);
  REQUIRE(first.listen("127.0.0.1", 0) == S_OK);
  CHECK(first.last_error().empty());
  const HRESULT in_use = second.listen("127.0.0.1", first.port());
  CHECK(in_use == HRESULT_FROM_WIN32(10048));  // WSAEADDRINUSE
  CHECK(second.last_error().find("WSAEADDRINUSE") != std::string::npos);
  CHECK(first.listen("127.0.0.1", 0) == HRESULT_FROM_WIN32(ERROR_INVALID_STATE));
  const bool v6 = third.listen("[::1]", 0) == S_OK;  // IPv6 may be off here: then the sentence names it
  CHECK((v6 || third.last_error().find("::1") != std::string::npos));
}
