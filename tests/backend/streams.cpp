// SPDX-License-Identifier: MIT
// API.md behaviour 4: pipes and sockets (partial reads, the peer closing or resetting, whole writes,
// writes to a gone reader or peer, and no SIGPIPE).
#include <algorithm>

#include "backend/common.hpp"

using namespace w3tp_test;

namespace {

bool is_reset_error(DWORD e) { return e == ERROR_NETNAME_DELETED || e == ERROR_CONNECTION_ABORTED; }

}  // namespace

TEST_CASE("streams: SIGPIPE is at its default action for this run", "[streams][sigpipe]") {
  // Every test below that writes to a gone reader would kill the process if w3tp let SIGPIPE through.
  CHECK(sigpipe_is_default());
}

TEST_CASE("streams: a read completes with what is available", "[streams][pipe][socket]") {
  fixture f;
  HANDLE r, w, a, b;
  f.pipe(r, w);
  f.sockets(a, b);
  SECTION("data already there") {
    REQUIRE(plain_write(w, "12345"));
    REQUIRE(plain_write(b, "abc"));
    op pr(100), sr(100);
    REQUIRE(start_read(f.t, r, pr));
    REQUIRE(f.t.wait_op(pr));
    CHECK(pr.error.load() == 0u);
    CHECK(pr.text() == "12345");
    // TCP may deliver in pieces: read until all three bytes came, each read at least one byte.
    std::string got;
    std::vector<std::unique_ptr<op>> reads;
    while (got.size() < 3) {
      reads.push_back(std::make_unique<op>(100));
      REQUIRE(start_read(f.t, a, *reads.back()));
      REQUIRE(f.t.wait_op(*reads.back()));
      REQUIRE(reads.back()->error.load() == 0u);
      REQUIRE(reads.back()->bytes.load() >= 1u);
      got += reads.back()->text();
    }
    CHECK(got == "abc");
  }
  SECTION("data arriving later") {
    op pr(100), sr(100);
    REQUIRE(start_read(f.t, r, pr));
    REQUIRE(start_read(f.t, a, sr));
    REQUIRE(plain_write(w, "xy"));
    REQUIRE(plain_write(b, "z"));
    REQUIRE(f.t.wait_op(pr));
    REQUIRE(f.t.wait_op(sr));
    CHECK(pr.text() == "xy");
    CHECK(sr.text() == "z");
  }
  SECTION("several pending reads share the data") {
    op r1(2), r2(2), r3(2);
    REQUIRE(start_read(f.t, r, r1));
    REQUIRE(start_read(f.t, r, r2));
    REQUIRE(start_read(f.t, r, r3));
    REQUIRE(plain_write(w, "aabbcc"));
    REQUIRE(f.t.wait_delivered(3));
    // API.md does not promise an order among reads pending together; each gets two whole bytes.
    std::vector<std::string> got{r1.text(), r2.text(), r3.text()};
    std::sort(got.begin(), got.end());
    CHECK(got == std::vector<std::string>{"aa", "bb", "cc"});
  }
  f.finish();
}

TEST_CASE("streams: the writer closing a pipe gives ERROR_BROKEN_PIPE", "[streams][pipe]") {
  fixture f;
  HANDLE r, w;
  f.pipe(r, w);
  op pending_read(16);
  REQUIRE(start_read(f.t, r, pending_read));
  REQUIRE(CloseHandle(w));
  REQUIRE(f.t.wait_op(pending_read));
  CHECK(pending_read.error.load() == static_cast<DWORD>(ERROR_BROKEN_PIPE));
  CHECK(pending_read.bytes.load() == 0u);
  // And a read started afterwards.
  op later(16);
  start_read(f.t, r, later);
  if (later.accepted) {
    REQUIRE(f.t.wait_op(later));
    CHECK(later.error.load() == static_cast<DWORD>(ERROR_BROKEN_PIPE));
  } else {
    CHECK(later.start_error == static_cast<DWORD>(ERROR_BROKEN_PIPE));
  }
  f.finish();
}

TEST_CASE("streams: data written before the close is read before ERROR_BROKEN_PIPE", "[streams][pipe]") {
  fixture f;
  HANDLE r, w;
  f.pipe(r, w, true, false);
  REQUIRE(plain_write(w, "last words"));
  REQUIRE(CloseHandle(w));
  op first(64), second(64);
  REQUIRE(start_read(f.t, r, first));
  REQUIRE(f.t.wait_op(first));
  CHECK(first.error.load() == 0u);
  CHECK(first.text() == "last words");
  start_read(f.t, r, second);
  if (second.accepted) {
    REQUIRE(f.t.wait_op(second));
    CHECK(second.error.load() == static_cast<DWORD>(ERROR_BROKEN_PIPE));
  }
  f.finish();
}

TEST_CASE("streams: a socket's orderly close gives success with 0 bytes", "[streams][socket]") {
  fixture f;
  HANDLE a, b;
  f.sockets(a, b);
  op rd(16);
  REQUIRE(start_read(f.t, a, rd));
  REQUIRE(CloseHandle(b));
  REQUIRE(f.t.wait_op(rd));
  CHECK(rd.error.load() == 0u);
  CHECK(rd.bytes.load() == 0u);
  DWORD n = 99;
  CHECK(GetOverlappedResult(a, &rd.ov, &n, FALSE) == TRUE);
  CHECK(n == 0u);
  f.finish();
}

