// SPDX-License-Identifier: MIT
/// @file w3tp/iis/http.h
/// The HTTP Server API types of Windows' <http.h> for IIS native modules built on Linux, with the
/// Windows SDK's x64 layouts (sizes, field offsets and enum values), so that a module's
/// `#include <http.h>` finds this header (it lives in an include directory of its own).
///
/// Only the types that IIS's httpserv.h interfaces use are declared: requests, responses, their
/// headers, data chunks and the types these name. No HTTP Server API function is declared.
/// HTTP_REQUEST and HTTP_RESPONSE are the V1 structures. C++ only, Linux only (on Windows use the
/// SDK's header). HTTP_DATA_CHUNK is w3tp::HTTP_DATA_CHUNK, as <w3tp/httpserv.h> declares it.
#ifndef W3TP_IIS_HTTP_H
#define W3TP_IIS_HTTP_H

#if defined(_WIN32)
#error "w3tp/iis/http.h is for POSIX systems: on Windows use the SDK's <http.h>"
#endif
#ifndef __cplusplus
#error "w3tp/iis/http.h is C++ only"
#endif

#include <w3tp/win32.h>

#include <sys/socket.h>

#include <cstddef>
#include <cstdint>

#include "iis_types.h"

/// @name Flags
/// @{
/// HTTP_REQUEST::Flags (SDK values).
#define HTTP_REQUEST_FLAG_MORE_ENTITY_BODY_EXISTS 0x00000001
#define HTTP_REQUEST_FLAG_IP_ROUTED 0x00000002
#define HTTP_REQUEST_FLAG_HTTP2 0x00000004
#define HTTP_REQUEST_FLAG_HTTP3 0x00000008

/// The flags of HttpSendHttpResponse and of IHttpResponse's sends (SDK values).
#define HTTP_SEND_RESPONSE_FLAG_DISCONNECT 0x00000001
#define HTTP_SEND_RESPONSE_FLAG_MORE_DATA 0x00000002
#define HTTP_SEND_RESPONSE_FLAG_BUFFER_DATA 0x00000004
#define HTTP_SEND_RESPONSE_FLAG_ENABLE_NAGLING 0x00000008
#define HTTP_SEND_RESPONSE_FLAG_PROCESS_RANGES 0x00000020
#define HTTP_SEND_RESPONSE_FLAG_OPAQUE 0x00000040
#define HTTP_SEND_RESPONSE_FLAG_GOAWAY 0x00000100
/// @}

/// @name Identifiers
/// @{
/// The HTTP Server API's opaque 64-bit identifiers.
typedef ULONGLONG HTTP_OPAQUE_ID, *PHTTP_OPAQUE_ID;
typedef HTTP_OPAQUE_ID HTTP_REQUEST_ID, *PHTTP_REQUEST_ID;
typedef HTTP_OPAQUE_ID HTTP_CONNECTION_ID, *PHTTP_CONNECTION_ID;
typedef HTTP_OPAQUE_ID HTTP_RAW_CONNECTION_ID, *PHTTP_RAW_CONNECTION_ID;
typedef HTTP_OPAQUE_ID HTTP_URL_GROUP_ID, *PHTTP_URL_GROUP_ID;
typedef HTTP_OPAQUE_ID HTTP_SERVER_SESSION_ID, *PHTTP_SERVER_SESSION_ID;
typedef ULONGLONG HTTP_URL_CONTEXT;

#define HTTP_NULL_ID (0ull)
#define HTTP_IS_NULL_ID(pid) (HTTP_NULL_ID == *(pid))
#define HTTP_SET_NULL_ID(pid) (*(pid) = HTTP_NULL_ID)
/// @}

/// HTTP_BYTE_RANGE::Length for "to the end of the file".
#define HTTP_BYTE_RANGE_TO_EOF ((ULONGLONG)-1)

/// A byte range of a file (16 bytes).
typedef struct _HTTP_BYTE_RANGE {
  ULARGE_INTEGER StartingOffset;  ///< first byte
  ULARGE_INTEGER Length;          ///< byte count, or HTTP_BYTE_RANGE_TO_EOF
} HTTP_BYTE_RANGE, *PHTTP_BYTE_RANGE;

/// An HTTP protocol version (4 bytes).
typedef struct _HTTP_VERSION {
  USHORT MajorVersion;  ///< 1 in HTTP/1.1
  USHORT MinorVersion;  ///< 1 in HTTP/1.1
} HTTP_VERSION, *PHTTP_VERSION;

