// SPDX-License-Identifier: MIT
// w3tp-iishost's configuration (see config.hpp), read with pugixml.
#include "iis/config.hpp"

#include <strings.h>

#include <cstdlib>
#include <filesystem>

#include <fmt/format.h>
#include <pugixml.hpp>

namespace w3tp::iis {

namespace {

// Replaces %NAME% by the environment variable NAME (left as it is when unset).
std::string expand(const std::string& in) {
  std::string out;
  for (std::size_t i = 0; i < in.size();) {
    const auto end = in[i] == '%' ? in.find('%', i + 1) : std::string::npos;
    if (end != std::string::npos && end > i + 1) {
      const std::string name = in.substr(i + 1, end - i - 1);
      if (const char* v = std::getenv(name.c_str()); v != nullptr) {
        out += v;
        i = end + 1;
        continue;
      }
    }
    out.push_back(in[i++]);
  }
  return out;
}

bool truthy(const pugi::xml_attribute& a, bool fallback) {
  if (!a) return fallback;
  const std::string v = a.value();
  return ::strcasecmp(v.c_str(), "true") == 0 || v == "1";
}

// A port number, 1 to 65535 (0 too when `any` is set: "pick a free port").
bool parse_port(const std::string& text, std::uint16_t& port, bool any = false) {
  if (text.empty() || text.size() > 5 || text.find_first_not_of("0123456789") != std::string::npos) return false;
  const long v = std::strtol(text.c_str(), nullptr, 10);
  if (v < (any ? 0 : 1) || v > 65535) return false;
  port = static_cast<std::uint16_t>(v);
  return true;
}

}  // namespace

bool parse_command_line(int argc, char** argv, host_options& out, std::string& why) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a.size() < 2 || (a[0] != '/' && a[0] != '-')) {
      why = fmt::format("unexpected argument '{}'", a);
      return false;
    }
    a.erase(0, a[1] == '-' ? 2 : 1);
    const auto colon = a.find(':');
    std::string key = a.substr(0, colon), value = colon == std::string::npos ? "" : a.substr(colon + 1);
    for (auto& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (key == "?" || key == "h" || key == "help") {
      out.help = true;
    } else if (key == "config" && !value.empty()) {
      out.config_file = value;
    } else if (key == "site" && !value.empty()) {
      out.site_name = value;
    } else if (key == "path" && !value.empty()) {
      out.path = value;
    } else if (key == "port") {
      std::uint16_t p = 0;
      if (!parse_port(value, p)) {
        why = fmt::format("/port needs a number from 1 to 65535, not '{}'", value);
        return false;
      }
      out.port = p;
    } else {
      why = fmt::format("unknown switch '{}' (see /?)", argv[i]);
      return false;
    }
  }
  if (out.help) return true;
  if (out.config_file.empty() == out.path.empty()) {
    why = "give either /config:FILE [/site:NAME] or /path:DIR [/port:N]";
    return false;
  }
  if (!out.config_file.empty() && out.port >= 0) {
    why = "/port goes with /path; a configuration file has its own bindings";
    return false;
  }
  return true;
}

host_config quick_config(const std::string& dir, std::uint16_t port) {
  host_config c;
  c.site.id = 1;
  c.site.name = L"WebSite1";
  c.site.physical_path = dir;
  c.ip = "127.0.0.1";
  c.port = port;
  return c;
}

