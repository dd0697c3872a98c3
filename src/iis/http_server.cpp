// SPDX-License-Identifier: MIT
// http_server: accepting (a thread with poll() and accept4), the connections' state machines (driven by
// completion routines of overlapped ReadFile/WriteFile on pool threads), request parsing and answer
// framing with Boost.Beast, and the timer thread that cancels the reads of idle and slow connections.
//
// A connection is owned by shared pointers: the server's table of open connections (until it closes),
// each overlapped operation or post in flight (a "pin", released by its routine) and each exchange
// handed to the handler. Its state is guarded by its mutex, which no one holds while calling the
// handler or destroying an exchange. The server counts the operations in flight, so its destructor
// returns only once every routine is done; what outlives it (an exchange a handler still holds) finds
// its connection closed.
#include "iis/http_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <ctime>
#include <exception>
#include <optional>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <boost/asio/buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/chunk_encode.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/rfc7230.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/string_body.hpp>

namespace w3tp::iis {

namespace {

namespace http = boost::beast::http;
using clock_type = std::chrono::steady_clock;

/// The bytes one overlapped read asks for.
constexpr std::size_t k_read_chunk = 16384;
/// The next pipelined request is parsed only while less than this is waiting to be written.
constexpr std::size_t k_max_queued_output = std::size_t{1} << 20;
/// The most one WriteFile is given (DWORD lengths); a longer answer goes in several writes.
constexpr std::size_t k_max_write = std::size_t{1} << 30;
/// How long a connection closed by the server goes on reading (and dropping) what the client still sends
/// after the answer, so that its close does not turn into a reset that destroys the answer in flight.
constexpr std::chrono::milliseconds k_linger{2000};
/// How long the acceptor waits before it tries again when the process is out of descriptors.
constexpr int k_accept_backoff_ms = 100;
/// The Server header of every answer unless the handler set one.
constexpr std::string_view k_server_name = "w3tp-iishost";

/// A steady_clock time as a number for the connections' atomic deadlines (0: none).
std::int64_t ticks(clock_type::time_point t) noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

/// An answer the server gives by itself, with the HTML page http.sys sends.
struct error_page {
  unsigned status;
  const char* reason;
  const char* title;
  const char* text;
};

constexpr error_page k_bad_request{400, "Bad Request", "Bad Request", "The request is badly formed."};
constexpr error_page k_bad_header{400, "Bad Request", "Bad Request - Invalid Header",
                                  "The request has an invalid header name."};
constexpr error_page k_bad_verb{400, "Bad Request", "Bad Request - Invalid Verb", "The request verb is invalid."};
constexpr error_page k_bad_url{400, "Bad Request", "Bad Request - Invalid URL", "The request URL is invalid."};
constexpr error_page k_bad_host{400, "Bad Request", "Bad Request - Invalid Hostname",
                                "The request hostname is invalid."};
constexpr error_page k_bad_version{400, "Bad Request", "Bad Request - Invalid Version",
                                   "The HTTP version of the request is not supported."};
constexpr error_page k_bad_encoding{400, "Bad Request", "Bad Request - Invalid Transfer-Encoding",
                                    "The request's Transfer-Encoding does not end in chunked."};
constexpr error_page k_unknown_encoding{501, "Not Implemented", "Not Implemented",
                                        "The request has a Transfer-Encoding the server does not implement."};
constexpr error_page k_timeout{408, "Request Timeout", "Request Timeout", "The request timed out."};
constexpr error_page k_body_too_large{413, "Request Entity Too Large", "Request Entity Too Large",
                                      "The request entity is too large."};
constexpr error_page k_expectation{417, "Expectation Failed", "Expectation Failed",
                                   "The expectation given in the Expect header cannot be met."};
constexpr error_page k_header_too_large{431, "Request Header Fields Too Large", "Request Header Fields Too Large",
                                        "The size of the request headers is too long."};
constexpr error_page k_handler_failed{500, "Internal Server Error", "Internal Server Error",
                                      "The request handler ended without an answer."};

/// The answer for a request that Beast refused.
const error_page& page_for(const boost::system::error_code& ec) {
  if (ec == http::error::header_limit) return k_header_too_large;
  if (ec == http::error::body_limit) return k_body_too_large;
  if (ec == http::error::bad_method) return k_bad_verb;
  if (ec == http::error::bad_target) return k_bad_url;
  if (ec == http::error::bad_version) return k_bad_version;
  if (ec == http::error::bad_field || ec == http::error::bad_value || ec == http::error::bad_content_length ||
      ec == http::error::multiple_content_length || ec == http::error::bad_transfer_encoding)
    return k_bad_header;
  return k_bad_request;
}

/// RFC 9110's IMF-fixdate of now, for the Date header (not strftime: its names follow the locale).
std::string http_date() {
  static constexpr const char* days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                           "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  thread_local std::time_t cached_time = -1;
  thread_local std::string cached;
  const std::time_t now = std::time(nullptr);
  if (now != cached_time) {
    std::tm t{};
    gmtime_r(&now, &t);
    cached = fmt::format("{}, {:02} {} {} {:02}:{:02}:{:02} GMT", days[t.tm_wday], t.tm_mday, months[t.tm_mon],
                         t.tm_year + 1900, t.tm_hour, t.tm_min, t.tm_sec);
    cached_time = now;
  }
  return cached;
}

/// True for a header name the server may send (an RFC 9110 token).
bool is_token(std::string_view s) {
  if (s.empty()) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return (u >= '0' && u <= '9') || (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') ||
           std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
  });
}

/// A header value or reason phrase with CR, LF and NUL replaced by spaces (no header injection).
std::string clean_value(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c == '\r' || c == '\n' || c == '\0') c = ' ';
  return out;
}