TEST_CASE("streams: a reset gives ERROR_NETNAME_DELETED or ERROR_CONNECTION_ABORTED", "[streams][socket]") {
  fixture f;
  HANDLE a, b;
  f.sockets(a, b, true, false);
  op rd(16);
  REQUIRE(start_read(f.t, a, rd));
  REQUIRE(abort_socket(b));
  REQUIRE(f.t.wait_op(rd));
  INFO("error " << rd.error.load());
  CHECK(is_reset_error(rd.error.load()));
  CHECK(rd.bytes.load() == 0u);
  // A write to the reset connection fails the same way (at once or through the routine).
  op wr;
  start_write(f.t, a, wr, "anyone?");
  if (wr.accepted) {
    REQUIRE(f.t.wait_op(wr));
    INFO("write error " << wr.error.load());
    CHECK(is_reset_error(wr.error.load()));
  } else {
    CHECK(is_reset_error(wr.start_error));
  }
  f.finish();
}

namespace {

// A large write into a stream whose reader takes small bites: the write's routine runs once, with
// every byte written, after the reader has drained it (never a short success).
// `slack` bounds what the stream itself can buffer (0: unknown, not checked).
void large_write(fixture& f, HANDLE reader, HANDLE writer, std::size_t size, std::size_t slack) {
  std::string data(size, '\0');
  for (std::size_t i = 0; i < size; ++i) data[i] = static_cast<char>('a' + (i * 7 + i / 4096) % 26);
  op wr;
  REQUIRE(start_write(f.t, writer, wr, data));
  std::string got;
  got.reserve(size);
  std::vector<char> buf(4096);
  bool done_early = false;
  while (got.size() < size) {
    long n = plain_read(reader, buf.data(), static_cast<DWORD>(buf.size()));
    REQUIRE(n > 0);
    // The write completes only after its last byte went into the stream.
    if (slack != 0 && wr.calls.load() != 0 && got.size() + static_cast<std::size_t>(n) + slack < size)
      done_early = true;
    got.append(buf.data(), static_cast<std::size_t>(n));
  }
  REQUIRE(f.t.wait_op(wr));
  CHECK_FALSE(done_early);
  CHECK(wr.error.load() == 0u);
  CHECK(wr.bytes.load() == size);
  CHECK(got == data);
}

}  // namespace

TEST_CASE("streams: a write completes whole, never short", "[streams][pipe][socket]") {
  fixture f;
  SECTION("pipe") {
    HANDLE r, w;
    f.pipe(r, w, false, true);
    large_write(f, r, w, 4u << 20, 1u << 20);  // a pipe holds at most 1 MiB (pipe-max-size)
  }
  SECTION("socket") {
    HANDLE a, b;
    f.sockets(a, b, false, true);
    if (running_under_wine()) {
      // Wine 8's WriteFile on a socket sends what fits in the socket's buffers and never continues
      // (WSASend does; Windows documents WriteFile on sockets): a larger write would wait forever.
      TODO_WINE_REPORT(
          "not run under Wine: Wine's WriteFile on a socket never continues a partial send: 8 MiB write not tried");
      large_write(f, a, b, 64u << 10, 0);
    } else {
      large_write(f, a, b, 8u << 20, 0);
    }
  }
  f.finish();
}

TEST_CASE("streams: a write to a pipe whose reader is gone gives ERROR_NO_DATA, no SIGPIPE",
          "[streams][pipe][sigpipe]") {
  fixture f;
  HANDLE r, w;
  f.pipe(r, w, false, true);
  REQUIRE(CloseHandle(r));
  // From the application's thread...
  op wr;
  start_write(f.t, w, wr, "into the void");
  if (wr.accepted) {
    REQUIRE(f.t.wait_op(wr));
    CHECK(wr.error.load() == static_cast<DWORD>(ERROR_NO_DATA));
  } else {
    CHECK(wr.start_error == static_cast<DWORD>(ERROR_NO_DATA));
  }
  // ...and from a pool thread (a routine writing).
  struct ctx {
    HANDLE w = nullptr;
    op wr;
    tracker* t = nullptr;
  } c;
  c.w = w;
  c.t = &f.t;
  static ctx* g = nullptr;
  g = &c;
  op trigger;
  trigger.owner = &f.t;
  f.t.accepted.fetch_add(1);
  REQUIRE(f.p().post(
              [](DWORD e, DWORD n, LPOVERLAPPED ov) {
                op* o = reinterpret_cast<op*>(ov);
                start_write(*g->t, g->w, g->wr, "from a routine");
                o->owner->record(*o, e, n, ov);
              },
              0, 0, &trigger.ov) == S_OK);
  REQUIRE(f.t.wait_op(trigger));
  if (c.wr.accepted) {
    REQUIRE(f.t.wait_op(c.wr));
    CHECK(c.wr.error.load() == static_cast<DWORD>(ERROR_NO_DATA));
  } else {
    CHECK(c.wr.start_error == static_cast<DWORD>(ERROR_NO_DATA));
  }
  // A pending write (pipe full) whose reader goes away.
  HANDLE r2, w2;
  f.pipe(r2, w2, false, true);
  op big;
  REQUIRE(start_write(f.t, w2, big, std::string(1u << 20, 'b')));
  REQUIRE(CloseHandle(r2));
  REQUIRE(f.t.wait_op(big));
  if (k_windows) {
    // On Windows the routine gets the status the system put in the packet: a pending write that the
    // reader's close ends carries STATUS_PIPE_BROKEN (ERROR_BROKEN_PIPE); a write started after the
    // close fails with ERROR_NO_DATA, as checked above.
    CHECK((big.error.load() == static_cast<DWORD>(ERROR_NO_DATA) ||
           big.error.load() == static_cast<DWORD>(ERROR_BROKEN_PIPE)));
  } else {
    CHECK(big.error.load() == static_cast<DWORD>(ERROR_NO_DATA));
  }
  CHECK(big.bytes.load() < (1u << 20));
  f.finish();
  g = nullptr;
}