/// @name Version macros
/// @{
/// HTTP_VERSION initializers and comparisons (SDK names).
#define HTTP_VERSION_UNKNOWN \
  { 0, 0 }
#define HTTP_VERSION_0_9 \
  { 0, 9 }
#define HTTP_VERSION_1_0 \
  { 1, 0 }
#define HTTP_VERSION_1_1 \
  { 1, 1 }
#define HTTP_VERSION_2_0 \
  { 2, 0 }
#define HTTP_SET_VERSION(version, major, minor) \
  do {                                          \
    (version).MajorVersion = (major);           \
    (version).MinorVersion = (minor);           \
  } while (0)
#define HTTP_EQUAL_VERSION(version, major, minor) \
  ((version).MajorVersion == (major) && (version).MinorVersion == (minor))
#define HTTP_GREATER_VERSION(version, major, minor) \
  ((version).MajorVersion > (major) || ((version).MajorVersion == (major) && (version).MinorVersion > (minor)))
#define HTTP_LESS_VERSION(version, major, minor) \
  ((version).MajorVersion < (major) || ((version).MajorVersion == (major) && (version).MinorVersion < (minor)))
#define HTTP_NOT_EQUAL_VERSION(version, major, minor) (!HTTP_EQUAL_VERSION(version, major, minor))
#define HTTP_GREATER_EQUAL_VERSION(version, major, minor) (!HTTP_LESS_VERSION(version, major, minor))
#define HTTP_LESS_EQUAL_VERSION(version, major, minor) (!HTTP_GREATER_VERSION(version, major, minor))
/// @}

/// The request's verb (SDK values; 4 bytes).
typedef enum _HTTP_VERB {
  HttpVerbUnparsed = 0,
  HttpVerbUnknown = 1,
  HttpVerbInvalid = 2,
  HttpVerbOPTIONS = 3,
  HttpVerbGET = 4,
  HttpVerbHEAD = 5,
  HttpVerbPOST = 6,
  HttpVerbPUT = 7,
  HttpVerbDELETE = 8,
  HttpVerbTRACE = 9,
  HttpVerbCONNECT = 10,
  HttpVerbTRACK = 11,
  HttpVerbMOVE = 12,
  HttpVerbCOPY = 13,
  HttpVerbPROPFIND = 14,
  HttpVerbPROPPATCH = 15,
  HttpVerbMKCOL = 16,
  HttpVerbLOCK = 17,
  HttpVerbUNLOCK = 18,
  HttpVerbSEARCH = 19,
  HttpVerbMaximum = 20
} HTTP_VERB,
    *PHTTP_VERB;

/// The known headers' indexes in KnownHeaders[] (SDK values; request and response ids overlap from 20).
typedef enum _HTTP_HEADER_ID {
  // General headers.
  HttpHeaderCacheControl = 0,
  HttpHeaderConnection = 1,
  HttpHeaderDate = 2,
  HttpHeaderKeepAlive = 3,
  HttpHeaderPragma = 4,
  HttpHeaderTrailer = 5,
  HttpHeaderTransferEncoding = 6,
  HttpHeaderUpgrade = 7,
  HttpHeaderVia = 8,
  HttpHeaderWarning = 9,
  // Entity headers.
  HttpHeaderAllow = 10,
  HttpHeaderContentLength = 11,
  HttpHeaderContentType = 12,
  HttpHeaderContentEncoding = 13,
  HttpHeaderContentLanguage = 14,
  HttpHeaderContentLocation = 15,
  HttpHeaderContentMd5 = 16,
  HttpHeaderContentRange = 17,
  HttpHeaderExpires = 18,
  HttpHeaderLastModified = 19,
  // Request headers.
  HttpHeaderAccept = 20,
  HttpHeaderAcceptCharset = 21,
  HttpHeaderAcceptEncoding = 22,
  HttpHeaderAcceptLanguage = 23,
  HttpHeaderAuthorization = 24,
  HttpHeaderCookie = 25,
  HttpHeaderExpect = 26,
  HttpHeaderFrom = 27,
  HttpHeaderHost = 28,
  HttpHeaderIfMatch = 29,
  HttpHeaderIfModifiedSince = 30,
  HttpHeaderIfNoneMatch = 31,
  HttpHeaderIfRange = 32,
  HttpHeaderIfUnmodifiedSince = 33,
  HttpHeaderMaxForwards = 34,
  HttpHeaderProxyAuthorization = 35,
  HttpHeaderReferer = 36,
  HttpHeaderRange = 37,
  HttpHeaderTe = 38,
  HttpHeaderTranslate = 39,
  HttpHeaderUserAgent = 40,
  HttpHeaderRequestMaximum = 41,
  // Response headers.
  HttpHeaderAcceptRanges = 20,
  HttpHeaderAge = 21,
  HttpHeaderEtag = 22,
  HttpHeaderLocation = 23,
  HttpHeaderProxyAuthenticate = 24,
  HttpHeaderRetryAfter = 25,
  HttpHeaderServer = 26,
  HttpHeaderSetCookie = 27,
  HttpHeaderVary = 28,
  HttpHeaderWwwAuthenticate = 29,
  HttpHeaderResponseMaximum = 30,
  HttpHeaderMaximum = 41
} HTTP_HEADER_ID,
    *PHTTP_HEADER_ID;