/// True when the unparsed head bytes hold an LF without its CR (Beast would wait for a CR forever).
bool has_bare_lf(std::string_view s) {
  for (std::size_t i = s.find('\n'); i != std::string_view::npos; i = s.find('\n', i + 1))
    if (i == 0 || s[i - 1] != '\r') return true;
  return false;
}

/// The parser's chunk-header callback: refuses a request whose chunk extensions together pass a limit
/// (Beast accepts extensions of any length once their line is complete).
struct extension_limit {
  std::size_t total = 0;
  std::size_t limit = 0;
  void operator()(std::uint64_t, boost::beast::string_view extensions, boost::system::error_code& ec) {
    total += extensions.size();
    if (total > limit) ec = http::error::bad_chunk_extension;
  }
};

/// Appends a Beast buffer sequence to a string.
template <class Buffers>
void append_buffers(std::string& out, const Buffers& buffers) {
  for (auto it = boost::asio::buffer_sequence_begin(buffers); it != boost::asio::buffer_sequence_end(buffers); ++it) {
    const boost::asio::const_buffer b(*it);
    out.append(static_cast<const char*>(b.data()), b.size());
  }
}

/// Appends the status line and header fields of `res`, serialised by Beast.
void append_head(std::string& out, http::response<http::empty_body>& res) {
  http::response_serializer<http::empty_body> sr(res);
  sr.split(true);
  boost::system::error_code ec;
  while (!ec && !sr.is_header_done()) {
    sr.next(ec, [&](boost::system::error_code&, const auto& buffers) {
      const std::size_t before = out.size();
      append_buffers(out, buffers);
      sr.consume(out.size() - before);
    });
  }
}

/// Appends one of the server's own answers (Connection: close, with its HTML page).
void append_error(std::string& out, const error_page& page) {
  const std::string html = fmt::format(
      "<!DOCTYPE HTML PUBLIC \"-//W3C//DTD HTML 4.01//EN\"\"http://www.w3.org/TR/html4/strict.dtd\">\r\n"
      "<HTML><HEAD><TITLE>{}</TITLE>\r\n"
      "<META HTTP-EQUIV=\"Content-Type\" Content=\"text/html; charset=us-ascii\"></HEAD>\r\n"
      "<BODY><h2>{}</h2>\r\n<hr><p>HTTP Error {}. {}</p>\r\n</BODY></HTML>\r\n",
      page.reason, page.title, page.status, page.text);
  http::response<http::empty_body> res;
  res.version(11);
  res.result(page.status);
  res.reason(page.reason);
  res.set(http::field::content_type, "text/html; charset=us-ascii");
  res.set(http::field::server, k_server_name);
  res.set(http::field::date, http_date());
  res.set(http::field::connection, "close");
  res.content_length(html.size());
  append_head(out, res);
  out += html;
}

/// A Win32 error with its name, for last_error()'s sentence.
struct win32_error {
  DWORD code;
  const char* name;
};

/// The Win32 error that Winsock reports for the same failure of a socket call (errno's counterpart).
win32_error socket_error(int err) {
  switch (err) {
    case EADDRINUSE: return {10048, "WSAEADDRINUSE"};
    case EADDRNOTAVAIL: return {10049, "WSAEADDRNOTAVAIL"};
    case EACCES:
    case EPERM: return {10013, "WSAEACCES"};
    case EAFNOSUPPORT: return {10047, "WSAEAFNOSUPPORT"};
    case EMFILE:
    case ENFILE: return {10024, "WSAEMFILE"};
    case ENOBUFS:
    case ENOMEM: return {10055, "WSAENOBUFS"};
    case EINVAL: return {10022, "WSAEINVAL"};
    default: return {static_cast<DWORD>(ERROR_GEN_FAILURE), "ERROR_GEN_FAILURE"};
  }
}

}  // namespace

namespace detail {

class connection;

/// What the server shares with its connections and threads; it lives as long as the last of them.
struct server_state {
  server_state(thread_pool& p, request_handler& h, const http_server_options& o) : pool(p), handler(h), options(o) {
    options.max_header_bytes = std::clamp<std::size_t>(options.max_header_bytes, 64, UINT32_MAX);
    options.max_connections = std::max<std::size_t>(options.max_connections, 1);
    options.idle_timeout = std::max(options.idle_timeout, std::chrono::milliseconds(1));
    options.read_timeout = std::max(options.read_timeout, std::chrono::milliseconds(1));
    linger = std::min(options.read_timeout, k_linger);
    sweep = std::clamp(std::min({options.idle_timeout, options.read_timeout, linger}) / 8, std::chrono::milliseconds(5),
                       std::chrono::milliseconds(250));
  }
  ~server_state() {
    if (wake_fd >= 0) ::close(wake_fd);
  }
  server_state(const server_state&) = delete;
  server_state& operator=(const server_state&) = delete;

