// SPDX-License-Identifier: MIT
// w3tp-iishost as a user runs it: a configuration with the documentation sample (examples/
// iis_hello_module) behind Basic authentication, requests over loopback, SIGTERM, exit 0; and the host's
// refusals (a module whose image is missing or exports no RegisterModule, a bad command line).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "support/catch.hpp"

namespace {

/// A child process with its stdout and stderr on one pipe.
struct child {
  pid_t pid = -1;
  int out = -1;
  std::string text;

  explicit child(std::vector<std::string> args) {
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      ::dup2(fds[1], 1);
      ::dup2(fds[1], 2);
      ::close(fds[0]);
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    ::close(fds[1]);
    out = fds[0];
  }
  /// Reads output until `needle` appears or `limit` passes.
  bool read_until(const std::string& needle, std::chrono::milliseconds limit = std::chrono::seconds(10)) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (text.find(needle) == std::string::npos) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      pollfd p{out, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
      char buf[4096];
      const ssize_t n = ::read(out, buf, sizeof buf);
      if (n <= 0) return text.find(needle) != std::string::npos;
      text.append(buf, static_cast<std::size_t>(n));
    }
    return true;
  }
  /// Waits (bounded) for the exit status; -1 if it did not exit in time (then it is killed).
  int wait(std::chrono::milliseconds limit = std::chrono::seconds(20)) {
    const auto end = std::chrono::steady_clock::now() + limit;
    for (;;) {
      int status = 0;
      const pid_t r = ::waitpid(pid, &status, WNOHANG);
      if (r == pid) {
        read_until("\x01", std::chrono::milliseconds(50));  // the rest of its output
        pid = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      if (std::chrono::steady_clock::now() >= end) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, &status, 0);
        pid = -1;
        return -1;
      }
      pollfd p{out, POLLIN, 0};
      if (::poll(&p, 1, 20) > 0) {
        char buf[4096];
        const ssize_t n = ::read(out, buf, sizeof buf);
        if (n > 0) text.append(buf, static_cast<std::size_t>(n));
      }
    }
  }
  ~child() {
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      int status;
      ::waitpid(pid, &status, 0);
    }
    if (out >= 0) ::close(out);
  }
};

/// One request over a new loopback connection; the whole answer (the server closes: Connection: close).
std::string request(int port, const std::string& raw) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  REQUIRE(::send(fd, raw.data(), raw.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(raw.size()));
  std::string answer;
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 10000) <= 0) break;
    char buf[4096];
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    answer.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return answer;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

struct folder {
  std::string path;
  folder() {
    char tmpl[] = "/tmp/w3tp-host-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    path = tmpl;
  }
  ~folder() {
    const std::string cmd = "rm -rf '" + path + "'";
    (void)!std::system(cmd.c_str());
  }
};

std::string config(const std::string& root, const std::string& image, const std::string& users) {
  return R"(<configuration>
  <system.applicationHost><sites><site name="Hello" id="1">
    <application path="/"><virtualDirectory path="/" physicalPath=")" +
         root + R"(" /></application>
    <bindings><binding protocol="http" bindingInformation="127.0.0.1:0:" /></bindings>
  </site></sites></system.applicationHost>
  <system.webServer>
    <globalModules><add name="HelloModule" image=")" +
         image + R"(" /></globalModules>
    <modules><add name="HelloModule" /></modules>
    <security><authentication>
      <anonymousAuthentication enabled="true" />
      <basicAuthentication enabled="true" usersFile=")" +
         users + R"(" />
    </authentication></security>
  </system.webServer>
</configuration>
)";
}

int listening_port(const std::string& text) {
  const auto at = text.find("listening on http://127.0.0.1:");
  if (at == std::string::npos) return -1;
  return std::atoi(text.c_str() + at + std::strlen("listening on http://127.0.0.1:"));
}

}  // namespace