/// A known header's value (16 bytes).
typedef struct _HTTP_KNOWN_HEADER {
  USHORT RawValueLength;  ///< bytes, without a terminating NUL
  PCSTR pRawValue;        ///< the value
} HTTP_KNOWN_HEADER, *PHTTP_KNOWN_HEADER;

/// A header that HTTP_HEADER_ID does not name (24 bytes).
typedef struct _HTTP_UNKNOWN_HEADER {
  USHORT NameLength;      ///< bytes, without a terminating NUL
  USHORT RawValueLength;  ///< bytes, without a terminating NUL
  PCSTR pName;            ///< the name
  PCSTR pRawValue;        ///< the value
} HTTP_UNKNOWN_HEADER, *PHTTP_UNKNOWN_HEADER;

/// Which member of HTTP_DATA_CHUNK's union is valid (SDK values).
typedef enum _HTTP_DATA_CHUNK_TYPE {
  HttpDataChunkFromMemory = 0,
  HttpDataChunkFromFileHandle = 1,
  HttpDataChunkFromFragmentCache = 2,
  HttpDataChunkFromFragmentCacheEx = 3,
  HttpDataChunkMaximum = 4
} HTTP_DATA_CHUNK_TYPE,
    *PHTTP_DATA_CHUNK_TYPE;

namespace w3tp {

/// A block of entity-body data: in memory, in a file or in the fragment cache (32 bytes). In namespace w3tp because
/// <w3tp/httpserv.h> declares it there; ::HTTP_DATA_CHUNK names it.
struct HTTP_DATA_CHUNK {
  HTTP_DATA_CHUNK_TYPE DataChunkType;  ///< the valid union member
  __extension__ union {
    /// HttpDataChunkFromMemory.
    struct {
      PVOID pBuffer;       ///< the bytes
      ULONG BufferLength;  ///< their count
    } FromMemory;
    /// HttpDataChunkFromFileHandle.
    struct {
      HTTP_BYTE_RANGE ByteRange;  ///< the part of the file
      HANDLE FileHandle;          ///< the file
    } FromFileHandle;
    /// HttpDataChunkFromFragmentCache.
    struct {
      USHORT FragmentNameLength;  ///< bytes, without the terminating NUL
      PCWSTR pFragmentName;       ///< the fragment's name
    } FromFragmentCache;
    /// HttpDataChunkFromFragmentCacheEx.
    struct {
      HTTP_BYTE_RANGE ByteRange;  ///< the part of the fragment
      PCWSTR pFragmentName;       ///< the fragment's name, NUL-terminated
    } FromFragmentCacheEx;
  };
};

}  // namespace w3tp

using w3tp::HTTP_DATA_CHUNK;
typedef w3tp::HTTP_DATA_CHUNK* PHTTP_DATA_CHUNK;

/// A request's headers (688 bytes).
typedef struct _HTTP_REQUEST_HEADERS {
  USHORT UnknownHeaderCount;                                 ///< entries in pUnknownHeaders
  PHTTP_UNKNOWN_HEADER pUnknownHeaders;                      ///< the headers HTTP_HEADER_ID does not name
  USHORT TrailerCount;                                       ///< reserved, 0
  PHTTP_UNKNOWN_HEADER pTrailers;                            ///< reserved, NULL
  HTTP_KNOWN_HEADER KnownHeaders[HttpHeaderRequestMaximum];  ///< indexed by the request HTTP_HEADER_IDs
} HTTP_REQUEST_HEADERS, *PHTTP_REQUEST_HEADERS;

