// SPDX-License-Identifier: MIT
// asio_interop: a C++20 coroutine on a w3tp pool that awaits an Asio timer and an overlapped ReadFile,
// both completing on the pool's threads. The pool's executor is an Asio executor (it converts to
// boost::asio::any_io_executor); <w3tp/asio.hpp> makes overlapped reads and writes awaitable.
//
//   asio_interop FILE          read FILE in 64 KiB steps, one timer tick between steps; print a summary
//   asio_interop --self-test   the same on a file it writes in the temporary directory, and check it
//   asio_interop --help
#include <w3tp/asio.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <future>
#include <string>
#include <vector>

#include "../common/example.hpp"

namespace net = boost::asio;

namespace {

constexpr char kUsage[] = "usage: asio_interop FILE | asio_interop --self-test | asio_interop --help";

struct summary {
  std::uint64_t bytes = 0;
  std::uint64_t checksum = 0;
  int steps = 0;
  int off_pool = 0;  // completions that resumed the coroutine off the pool's threads (must stay 0)
};

/// Reads the whole file: a 1 ms timer, then a 64 KiB overlapped read, until ERROR_HANDLE_EOF.
net::awaitable<summary> read_with_ticks(w3tp::thread_pool& pool, w3tp::asio::overlapped_handle& file) {
  summary s;
  net::steady_timer tick(co_await net::this_coro::executor);
  std::vector<unsigned char> buffer(64 * 1024);
  for (;;) {
    tick.expires_after(std::chrono::milliseconds(1));
    co_await tick.async_wait(net::use_awaitable);
    if (!pool.get_executor().running_in_this_thread()) ++s.off_pool;
    auto [ec, n] = co_await file.async_read_some_at(s.bytes, net::buffer(buffer), net::as_tuple(net::use_awaitable));
    if (!pool.get_executor().running_in_this_thread()) ++s.off_pool;
    if (ec == w3tp::asio::make_error_code(ERROR_HANDLE_EOF) || (!ec && n == 0)) break;
    if (ec) throw boost::system::system_error(ec, "reading the file");
    for (std::size_t i = 0; i < n; ++i) s.checksum = s.checksum * 31 + buffer[i];
    s.bytes += n;
    ++s.steps;
  }
  co_return s;
}

int run(int argc, char** argv) {
  if (argc == 2 && std::strcmp(argv[1], "--help") == 0) {
    std::printf(
        "%s\n\nA coroutine on a w3tp pool reads FILE in 64 KiB overlapped reads, awaiting a 1 ms Asio timer "
        "before each;\nthe timer and the reads complete on the pool's threads. W3TP_BACKEND (auto, io_uring, "
        "epoll, iocp) chooses\nthe backend. Exit status 1, with a sentence, on failure.\n",
        kUsage);
    return 0;
  }
  if (argc != 2 || (argv[1][0] == '-' && std::strcmp(argv[1], "--self-test") != 0))
    example::fail("asio_interop", std::string("bad arguments\n") + kUsage);
  const bool self_test = std::strcmp(argv[1], "--self-test") == 0;
  const std::string path = self_test ? example::temp_dir() + "/asio_interop.bin" : argv[1];
  std::uint64_t expected_checksum = 0;
  const std::size_t self_test_size = 300 * 1024 + 17;
  if (self_test) {
    FILE* f = std::fopen(path.c_str(), "wb");
    if (f == nullptr) example::fail("asio_interop", "could not write " + path);
    for (std::size_t i = 0; i < self_test_size; ++i) {
      const auto b = static_cast<unsigned char>(i * 13);
      std::fputc(b, f);
      expected_checksum = expected_checksum * 31 + b;
    }
    std::fclose(f);
  }
  w3tp::thread_pool pool;
  HANDLE h =
      CreateFileA(path.c_str(), GENERIC_READ, FILE_SHARE_READ, nullptr, OPEN_EXISTING, FILE_FLAG_OVERLAPPED, nullptr);
  if (h == INVALID_HANDLE_VALUE)
    example::fail("asio_interop", "could not open " + path + ": " + example::describe_error(GetLastError()));
  w3tp::asio::overlapped_handle file(pool, h);
  std::future<summary> done = net::co_spawn(pool.get_executor(), read_with_ticks(pool, file), net::use_future);
  summary s;
  try {
    s = done.get();
  } catch (const boost::system::system_error& e) {
    example::fail("asio_interop", path + ": " + e.code().message());
  }
  std::printf("asio_interop (%s): %llu bytes in %d reads, each after a timer tick; %d resumptions off the pool\n",
              std::string(w3tp::to_string(pool.active_backend())).c_str(), static_cast<unsigned long long>(s.bytes),
              s.steps, s.off_pool);
  if (s.off_pool != 0) example::fail("asio_interop", "a completion resumed the coroutine off the pool");
  if (self_test) {
    file.close();
    std::remove(path.c_str());
    if (s.bytes != self_test_size || s.checksum != expected_checksum)
      example::fail("asio_interop", "the bytes read differ from the bytes written");
    std::printf("the bytes read match the bytes written\n");
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return example::guarded_main("asio_interop", [&] { return run(argc, argv); });
}
