// SPDX-License-Identifier: MIT
// The HTTP benchmark's Boost.Beast peer (bench/http/run.sh): an asynchronous HTTP/1.1 server in the
// style of Beast's http_server_async example (one io_context run by N threads, a session per
// connection reading a request, writing a response and reading the next while the client keeps the
// connection alive), answering every request with "Hello" as text/plain.
//
//   w3tp_bench_beast_hello PORT THREADS      prints "listening on http://127.0.0.1:PORT/", then serves
//                                            until SIGINT or SIGTERM
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <charconv>
#include <cstdio>
#include <memory>
#include <string_view>
#include <thread>
#include <vector>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

class session : public std::enable_shared_from_this<session> {
 public:
  explicit session(tcp::socket s) : stream_(std::move(s)) {}
  void start() { read(); }

 private:
  void read() {
    req_ = {};
    http::async_read(stream_, buffer_, req_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) return self->close();
      self->answer();
    });
  }
  void answer() {
    res_ = {};
    res_.version(req_.version());
    res_.result(http::status::ok);
    res_.set(http::field::server, "beast");
    res_.set(http::field::content_type, "text/plain");
    res_.keep_alive(req_.keep_alive());
    res_.body() = "Hello";
    res_.prepare_payload();
    http::async_write(stream_, res_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) return self->close();
      if (!self->res_.keep_alive()) return self->close();
      self->read();
    });
  }
  void close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  http::request<http::empty_body> req_;
  http::response<http::string_body> res_;
};

void accept(tcp::acceptor& a) {
  a.async_accept(asio::make_strand(a.get_executor()), [&a](beast::error_code ec, tcp::socket s) {
    if (!ec) std::make_shared<session>(std::move(s))->start();
    accept(a);
  });
}

bool number(std::string_view s, unsigned& out) {
  auto r = std::from_chars(s.data(), s.data() + s.size(), out);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

}  // namespace

int main(int argc, char** argv) {
  unsigned port = 0, threads = 0;
  if (argc != 3 || !number(argv[1], port) || port > 65535 || !number(argv[2], threads) || threads == 0) {
    std::fprintf(stderr, "usage: w3tp_bench_beast_hello PORT THREADS\n");
    return 2;
  }
  try {
    asio::io_context io(static_cast<int>(threads));
    tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)});
    asio::signal_set stop(io, SIGINT, SIGTERM);
    stop.async_wait([&](beast::error_code, int) { io.stop(); });
    accept(acceptor);
    std::printf("listening on http://127.0.0.1:%u/\n", static_cast<unsigned>(acceptor.local_endpoint().port()));
    std::fflush(stdout);
    std::vector<std::thread> pool;
    for (unsigned i = 1; i < threads; ++i) pool.emplace_back([&io] { io.run(); });
    io.run();
    for (auto& t : pool) t.join();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "w3tp_bench_beast_hello: %s\n", e.what());
    return 1;
  }
  return 0;
}
