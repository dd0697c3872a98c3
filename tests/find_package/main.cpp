// SPDX-License-Identifier: MIT
// Consumer of the installed package: writes a file through IHttpServer::AssociateWithThreadPool and
// waits for the completion routine, using the API exactly as API.md writes it.
#include <w3tp/httpserv.h>
#include <w3tp/w3tp.hpp>

#include <atomic>
#include <cstdio>
#include <string>

namespace {
std::atomic<int> g_done{0};
DWORD g_error = ~0u;
DWORD g_bytes = 0;

VOID CALLBACK on_write(DWORD dwErrorCode, DWORD dwNumberOfBytesTransfered, LPOVERLAPPED lpOverlapped) {
  UNREFERENCED_PARAMETER(lpOverlapped);
  g_error = dwErrorCode;
  g_bytes = dwNumberOfBytesTransfered;
  g_done.store(1);
  g_done.notify_all();
}
}  // namespace

int main(int argc, char** argv) {
  std::string path = argc > 1 ? argv[1] : "w3tp_consumer.txt";
  w3tp::thread_pool& pool = w3tp::default_pool();
  IHttpServer& server = w3tp::http_server(pool);
  HANDLE h = CreateFileA(path.c_str(), GENERIC_WRITE, FILE_SHARE_READ, NULL, CREATE_ALWAYS,
                         FILE_ATTRIBUTE_NORMAL | FILE_FLAG_OVERLAPPED, NULL);
  if (h == INVALID_HANDLE_VALUE) {
    std::fprintf(stderr, "CreateFileA failed: %lu\n", static_cast<unsigned long>(GetLastError()));
    return 1;
  }
  HRESULT hr = server.AssociateWithThreadPool(h, on_write);
  if (FAILED(hr)) {
    std::fprintf(stderr, "AssociateWithThreadPool failed: 0x%08lx\n", static_cast<unsigned long>(hr));
    return 1;
  }
  static OVERLAPPED ov = {};
  static const char text[] = "Hello";
  if (!WriteFile(h, text, 5, NULL, &ov) && GetLastError() != ERROR_IO_PENDING) {
    std::fprintf(stderr, "WriteFile failed: %lu\n", static_cast<unsigned long>(GetLastError()));
    return 1;
  }
  g_done.wait(0);
  CloseHandle(h);
  std::printf("backend %s: routine got error %lu, %lu bytes\n",
              std::string(w3tp::to_string(pool.active_backend())).c_str(), static_cast<unsigned long>(g_error),
              static_cast<unsigned long>(g_bytes));
  return g_error == ERROR_SUCCESS && g_bytes == 5 ? 0 : 1;
}