/// A response's headers (512 bytes).
typedef struct _HTTP_RESPONSE_HEADERS {
  USHORT UnknownHeaderCount;                                  ///< entries in pUnknownHeaders
  PHTTP_UNKNOWN_HEADER pUnknownHeaders;                       ///< the headers HTTP_HEADER_ID does not name
  USHORT TrailerCount;                                        ///< reserved, 0
  PHTTP_UNKNOWN_HEADER pTrailers;                             ///< reserved, NULL
  HTTP_KNOWN_HEADER KnownHeaders[HttpHeaderResponseMaximum];  ///< indexed by the response HTTP_HEADER_IDs
} HTTP_RESPONSE_HEADERS, *PHTTP_RESPONSE_HEADERS;

/// The connection's two ends (16 bytes).
typedef struct _HTTP_TRANSPORT_ADDRESS {
  PSOCKADDR pRemoteAddress;  ///< the client
  PSOCKADDR pLocalAddress;   ///< the server
} HTTP_TRANSPORT_ADDRESS, *PHTTP_TRANSPORT_ADDRESS;

/// The request's URL, parsed (40 bytes). Lengths are in bytes, without the terminating NUL.
typedef struct _HTTP_COOKED_URL {
  USHORT FullUrlLength;      ///< length of pFullUrl
  USHORT HostLength;         ///< length of pHost
  USHORT AbsPathLength;      ///< length of pAbsPath
  USHORT QueryStringLength;  ///< length of pQueryString
  PCWSTR pFullUrl;           ///< scheme://host:port/path?query
  PCWSTR pHost;              ///< host:port, inside pFullUrl
  PCWSTR pAbsPath;           ///< /path, inside pFullUrl
  PCWSTR pQueryString;       ///< ?query, inside pFullUrl, or NULL
} HTTP_COOKED_URL, *PHTTP_COOKED_URL;

/// The client certificate of an SSL connection (32 bytes).
typedef struct _HTTP_SSL_CLIENT_CERT_INFO {
  ULONG CertFlags;             ///< the certificate's verification flags
  ULONG CertEncodedSize;       ///< bytes in pCertEncoded
  PUCHAR pCertEncoded;         ///< the certificate, encoded
  HANDLE Token;                ///< the mapped user's token, or NULL
  BOOLEAN CertDeniedByMapper;  ///< reserved
} HTTP_SSL_CLIENT_CERT_INFO, *PHTTP_SSL_CLIENT_CERT_INFO;

/// An SSL connection's properties (48 bytes).
typedef struct _HTTP_SSL_INFO {
  USHORT ServerCertKeySize;                    ///< the server key's size, in bits
  USHORT ConnectionKeySize;                    ///< the session key's size, in bits
  ULONG ServerCertIssuerSize;                  ///< bytes in pServerCertIssuer
  ULONG ServerCertSubjectSize;                 ///< bytes in pServerCertSubject
  PCSTR pServerCertIssuer;                     ///< the server certificate's issuer
  PCSTR pServerCertSubject;                    ///< the server certificate's subject
  PHTTP_SSL_CLIENT_CERT_INFO pClientCertInfo;  ///< the client certificate, or NULL
  ULONG SslClientCertNegotiated;               ///< nonzero when a client certificate was negotiated
} HTTP_SSL_INFO, *PHTTP_SSL_INFO;

/// An HTTP request (848 bytes).
typedef struct _HTTP_REQUEST_V1 {
  ULONG Flags;                             ///< HTTP_REQUEST_FLAG_*
  HTTP_CONNECTION_ID ConnectionId;         ///< the connection
  HTTP_REQUEST_ID RequestId;               ///< the request
  HTTP_URL_CONTEXT UrlContext;             ///< the context of the URL the request matched
  HTTP_VERSION Version;                    ///< the protocol version
  HTTP_VERB Verb;                          ///< the verb
  USHORT UnknownVerbLength;                ///< bytes in pUnknownVerb
  USHORT RawUrlLength;                     ///< bytes in pRawUrl
  PCSTR pUnknownVerb;                      ///< the verb when Verb is HttpVerbUnknown
  PCSTR pRawUrl;                           ///< the URL as the client sent it
  HTTP_COOKED_URL CookedUrl;               ///< the URL, parsed
  HTTP_TRANSPORT_ADDRESS Address;          ///< the connection's addresses
  HTTP_REQUEST_HEADERS Headers;            ///< the headers
  ULONGLONG BytesReceived;                 ///< bytes received so far
  USHORT EntityChunkCount;                 ///< entries in pEntityChunks
  PHTTP_DATA_CHUNK pEntityChunks;          ///< the entity body received with the headers
  HTTP_RAW_CONNECTION_ID RawConnectionId;  ///< the raw connection
  PHTTP_SSL_INFO pSslInfo;                 ///< SSL properties, or NULL
} HTTP_REQUEST_V1, *PHTTP_REQUEST_V1;

