// SPDX-License-Identifier: MIT
// <http.h> (include/w3tp/iis/http.h): the HTTP Server API types have Windows x64's sizes, field
// offsets and enum values. The expected numbers were measured with MinGW-w64's <http.h>
// (x86_64-w64-mingw32-g++, run under Wine); HTTP_REQUEST and HTTP_RESPONSE are the V1 structures.
#include <cstddef>

#include <http.h>

#include <cstdint>
#include <cstring>
#include <type_traits>

#include <w3tp/httpserv.h>

#include "support/catch.hpp"

TEST_CASE("iis: http.h has Windows x64 layouts", "[iis][layout]") {
  SECTION("base types") {
    CHECK(sizeof(USHORT) == 2);
    CHECK(sizeof(UCHAR) == 1);
    CHECK(sizeof(ULONG) == 4);
    CHECK(sizeof(ULONGLONG) == 8);
    CHECK(sizeof(ULARGE_INTEGER) == 8);
    CHECK(alignof(ULARGE_INTEGER) == 8);
    CHECK(offsetof(ULARGE_INTEGER, LowPart) == 0);
    CHECK(offsetof(ULARGE_INTEGER, HighPart) == 4);
    CHECK(offsetof(ULARGE_INTEGER, u.HighPart) == 4);
    CHECK(sizeof(HTTP_OPAQUE_ID) == 8);
    CHECK(sizeof(HTTP_REQUEST_ID) == 8);
    CHECK(sizeof(HTTP_CONNECTION_ID) == 8);
    CHECK(sizeof(HTTP_RAW_CONNECTION_ID) == 8);
    CHECK(sizeof(HTTP_URL_CONTEXT) == 8);
  }

  SECTION("small structs") {
    CHECK(sizeof(HTTP_VERSION) == 4);
    CHECK(offsetof(HTTP_VERSION, MinorVersion) == 2);
    CHECK(sizeof(HTTP_VERB) == 4);
    CHECK(sizeof(HTTP_HEADER_ID) == 4);
    CHECK(sizeof(HTTP_DATA_CHUNK_TYPE) == 4);
    CHECK(sizeof(HTTP_BYTE_RANGE) == 16);
    CHECK(offsetof(HTTP_BYTE_RANGE, Length) == 8);
    CHECK(sizeof(HTTP_KNOWN_HEADER) == 16);
    CHECK(offsetof(HTTP_KNOWN_HEADER, pRawValue) == 8);
    CHECK(sizeof(HTTP_UNKNOWN_HEADER) == 24);
    CHECK(offsetof(HTTP_UNKNOWN_HEADER, RawValueLength) == 2);
    CHECK(offsetof(HTTP_UNKNOWN_HEADER, pName) == 8);
    CHECK(offsetof(HTTP_UNKNOWN_HEADER, pRawValue) == 16);
    CHECK(sizeof(HTTP_TRANSPORT_ADDRESS) == 16);
    CHECK(offsetof(HTTP_TRANSPORT_ADDRESS, pLocalAddress) == 8);
    CHECK(sizeof(HTTP_COOKED_URL) == 40);
    CHECK(offsetof(HTTP_COOKED_URL, QueryStringLength) == 6);
    CHECK(offsetof(HTTP_COOKED_URL, pFullUrl) == 8);
    CHECK(offsetof(HTTP_COOKED_URL, pHost) == 16);
    CHECK(offsetof(HTTP_COOKED_URL, pAbsPath) == 24);
    CHECK(offsetof(HTTP_COOKED_URL, pQueryString) == 32);
    CHECK(sizeof(HTTP_SSL_CLIENT_CERT_INFO) == 32);
    CHECK(offsetof(HTTP_SSL_CLIENT_CERT_INFO, pCertEncoded) == 8);
    CHECK(offsetof(HTTP_SSL_CLIENT_CERT_INFO, Token) == 16);
    CHECK(offsetof(HTTP_SSL_CLIENT_CERT_INFO, CertDeniedByMapper) == 24);
    CHECK(sizeof(HTTP_SSL_INFO) == 48);
    CHECK(offsetof(HTTP_SSL_INFO, ServerCertIssuerSize) == 4);
    CHECK(offsetof(HTTP_SSL_INFO, ServerCertSubjectSize) == 8);
    CHECK(offsetof(HTTP_SSL_INFO, pServerCertIssuer) == 16);
    CHECK(offsetof(HTTP_SSL_INFO, pClientCertInfo) == 32);
    CHECK(offsetof(HTTP_SSL_INFO, SslClientCertNegotiated) == 40);
  }

  SECTION("HTTP_DATA_CHUNK") {
    CHECK(sizeof(HTTP_DATA_CHUNK) == 32);
    CHECK(alignof(HTTP_DATA_CHUNK) == 8);
    CHECK(offsetof(HTTP_DATA_CHUNK, DataChunkType) == 0);
    CHECK(offsetof(HTTP_DATA_CHUNK, FromMemory.pBuffer) == 8);
    CHECK(offsetof(HTTP_DATA_CHUNK, FromMemory.BufferLength) == 16);
    CHECK(offsetof(HTTP_DATA_CHUNK, FromFileHandle.ByteRange) == 8);
    CHECK(offsetof(HTTP_DATA_CHUNK, FromFileHandle.FileHandle) == 24);
    CHECK(offsetof(HTTP_DATA_CHUNK, FromFragmentCache.FragmentNameLength) == 8);
    CHECK(offsetof(HTTP_DATA_CHUNK, FromFragmentCache.pFragmentName) == 16);
    CHECK(offsetof(HTTP_DATA_CHUNK, FromFragmentCacheEx.ByteRange) == 8);
    CHECK(offsetof(HTTP_DATA_CHUNK, FromFragmentCacheEx.pFragmentName) == 24);
  }

  SECTION("headers") {
    CHECK(sizeof(HTTP_REQUEST_HEADERS) == 688);
    CHECK(offsetof(HTTP_REQUEST_HEADERS, pUnknownHeaders) == 8);
    CHECK(offsetof(HTTP_REQUEST_HEADERS, TrailerCount) == 16);
    CHECK(offsetof(HTTP_REQUEST_HEADERS, pTrailers) == 24);
    CHECK(offsetof(HTTP_REQUEST_HEADERS, KnownHeaders) == 32);
    CHECK(sizeof(HTTP_RESPONSE_HEADERS) == 512);
    CHECK(offsetof(HTTP_RESPONSE_HEADERS, pUnknownHeaders) == 8);
    CHECK(offsetof(HTTP_RESPONSE_HEADERS, TrailerCount) == 16);
    CHECK(offsetof(HTTP_RESPONSE_HEADERS, pTrailers) == 24);
    CHECK(offsetof(HTTP_RESPONSE_HEADERS, KnownHeaders) == 32);
  }

  SECTION("HTTP_REQUEST") {
    CHECK(std::is_same_v<HTTP_REQUEST, HTTP_REQUEST_V1>);
    CHECK(sizeof(HTTP_REQUEST) == 848);
    CHECK(offsetof(HTTP_REQUEST, Flags) == 0);
    CHECK(offsetof(HTTP_REQUEST, ConnectionId) == 8);
    CHECK(offsetof(HTTP_REQUEST, RequestId) == 16);
    CHECK(offsetof(HTTP_REQUEST, UrlContext) == 24);
    CHECK(offsetof(HTTP_REQUEST, Version) == 32);
    CHECK(offsetof(HTTP_REQUEST, Verb) == 36);
    CHECK(offsetof(HTTP_REQUEST, UnknownVerbLength) == 40);
    CHECK(offsetof(HTTP_REQUEST, RawUrlLength) == 42);
    CHECK(offsetof(HTTP_REQUEST, pUnknownVerb) == 48);
    CHECK(offsetof(HTTP_REQUEST, pRawUrl) == 56);
    CHECK(offsetof(HTTP_REQUEST, CookedUrl) == 64);
    CHECK(offsetof(HTTP_REQUEST, Address) == 104);
    CHECK(offsetof(HTTP_REQUEST, Headers) == 120);
    CHECK(offsetof(HTTP_REQUEST, BytesReceived) == 808);
    CHECK(offsetof(HTTP_REQUEST, EntityChunkCount) == 816);
    CHECK(offsetof(HTTP_REQUEST, pEntityChunks) == 824);
    CHECK(offsetof(HTTP_REQUEST, RawConnectionId) == 832);
    CHECK(offsetof(HTTP_REQUEST, pSslInfo) == 840);
  }

  SECTION("HTTP_RESPONSE") {
    CHECK(std::is_same_v<HTTP_RESPONSE, HTTP_RESPONSE_V1>);
    CHECK(sizeof(HTTP_RESPONSE) == 552);
    CHECK(offsetof(HTTP_RESPONSE, Flags) == 0);
    CHECK(offsetof(HTTP_RESPONSE, Version) == 4);
    CHECK(offsetof(HTTP_RESPONSE, StatusCode) == 8);
    CHECK(offsetof(HTTP_RESPONSE, ReasonLength) == 10);
    CHECK(offsetof(HTTP_RESPONSE, pReason) == 16);
    CHECK(offsetof(HTTP_RESPONSE, Headers) == 24);
    CHECK(offsetof(HTTP_RESPONSE, EntityChunkCount) == 536);
    CHECK(offsetof(HTTP_RESPONSE, pEntityChunks) == 544);
  }

  SECTION("enum values") {
    CHECK(HttpVerbUnparsed == 0);
    CHECK(HttpVerbUnknown == 1);
    CHECK(HttpVerbInvalid == 2);
    CHECK(HttpVerbOPTIONS == 3);
    CHECK(HttpVerbGET == 4);
    CHECK(HttpVerbHEAD == 5);
    CHECK(HttpVerbPOST == 6);
    CHECK(HttpVerbPUT == 7);
    CHECK(HttpVerbDELETE == 8);
    CHECK(HttpVerbTRACE == 9);
    CHECK(HttpVerbCONNECT == 10);
    CHECK(HttpVerbTRACK == 11);
    CHECK(HttpVerbMOVE == 12);
    CHECK(HttpVerbCOPY == 13);
    CHECK(HttpVerbPROPFIND == 14);
    CHECK(HttpVerbPROPPATCH == 15);
    CHECK(HttpVerbMKCOL == 16);
    CHECK(HttpVerbLOCK == 17);
    CHECK(HttpVerbUNLOCK == 18);
    CHECK(HttpVerbSEARCH == 19);
    CHECK(HttpVerbMaximum == 20);

    CHECK(HttpHeaderCacheControl == 0);
    CHECK(HttpHeaderConnection == 1);
    CHECK(HttpHeaderDate == 2);
    CHECK(HttpHeaderKeepAlive == 3);
    CHECK(HttpHeaderPragma == 4);
    CHECK(HttpHeaderTrailer == 5);
    CHECK(HttpHeaderTransferEncoding == 6);
    CHECK(HttpHeaderUpgrade == 7);
    CHECK(HttpHeaderVia == 8);
    CHECK(HttpHeaderWarning == 9);
    CHECK(HttpHeaderAllow == 10);
    CHECK(HttpHeaderContentLength == 11);
    CHECK(HttpHeaderContentType == 12);
    CHECK(HttpHeaderContentEncoding == 13);
    CHECK(HttpHeaderContentLanguage == 14);
    CHECK(HttpHeaderContentLocation == 15);
    CHECK(HttpHeaderContentMd5 == 16);
    CHECK(HttpHeaderContentRange == 17);
    CHECK(HttpHeaderExpires == 18);
    CHECK(HttpHeaderLastModified == 19);
    CHECK(HttpHeaderAccept == 20);
    CHECK(HttpHeaderAcceptCharset == 21);
    CHECK(HttpHeaderAcceptEncoding == 22);
    CHECK(HttpHeaderAcceptLanguage == 23);
    CHECK(HttpHeaderAuthorization == 24);
    CHECK(HttpHeaderCookie == 25);
    CHECK(HttpHeaderExpect == 26);
    CHECK(HttpHeaderFrom == 27);
    CHECK(HttpHeaderHost == 28);
    CHECK(HttpHeaderIfMatch == 29);
    CHECK(HttpHeaderIfModifiedSince == 30);
    CHECK(HttpHeaderIfNoneMatch == 31);
    CHECK(HttpHeaderIfRange == 32);
    CHECK(HttpHeaderIfUnmodifiedSince == 33);
    CHECK(HttpHeaderMaxForwards == 34);
    CHECK(HttpHeaderProxyAuthorization == 35);
    CHECK(HttpHeaderReferer == 36);
    CHECK(HttpHeaderRange == 37);
    CHECK(HttpHeaderTe == 38);
    CHECK(HttpHeaderTranslate == 39);
    CHECK(HttpHeaderUserAgent == 40);
    CHECK(HttpHeaderRequestMaximum == 41);
    CHECK(HttpHeaderAcceptRanges == 20);
    CHECK(HttpHeaderAge == 21);
    CHECK(HttpHeaderEtag == 22);
    CHECK(HttpHeaderLocation == 23);
    CHECK(HttpHeaderProxyAuthenticate == 24);
    CHECK(HttpHeaderRetryAfter == 25);
    CHECK(HttpHeaderServer == 26);
    CHECK(HttpHeaderSetCookie == 27);
    CHECK(HttpHeaderVary == 28);
    CHECK(HttpHeaderWwwAuthenticate == 29);
    CHECK(HttpHeaderResponseMaximum == 30);
    CHECK(HttpHeaderMaximum == 41);

    CHECK(HttpDataChunkFromMemory == 0);
    CHECK(HttpDataChunkFromFileHandle == 1);
    CHECK(HttpDataChunkFromFragmentCache == 2);
    CHECK(HttpDataChunkFromFragmentCacheEx == 3);
    CHECK(HttpDataChunkMaximum == 4);
  }

  SECTION("flags") {
    CHECK(HTTP_REQUEST_FLAG_MORE_ENTITY_BODY_EXISTS == 1);
    CHECK(HTTP_SEND_RESPONSE_FLAG_DISCONNECT == 1);
    CHECK(HTTP_SEND_RESPONSE_FLAG_MORE_DATA == 2);
    CHECK(HTTP_SEND_RESPONSE_FLAG_BUFFER_DATA == 4);
    CHECK(HTTP_BYTE_RANGE_TO_EOF == UINT64_MAX);
  }
}

