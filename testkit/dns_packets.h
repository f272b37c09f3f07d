// Crafted DNS messages (RFC 1035 wire format) for the datapath tests and
// benchmarks, composing with packets.h: e.g.
//   udpDatagram(40000, 53, dnsQuery(0x1234, "api.stripe.com"))
// Names are given as dotted text and written uncompressed; compression
// pointers, loops and other oddities are built byte by byte with dnsPointer
// and raw Bytes. Checksums: withChecksums() fills in the IPv4 header and
// UDP checksums of a frame, checksumsValid() checks them.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "packets.h"

namespace mbtest {

inline constexpr uint16_t kDnsA = 1, kDnsCname = 5, kDnsTxt = 16, kDnsAaaa = 28, kDnsOpt = 41;
inline constexpr uint16_t kRcodeNxdomain = 3, kRcodeRefused = 5;

// A name in labels, ending in the root label. "" and "." are the root.
inline Bytes dnsName(const std::string& dotted) {
  Bytes b;
  size_t start = 0;
  while (start < dotted.size()) {
    size_t dot = dotted.find('.', start);
    if (dot == std::string::npos) dot = dotted.size();
    size_t len = dot - start;
    if (len == 0 || len > 63) throw std::invalid_argument("bad DNS label in " + dotted);
    b.push_back(uint8_t(len));
    b.insert(b.end(), dotted.begin() + long(start), dotted.begin() + long(dot));
    start = dot + 1;
  }
  b.push_back(0);
  return b;
}

// A compression pointer to `offset` in the message.
inline Bytes dnsPointer(uint16_t offset) { return Bytes{uint8_t(0xc0 | (offset >> 8)), uint8_t(offset)}; }

// Labels followed by a pointer: "www" + pointer to a suffix elsewhere.
inline Bytes dnsNameThen(const std::string& dottedPrefix, const Bytes& pointer) {
  Bytes b = dnsName(dottedPrefix);
  b.pop_back();  // no root label: the pointer ends the name
  return b + pointer;
}

inline Bytes dnsHeader(uint16_t id, uint16_t flags, uint16_t qd, uint16_t an, uint16_t ns = 0,
                       uint16_t ar = 0) {
  Bytes b;
  put16(b, id);
  put16(b, flags);
  put16(b, qd);
  put16(b, an);
  put16(b, ns);
  put16(b, ar);
  return b;
}

inline Bytes dnsQuestion(const Bytes& name, uint16_t qtype = kDnsA, uint16_t qclass = 1) {
  Bytes b = name;
  put16(b, qtype);
  put16(b, qclass);
  return b;
}

// A resource record: owner (wire bytes, often a pointer), type, class, TTL, data.
inline Bytes dnsRecord(const Bytes& owner, uint16_t type, uint32_t ttl, const Bytes& rdata,
                       uint16_t rclass = 1) {
  Bytes b = owner;
  put16(b, type);
  put16(b, rclass);
  put32(b, ttl);
  put16(b, uint16_t(rdata.size()));
  return b + rdata;
}

inline Bytes dnsA(const Bytes& owner, const std::string& addr, uint32_t ttl = 300) {
  Addr a = Addr::parse(addr);
  if (a.family != 4) throw std::invalid_argument("A record needs IPv4: " + addr);
  return dnsRecord(owner, kDnsA, ttl, Bytes(a.bytes.begin(), a.bytes.begin() + 4));
}

inline Bytes dnsAaaa(const Bytes& owner, const std::string& addr, uint32_t ttl = 300) {
  Addr a = Addr::parse(addr);
  if (a.family != 6) throw std::invalid_argument("AAAA record needs IPv6: " + addr);
  return dnsRecord(owner, kDnsAaaa, ttl, Bytes(a.bytes.begin(), a.bytes.end()));
}

inline Bytes dnsCname(const Bytes& owner, const Bytes& target, uint32_t ttl = 300) {
  return dnsRecord(owner, kDnsCname, ttl, target);
}

// An EDNS0 OPT pseudo-record (RFC 6891): root owner, 1232-byte UDP size.
inline Bytes dnsOpt() { return dnsRecord(Bytes{0}, kDnsOpt, 0, Bytes{}, 1232); }

// The question of every message below starts at offset 12.
inline constexpr uint16_t kDnsQuestionAt = 12;

// A standard query (RD set) for `name`, with `additional` records (e.g. dnsOpt()).
inline Bytes dnsQuery(uint16_t id, const std::string& name, uint16_t qtype = kDnsA,
                      const std::vector<Bytes>& additional = {}) {
  Bytes b = dnsHeader(id, 0x0100, 1, 0, 0, uint16_t(additional.size())) + dnsQuestion(dnsName(name), qtype);
  for (const auto& r : additional) b = b + r;
  return b;
}

// A response (QR, RD, RA; `rcode`) to a question for `name`, with `answers`
// (ANCOUNT is their number unless `ancount` says otherwise) and `additional`.
inline Bytes dnsResponse(uint16_t id, const std::string& name, const std::vector<Bytes>& answers,
                         uint16_t rcode = 0, const std::vector<Bytes>& additional = {}, int ancount = -1,
                         uint16_t qtype = kDnsA) {
  Bytes b = dnsHeader(id, uint16_t(0x8180 | rcode), 1,
                      uint16_t(ancount >= 0 ? ancount : int(answers.size())), 0,
                      uint16_t(additional.size())) +
            dnsQuestion(dnsName(name), qtype);
  for (const auto& r : answers) b = b + r;
  for (const auto& r : additional) b = b + r;
  return b;
}

// DNS over TCP: the message after its two-byte length (RFC 7766).
inline Bytes dnsTcp(const Bytes& msg) {
  Bytes b;
  put16(b, uint16_t(msg.size()));
  return b + msg;
}

// A UDP datagram carrying `payload` (checksum 0: see withChecksums).
inline Bytes udpDatagram(uint16_t sport, uint16_t dport, const Bytes& payload) {
  Bytes b;
  put16(b, sport);
  put16(b, dport);
  put16(b, uint16_t(8 + payload.size()));
  put16(b, 0);
  return b + payload;
}

// ---- Checksums ----------------------------------------------------------------

inline uint32_t onesSum(const uint8_t* p, size_t n, uint32_t sum = 0) {
  for (size_t i = 0; i + 1 < n; i += 2) sum += uint32_t(p[i]) << 8 | p[i + 1];
  if (n & 1) sum += uint32_t(p[n - 1]) << 8;
  return sum;
}

inline uint16_t foldSum(uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return uint16_t(~sum);
}

// Where a frame's L4 header starts (no IPv6 extension headers), and its family.
inline size_t l4Offset(const Bytes& frame, int* family) {
  *family = (frame[14] >> 4) == 6 ? 6 : 4;
  return *family == 4 ? 14 + size_t(frame[14] & 0xf) * 4 : 14 + 40;
}

// The UDP checksum field's correct value for the frame's datagram.
inline uint16_t udpChecksum(const Bytes& frame) {
  int family = 4;
  size_t l4 = l4Offset(frame, &family);
  size_t ulen = size_t(frame[l4 + 4]) << 8 | frame[l4 + 5];
  uint32_t sum = 0;
  if (family == 4) {
    sum = onesSum(&frame[14 + 12], 8);  // source and destination
  } else {
    sum = onesSum(&frame[14 + 8], 32);
  }
  sum += 17 + uint32_t(ulen);
  Bytes udp(frame.begin() + long(l4), frame.begin() + long(l4 + ulen));
  udp[6] = udp[7] = 0;
  uint16_t c = foldSum(onesSum(udp.data(), udp.size(), sum));
  return c == 0 ? 0xffff : c;
}

inline uint16_t ipv4HeaderChecksum(const Bytes& frame) {
  Bytes h(frame.begin() + 14, frame.begin() + 14 + long(frame[14] & 0xf) * 4);
  h[10] = h[11] = 0;
  return foldSum(onesSum(h.data(), h.size()));
}

// Fills in a UDP frame's IPv4 header checksum and UDP checksum.
inline Bytes withChecksums(Bytes frame) {
  int family = 4;
  size_t l4 = l4Offset(frame, &family);
  if (family == 4) {
    uint16_t c = ipv4HeaderChecksum(frame);
    frame[14 + 10] = uint8_t(c >> 8);
    frame[14 + 11] = uint8_t(c);
  }
  uint16_t c = udpChecksum(frame);
  frame[l4 + 6] = uint8_t(c >> 8);
  frame[l4 + 7] = uint8_t(c);
  return frame;
}

inline bool checksumsValid(const Bytes& frame) {
  int family = 4;
  size_t l4 = l4Offset(frame, &family);
  if (family == 4 && ipv4HeaderChecksum(frame) != (uint16_t(frame[24]) << 8 | frame[25])) return false;
  return udpChecksum(frame) == (uint16_t(frame[l4 + 6]) << 8 | frame[l4 + 7]);
}

}  // namespace mbtest