typedef HTTP_REQUEST_V1 HTTP_REQUEST, *PHTTP_REQUEST;

/// An HTTP response (552 bytes).
typedef struct _HTTP_RESPONSE_V1 {
  ULONG Flags;                     ///< reserved, 0
  HTTP_VERSION Version;            ///< the protocol version
  USHORT StatusCode;               ///< the status, e.g. 200
  USHORT ReasonLength;             ///< bytes in pReason
  PCSTR pReason;                   ///< the reason phrase, e.g. "OK"
  HTTP_RESPONSE_HEADERS Headers;   ///< the headers
  USHORT EntityChunkCount;         ///< entries in pEntityChunks
  PHTTP_DATA_CHUNK pEntityChunks;  ///< the entity body
} HTTP_RESPONSE_V1, *PHTTP_RESPONSE_V1;

typedef HTTP_RESPONSE_V1 HTTP_RESPONSE, *PHTTP_RESPONSE;

#if defined(__x86_64__) || defined(__aarch64__)
// Windows x64's layouts, measured with MinGW-w64's <http.h> (x86_64-w64-mingw32-g++, run under Wine).
static_assert(sizeof(ULARGE_INTEGER) == 8 && alignof(ULARGE_INTEGER) == 8, "ULARGE_INTEGER: 8 bytes, 8-aligned");
static_assert(sizeof(HTTP_BYTE_RANGE) == 16, "HTTP_BYTE_RANGE: 16 bytes");
static_assert(sizeof(HTTP_VERB) == 4 && sizeof(HTTP_HEADER_ID) == 4 && sizeof(HTTP_DATA_CHUNK_TYPE) == 4,
              "the enums are 4 bytes, as on Windows");
static_assert(sizeof(HTTP_KNOWN_HEADER) == 16, "HTTP_KNOWN_HEADER: 16 bytes on Windows x64");
static_assert(sizeof(HTTP_UNKNOWN_HEADER) == 24, "HTTP_UNKNOWN_HEADER: 24 bytes on Windows x64");
static_assert(sizeof(HTTP_DATA_CHUNK) == 32 && alignof(HTTP_DATA_CHUNK) == 8,
              "HTTP_DATA_CHUNK: 32 bytes, 8-aligned on Windows x64");
static_assert(offsetof(HTTP_DATA_CHUNK, FromMemory) == 8, "HTTP_DATA_CHUNK's union is at offset 8");
static_assert(sizeof(HTTP_COOKED_URL) == 40, "HTTP_COOKED_URL: 40 bytes on Windows x64");
static_assert(sizeof(HTTP_REQUEST_HEADERS) == 688, "HTTP_REQUEST_HEADERS: 688 bytes on Windows x64");
static_assert(sizeof(HTTP_RESPONSE_HEADERS) == 512, "HTTP_RESPONSE_HEADERS: 512 bytes on Windows x64");
static_assert(sizeof(HTTP_REQUEST_V1) == 848, "HTTP_REQUEST_V1: 848 bytes on Windows x64");
static_assert(offsetof(HTTP_REQUEST_V1, pRawUrl) == 56, "HTTP_REQUEST::pRawUrl at 56 on Windows x64");
static_assert(offsetof(HTTP_REQUEST_V1, Headers) == 120, "HTTP_REQUEST::Headers at 120 on Windows x64");
static_assert(offsetof(HTTP_REQUEST_V1, pEntityChunks) == 824, "HTTP_REQUEST::pEntityChunks at 824 on Windows x64");
static_assert(offsetof(HTTP_REQUEST_V1, RawConnectionId) == 832, "HTTP_REQUEST::RawConnectionId at 832 on Windows x64");
static_assert(sizeof(HTTP_RESPONSE_V1) == 552, "HTTP_RESPONSE_V1: 552 bytes on Windows x64");
static_assert(offsetof(HTTP_RESPONSE_V1, StatusCode) == 8, "HTTP_RESPONSE::StatusCode at 8 on Windows x64");
static_assert(offsetof(HTTP_RESPONSE_V1, pReason) == 16, "HTTP_RESPONSE::pReason at 16 on Windows x64");
static_assert(offsetof(HTTP_RESPONSE_V1, Headers) == 24, "HTTP_RESPONSE::Headers at 24 on Windows x64");
static_assert(offsetof(HTTP_RESPONSE_V1, pEntityChunks) == 544, "HTTP_RESPONSE::pEntityChunks at 544 on Windows x64");
#endif

#endif  // W3TP_IIS_HTTP_H
