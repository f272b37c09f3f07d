// See probe_packets.h.
#include "verify/probe_packets.h"

#include <algorithm>
#include <cstring>

namespace membrane::verify {

namespace {

void put16(std::vector<uint8_t>& b, uint16_t v) {
  b.push_back(static_cast<uint8_t>(v >> 8));
  b.push_back(static_cast<uint8_t>(v));
}

bool isIcmpOf(net::Family f, uint8_t protocol) { return protocol == (f == net::Family::V4 ? 1 : 58); }

}  // namespace

uint8_t echoReplyType(net::Family f) { return f == net::Family::V4 ? 0 : 129; }

bool isEchoRequest(net::Family f, uint8_t protocol, uint16_t type) {
  return isIcmpOf(f, protocol) && type == (f == net::Family::V4 ? 8 : 128);
}

mb_ct_key flowKey(const ProbeTuple& t, uint32_t endpoint) {
  mb_ct_key k{};
  const bool v4 = t.src.family == net::Family::V4;
  std::copy(t.src.bytes.begin(), t.src.bytes.begin() + (v4 ? 4 : 16), k.saddr);
  std::copy(t.dst.bytes.begin(), t.dst.bytes.begin() + (v4 ? 4 : 16), k.daddr);
  auto network = [](uint16_t v) {
    uint8_t b[2] = {static_cast<uint8_t>(v >> 8), static_cast<uint8_t>(v)};
    uint16_t out;
    std::memcpy(&out, b, 2);
    return out;
  };
  if (t.protocol == 6 || t.protocol == 17 || t.protocol == 132) {
    k.sport = network(t.sport);
    k.dport = network(t.dport);
  } else if (isIcmpOf(t.src.family, t.protocol) &&
             (isEchoRequest(t.src.family, t.protocol, t.dport) || t.dport == echoReplyType(t.src.family))) {
    k.sport = network(t.sport);  // the echo id
  }
  k.proto = t.protocol;
  k.family = v4 ? MB_FAMILY_V4 : MB_FAMILY_V6;
  k.endpoint = endpoint;
  return k;
}

std::vector<uint8_t> probeFrame(const ProbeTuple& t) {
  const bool v4 = t.src.family == net::Family::V4;
  std::vector<uint8_t> l4;
  if (t.protocol == 6) {  // TCP: a SYN (or SYN-ACK), 20 bytes
    put16(l4, t.sport);
    put16(l4, t.dport);
    l4.insert(l4.end(), {0, 0, 0x03, 0xe8});                          // seq
    l4.insert(l4.end(), {0, 0, 0, static_cast<uint8_t>(t.reply ? 1 : 0)});  // ack
    l4.push_back(5 << 4);
    l4.push_back(t.reply ? 0x12 : 0x02);
    l4.insert(l4.end(), {0xff, 0xff, 0, 0, 0, 0});  // window, checksum, urgent
  } else if (t.protocol == 17) {  // UDP with 4 bytes of payload
    put16(l4, t.sport);
    put16(l4, t.dport);
    put16(l4, 12);
    l4.insert(l4.end(), {0, 0, 0x6d, 0x62, 0x76, 0x66});
  } else if (t.protocol == 132) {  // SCTP common header
    put16(l4, t.sport);
    put16(l4, t.dport);
    l4.insert(l4.end(), {0x12, 0x34, 0x56, 0x78, 0, 0, 0, 0});
  } else if (isIcmpOf(t.src.family, t.protocol)) {
    // type, code, checksum, id, sequence, then 8 bytes that quote nothing
    // usable (so an error type is decided as a new flow).
    l4 = {static_cast<uint8_t>(t.dport), 0, 0, 0};
    put16(l4, t.sport);
    put16(l4, 1);
    l4.insert(l4.end(), 8, 0);
  } else {
    l4.assign(8, 0x5a);
  }

  std::vector<uint8_t> frame = {0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01};
  put16(frame, v4 ? 0x0800 : 0x86dd);
  if (v4) {
    frame.insert(frame.end(), {0x45, 0});
    put16(frame, static_cast<uint16_t>(20 + l4.size()));
    frame.insert(frame.end(), {0x42, 0x42, 0, 0, 64, t.protocol, 0, 0});
    frame.insert(frame.end(), t.src.bytes.begin(), t.src.bytes.begin() + 4);
    frame.insert(frame.end(), t.dst.bytes.begin(), t.dst.bytes.begin() + 4);
  } else {
    frame.insert(frame.end(), {0x60, 0, 0, 0});
    put16(frame, static_cast<uint16_t>(l4.size()));
    frame.push_back(t.protocol);
    frame.push_back(64);
    frame.insert(frame.end(), t.src.bytes.begin(), t.src.bytes.end());
    frame.insert(frame.end(), t.dst.bytes.begin(), t.dst.bytes.end());
  }
  frame.insert(frame.end(), l4.begin(), l4.end());
  return frame;
}

}  // namespace membrane::verify