  /// One more operation or post in flight.
  void op_started() noexcept { ops.fetch_add(1, std::memory_order_relaxed); }
  /// Its routine is done (the destructor waits for the last one).
  void op_done() noexcept {
    if (ops.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      std::lock_guard lock(mu);
      changed.notify_all();
    }
  }
  /// Wakes the acceptor (to stop, or because a connection slot came free).
  void wake_acceptor() const noexcept {
    const std::uint64_t one = 1;
    if (wake_fd >= 0) {
      const ssize_t n = ::write(wake_fd, &one, sizeof one);
      static_cast<void>(n);
    }
  }
  /// Adds an accepted connection; false once the server has stopped accepting.
  bool add(const std::shared_ptr<connection>& c) {
    std::lock_guard lock(mu);
    if (!accepting.load()) return false;
    live.emplace(c.get(), c);
    count.fetch_add(1);
    return true;
  }
  /// Removes a connection that closed (the caller holds a reference, so this is not the last one).
  void remove(connection* c) {
    std::lock_guard lock(mu);
    auto it = live.find(c);
    if (it == live.end()) return;
    live.erase(it);
    if (count.fetch_sub(1) == options.max_connections) wake_acceptor();
    changed.notify_all();
  }
  /// The open connections now.
  std::vector<std::shared_ptr<connection>> snapshot() {
    std::lock_guard lock(mu);
    std::vector<std::shared_ptr<connection>> all;
    all.reserve(live.size());
    for (auto& entry : live) all.push_back(entry.second);
    return all;
  }

  thread_pool& pool;
  request_handler& handler;
  http_server_options options;
  std::chrono::milliseconds linger{};
  std::chrono::milliseconds sweep{};

  std::mutex mu;
  std::condition_variable changed;   // a connection closed, or the last routine finished
  std::condition_variable timer_cv;  // the timer thread is asked to stop
  bool timer_stop = false;           // under mu
  std::unordered_map<connection*, std::shared_ptr<connection>> live;  // under mu
  std::atomic<std::size_t> count{0};
  std::atomic<long> ops{0};
  std::atomic<bool> accepting{false};
  std::atomic<bool> draining{false};
  int wake_fd = -1;  // the acceptor's eventfd, set before the acceptor starts
};

/// An overlapped operation of a connection; the routine finds the connection through the OVERLAPPED.
struct io_op {
  OVERLAPPED ov{};
  connection* owner = nullptr;
};
static_assert(std::is_standard_layout_v<io_op>, "the routine converts OVERLAPPED* back to io_op*");

class connection_exchange;

/// One client connection: its socket, buffers, Beast parser and where it is in the request cycle.
class connection final : public std::enable_shared_from_this<connection> {
 public:
  /// A connection on an associated socket handle, which it owns from now on.
  connection(std::shared_ptr<server_state> state, HANDLE h, const sockaddr_storage& local,
             const sockaddr_storage& remote)
      : state_(std::move(state)),
        h_(h),
        fd_(native_fd(h)),
        local_(local),
        remote_(remote),
        rbuf_(std::make_unique<char[]>(k_read_chunk)) {
    read_op_.owner = this;
    write_op_.owner = this;
    resume_op_.owner = this;
  }
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  /// The routine of every connection handle and of the server's posts.
  static VOID CALLBACK routine(DWORD error, DWORD bytes, LPOVERLAPPED ov) {
    auto* op = reinterpret_cast<io_op*>(ov);
    op->owner->complete(op, error, bytes);
  }

  /// Starts reading the first request.
  void start() {
    std::lock_guard lock(mu_);
    last_activity_ = clock_type::now();
    start_read();
    progress();
  }
  /// The deadline the timer thread checks (steady_clock ticks; 0: none).
  std::int64_t deadline() const noexcept { return deadline_.load(std::memory_order_relaxed); }
  /// From the timer thread: past the deadline, cancels the pending read; its routine answers or closes.
  void on_deadline(std::int64_t now) {
    std::lock_guard lock(mu_);
    const std::int64_t d = deadline_.load(std::memory_order_relaxed);
    if (closed_ || d == 0 || d > now || !read_busy_) return;
    if (CancelIoEx(h_, &read_op_.ov)) timed_out_ = true;
  }
  /// For drain(): closes the connection unless an exchange is in flight, whose answer then ends it.
  void drain() {
    std::lock_guard lock(mu_);
    if (closed_ || phase_ != phase::reading) return;
    if (queued_output() == 0) return close();
    parser_.reset();
    in_.clear();
    phase_ = phase::closing;
    progress();
  }
  /// Closes the connection now (the server's destructor).
  void abort() {
    std::lock_guard lock(mu_);
    close();
  }
  /// False once the connection has closed or the client has gone.
  bool connected() const noexcept { return !closed_.load() && !peer_gone_.load(); }

  /// exchange::send for the exchange `ex` of this connection.
  bool send(connection_exchange& ex, const response_head& head, std::string_view body, bool last);
  /// An exchange that ends without its last send(): 500 if nothing was sent yet, else a close.
  void abandon(connection_exchange& ex) noexcept;

 private:
  enum class phase {
    reading,   // reading (and parsing) a request
    handling,  // the handler has the request; its answer is being sent
    closing,   // the last answer is queued; the connection closes once it is written
    lingering  // written and shut down for sending; dropping what the client still sends until it closes
  };

