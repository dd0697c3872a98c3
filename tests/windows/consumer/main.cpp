// SPDX-License-Identifier: MIT
// Consumer of the installed package on Windows: the IIS pattern (the shared pool's IHttpServer,
// AssociateWithThreadPool, an overlapped WriteFile) with the system's own file functions. The routine
// signals a Win32 event: std::atomic::wait can miss a notification with MinGW's libstdc++ 12.
#include <w3tp/httpserv.h>
#include <w3tp/w3tp.hpp>

#include <cstdio>
#include <string>

namespace {

struct write_request {
  OVERLAPPED overlapped = {};  // first, so that the routine's pointer leads back to the request
  HANDLE done = CreateEventW(NULL, TRUE, FALSE, NULL);
  DWORD error = ~0u;
  DWORD bytes = 0;
};

VOID CALLBACK on_write(DWORD dwErrorCode, DWORD dwNumberOfBytesTransfered, LPOVERLAPPED lpOverlapped) {
  auto* request = reinterpret_cast<write_request*>(lpOverlapped);
  request->error = dwErrorCode;
  request->bytes = dwNumberOfBytesTransfered;
  SetEvent(request->done);
}

}  // namespace

int main(int argc, char** argv) {
  std::string path = argc > 1 ? argv[1] : "w3tp_consumer.txt";
  w3tp::thread_pool& pool = w3tp::default_pool();
  IHttpServer& server = w3tp::http_server(pool);
  HANDLE h = CreateFileA(path.c_str(), GENERIC_WRITE, FILE_SHARE_READ, NULL, CREATE_ALWAYS,
                         FILE_ATTRIBUTE_NORMAL | FILE_FLAG_OVERLAPPED, NULL);
  if (h == INVALID_HANDLE_VALUE) {
    std::fprintf(stderr, "CreateFileA failed: %lu\n", GetLastError());
    return 1;
  }
  HRESULT hr = server.AssociateWithThreadPool(h, on_write);
  if (FAILED(hr)) {
    std::fprintf(stderr, "AssociateWithThreadPool failed: 0x%08lx\n", static_cast<unsigned long>(hr));
    return 1;
  }
  static write_request request;
  static const char text[] = "Hello";
  if (!WriteFile(h, text, 5, NULL, &request.overlapped) && GetLastError() != ERROR_IO_PENDING) {
    std::fprintf(stderr, "WriteFile failed: %lu\n", GetLastError());
    return 1;
  }
  if (WaitForSingleObject(request.done, 30000) != WAIT_OBJECT_0) {
    std::fprintf(stderr, "the completion routine did not run within 30 s\n");
    return 1;
  }
  CloseHandle(h);
  std::printf("backend %s: routine got error %lu, %lu bytes\n",
              std::string(w3tp::to_string(pool.active_backend())).c_str(), request.error, request.bytes);
  return request.error == ERROR_SUCCESS && request.bytes == 5 ? 0 : 1;
}
