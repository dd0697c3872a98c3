// SPDX-License-Identifier: MIT
// The modules w3tp-iishost has built in, as IIS has them: Basic authentication (IIS's
// BasicAuthenticationModule, with a users file in place of Windows' accounts) and the static-file
// handler (IIS's StaticFileModule) for the site's physical path.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "iis/pipeline.hpp"

namespace w3tp::iis {

/// `security/authentication`: which methods are on, and Basic's users (name to password).
struct authentication_config {
  bool anonymous = true;
  bool basic = false;
  std::string realm;  ///< the realm of WWW-Authenticate (the Host header's when empty)
  std::map<std::string, std::string> users;
};

/// Reads a users file: one `name:password` per line; blank lines and lines starting with '#' are
/// skipped. False with a sentence (file and line) in `why` when it cannot be read or a line has no ':'.
bool read_users_file(const std::string& path, std::map<std::string, std::string>& users, std::string& why);

/// Registers BasicAuthenticationModule in `modules`: a request with `Authorization: Basic` and a known
/// name and password gets that user (IHttpUser: the name, L"Basic"); wrong credentials, or none when
/// anonymous access is off, get 401 with `WWW-Authenticate: Basic realm="..."` and end. Anonymous
/// requests keep the anonymous user (an empty name), as in IIS. With Basic off and anonymous access off
/// every request gets 401 (no method could authenticate it), without a challenge.
HRESULT add_basic_authentication(module_table& modules, IHttpServer& server, authentication_config config,
                                 std::string& why);

/// Registers StaticFileModule: GET and HEAD of a file under the site's physical path (Content-Type from
/// the extension, Content-Length from the size); 404 for a missing file or a folder, 405 (with Allow) for
/// other methods; a path that would leave the folder is refused with 404. It is the last handler:
/// a module that answered first (a status other than 200, or a Content-Length it set) is left alone.
HRESULT add_static_file(module_table& modules, IHttpServer& server, std::string& why);

/// Decodes base64 (RFC 4648, padding required); false for anything else.
bool decode_base64(std::string_view in, std::string& out);

}  // namespace w3tp::iis