TEST_CASE("iis host: the documentation sample behind Basic authentication, then SIGTERM and exit 0", "[iis][host]") {
  folder f;
  std::ofstream(f.path + "/index.html") << "<p>index</p>";
  std::ofstream(f.path + "/users.txt") << "alice:secret\n";
  std::ofstream(f.path + "/applicationHost.config") << config(f.path, W3TP_TEST_HELLO_MODULE, f.path + "/users.txt");
  child host({W3TP_TEST_HOST, "/config:" + f.path + "/applicationHost.config"});
  REQUIRE(host.read_until("/\n"));
  const int port = listening_port(host.text);
  INFO(host.text);
  REQUIRE(port > 0);

  // Without credentials: the module answers 401 "Access denied.".
  std::string anonymous = request(port, "GET /index.html HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
  CHECK(anonymous.rfind("HTTP/1.1 401 Access denied.\r\n", 0) == 0);
  CHECK(anonymous.find("\r\n\r\nAccess denied.") != std::string::npos);
  // With Basic authentication on, the Basic module adds its challenge to any 401, as in IIS.
  CHECK(anonymous.find("WWW-Authenticate: Basic realm=\"h\"") != std::string::npos);
  CHECK(::access((f.path + "/hello.txt").c_str(), F_OK) != 0);

  // With Basic credentials: the page is served after the module's write of Hello completed on the pool.
  std::string alice = request(port,
                              "GET /index.html HTTP/1.1\r\nHost: h\r\nAuthorization: Basic YWxpY2U6c2VjcmV0\r\n"
                              "Connection: close\r\n\r\n");
  CHECK(alice.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
  CHECK(alice.find("<p>index</p>") != std::string::npos);
  CHECK(slurp(f.path + "/hello.txt") == "Hello");

  // Wrong password: the Basic module's 401 with its challenge.
  std::string wrong = request(port,
                              "GET /index.html HTTP/1.1\r\nHost: h\r\nAuthorization: Basic YWxpY2U6bm9wZQ==\r\n"
                              "Connection: close\r\n\r\n");
  CHECK(wrong.rfind("HTTP/1.1 401 ", 0) == 0);
  CHECK(wrong.find("WWW-Authenticate: Basic realm=\"h\"") != std::string::npos);

  REQUIRE(::kill(host.pid, SIGTERM) == 0);
  CHECK(host.wait() == 0);
}

TEST_CASE("iis host: a module that cannot be loaded is named and the host exits non-zero", "[iis][host]") {
  folder f;
  std::ofstream(f.path + "/users.txt") << "alice:secret\n";
  for (std::string image : {f.path + "/libmissing.so", std::string(W3TP_TEST_NO_ENTRY_MODULE)}) {
    std::ofstream(f.path + "/applicationHost.config") << config(f.path, image, f.path + "/users.txt");
    child host({W3TP_TEST_HOST, "/config:" + f.path + "/applicationHost.config"});
    const int status = host.wait();
    INFO(host.text);
    CHECK(status == 1);
    CHECK(host.text.find("HelloModule") != std::string::npos);
    CHECK(host.text.find("listening") == std::string::npos);
  }
  // A module that loaded and registered, then one that cannot be loaded: the first one's factory is
  // terminated before its image goes, and the host still names the second and exits 1.
  std::string two = config(f.path, W3TP_TEST_HELLO_MODULE, f.path + "/users.txt");
  const std::string global = "<add name=\"HelloModule\" image=\"" + std::string(W3TP_TEST_HELLO_MODULE) + "\" />";
  two.replace(two.find(global), global.size(),
              global + "<add name=\"Second\" image=\"" + f.path + "/libsecond.so\" />");
  two.replace(two.find("<modules><add name=\"HelloModule\" />"), std::strlen("<modules><add name=\"HelloModule\" />"),
              "<modules><add name=\"HelloModule\" /><add name=\"Second\" />");
  std::ofstream(f.path + "/two.config") << two;
  child second({W3TP_TEST_HOST, "/config:" + f.path + "/two.config"});
  CHECK(second.wait() == 1);
  INFO(second.text);
  CHECK(second.text.find("module Second") != std::string::npos);

  child usage({W3TP_TEST_HOST, "/bogus"});
  CHECK(usage.wait() == 2);
  CHECK(usage.text.find("usage:") != std::string::npos);
  child help({W3TP_TEST_HOST, "/?"});
  CHECK(help.wait() == 0);
  CHECK(help.text.find("/config:FILE") != std::string::npos);
}