  void complete(io_op* op, DWORD error, DWORD bytes);
  std::shared_ptr<connection_exchange> on_read(DWORD error, DWORD bytes);
  void on_write(DWORD error, DWORD bytes);
  void on_eof();
  std::shared_ptr<connection_exchange> parse();
  const error_page* check_header();
  std::shared_ptr<connection_exchange> dispatch();
  void reject(const error_page& page);
  bool send_locked(connection_exchange& ex, const response_head& head, std::string_view body, bool last);
  void append_answer_head(connection_exchange& ex, const response_head& head, std::size_t body_size, bool last);
  void answer_done(const connection_exchange& ex);
  void start_read() noexcept;
  void kick_write() noexcept;
  void post_resume() noexcept;
  void progress() noexcept;
  void begin_linger() noexcept;
  void arm_deadline() noexcept;
  void close() noexcept;
  std::size_t queued_output() const noexcept { return (out_.size() - out_off_) + out_next_.size(); }

  const std::shared_ptr<server_state> state_;
  const HANDLE h_;
  const int fd_;
  const sockaddr_storage local_;
  const sockaddr_storage remote_;

  mutable std::mutex mu_;
  std::atomic<bool> closed_{false};
  std::atomic<bool> peer_gone_{false};
  std::atomic<std::int64_t> deadline_{0};
  // Everything below is guarded by mu_.
  phase phase_ = phase::reading;
  io_op read_op_, write_op_, resume_op_;
  std::shared_ptr<connection> read_pin_, write_pin_, resume_pin_;  // this connection while each is in flight
  bool read_busy_ = false, write_busy_ = false, resume_busy_ = false;
  bool resume_after_write_ = false;  // a pipelined request waits until the output queue shrinks
  bool eof_ = false;                 // the client has shut down its side
  bool timed_out_ = false;           // the pending read was cancelled by the timer
  std::unique_ptr<char[]> rbuf_;     // the target of the read in flight
  std::string in_;                   // received, not parsed yet
  std::string out_;                  // being written, from out_off_
  std::size_t out_off_ = 0;
  std::string out_next_;        // queued behind out_
  extension_limit extensions_;  // before parser_, which refers to it
  std::optional<http::request_parser<http::string_body>> parser_;
  bool request_started_ = false;  // bytes of the current request have arrived
  bool header_checked_ = false;   // its header is complete and valid
  clock_type::time_point head_start_{}, last_activity_{}, linger_start_{};
  std::uint64_t seq_ = 0;  // the number of the current exchange
};

/// The exchange handed to the handler: the request, and the state of its answer.
class connection_exchange final : public exchange {
 public:
  connection_exchange(std::shared_ptr<connection> c, std::uint64_t number, request_head head, std::string body,
                      bool is_head, bool client_close)
      : seq(number),
        head_method(is_head),
        wants_close(client_close),
        version(head.version),
        conn_(std::move(c)),
        head_(std::move(head)),
        body_(std::move(body)) {}
  ~connection_exchange() override { conn_->abandon(*this); }
  connection_exchange(const connection_exchange&) = delete;
  connection_exchange& operator=(const connection_exchange&) = delete;

  const request_head& head() const noexcept override { return head_; }
  const std::string& body() const noexcept override { return body_; }
  bool send(const response_head& head, std::string_view body, bool last) override {
    return conn_->send(*this, head, body, last);
  }
  bool connected() const noexcept override { return conn_->connected(); }

  const std::uint64_t seq;
  const bool head_method;  // HEAD: headers only
  const bool wants_close;  // the request asked for the close (Connection: close, HTTP/1.0 without keep-alive)
  const unsigned version;
  // The answer's state, guarded by the connection's mutex.
  bool started = false, finished = false;
  bool chunked = false;  // parts go as chunks
  bool no_body = false;  // HEAD, 1xx, 204, 304: nothing after the header
  bool close = false;    // the connection closes after this answer

