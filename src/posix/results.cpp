// SPDX-License-Identifier: MIT
#include "posix/results.hpp"

#include <sys/socket.h>

namespace w3tp::posix {

int pending_socket_error(int fd) noexcept {
  int err = 0;
  socklen_t len = sizeof err;
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) return 0;
  return err;
}

}  // namespace w3tp::posix
