// SPDX-License-Identifier: MIT
// w3tp-iishost's command line and applicationHost.config (src/iis/config.*).
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "iis/config.hpp"
#include "support/catch.hpp"

namespace {

struct folder {
  std::string path;
  folder() {
    char tmpl[] = "/tmp/w3tp-config-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    path = tmpl;
  }
  ~folder() {
    const std::string cmd = "rm -rf '" + path + "'";
    (void)!std::system(cmd.c_str());
  }
  std::string write(const std::string& name, const std::string& text) const {
    const std::string p = path + "/" + name;
    std::ofstream(p) << text;
    return p;
  }
};

bool parse(std::vector<std::string> args, w3tp::iis::host_options& o, std::string& why) {
  std::vector<char*> argv{const_cast<char*>("w3tp-iishost")};
  for (auto& a : args) argv.push_back(a.data());
  return w3tp::iis::parse_command_line(static_cast<int>(argv.size()), argv.data(), o, why);
}

const char* k_config = R"(<?xml version="1.0" encoding="UTF-8"?>
<configuration>
  <system.applicationHost>
    <sites>
      <site name="Other" id="1">
        <application path="/"><virtualDirectory path="/" physicalPath="/nowhere" /></application>
        <bindings><binding protocol="http" bindingInformation="*:9000:" /></bindings>
      </site>
      <site name="Hello" id="7">
        <application path="/">
          <virtualDirectory path="/" physicalPath="%W3TP_TEST_ROOT%/www" />
        </application>
        <bindings>
          <binding protocol="https" bindingInformation="*:443:" />
          <binding protocol="http" bindingInformation="127.0.0.1:8123:" />
        </bindings>
      </site>
    </sites>
  </system.applicationHost>
  <system.webServer>
    <globalModules>
      <add name="HelloModule" image="modules/libhello.so" />
      <add name="Other" image="/abs/libother.so" />
    </globalModules>
    <modules>
      <add name="HelloModule" />
      <add name="Other" />
      <remove name="Other" />
    </modules>
    <security>
      <authentication>
        <anonymousAuthentication enabled="true" />
        <basicAuthentication enabled="false" />
      </authentication>
    </security>
  </system.webServer>
  <location path="Hello">
    <system.webServer>
      <security>
        <authentication>
          <basicAuthentication enabled="true" realm="hello" usersFile="users.txt" />
        </authentication>
      </security>
    </system.webServer>
  </location>
</configuration>
)";

}  // namespace

TEST_CASE("iis config: IIS Express's command line", "[iis][config]") {
  w3tp::iis::host_options o;
  std::string why;
  CHECK(parse({"/config:app.config", "/site:Hello"}, o, why));
  CHECK(o.config_file == "app.config");
  CHECK(o.site_name == "Hello");
  o = {};
  CHECK(parse({"/path:/srv/www", "/port:8080"}, o, why));
  CHECK(o.path == "/srv/www");
  CHECK(o.port == 8080);
  o = {};
  CHECK(parse({"/?"}, o, why));
  CHECK(o.help);
  for (std::vector<std::string> bad : std::vector<std::vector<std::string>>{{},
                                                                            {"/port:80"},
                                                                            {"/path:x", "/port:0"},
                                                                            {"/path:x", "/port:65536"},
                                                                            {"/path:x", "/port:8o"},
                                                                            {"/config:a", "/path:b"},
                                                                            {"/config:a", "/port:80"},
                                                                            {"/bogus:1"},
                                                                            {"plain"}}) {
    o = {};
    why.clear();
    INFO(bad.size());
    CHECK_FALSE(parse(bad, o, why));
    CHECK_FALSE(why.empty());
  }
}