 private:
  const std::shared_ptr<connection> conn_;
  const request_head head_;
  const std::string body_;
};

void connection::complete(io_op* op, DWORD error, DWORD bytes) {
  std::shared_ptr<connection> self;  // declared first: released last, after the lock
  std::shared_ptr<connection_exchange> ready;
  {
    std::lock_guard lock(mu_);
    try {
      if (op == &read_op_) {
        self = std::move(read_pin_);
        read_busy_ = false;
        ready = on_read(error, bytes);
      } else if (op == &write_op_) {
        self = std::move(write_pin_);
        write_busy_ = false;
        on_write(error, bytes);
      } else {
        self = std::move(resume_pin_);
        resume_busy_ = false;
        if (!closed_ && phase_ == phase::reading) ready = parse();
      }
    } catch (const std::exception&) {  // no memory for a buffer or a request
      close();
    }
    progress();
  }
  if (ready) {
    try {
      state_->handler.handle(ready);
    } catch (...) {
      abandon(*ready);
    }
    ready.reset();
  }
  state_->op_done();
}

std::shared_ptr<connection_exchange> connection::on_read(DWORD error, DWORD bytes) {
  if (closed_) return nullptr;
  last_activity_ = clock_type::now();
  if (error == ERROR_OPERATION_ABORTED && timed_out_) {
    timed_out_ = false;
    if (phase_ == phase::reading && request_started_)
      reject(k_timeout);  // a slow client: its request started and did not complete in time
    else
      close();  // idle, or lingering
    return nullptr;
  }
  timed_out_ = false;
  if (error != ERROR_SUCCESS) {  // a reset, or the pool shutting down
    peer_gone_ = true;
    close();
    return nullptr;
  }
  if (bytes == 0) {
    eof_ = true;
    on_eof();
    return nullptr;
  }
  switch (phase_) {
    case phase::reading:
      in_.append(rbuf_.get(), bytes);
      if (resume_busy_ || resume_after_write_) return nullptr;  // the resume parses it
      return parse();
    case phase::handling:
      in_.append(rbuf_.get(), bytes);  // the next request, parsed after the answer
      start_read();
      return nullptr;
    case phase::closing:
    case phase::lingering: start_read(); return nullptr;  // dropped
  }
  return nullptr;
}

void connection::on_eof() {
  switch (phase_) {
    case phase::reading:
      // A request that had started cannot complete now; requests already buffered are still served.
      if (!resume_busy_ && !resume_after_write_) phase_ = phase::closing;
      break;
    case phase::handling:
    case phase::closing: break;  // the answer still goes out, then the close
    case phase::lingering: close(); break;
  }
}

void connection::on_write(DWORD error, DWORD bytes) {
  if (closed_) return;
  const std::size_t left = out_.size() - out_off_;
  if (error != ERROR_SUCCESS || (bytes == 0 && left != 0)) {
    peer_gone_ = true;
    close();
    return;
  }
  last_activity_ = clock_type::now();
  out_off_ += std::min<std::size_t>(bytes, left);  // a partial write goes on from there (kick_write)
  if (out_off_ >= out_.size()) {
    out_.clear();
    out_off_ = 0;
  }
  if (resume_after_write_ && queued_output() <= k_max_queued_output) {
    resume_after_write_ = false;
    post_resume();
  }
}

std::shared_ptr<connection_exchange> connection::parse() {
  const auto& o = state_->options;
  while (phase_ == phase::reading && !in_.empty()) {
    if (!parser_) {
      parser_.emplace();
      parser_->header_limit(static_cast<std::uint32_t>(o.max_header_bytes));
      parser_->body_limit(static_cast<std::uint64_t>(o.max_body_bytes));
      parser_->eager(false);  // stop after the header, to check it before the body
      extensions_ = extension_limit{0, o.max_header_bytes};
      parser_->on_chunk_header(extensions_);
      request_started_ = true;
      header_checked_ = false;
      head_start_ = clock_type::now();
    }
    boost::system::error_code ec;
    const std::size_t used = parser_->put(boost::asio::buffer(in_.data(), in_.size()), ec);
    in_.erase(0, used);
    if (ec == http::error::need_more) {
      if (!parser_->is_header_done() && has_bare_lf(in_)) {
        reject(k_bad_header);
        return nullptr;
      }
      if (parser_->is_header_done() && in_.size() > o.max_header_bytes) {
        reject(k_bad_request);  // a chunk header, extension or trailer line that does not end
        return nullptr;
      }
      break;
    }
    if (ec) {
      reject(page_for(ec));
      return nullptr;
    }
    if (!header_checked_ && parser_->is_header_done()) {
      if (const error_page* bad = check_header()) {
        reject(*bad);
        return nullptr;
      }
      header_checked_ = true;
      parser_->eager(true);
    }
    if (parser_->is_done()) return dispatch();
    if (used == 0) break;
  }
  if (phase_ == phase::reading) {
    if (eof_)
      phase_ = phase::closing;
    else
      start_read();
  }
  return nullptr;
}

const error_page* connection::check_header() {
  const auto& msg = parser_->get();
  if (msg.version() != 10 && msg.version() != 11) return &k_bad_version;
  const std::size_t hosts = msg.count(http::field::host);
  if (hosts > 1 || (msg.version() == 11 && hosts == 0)) return &k_bad_host;
  // Only chunked is a transfer coding the server decodes (Beast accepts any list). RFC 9112 6.1 and 6.3:
  // without chunked last, the body's length is unknown (400, as chunked twice); chunked last behind a
  // coding the server does not know is 501.
  if (msg.count(http::field::transfer_encoding) != 0) {
    std::size_t codings = 0, chunked = 0;
    bool chunked_last = false;
    for (auto range = msg.equal_range(http::field::transfer_encoding); range.first != range.second; ++range.first) {
      for (auto coding : http::token_list(range.first->value())) {
        ++codings;
        chunked_last = boost::beast::iequals(coding, "chunked");
        if (chunked_last) ++chunked;
      }
    }
    if (!chunked_last || chunked != 1) return &k_bad_encoding;
    if (codings != 1) return &k_unknown_encoding;
  }
  const auto expect = msg[http::field::expect];
  if (!expect.empty()) {
    if (!boost::beast::iequals(expect, "100-continue")) return &k_expectation;
    const bool body_follows = parser_->chunked() || parser_->content_length().value_or(0) != 0;
    if (msg.version() == 11 && body_follows && in_.empty()) {
      http::response<http::empty_body> cont;
      cont.version(11);
      cont.result(http::status::continue_);
      append_head(out_next_, cont);
    }
  }
  return nullptr;
}

std::shared_ptr<connection_exchange> connection::dispatch() {
  auto msg = parser_->release();
  request_head head;
  head.method = std::string(msg.method_string());
  head.target = std::string(msg.target());
  head.version = msg.version();
  for (const auto& field : msg) head.headers.push_back({std::string(field.name_string()), std::string(field.value())});
  head.local = local_;
  head.remote = remote_;
  auto ex = std::make_shared<connection_exchange>(shared_from_this(), seq_ + 1, std::move(head), std::move(msg.body()),
                                                  msg.method() == http::verb::head, !msg.keep_alive());
  // Nothing below throws: the exchange must not be destroyed under mu_ (its destructor takes it).
  ++seq_;
  parser_.reset();
  request_started_ = false;
  header_checked_ = false;
  phase_ = phase::handling;
  start_read();  // notices a client that goes away while the handler runs
  return ex;
}

void connection::reject(const error_page& page) {
  parser_.reset();
  request_started_ = false;
  in_.clear();
  append_error(out_next_, page);
  phase_ = phase::closing;
}

bool connection::send(connection_exchange& ex, const response_head& head, std::string_view body, bool last) {
  std::lock_guard lock(mu_);
  bool ok = false;
  try {
    ok = send_locked(ex, head, body, last);
  } catch (const std::exception&) {  // no memory for the answer
    close();
  }
  progress();
  return ok && !closed_;
}

void connection::abandon(connection_exchange& ex) noexcept {
  std::lock_guard lock(mu_);
  if (closed_ || ex.finished || ex.seq != seq_) return;
  if (ex.started) {
    close();  // part of the answer went out: only a close tells the client it is incomplete
    return;
  }
  try {
    response_head failed;
    failed.status = k_handler_failed.status;
    failed.reason = k_handler_failed.reason;
    failed.headers.push_back({"Content-Type", "text/plain; charset=us-ascii"});
    failed.close = true;
    send_locked(ex, failed, "The request handler ended without an answer.\r\n", true);
  } catch (const std::exception&) {
    close();
  }
  progress();
}

bool connection::send_locked(connection_exchange& ex, const response_head& head, std::string_view body, bool last) {
  if (closed_ || ex.finished || ex.seq != seq_ || phase_ != phase::handling) return false;
  if (!ex.started) {
    append_answer_head(ex, head, body.size(), last);
    ex.started = true;
  }
  if (!ex.no_body && !body.empty()) {
    if (ex.chunked)
      append_buffers(out_next_, http::make_chunk(boost::asio::const_buffer(body.data(), body.size())));
    else
      out_next_.append(body);
  }
  if (last) {
    if (ex.chunked && !ex.no_body) append_buffers(out_next_, http::make_chunk_last());
    ex.finished = true;
    answer_done(ex);
  }
  return true;
}

void connection::append_answer_head(connection_exchange& ex, const response_head& head, std::size_t body_size,
                                    bool last) {
  unsigned status = head.status;
  std::string reason = clean_value(head.reason);
  if (status < 200 || status > 999) {  // a final answer only (informational answers are the server's)
    status = k_handler_failed.status;
    reason = k_handler_failed.reason;
  }
  http::response<http::empty_body> res;
  res.version(11);
  res.result(status);
  res.reason(reason);
  bool close = ex.wants_close || head.close || state_->draining.load();
  bool has_date = false, has_server = false;
  std::optional<std::string> given_length;
  for (const header& h : head.headers) {
    if (!is_token(h.name)) continue;
    const std::string value = clean_value(h.value);
    if (boost::beast::iequals(h.name, "Content-Length")) {
      given_length = value;
    } else if (boost::beast::iequals(h.name, "Transfer-Encoding")) {
      // framing is the server's business
    } else if (boost::beast::iequals(h.name, "Connection")) {
      for (auto token : http::token_list(value))
        if (boost::beast::iequals(token, "close")) close = true;
    } else {
      has_date = has_date || boost::beast::iequals(h.name, "Date");
      has_server = has_server || boost::beast::iequals(h.name, "Server");
      res.insert(h.name, value);
    }
  }
  if (!has_date) res.set(http::field::date, http_date());
  if (!has_server) res.set(http::field::server, k_server_name);

  // Framing: the length when the whole body comes now, else chunks (HTTP/1.1) or the close (HTTP/1.0).
  const bool bodiless_status = status == 204 || status == 304;
  if (bodiless_status || ex.head_method) ex.no_body = true;
  if (bodiless_status) {
    if (status == 304 && given_length) res.set(http::field::content_length, *given_length);
  } else if (ex.head_method && given_length) {
    res.set(http::field::content_length, *given_length);
  } else if (last) {
    res.content_length(body_size);
  } else if (ex.version == 11) {
    res.set(http::field::transfer_encoding, "chunked");
    ex.chunked = true;
  } else {
    close = true;  // HTTP/1.0 without a length: the close ends the body
  }
  if (close)
    res.set(http::field::connection, "close");
  else if (ex.version == 10)
    res.set(http::field::connection, "keep-alive");
  ex.close = close;
  if (head.suppress_headers) {
    ex.chunked = false;  // the handler's own head says how its body is framed; the close ends it
    ex.close = true;
    return;
  }
  append_head(out_next_, res);
}

void connection::answer_done(const connection_exchange& ex) {
  if (ex.close || state_->draining.load() || (eof_ && in_.empty())) {
    phase_ = phase::closing;
    return;
  }
  phase_ = phase::reading;
  last_activity_ = clock_type::now();
  if (in_.empty()) {
    start_read();  // no-op while the read started in dispatch() is still in flight
  } else if (queued_output() > k_max_queued_output) {
    resume_after_write_ = true;
  } else {
    post_resume();  // a pipelined request: parsed on a pool thread, not in the caller of send()
  }
}

void connection::start_read() noexcept {
  if (closed_ || read_busy_ || eof_) return;
  if (phase_ == phase::handling && in_.size() >= state_->options.max_header_bytes) return;  // enough buffered
  read_pin_ = shared_from_this();
  read_busy_ = true;
  state_->op_started();
  read_op_.ov = OVERLAPPED{};
  if (!ReadFile(h_, rbuf_.get(), static_cast<DWORD>(k_read_chunk), nullptr, &read_op_.ov) &&
      GetLastError() != ERROR_IO_PENDING) {
    read_busy_ = false;
    read_pin_.reset();
    state_->op_done();
    close();
  }
}

void connection::kick_write() noexcept {
  if (closed_ || write_busy_) return;
  if (out_off_ >= out_.size()) {
    out_.clear();
    out_off_ = 0;
    if (out_next_.empty()) return;
    out_.swap(out_next_);
  }
  const auto len = static_cast<DWORD>(std::min(out_.size() - out_off_, k_max_write));
  write_pin_ = shared_from_this();
  write_busy_ = true;
  state_->op_started();
  write_op_.ov = OVERLAPPED{};
  if (!WriteFile(h_, out_.data() + out_off_, len, nullptr, &write_op_.ov) && GetLastError() != ERROR_IO_PENDING) {
    write_busy_ = false;
    write_pin_.reset();
    state_->op_done();
    close();
  }
}

void connection::post_resume() noexcept {
  if (closed_ || resume_busy_) return;
  resume_pin_ = shared_from_this();
  resume_busy_ = true;
  state_->op_started();
  resume_op_.ov = OVERLAPPED{};
  if (FAILED(state_->pool.post(&connection::routine, ERROR_SUCCESS, 0, &resume_op_.ov))) {
    resume_busy_ = false;
    resume_pin_.reset();
    state_->op_done();
    close();
  }
}

void connection::progress() noexcept {
  if (closed_) return;
  kick_write();
  if (!closed_ && phase_ == phase::closing && !write_busy_ && out_next_.empty()) begin_linger();
  arm_deadline();
}

void connection::begin_linger() noexcept {
  if (eof_ || peer_gone_) return close();
  ::shutdown(fd_, SHUT_WR);  // the client sees the end of the answer, and may still send
  phase_ = phase::lingering;
  linger_start_ = clock_type::now();
  parser_.reset();
  in_.clear();
  start_read();
}

void connection::arm_deadline() noexcept {
  std::int64_t d = 0;
  if (!closed_ && !write_busy_ && out_next_.empty()) {  // no deadline while the client takes an answer
    const auto& o = state_->options;
    switch (phase_) {
      case phase::reading:
        if (!request_started_)
          d = ticks(last_activity_ + o.idle_timeout);
        else if (!header_checked_)
          d = ticks(head_start_ + o.read_timeout);  // the whole head within read_timeout
        else
          d = ticks(last_activity_ + o.read_timeout);  // the body may pause for read_timeout
        break;
      case phase::lingering: d = ticks(linger_start_ + state_->linger); break;
      case phase::handling:
      case phase::closing: break;
    }
  }
  deadline_.store(d, std::memory_order_relaxed);
}

void connection::close() noexcept {
  if (closed_) return;
  closed_ = true;
  deadline_.store(0, std::memory_order_relaxed);
  CloseHandle(h_);  // pending operations complete with ERROR_OPERATION_ABORTED; the buffers stay until then
  state_->remove(this);
}

namespace {

/// Serves an accepted socket: adopts it, associates it with the pool and starts its first read.
void serve(const std::shared_ptr<server_state>& st, int fd, const sockaddr_storage& remote) {
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sockaddr_storage local{};
  socklen_t local_len = sizeof local;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &local_len);
  HANDLE h = adopt_fd(fd);
  if (h == INVALID_HANDLE_VALUE) {
    ::close(fd);
    return;
  }
  if (FAILED(st->pool.associate(h, &connection::routine))) {
    CloseHandle(h);
    return;
  }
  std::shared_ptr<connection> c;
  try {
    c = std::make_shared<connection>(st, h, local, remote);
  } catch (const std::exception&) {
    CloseHandle(h);
    return;
  }
  if (!st->add(c)) return c->abort();
  c->start();
}

/// Accepts what the backlog holds; true when the process is out of descriptors or memory (back off).
bool accept_ready(const std::shared_ptr<server_state>& st, int listen_fd) {
  for (int i = 0; i < 256; ++i) {
    if (st->count.load() >= st->options.max_connections) return false;
    sockaddr_storage remote{};
    socklen_t len = sizeof remote;
    const int fd = ::accept4(listen_fd, reinterpret_cast<sockaddr*>(&remote), &len, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      return errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM;
    }
    serve(st, fd, remote);
  }
  return false;
}

/// The acceptor thread: poll() on the listening socket and the wake-up eventfd.
void accept_loop(std::shared_ptr<server_state> st, int listen_fd) {
  bool backoff = false;
  for (;;) {
    const bool full = st->count.load() >= st->options.max_connections;
    pollfd fds[2] = {{(full || backoff) ? -1 : listen_fd, POLLIN, 0}, {st->wake_fd, POLLIN, 0}};
    const int r = ::poll(fds, 2, backoff ? k_accept_backoff_ms : -1);
    backoff = false;
    if (r < 0 && errno != EINTR) return;
    if ((fds[1].revents & POLLIN) != 0) {
      std::uint64_t v = 0;
      const ssize_t n = ::read(st->wake_fd, &v, sizeof v);
      static_cast<void>(n);
    }
    if (!st->accepting.load()) return;
    if (r > 0 && (fds[0].revents & POLLIN) != 0) backoff = accept_ready(st, listen_fd);
  }
}

/// The timer thread: every sweep period, cancels the reads of connections past their deadline.
void timer_loop(std::shared_ptr<server_state> st) {
  std::unique_lock lock(st->mu);
  std::vector<std::shared_ptr<connection>> due;
  while (!st->timer_stop) {
    st->timer_cv.wait_for(lock, st->sweep);
    if (st->timer_stop) break;
    const std::int64_t now = ticks(clock_type::now());
    for (auto& entry : st->live) {
      const std::int64_t d = entry.first->deadline();
      if (d != 0 && d <= now) due.push_back(entry.second);
    }
    if (due.empty()) continue;
    lock.unlock();
    for (auto& c : due) c->on_deadline(now);
    due.clear();
    lock.lock();
  }
}

}  // namespace

}  // namespace detail