TEST_CASE("iis: HTTP_DATA_CHUNK FromMemory round-trips", "[iis][layout]") {
  // ::HTTP_DATA_CHUNK is the type that <w3tp/httpserv.h> declares (IHttpServer::AddFragmentToCache takes one).
  CHECK(std::is_same_v<::HTTP_DATA_CHUNK, w3tp::HTTP_DATA_CHUNK>);
  CHECK(std::is_same_v<PHTTP_DATA_CHUNK, w3tp::HTTP_DATA_CHUNK*>);

  char body[] = "hello, world";
  HTTP_DATA_CHUNK chunk{};
  chunk.DataChunkType = HttpDataChunkFromMemory;
  chunk.FromMemory.pBuffer = body;
  chunk.FromMemory.BufferLength = static_cast<ULONG>(sizeof body - 1);

  const PHTTP_DATA_CHUNK p = &chunk;
  CHECK(p->DataChunkType == HttpDataChunkFromMemory);
  CHECK(p->FromMemory.pBuffer == static_cast<PVOID>(body));
  CHECK(p->FromMemory.BufferLength == 12u);
  CHECK(static_cast<const char*>(p->FromMemory.pBuffer)[7] == 'w');

  // The bytes sit where Windows x64 puts them: the type at 0, the pointer at 8, the length at 16.
  unsigned char raw[sizeof chunk];
  std::memcpy(raw, &chunk, sizeof chunk);
  HTTP_DATA_CHUNK_TYPE type{};
  PVOID pointer = nullptr;
  ULONG length = 0;
  std::memcpy(&type, raw + 0, sizeof type);
  std::memcpy(&pointer, raw + 8, sizeof pointer);
  std::memcpy(&length, raw + 16, sizeof length);
  CHECK(type == HttpDataChunkFromMemory);
  CHECK(pointer == static_cast<PVOID>(body));
  CHECK(length == 12u);

  // A response carries it as its entity body.
  HTTP_RESPONSE response{};
  response.StatusCode = 200;
  response.EntityChunkCount = 1;
  response.pEntityChunks = &chunk;
  CHECK(response.pEntityChunks->FromMemory.BufferLength == 12u);
  CHECK(response.pEntityChunks->FromMemory.pBuffer == static_cast<PVOID>(body));
}