TEST_CASE("streams: a write to a socket whose peer is gone fails with a reset error, no SIGPIPE",
          "[streams][socket][sigpipe]") {
  fixture f;
  HANDLE a, b;
  f.sockets(a, b, false, true);
  REQUIRE(CloseHandle(a));
  // The first writes may still be accepted by the kernel; the peer answers them with a reset.
  DWORD last = 0;
  std::vector<std::unique_ptr<op>> writes;
  for (int i = 0; i < 200 && last == 0; ++i) {
    writes.push_back(std::make_unique<op>());
    op& wr = *writes.back();
    start_write(f.t, b, wr, std::string(1024, 'w'));
    if (!wr.accepted) {
      last = wr.start_error;
      break;
    }
    REQUIRE(f.t.wait_op(wr));
    last = wr.error.load();
  }
  INFO("error " << last);
  CHECK(is_reset_error(last));
  f.finish();
}

#ifndef _WIN32
// A zero-byte read is the IOCP idiom for "tell me when the socket is readable" (no buffer is committed
// while the connection idles). On POSIX it waits for readiness and takes no data.
TEST_CASE("streams: a zero-byte read waits for data and takes none", "[streams][pipe][socket][posix]") {
  fixture f;
  HANDLE a, b, r, w;
  f.sockets(a, b);
  f.pipe(r, w);
  op sr(0), pr(0);
  REQUIRE(start_read(f.t, a, sr));
  REQUIRE(start_read(f.t, r, pr));
  CHECK_FALSE(f.t.wait_op(sr, 50ms));
  REQUIRE(plain_write(b, "x"));
  REQUIRE(f.t.wait_op(sr));
  CHECK(sr.error.load() == 0u);
  CHECK(sr.bytes.load() == 0u);
  op data(16);
  REQUIRE(start_read(f.t, a, data));
  REQUIRE(f.t.wait_op(data));
  CHECK(data.text() == "x");  // the zero-byte read left the byte where it was
  // The writer closing the pipe: as for a read with a buffer, ERROR_BROKEN_PIPE.
  REQUIRE(CloseHandle(w));
  REQUIRE(f.t.wait_op(pr));
  CHECK(pr.error.load() == static_cast<DWORD>(ERROR_BROKEN_PIPE));
  CHECK(pr.bytes.load() == 0u);
  // The peer's orderly close: success with 0 bytes.
  op closed(0);
  REQUIRE(start_read(f.t, a, closed));
  REQUIRE(CloseHandle(b));
  REQUIRE(f.t.wait_op(closed));
  CHECK(closed.error.load() == 0u);
  f.finish();
}

// A socket whose error is pending without any data to read (POLLERR without POLLIN): the zero-byte read
// reports that error (SO_ERROR), as a read with a buffer would, on every backend.
TEST_CASE("streams: a zero-byte read on a socket with a pending error reports the error", "[streams][socket][posix]") {
  fixture f;
  HANDLE s;
  REQUIRE(make_refused_datagram_socket(s));
  f.associated(s);
  op zero(0);
  op ping;
  SECTION("the error arrives while the read waits") {
    REQUIRE(start_read(f.t, s, zero));
    REQUIRE(start_write(f.t, s, ping, "ping"));  // answered by ICMP port unreachable
  }
  SECTION("the error is there before the read") {
    REQUIRE(start_write(f.t, s, ping, "ping"));
    REQUIRE(f.t.wait_op(ping));
    std::this_thread::sleep_for(20ms);  // loopback answers at once; the read works either way
    REQUIRE(start_read(f.t, s, zero));
  }
  REQUIRE(f.t.wait_op(ping));
  CHECK(ping.error.load() == 0u);
  REQUIRE(f.t.wait_op(zero));
  INFO("the zero-byte read got error " << zero.error.load());
  CHECK(zero.error.load() == static_cast<DWORD>(ERROR_CONNECTION_REFUSED));
  CHECK(zero.bytes.load() == 0u);
  f.finish();
}
#endif