http_server::http_server(thread_pool& pool, request_handler& handler, http_server_options options)
    : state_(std::make_shared<detail::server_state>(pool, handler, options)) {}

http_server::~http_server() {
  stop_accepting();
  {
    std::lock_guard lock(state_->mu);
    state_->timer_stop = true;
    state_->timer_cv.notify_all();
  }
  if (timer_.joinable()) timer_.join();
  for (auto& c : state_->snapshot()) c->abort();
  std::unique_lock lock(state_->mu);
  state_->changed.wait(lock, [&] { return state_->ops.load() == 0; });
}

HRESULT http_server::listen(const std::string& ip, std::uint16_t port) {
  std::lock_guard lock(control_);
  const std::string where = fmt::format("{}:{}", ip, port);
  if (listened_) {
    last_error_ =
        fmt::format("could not listen on {}: the server listens already, or has stopped (ERROR_INVALID_STATE)", where);
    return HRESULT_FROM_WIN32(ERROR_INVALID_STATE);
  }
  sockaddr_storage addr{};
  socklen_t addr_len = 0;
  std::string host = ip;
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  auto* v4 = reinterpret_cast<sockaddr_in*>(&addr);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&addr);
  if (host.empty() || host == "*") {
    v4->sin_family = AF_INET;
    v4->sin_addr.s_addr = htonl(INADDR_ANY);
    v4->sin_port = htons(port);
    addr_len = sizeof(sockaddr_in);
  } else if (::inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    addr_len = sizeof(sockaddr_in);
  } else if (::inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    addr_len = sizeof(sockaddr_in6);
  } else {
    last_error_ =
        fmt::format("could not listen on {}: '{}' is not an IPv4 or IPv6 address (ERROR_INVALID_PARAMETER)", where, ip);
    return HRESULT_FROM_WIN32(ERROR_INVALID_PARAMETER);
  }

  int fd = -1;
  int wake = -1;
  const auto fail = [&](const char* call) {
    const int err = errno;
    const win32_error e = socket_error(err);
    last_error_ = fmt::format("could not listen on {}: {} failed: {} ({}, {})", where, call,
                              std::generic_category().message(err), e.name, e.code);
    if (fd >= 0) ::close(fd);
    if (wake >= 0) ::close(wake);
    return HRESULT_FROM_WIN32(e.code);
  };
  fd = ::socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return fail("socket");
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), addr_len) != 0) return fail("bind");
  if (::listen(fd, SOMAXCONN) != 0) return fail("listen");
  socklen_t len = sizeof addr;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return fail("getsockname");
  wake = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake < 0) return fail("eventfd");

  state_->wake_fd = wake;
  state_->accepting = true;
  try {
    timer_ = std::thread(detail::timer_loop, state_);
    acceptor_ = std::thread(detail::accept_loop, state_, fd);
  } catch (const std::system_error& e) {
    state_->accepting = false;
    listened_ = true;  // the eventfd is the state's now
    last_error_ = fmt::format("could not listen on {}: could not start a thread: {} (ERROR_NOT_ENOUGH_MEMORY, 8)",
                              where, e.what());
    ::close(fd);
    return HRESULT_FROM_WIN32(ERROR_NOT_ENOUGH_MEMORY);  // the destructor joins the timer if it started
  }
  listen_fd_ = fd;
  listened_ = true;
  port_ = ntohs(addr.ss_family == AF_INET6 ? v6->sin6_port : v4->sin_port);
  last_error_.clear();
  return S_OK;
}

std::string http_server::last_error() const {
  std::lock_guard lock(control_);
  return last_error_;
}

std::uint16_t http_server::port() const noexcept { return port_.load(); }

void http_server::stop_accepting() {
  std::lock_guard lock(control_);
  listened_ = true;  // no listen() after this
  {
    std::lock_guard state_lock(state_->mu);  // ordered with add(): nothing is added after this
    state_->accepting = false;
  }
  state_->wake_acceptor();
  if (acceptor_.joinable()) acceptor_.join();
  if (listen_fd_ >= 0) {
    ::close(listen_fd_);
    listen_fd_ = -1;
  }
}

bool http_server::drain(std::chrono::milliseconds limit) {
  stop_accepting();
  state_->draining = true;
  for (auto& c : state_->snapshot()) c->drain();
  std::unique_lock lock(state_->mu);
  return state_->changed.wait_for(lock, limit, [&] { return state_->live.empty(); });
}

std::size_t http_server::connections() const noexcept { return state_->count.load(); }

}  // namespace w3tp::iis
