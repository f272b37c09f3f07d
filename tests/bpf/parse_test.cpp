// Parsing: malformed and truncated packets (fail closed where policy
// applies, open elsewhere), non-IP, IPv4 options, IPv6 extension headers,
// fragments.
#include <functional>

#include "fixture.h"

namespace mbtest {
namespace {

const Addr kWorld4 = Addr::parse("198.18.9.9"), kEp4 = Addr::parse("198.19.0.10");
const Addr kWorld6 = Addr::parse("2001:2:0:9::9"), kEp6 = Addr::parse("2001:2::10");

struct Malformed {
  const char* name;
  Bytes toEndpoint;    // from the world to the endpoint
  Bytes fromEndpoint;  // the same damage, sent by the endpoint
  // Whether the parser gets as far as the IP source address. If not, a
  // packet leaving the endpoint cannot be checked for spoofing and is
  // dropped even where egress is open.
  bool sourceRead;
};

// Each one is cut short or inconsistent at a different header. IP headers
// shorter than their fixed part cannot be tested: BPF_PROG_TEST_RUN (Linux
// 6.18) refuses frames with less than 20 (IPv4) or 40 (IPv6) bytes of L3
// with EINVAL. The parser handles them like every other short read.
std::vector<Malformed> malformedPackets() {
  Bytes t = tcp(40000, 80);
  Ipv4Opts badVersion;
  badVersion.version = 5;
  Ipv4Opts shortIhl;
  shortIhl.ihl = 4;
  Ipv4Opts longIhl;  // 60-byte header claimed, 20 present
  longIhl.ihl = 15;
  Ipv4Opts firstFragment;
  firstFragment.frag = 0x2000;
  // Built both ways: `make(src, dst)` for each family's pair.
  struct Maker {
    const char* name;
    int family;
    bool sourceRead;
    std::function<Bytes(const Addr&, const Addr&)> make;
  };
  const std::vector<Maker> makers = {
      {"ipv4_header_only", 4, true, [&](auto& s, auto& d) { return frame(kEthIp, cut(ipv4(s, d, kTcp, t), 20)); }},
      {"ipv4_bad_version", 4, false, [&](auto& s, auto& d) { return frame(kEthIp, ipv4(s, d, kTcp, t, badVersion)); }},
      {"ipv4_ihl_below_5", 4, false, [&](auto& s, auto& d) { return frame(kEthIp, ipv4(s, d, kTcp, t, shortIhl)); }},
      {"ipv4_options_past_end", 4, false,
       [&](auto& s, auto& d) { return frame(kEthIp, ipv4(s, d, kUdp, udp(1, 53, 0), longIhl)); }},
      {"ipv4_tcp_cut", 4, true, [&](auto& s, auto& d) { return frame(ipv4(s, d, kTcp, cut(t, 13))); }},
      {"ipv4_tcp_doff_below_5", 4, true,
       [&](auto& s, auto& d) { return frame(ipv4(s, d, kTcp, tcp(40000, 80, kSyn, 4))); }},
      {"ipv4_udp_cut", 4, true, [&](auto& s, auto& d) { return frame(ipv4(s, d, kUdp, cut(udp(1, 53), 6))); }},
      {"ipv4_sctp_cut", 4, true, [&](auto& s, auto& d) { return frame(ipv4(s, d, kSctp, cut(sctp(1, 3868), 8))); }},
      {"ipv4_icmp_cut", 4, true, [&](auto& s, auto& d) { return frame(ipv4(s, d, kIcmp, cut(icmp(8), 4))); }},
      {"ipv4_first_fragment_l4_cut", 4, true,
       [&](auto& s, auto& d) { return frame(ipv4(s, d, kTcp, cut(t, 8), firstFragment)); }},
      {"ipv6_in_ipv4_ethertype", 6, false, [&](auto& s, auto& d) { return frame(kEthIp, ipv6(s, d, kTcp, t)); }},
      {"ipv6_header_only", 6, true, [&](auto& s, auto& d) { return frame(cut(ipv6(s, d, kTcp, t), 40)); }},
      {"ipv4_in_ipv6_ethertype", 4, false, [&](auto& s, auto& d) { return frame(kEthIpv6, ipv4(s, d, kTcp, t)); }},
      {"ipv6_bad_version", 6, false, [&](auto& s, auto& d) { return frame(kEthIpv6, ipv6(s, d, kTcp, t, 4)); }},
      {"ipv6_ext_cut", 6, true,
       [&](auto& s, auto& d) { return frame(cut(ipv6(s, d, kHopByHop, ext6(kHopByHop, kTcp, t)), 41)); }},
      {"ipv6_ext_length_past_end", 6, true,
       [&](auto& s, auto& d) { return frame(ipv6(s, d, kHopByHop, cut(ext6(kHopByHop, kTcp, t, 4), 28))); }},
      {"ipv6_fragment_header_cut", 6, true,
       [&](auto& s, auto& d) { return frame(ipv6(s, d, kFragment, cut(frag6(kTcp, 0, true, 1, t), 4))); }},
      {"ipv6_tcp_cut", 6, true, [&](auto& s, auto& d) { return frame(ipv6(s, d, kTcp, cut(t, 19))); }},
      {"ipv6_udp_cut", 6, true, [&](auto& s, auto& d) { return frame(ipv6(s, d, kUdp, cut(udp(1, 53), 7))); }},
      {"ipv6_icmp_cut", 6, true, [&](auto& s, auto& d) { return frame(ipv6(s, d, kIcmp6, cut(icmp(128), 5))); }},
  };
  std::vector<Malformed> out;
  for (const auto& m : makers) {
    const Addr& world = m.family == 4 ? kWorld4 : kWorld6;
    const Addr& ep = m.family == 4 ? kEp4 : kEp6;
    out.push_back({m.name, m.make(world, ep), m.make(ep, world), m.sourceRead});
  }
  return out;
}

void PrintTo(const Malformed& m, std::ostream* os) { *os << m.name; }

class MalformedTest : public DatapathTest, public ::testing::WithParamInterface<Malformed> {};

TEST_P(MalformedTest, DroppedWhereEnforcedPassedWhereOpenIfItsSourceIsTheEndpoints) {
  for (Prog p : kAllProgs) {
    SCOPED_TRACE(progName(p));
    const bool leaving = progDirection(p) == MB_DIR_EGRESS;
    EXPECT_EQ(dp().passes(p, leaving ? GetParam().fromEndpoint : GetParam().toEndpoint),
              leaving && GetParam().sourceRead);
  }
  // Counted either way, so malformed traffic shows on open directions too.
  EXPECT_EQ(dp().reason(MB_REASON_UNPARSEABLE), 4u);
  EXPECT_EQ(dp().reason(MB_REASON_SPOOFED), 0u);
  EXPECT_EQ(dp().decideCalls(MB_DIR_INGRESS) + dp().decideCalls(MB_DIR_EGRESS), 0u);
  EXPECT_EQ(dp().ctSize(), 0u);
}

TEST_P(MalformedTest, DroppedOnEnforcedEgress) {
  load(Options{.egress_enforced = true});
  EXPECT_FALSE(dp().passes(Prog::TcFromEndpoint, GetParam().fromEndpoint));
  EXPECT_FALSE(dp().passes(Prog::CgroupEgress, GetParam().fromEndpoint));
  EXPECT_EQ(dp().reason(MB_REASON_UNPARSEABLE), 2u);
}

TEST_P(MalformedTest, LeavingTheEndpointWithAnotherSourceIsSpoofed) {
  for (Prog p : {Prog::TcFromEndpoint, Prog::CgroupEgress}) EXPECT_FALSE(dp().passes(p, GetParam().toEndpoint));
  EXPECT_EQ(dp().reason(GetParam().sourceRead ? MB_REASON_SPOOFED : MB_REASON_UNPARSEABLE), 2u);
}

INSTANTIATE_TEST_SUITE_P(All, MalformedTest, ::testing::ValuesIn(malformedPackets()),
                         [](const auto& tp) { return std::string(tp.param.name); });

using ParseTest = DatapathTest;

TEST_F(ParseTest, NonIpIsDroppedWhereEnforcedAndWhenLeavingTheEndpoint) {
  // Arriving: open directions pass what they cannot classify. Leaving: no
  // source address can be checked, so it never leaves.
  Bytes lldp = frame(kEthLldp, Bytes(46, 0x02));
  EXPECT_FALSE(dp().passes(Prog::TcToEndpoint, lldp));
  EXPECT_FALSE(dp().passes(Prog::TcFromEndpoint, lldp));
  EXPECT_FALSE(dp().passes(Prog::CgroupEgress, lldp));
  EXPECT_EQ(dp().reason(MB_REASON_UNKNOWN_L3), 3u);
  EXPECT_EQ(dp().reason(MB_REASON_SPOOFED), 0u);
}

TEST_F(ParseTest, Ipv4OptionsAreSkipped) {
  const Addr frontend = Addr::parse(net(4).frontend);
  for (size_t words : {1, 2, 10}) {  // ihl 6, 7 and 15
    SCOPED_TRACE(words);
    Ipv4Opts o;
    o.options = Bytes(words * 4, 0x01);  // NOPs
    o.options[0] = 0x94;                 // router alert, 4 bytes
    o.options[1] = 4;
    for (Prog p : {Prog::TcToEndpoint, Prog::CgroupIngress}) {
      uint16_t sport = uint16_t(40000 + words * 10 + (p == Prog::TcToEndpoint));
      Bytes allowed = frame(ipv4(frontend, kEp4, kTcp, tcp(sport, 80), o));
      Bytes denied = frame(ipv4(frontend, kEp4, kTcp, tcp(sport, 22), o));
      EXPECT_TRUE(dp().passes(p, allowed)) << progName(p);
      EXPECT_FALSE(dp().passes(p, denied)) << progName(p);
      EXPECT_TRUE(dp().ct(ctKey(net(4).frontend, sport, net(4).endpoint, 80, kTcp)).has_value());
    }
  }
  EXPECT_EQ(dp().reason(MB_REASON_UNPARSEABLE), 0u);
}

// Extension header chains of 1..4 in front of tcp/80 from the frontend.
Bytes chain(int count, const Bytes& l4, uint8_t l4proto, uint8_t* first) {
  const uint8_t order[] = {kHopByHop, kDstOpts, kRouting, kAh, kDstOpts};
  Bytes payload = l4;
  uint8_t next = l4proto;
  for (int i = count - 1; i >= 0; i--) {
    uint8_t type = order[i];
    payload = ext6(type, next, payload, type == kAh ? 4 : uint8_t(i % 2));
    next = type;
  }
  *first = next;
  return payload;
}

TEST_F(ParseTest, Ipv6UpToFourExtensionHeadersAreWalked) {
  const Addr frontend = Addr::parse(net(6).frontend);
  for (int count = 1; count <= 4; count++) {
    for (Prog p : {Prog::TcToEndpoint, Prog::CgroupIngress}) {
      SCOPED_TRACE(std::to_string(count) + " headers, " + progName(p));
      uint16_t sport = uint16_t(40000 + count * 10 + (p == Prog::TcToEndpoint));
      uint8_t first;
      Bytes allowed = chain(count, tcp(sport, 80), kTcp, &first);
      EXPECT_TRUE(dp().passes(p, frame(ipv6(frontend, kEp6, first, allowed))));
      Bytes denied = chain(count, tcp(sport, 22), kTcp, &first);
      EXPECT_FALSE(dp().passes(p, frame(ipv6(frontend, kEp6, first, denied))));
    }
  }
  EXPECT_EQ(dp().reason(MB_REASON_ALLOWED_NEW), 8u);
  EXPECT_EQ(dp().reason(MB_REASON_DENIED_DEFAULT), 8u);
}

TEST_F(ParseTest, Ipv6EachExtensionHeaderType) {
  const Addr frontend = Addr::parse(net(6).frontend);
  struct Case {
    const char* name;
    uint8_t first;
    Bytes payload;
  };
  const std::vector<Case> cases = {
      {"hop-by-hop", kHopByHop, ext6(kHopByHop, kTcp, tcp(40001, 80))},
      {"routing", kRouting, ext6(kRouting, kTcp, tcp(40002, 80), 2)},
      {"destination options", kDstOpts, ext6(kDstOpts, kTcp, tcp(40003, 80), 1)},
      {"AH", kAh, ext6(kAh, kTcp, tcp(40004, 80), 4)},
      {"atomic fragment", kFragment, frag6(kTcp, 0, false, 99, tcp(40005, 80))},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_TRUE(dp().passes(Prog::TcToEndpoint, frame(ipv6(frontend, kEp6, c.first, c.payload))));
  }
  EXPECT_EQ(dp().reason(MB_REASON_ALLOWED_NEW), cases.size());
  EXPECT_EQ(dp().fragmentsSize(), 0u);  // an atomic fragment is not remembered
}

TEST_F(ParseTest, Ipv6FiveExtensionHeadersAreTooMany) {
  const Addr frontend = Addr::parse(net(6).frontend);
  uint8_t first;
  Bytes chained = chain(5, tcp(40000, 80), kTcp, &first);
  Bytes five = frame(ipv6(frontend, kEp6, first, chained));
  Bytes fiveOut = frame(ipv6(kEp6, frontend, first, chained));
  for (Prog p : kAllProgs) {
    SCOPED_TRACE(progName(p));
    const bool leaving = progDirection(p) == MB_DIR_EGRESS;
    EXPECT_EQ(dp().passes(p, leaving ? fiveOut : five), leaving);
  }
  EXPECT_EQ(dp().reason(MB_REASON_IPV6_EXT), 4u);
  EXPECT_EQ(dp().ctSize(), 0u);
}

TEST_F(ParseTest, Ipv6UnsupportedExtensionHeader) {
  const Addr frontend = Addr::parse(net(6).frontend);
  Bytes mobility = frame(ipv6(frontend, kEp6, kMobility, ext6(kDstOpts, 59, {})));
  Bytes behind = frame(ipv6(frontend, kEp6, kHopByHop, ext6(kHopByHop, kMobility, Bytes(8, 0))));
  Bytes mobilityOut = frame(ipv6(kEp6, frontend, kMobility, ext6(kDstOpts, 59, {})));
  EXPECT_FALSE(dp().passes(Prog::TcToEndpoint, mobility));
  EXPECT_FALSE(dp().passes(Prog::CgroupIngress, behind));
  EXPECT_TRUE(dp().passes(Prog::TcFromEndpoint, mobilityOut));
  EXPECT_EQ(dp().reason(MB_REASON_IPV6_EXT), 3u);
}

// ---- Fragments ----------------------------------------------------------

class FragmentTest : public FamilyHookTest {
 protected:
  // The first fragment carries the L4 header, the later one only data.
  Bytes first(const std::string& src, const std::string& dst, uint16_t sport, uint16_t dport,
              uint32_t id) const {
    Bytes l4 = tcp(sport, dport, kAck) + Bytes(32, 0x61);
    Addr s = Addr::parse(src), d = Addr::parse(dst);
    if (family() == 4) {
      Ipv4Opts o;
      o.id = uint16_t(id);
      o.frag = 0x2000;  // MF, offset 0
      return frame(ipv4(s, d, kTcp, l4, o));
    }
    return frame(ipv6(s, d, kFragment, frag6(kTcp, 0, true, id, l4)));
  }
  Bytes later(const std::string& src, const std::string& dst, uint32_t id) const {
    Bytes data(24, 0x62);
    Addr s = Addr::parse(src), d = Addr::parse(dst);
    if (family() == 4) {
      Ipv4Opts o;
      o.id = uint16_t(id);
      o.frag = 52 / 8;  // offset in 8-byte units, last fragment
      return frame(ipv4(s, d, kTcp, data, o));
    }
    return frame(ipv6(s, d, kFragment, frag6(kTcp, 52 / 8, false, id, data)));
  }
};

TEST_P(FragmentTest, LaterFragmentFollowsTheFirst) {
  EXPECT_TRUE(dp().passes(in(), first(n().frontend, n().endpoint, 40000, 80, 0x1234)));
  EXPECT_EQ(dp().fragmentsSize(), 1u);
  EXPECT_TRUE(dp().passes(in(), later(n().frontend, n().endpoint, 0x1234)));
  EXPECT_EQ(dp().reason(MB_REASON_ALLOWED_NEW), 1u);
  EXPECT_EQ(dp().reason(MB_REASON_ESTABLISHED), 1u);
  EXPECT_EQ(dp().reason(MB_REASON_FRAGMENT), 0u);
  EXPECT_EQ(dp().ct(ctKey(n().frontend, 40000, n().endpoint, 80, kTcp))->packets, 2u);
}

TEST_P(FragmentTest, LaterFragmentWithoutFirstIsDroppedWhereEnforced) {
  EXPECT_FALSE(dp().passes(in(), later(n().frontend, n().endpoint, 0x1234)));
  EXPECT_TRUE(dp().passes(out(), later(n().endpoint, n().world, 0x1234)));
  EXPECT_EQ(dp().reason(MB_REASON_FRAGMENT), 2u);
  // Another datagram's first fragment does not help.
  EXPECT_TRUE(dp().passes(in(), first(n().frontend, n().endpoint, 40000, 80, 0x1111)));
  EXPECT_FALSE(dp().passes(in(), later(n().frontend, n().endpoint, 0x1234)));
  EXPECT_FALSE(dp().passes(in(), later(n().frontend2, n().endpoint, 0x1111)));
  EXPECT_EQ(dp().reason(MB_REASON_FRAGMENT), 4u);
}

TEST_P(FragmentTest, LaterFragmentOfDeniedDatagramIsDenied) {
  EXPECT_FALSE(dp().passes(in(), first(n().world, n().endpoint, 40000, 80, 0x2222)));
  EXPECT_FALSE(dp().passes(in(), later(n().world, n().endpoint, 0x2222)));
  // Decided by policy with the first fragment's ports, not as an orphan.
  EXPECT_EQ(dp().reason(MB_REASON_DENIED_DEFAULT), 2u);
  EXPECT_EQ(dp().reason(MB_REASON_FRAGMENT), 0u);
}

TEST_P(FragmentTest, FragmentedReplyPasses) {
  EXPECT_TRUE(dp().passes(out(), pkt(n().endpoint, n().world, kTcp, tcp(40000, 443))));
  EXPECT_TRUE(dp().passes(in(), first(n().world, n().endpoint, 443, 40000, 7)));
  EXPECT_TRUE(dp().passes(in(), later(n().world, n().endpoint, 7)));
  EXPECT_EQ(dp().reason(MB_REASON_REPLY), 2u);
}

MB_INSTANTIATE_FAMILY_HOOK(FragmentTest);

TEST_F(ParseTest, Ipv6FragmentBehindMoreHeaders) {
  // hop-by-hop, fragment, destination options, tcp: the later fragment's
  // fragment header names destination options, the first one's L4 is tcp.
  const Addr frontend = Addr::parse(net(6).frontend);
  Bytes l4 = tcp(40000, 80, kAck) + Bytes(16, 0);
  Bytes firstFrag = frame(ipv6(
      frontend, kEp6, kHopByHop,
      ext6(kHopByHop, kFragment, frag6(kDstOpts, 0, true, 0xabcd, ext6(kDstOpts, kTcp, l4)))));
  Bytes laterFrag = frame(ipv6(frontend, kEp6, kHopByHop,
                               ext6(kHopByHop, kFragment, frag6(kDstOpts, 6, false, 0xabcd,
                                                                Bytes(16, 0)))));
  EXPECT_TRUE(dp().passes(Prog::TcToEndpoint, firstFrag));
  EXPECT_TRUE(dp().passes(Prog::TcToEndpoint, laterFrag));
  EXPECT_EQ(dp().reason(MB_REASON_ESTABLISHED), 1u);
}

}  // namespace
}  // namespace mbtest