bool load_config(const std::string& file, const std::string& site_name, host_config& out, std::string& why) {
  pugi::xml_document doc;
  const pugi::xml_parse_result r = doc.load_file(file.c_str());
  if (!r) {
    why = r.status == pugi::status_file_not_found
              ? fmt::format("{}: no such file", file)
              : fmt::format("{}: not well-formed XML at offset {}: {}", file, r.offset, r.description());
    return false;
  }
  const std::filesystem::path base = std::filesystem::path(file).parent_path();
  const pugi::xml_node root = doc.child("configuration");
  if (!root) {
    why = fmt::format("{}: the root element is not <configuration>", file);
    return false;
  }
  // The site.
  pugi::xml_node site;
  for (pugi::xml_node s : root.child("system.applicationHost").child("sites").children("site"))
    if (site_name.empty() || site_name == s.attribute("name").value()) {
      site = s;
      break;
    }
  if (!site) {
    why = site_name.empty() ? fmt::format("{}: system.applicationHost/sites has no site", file)
                            : fmt::format("{}: no site named '{}' in system.applicationHost/sites", file, site_name);
    return false;
  }
  out.site.name = widen(site.attribute("name").value());
  out.site.id = site.attribute("id").as_uint(1);
  pugi::xml_node vdir;
  for (pugi::xml_node app : site.children("application"))
    if (std::string(app.attribute("path").as_string("/")) == "/")
      for (pugi::xml_node v : app.children("virtualDirectory"))
        if (std::string(v.attribute("path").as_string("/")) == "/") vdir = v;
  if (!vdir || !vdir.attribute("physicalPath")) {
    why = fmt::format("{}: site '{}' has no root application with a virtualDirectory physicalPath", file,
                      site.attribute("name").value());
    return false;
  }
  out.site.physical_path = expand(vdir.attribute("physicalPath").value());
  bool bound = false;
  for (pugi::xml_node b : site.child("bindings").children("binding")) {
    if (::strcasecmp(b.attribute("protocol").value(), "http") != 0) continue;
    // "IP:port:host" (the host name part is not used here).
    const std::string info = b.attribute("bindingInformation").value();
    const auto last = info.rfind(':');
    const auto mid = last == std::string::npos || last == 0 ? std::string::npos : info.rfind(':', last - 1);
    std::uint16_t port = 0;
    if (mid == std::string::npos || !parse_port(info.substr(mid + 1, last - mid - 1), port, true)) {
      why = fmt::format("{}: site '{}': binding '{}' is not IP:port:host", file, site.attribute("name").value(), info);
      return false;
    }
    std::string ip = info.substr(0, mid);
    if (ip == "*" || ip.empty()) ip = "0.0.0.0";
    if (ip.size() > 2 && ip.front() == '[' && ip.back() == ']') ip = ip.substr(1, ip.size() - 2);
    out.ip = ip;
    out.port = port;
    bound = true;
    break;
  }
  if (!bound) {
    why = fmt::format("{}: site '{}' has no http binding", file, site.attribute("name").value());
    return false;
  }
  // system.webServer: at the root, and a <location path="SITE"> for this site on top of it.
  std::vector<pugi::xml_node> servers{root.child("system.webServer")};
  for (pugi::xml_node loc : root.children("location"))
    if (std::string(loc.attribute("path").value()) == site.attribute("name").value())
      servers.push_back(loc.child("system.webServer"));
  for (pugi::xml_node ws : servers) {
    if (!ws) continue;
    for (pugi::xml_node m : ws.child("globalModules").children("add")) {
      if (!m.attribute("name") || !m.attribute("image")) {
        why = fmt::format("{}: globalModules/add needs name and image", file);
        return false;
      }
      std::filesystem::path image = expand(m.attribute("image").value());
      if (image.is_relative()) image = base / image;
      out.global_modules.push_back({m.attribute("name").value(), image.string()});
    }
    if (pugi::xml_node mods = ws.child("modules")) {
      out.modules_listed = true;
      for (pugi::xml_node child : mods.children()) {
        const std::string tag = child.name();
        const std::string name = child.attribute("name").value();
        if (tag == "clear") out.modules.clear();
        if (tag == "add" && !name.empty()) out.modules.push_back(name);
        if (tag == "remove") std::erase(out.modules, name);
      }
    }
    pugi::xml_node auth = ws.child("security").child("authentication");
    if (pugi::xml_node a = auth.child("anonymousAuthentication"))
      out.authentication.anonymous = truthy(a.attribute("enabled"), out.authentication.anonymous);
    if (pugi::xml_node b = auth.child("basicAuthentication")) {
      out.authentication.basic = truthy(b.attribute("enabled"), out.authentication.basic);
      if (b.attribute("realm")) out.authentication.realm = b.attribute("realm").value();
      if (b.attribute("usersFile")) {
        std::filesystem::path users = expand(b.attribute("usersFile").value());
        if (users.is_relative()) users = base / users;
        out.authentication.users.clear();
        if (!read_users_file(users.string(), out.authentication.users, why)) {
          why = fmt::format("{}: basicAuthentication: {}", file, why);
          return false;
        }
      }
    }
  }
  if (out.authentication.basic && out.authentication.users.empty()) {
    why = fmt::format("{}: basicAuthentication is enabled but no usersFile names any user", file);
    return false;
  }
  return true;
}

}  // namespace w3tp::iis