TEST_CASE("iis config: the site, its binding, modules and authentication from applicationHost.config",
          "[iis][config]") {
  folder f;
  ::setenv("W3TP_TEST_ROOT", f.path.c_str(), 1);
  const std::string file = f.write("applicationHost.config", k_config);
  f.write("users.txt", "alice:secret\n");
  w3tp::iis::host_config c;
  std::string why;
  REQUIRE(w3tp::iis::load_config(file, "Hello", c, why));
  CHECK(c.site.id == 7);
  CHECK(c.site.name == L"Hello");
  CHECK(c.site.physical_path == f.path + "/www");
  CHECK(c.ip == "127.0.0.1");
  CHECK(c.port == 8123);
  REQUIRE(c.global_modules.size() == 2);
  CHECK(c.global_modules[0].name == "HelloModule");
  CHECK(c.global_modules[0].image == f.path + "/modules/libhello.so");
  CHECK(c.global_modules[1].image == "/abs/libother.so");
  CHECK(c.modules == std::vector<std::string>{"HelloModule"});
  CHECK(c.authentication.anonymous);
  CHECK(c.authentication.basic);
  CHECK(c.authentication.realm == "hello");
  CHECK(c.authentication.users.at("alice") == "secret");

  w3tp::iis::host_config first;
  REQUIRE(w3tp::iis::load_config(file, "", first, why));  // the first site, without the location's Basic
  CHECK(first.site.name == L"Other");
  CHECK(first.ip == "0.0.0.0");
  CHECK(first.port == 9000);
  CHECK_FALSE(first.authentication.basic);
}

TEST_CASE("iis config: what is wrong with a configuration file is said in a sentence", "[iis][config]") {
  folder f;
  std::string why;
  w3tp::iis::host_config c;
  CHECK_FALSE(w3tp::iis::load_config(f.path + "/missing.config", "", c, why));
  CHECK(why.find("missing.config") != std::string::npos);
  struct bad_case {
    const char* xml;
    const char* says;
  };
  const bad_case cases[] = {
      {"<configuration><oops></configuration>", "not well-formed"},
      {"<other/>", "<configuration>"},
      {"<configuration/>", "has no site"},
      {R"(<configuration><system.applicationHost><sites><site name="S"><bindings><binding protocol="http" bindingInformation="*:80:"/></bindings></site></sites></system.applicationHost></configuration>)",
       "physicalPath"},
      {R"(<configuration><system.applicationHost><sites><site name="S"><application path="/"><virtualDirectory path="/" physicalPath="/x"/></application><bindings><binding protocol="http" bindingInformation="*:http:"/></bindings></site></sites></system.applicationHost></configuration>)",
       "IP:port:host"},
      {R"(<configuration><system.applicationHost><sites><site name="S"><application path="/"><virtualDirectory path="/" physicalPath="/x"/></application></site></sites></system.applicationHost></configuration>)",
       "no http binding"},
      {R"(<configuration><system.applicationHost><sites><site name="S"><application path="/"><virtualDirectory path="/" physicalPath="/x"/></application><bindings><binding protocol="http" bindingInformation="*:80:"/></bindings></site></sites></system.applicationHost><system.webServer><security><authentication><basicAuthentication enabled="true" usersFile="nofile.txt"/></authentication></security></system.webServer></configuration>)",
       "nofile.txt"},
      {R"(<configuration><system.applicationHost><sites><site name="S"><application path="/"><virtualDirectory path="/" physicalPath="/x"/></application><bindings><binding protocol="http" bindingInformation="*:80:"/></bindings></site></sites></system.applicationHost><system.webServer><globalModules><add name="M"/></globalModules></system.webServer></configuration>)",
       "name and image"},
  };
  for (const auto& bc : cases) {
    INFO(bc.xml);
    why.clear();
    c = {};
    CHECK_FALSE(w3tp::iis::load_config(f.write("bad.config", bc.xml), "", c, why));
    CHECK(why.find(bc.says) != std::string::npos);
    CHECK(why.find("bad.config") != std::string::npos);
  }
  c = {};
  CHECK_FALSE(w3tp::iis::load_config(f.write("ok.config", k_config), "Nope", c, why));
  CHECK(why.find("Nope") != std::string::npos);
}
