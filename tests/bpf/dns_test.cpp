// DNS in the datapath (docs/dns.md, bpf-templates/lib/dns*.h): queries read
// and decided by name at egress, responses learned from at ingress, REFUSED
// answers written by the datapath, learned names reaching the decision.
//
// The stub policy (decide_stub.c), egress enforced, DNS features on:
//   rule 12  udp/53, tcp/53 to the resolver (frontend, bit 0) with
//            dns { "*.example.com", "api.stripe.com" }
//   rule 13  tcp/443 to dns "api.stripe.com"
//   rule 14  tcp/80 to dns "*.example.com"
// Learned addresses are "world" (not in the identity trie), so only the
// names learned for them can let a connection through.
#include <arpa/inet.h>

#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "dns_packets.h"
#include "fixture.h"

namespace mbtest {
namespace {

constexpr int kTcRedirect = 7;  // TC_ACT_REDIRECT
constexpr uint32_t kAllDns = MB_DNS_F_QUERIES | MB_DNS_F_NAMES;

class DnsTest : public FamilyHookTest {
 protected:
  void SetUp() override {
    MB_REQUIRE_BPF();
    loadDns();
  }

  void loadDns(uint32_t events = 0) {
    load(Options{.events = events, .egress_enforced = true, .dns_features = kAllDns});
  }

  const std::string& resolver() const { return n().frontend; }
  // An address of this family that only DNS can make reachable.
  std::string learnedAddr(int k = 1) const {
    return family() == 4 ? "198.18.5." + std::to_string(k) : "2001:2:0:5::" + std::to_string(k);
  }
  static std::string v4(int k) { return "198.18.5." + std::to_string(k); }
  static std::string v6(int k) { return "2001:2:0:5::" + std::to_string(k); }

  Bytes udpQuery(const Bytes& msg, uint16_t sport = 40000) const {
    return withChecksums(frame(ip(Addr::parse(n().endpoint), Addr::parse(resolver()), kUdp,
                                  udpDatagram(sport, 53, msg))));
  }
  Bytes udpResponse(const Bytes& msg, uint16_t dport = 40000, const std::string& from = "") const {
    return frame(ip(Addr::parse(from.empty() ? resolver() : from), Addr::parse(n().endpoint), kUdp,
                    udpDatagram(53, dport, msg)));
  }

  bool ask(uint16_t id, const std::string& name, uint16_t sport = 40000) {
    return dp().passes(out(), udpQuery(dnsQuery(id, name), sport));
  }
  bool answer(const Bytes& msg, uint16_t dport = 40000) { return dp().passes(in(), udpResponse(msg, dport)); }

  // The live names learned for `addr` (this endpoint).
  std::set<std::string> namesFor(const std::string& addr) {
    std::set<std::string> names;
    auto v = dp().learned(addr);
    if (!v) return names;
    uint64_t now = monotonicNs();
    for (const auto& slot : v->slot)
      if (slot.expires_ns > now) names.insert(slot.name);
    return names;
  }

  bool connects(const std::string& addr, uint16_t port) {
    static uint16_t sport = 42000;
    return dp().passes(out(), pkt(n().endpoint, addr, kTcp, tcp(sport++, port)));
  }
};

TEST_P(DnsTest, QueryAllowedByNameIsRecordedAndItsResponseTeachesItsAAndAaaaAnswers) {
  EXPECT_FALSE(connects(learnedAddr(), 443)) << "nothing learned yet";
  ASSERT_TRUE(ask(0x1234, "API.Stripe.com"));
  auto pending = dp().pending();
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_STREQ(pending[0].second.name, "api.stripe.com");
  EXPECT_EQ(pending[0].second.rule_id, 12u);
  EXPECT_EQ(dp().dnsStat(MB_DNS_STAT_QUERY), 1u);
  EXPECT_EQ(dp().dnsStat(MB_DNS_STAT_RECORDED), 1u);

  uint64_t before = monotonicNs();
  Bytes owner = dnsPointer(kDnsQuestionAt);
  // The resolver echoes the question in another case (DNS 0x20): still the same name.
  ASSERT_TRUE(answer(dnsResponse(0x1234, "api.STRIPE.com", {dnsA(owner, v4(1), 300), dnsAaaa(owner, v6(1), 600)})));
  EXPECT_TRUE(dp().pending().empty()) << "a response is used once";
  EXPECT_EQ(dp().dnsStat(MB_DNS_STAT_LEARNED), 1u);
  EXPECT_EQ(dp().dnsStat(MB_DNS_STAT_ADDRESSES), 2u);
  for (auto [addr, ttl] : {std::pair{v4(1), 300ull}, std::pair{v6(1), 600ull}}) {
    SCOPED_TRACE(addr);
    auto v = dp().learned(addr);
    ASSERT_TRUE(v);
    EXPECT_STREQ(v->slot[0].name, "api.stripe.com");
    EXPECT_GE(v->slot[0].expires_ns, before + ttl * 1000000000ull);
    EXPECT_LE(v->slot[0].expires_ns, monotonicNs() + ttl * 1000000000ull);
    EXPECT_EQ(v->slot[1].expires_ns, 0u);
  }
  // The learned name reaches the decision: rule 13, by name only.
  EXPECT_TRUE(connects(learnedAddr(), 443));
  EXPECT_EQ(dp().rule(13).packets, 1u);
  EXPECT_FALSE(connects(learnedAddr(), 80)) << "api.stripe.com is not *.example.com";
  EXPECT_FALSE(connects(learnedAddr(2), 443)) << "an address no answer gave";
}

TEST_P(DnsTest, EveryQueryIsDecidedByItsNameEvenOnATrackedFlow) {
  ASSERT_TRUE(ask(1, "www.example.com"));
  // Same socket, same resolver: conntrack knows the flow, the name decides.
  int pass = hook() == Hook::Tc ? 0 : 1;
  EXPECT_NE(dp().run(out(), udpQuery(dnsQuery(2, "www.evil.org"))), pass);
  EXPECT_EQ(dp().pending().size(), 1u);
  EXPECT_TRUE(ask(4, "api.stripe.com"));
  EXPECT_EQ(dp().pending().size(), 2u);
}

// The refused query, parsed back: a well-formed response to it.
void expectRefusedReplyTo(const Bytes& query, const RunResult& r, int family) {
  ASSERT_EQ(r.retval, kTcRedirect);
  const Bytes& out = r.out;
  int fam = 0;
  size_t l4 = l4Offset(query, &fam);
  ASSERT_EQ(fam, family);
  // Ethernet, IP addresses and ports: back where the query came from.
  EXPECT_EQ(Bytes(out.begin(), out.begin() + 6), Bytes(query.begin() + 6, query.begin() + 12));
  EXPECT_EQ(Bytes(out.begin() + 6, out.begin() + 12), Bytes(query.begin(), query.begin() + 6));
  size_t a = family == 4 ? 14 + 12 : 14 + 8, alen = family == 4 ? 4 : 16;
  EXPECT_EQ(Bytes(out.begin() + long(a), out.begin() + long(a + alen)),
            Bytes(query.begin() + long(a + alen), query.begin() + long(a + 2 * alen)));
  EXPECT_EQ(Bytes(out.begin() + long(a + alen), out.begin() + long(a + 2 * alen)),
            Bytes(query.begin() + long(a), query.begin() + long(a + alen)));
  EXPECT_EQ(out[l4], query[l4 + 2]);
  EXPECT_EQ(out[l4 + 1], query[l4 + 3]);
  EXPECT_EQ(out[l4 + 2], query[l4]);
  EXPECT_EQ(out[l4 + 3], query[l4 + 1]);
  // DNS: same id, QR, opcode and RD kept, RCODE REFUSED, only the question.
  size_t m = l4 + 8;
  const uint8_t* q = &query[m];
  const uint8_t* d = &out[m];
  EXPECT_EQ(d[0], q[0]);
  EXPECT_EQ(d[1], q[1]);
  uint16_t flags = uint16_t(d[2] << 8 | d[3]);
  EXPECT_TRUE(flags & 0x8000) << "QR";
  EXPECT_EQ(flags & 0x7800, (q[2] << 8 | q[3]) & 0x7800) << "opcode";
  EXPECT_EQ(flags & 0x0100, 0x0100) << "RD kept";
  EXPECT_EQ(flags & 0x000f, kRcodeRefused);
  EXPECT_EQ(d[4] << 8 | d[5], 1) << "QDCOUNT";
  for (int i = 6; i < 12; i++) EXPECT_EQ(d[i], 0) << "count byte " << i;
  // The question as sent, and nothing after it.
  size_t qlen = 0;
  while (q[12 + qlen]) qlen += q[12 + qlen] + 1;
  qlen += 1 + 4;
  ASSERT_EQ(out.size(), m + 12 + qlen);
  EXPECT_EQ(Bytes(out.begin() + long(m + 12), out.end()),
            Bytes(query.begin() + long(m + 12), query.begin() + long(m + 12 + qlen)));
  // Lengths and checksums.
  EXPECT_EQ(size_t(out[l4 + 4] << 8 | out[l4 + 5]), 8 + 12 + qlen);
  if (family == 4)
    EXPECT_EQ(size_t(out[16] << 8 | out[17]), out.size() - 14);
  else
    EXPECT_EQ(size_t(out[18] << 8 | out[19]), out.size() - 54);
  EXPECT_TRUE(checksumsValid(out)) << "UDP checksum " << std::hex << (out[l4 + 6] << 8 | out[l4 + 7]) << " want "
                                   << udpChecksum(out) << "; query's " << (query[l4 + 6] << 8 | query[l4 + 7])
                                   << " valid " << checksumsValid(query);
}

TEST_P(DnsTest, NameNoRuleAllowsIsAnsweredRefusedAndSentBackIntoTheEndpoint) {
  loadDns(1u << MB_EVENT_DNS_REFUSED | 1u << MB_EVENT_DENY);
  // With EDNS0 (cut off in the reply), and a name only the reply's case keeps.
  Bytes query = udpQuery(dnsQuery(0xbeef, "Www.Evil.ORG", kDnsAaaa, {dnsOpt()}), 40123);
  if (hook() == Hook::Cgroup) {
    // cgroup_skb cannot send a packet back: the query is dropped.
    EXPECT_FALSE(dp().passes(out(), query));
    EXPECT_EQ(dp().reason(MB_REASON_DNS_REFUSED), 0u);
    EXPECT_EQ(dp().reason(MB_REASON_DENIED_DEFAULT), 1u);
    return;
  }
  RunResult r = dp().runOut(out(), query);
  {
    SCOPED_TRACE("with EDNS0");
    expectRefusedReplyTo(query, r, family());
  }
  EXPECT_EQ(dp().reason(MB_REASON_DNS_REFUSED), 1u);
  EXPECT_EQ(dp().reason(MB_REASON_DENIED_DEFAULT), 0u);
  EXPECT_TRUE(dp().pending().empty());
  auto events = dp().events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, MB_EVENT_DNS_REFUSED);
  EXPECT_EQ(events[0].rule_id, 0u);
  EXPECT_EQ(events[0].dport, 53);

  // Sent back out of the veth, the answer crosses the endpoint's ingress
  // program: it passes as the reply of the query's flow, and is not taken
  // for an unsolicited response.
  EXPECT_TRUE(dp().passes(in(), r.out));
  EXPECT_EQ(dp().reason(MB_REASON_REPLY), 1u);
  EXPECT_EQ(dp().dnsStat(MB_DNS_STAT_UNSOLICITED), 0u);

  // Without options after the question, nothing is cut.
  SCOPED_TRACE("without");
  Bytes plain = udpQuery(dnsQuery(7, "evil.org"));
  expectRefusedReplyTo(plain, dp().runOut(out(), plain), family());
}

TEST_P(DnsTest, Ipv6QueryWithExtensionHeadersIsDroppedNotRefused) {
  if (family() != 6 || hook() != Hook::Tc)
    return;  // only IPv6 has such headers, only tc answers REFUSED
  Bytes udp = udpDatagram(40000, 53, dnsQuery(1, "evil.org"));
  Bytes l3 = ipv6(Addr::parse(n().endpoint), Addr::parse(resolver()), kDstOpts, ext6(kDstOpts, kUdp, udp));
  EXPECT_FALSE(dp().passes(out(), frame(l3)));
  EXPECT_EQ(dp().reason(MB_REASON_DNS_REFUSED), 0u);
  EXPECT_EQ(dp().reason(MB_REASON_DENIED_DEFAULT), 1u);
}

TEST_P(DnsTest, QueryToAResolverNoRuleAllowsIsDroppedNotRefused) {
  // The world resolver: no name would help, so no REFUSED.
  Bytes query = withChecksums(
      frame(ip(Addr::parse(n().endpoint), Addr::parse(n().world), kUdp, udpDatagram(40000, 53, dnsQuery(1, "evil.org")))));
  EXPECT_FALSE(dp().passes(out(), query));
  EXPECT_EQ(dp().reason(MB_REASON_DNS_REFUSED), 0u);
  EXPECT_EQ(dp().reason(MB_REASON_DENIED_DEFAULT), 1u);
}

TEST_P(DnsTest, UnreadableQueriesOnADnsPortAreDenied) {
  Bytes twoQuestions = dnsHeader(1, 0x0100, 2, 0) + dnsQuestion(dnsName("a.example.com")) +
                       dnsQuestion(dnsName("b.example.com"));
  Bytes loop = dnsHeader(2, 0x0100, 1, 0) + dnsQuestion(dnsNameThen("a", dnsPointer(12)));
  Bytes response = dnsResponse(3, "a.example.com", {});
  Bytes update = dnsHeader(4, 0x2800, 1, 0) + dnsQuestion(dnsName("a.example.com"));  // opcode UPDATE
  Bytes truncated = cut(dnsQuery(5, "a.example.com"), 20);
  Bytes dotInLabel = dnsHeader(6, 0x0100, 1, 0) + dnsQuestion(Bytes{3, 'a', '.', 'b'} + dnsName("example.com"));
  Bytes nulInLabel = dnsHeader(6, 0x0100, 1, 0) + dnsQuestion(Bytes{1, 0} + dnsName("example.com"));
  int k = 0;
  for (const Bytes& msg : {Bytes(5, 0xab), twoQuestions, loop, response, update, truncated, dotInLabel, nulInLabel}) {
    SCOPED_TRACE(k++);
    EXPECT_FALSE(dp().passes(out(), udpQuery(msg, uint16_t(40000 + k))));
  }
  EXPECT_EQ(dp().dnsStat(MB_DNS_STAT_QUERY_UNREADABLE), uint64_t(k));
  EXPECT_EQ(dp().reason(MB_REASON_DNS_REFUSED), 0u);
  EXPECT_EQ(dp().reason(MB_REASON_DENIED_DEFAULT), uint64_t(k));
  EXPECT_TRUE(dp().pending().empty());
}

TEST_P(DnsTest, ForgedResponsesTeachNothing) {
  ASSERT_TRUE(ask(0x1111, "api.stripe.com"));
  Bytes owner = dnsPointer(kDnsQuestionAt);
  auto teach = [&](uint16_t id, const std::string& name) {
    return dnsResponse(id, name, {dnsA(owner, v4(9)), dnsAaaa(owner, v6(9))});
  };
  dp().passes(in(), udpResponse(teach(0x1112, "api.stripe.com")));              // wrong id
  dp().passes(in(), udpResponse(teach(0x1111, "api.stripe.com"), 40001));       // wrong port
  dp().passes(in(), udpResponse(teach(0x1111, "www.example.com")));             // wrong question
  dp().passes(in(), udpResponse(teach(0x1111, "api.stripe.com"), 40000, n().frontend2));  // another resolver
  EXPECT_EQ(dp().dnsStat(MB_DNS_STAT_UNSOLICITED), 4u);
  EXPECT_EQ(dp().learnedSize(), 0u);
  EXPECT_FALSE(connects(learnedAddr(9), 443));
  // The real answer still teaches: forgeries did not use the record up.
  EXPECT_TRUE(answer(teach(0x1111, "api.stripe.com")));
  EXPECT_TRUE(connects(learnedAddr(9), 443));
}

TEST_P(DnsTest, ResponseToNoQueryTeachesNothing) {
  Bytes owner = dnsPointer(kDnsQuestionAt);
  dp().passes(in(), udpResponse(dnsResponse(1, "api.stripe.com", {dnsA(owner, v4(1)), dnsAaaa(owner, v6(1))})));
  EXPECT_EQ(dp().dnsStat(MB_DNS_STAT_UNSOLICITED), 1u);
  EXPECT_EQ(dp().learnedSize(), 0u);
}

TEST_P(DnsTest, ResponseIsUsedOnce) {
  Bytes owner = dnsPointer(kDnsQuestionAt);
  ASSERT_TRUE(ask(5, "api.stripe.com"));
  EXPECT_TRUE(answer(dnsResponse(5, "api.stripe.com", {dnsA(owner, v4(1)), dnsAaaa(owner, v6(1))})));
  answer(dnsResponse(5, "api.stripe.com", {dnsA(owner, v4(2)), dnsAaaa(owner, v6(2))}));
  EXPECT_EQ(dp().learnedSize(), 2u);
  EXPECT_EQ(dp().dnsStat(MB_DNS_STAT_UNSOLICITED), 1u);
  EXPECT_FALSE(connects(learnedAddr(2), 443));
}

TEST_P(DnsTest, CnameChainsCreditTheNameAsked) {
  ASSERT_TRUE(ask(9, "www.example.com"));
  // www.example.com -> cdn.provider.net -> edge.cdn.provider.net (a pointer
  // into the first target), addresses for the end of the chain only, and an
  // address for a name the chain does not reach.
  Bytes q = dnsPointer(kDnsQuestionAt);
  Bytes msgStart = dnsResponse(9, "www.example.com", {});
  uint16_t firstTarget = uint16_t(msgStart.size() + 2 + 10);
  Bytes resp = dnsResponse(9, "www.example.com",
                           {dnsCname(q, dnsName("cdn.provider.net")),
                            dnsCname(dnsPointer(firstTarget), dnsNameThen("edge", dnsPointer(firstTarget))),
                            dnsA(dnsName("edge.cdn.provider.net"), v4(3)),
                            dnsAaaa(dnsName("EDGE.cdn.provider.net"), v6(3)),
                            dnsA(dnsName("unrelated.net"), v4(4))});
  ASSERT_TRUE(answer(resp));
  EXPECT_EQ(namesFor(v4(3)), std::set<std::string>{"www.example.com"});
  EXPECT_EQ(namesFor(v6(3)), std::set<std::string>{"www.example.com"});
  EXPECT_FALSE(dp().learned(v4(4))) << "not in the chain";
  EXPECT_TRUE(connects(learnedAddr(3), 80));  // rule 14: *.example.com
  EXPECT_EQ(dp().rule(14).packets, 1u);
  EXPECT_FALSE(connects(learnedAddr(3), 443));
}

TEST_P(DnsTest, ManyAnswersAreAllLearnedUpToTheRecordLimit) {
  Bytes q = dnsPointer(kDnsQuestionAt);
  std::vector<Bytes> answers;
  for (int k = 1; k <= 40; k++) answers.push_back(dnsA(q, v4(k)));
  ASSERT_TRUE(ask(1, "api.stripe.com"));
  ASSERT_TRUE(answer(dnsResponse(1, "api.stripe.com", answers)));
  EXPECT_EQ(dp().learnedSize(), 40u);
  EXPECT_EQ(dp().dnsStat(MB_DNS_STAT_ADDRESSES), 40u);

  // Past MB_DNS_RECORDS_MAX answers, the rest is not read.
  answers.clear();
  for (int k = 1; k <= MB_DNS_RECORDS_MAX + 6; k++) answers.push_back(dnsAaaa(q, v6(k)));
  ASSERT_TRUE(ask(2, "api.stripe.com"));
  ASSERT_TRUE(answer(dnsResponse(2, "api.stripe.com", answers)));
  EXPECT_EQ(dp().learnedSize(), 40u + MB_DNS_RECORDS_MAX);
  EXPECT_TRUE(dp().learned(v6(MB_DNS_RECORDS_MAX)));
  EXPECT_FALSE(dp().learned(v6(MB_DNS_RECORDS_MAX + 1)));
  EXPECT_EQ(dp().dnsStat(MB_DNS_STAT_OVER_LIMIT), 1u);
}

struct Malformed {
  const char* name;
  Bytes (*build)(uint16_t id);
};

Bytes goodAnswer() { return dnsA(dnsPointer(kDnsQuestionAt), "198.18.5.1"); }

const Malformed kMalformed[] = {
    {"CompressionLoop",
     [](uint16_t id) {
       // An owner "x" followed by a pointer back to its own start: x.x.x...
       uint16_t at = uint16_t(dnsResponse(id, "api.stripe.com", {goodAnswer()}).size());
       return dnsResponse(id, "api.stripe.com", {goodAnswer(), dnsA(dnsNameThen("x", dnsPointer(at)), "198.18.5.2")});
     }},
    {"PointerForward",
     [](uint16_t id) {
       uint16_t at = uint16_t(dnsResponse(id, "api.stripe.com", {goodAnswer()}).size());
       return dnsResponse(id, "api.stripe.com", {goodAnswer(), dnsA(dnsPointer(uint16_t(at + 4)), "198.18.5.2")});
     }},
    {"PointerOutOfBounds",
     [](uint16_t id) { return dnsResponse(id, "api.stripe.com", {goodAnswer(), dnsA(dnsPointer(0x3fff), "198.18.5.2")}); }},
    {"PointerIntoTheHeader",
     [](uint16_t id) { return dnsResponse(id, "api.stripe.com", {goodAnswer(), dnsA(dnsPointer(2), "198.18.5.2")}); }},
    {"MoreAnswersThanThere",
     [](uint16_t id) { return dnsResponse(id, "api.stripe.com", {goodAnswer()}, 0, {}, 2); }},
    {"RecordCutShort",
     [](uint16_t id) {
       Bytes b = dnsResponse(id, "api.stripe.com", {goodAnswer(), goodAnswer()});
       return cut(b, b.size() - 3);
     }},
    {"RdataPastTheEnd",
     [](uint16_t id) {
       Bytes r = goodAnswer();
       r[r.size() - 5] = 0x40;  // rdlength 64
       return dnsResponse(id, "api.stripe.com", {r});
     }},
    {"CnameTargetLongerThanItsRdata",
     [](uint16_t id) {
       Bytes r = dnsCname(dnsPointer(kDnsQuestionAt), dnsName("a.example.com"));
       r[r.size() - 15 - 1] = 3;  // rdlength 3, shorter than the name
       return dnsResponse(id, "api.stripe.com", {r, goodAnswer()});
     }},
    {"TooManyLabels",
     [](uint16_t id) {
       std::string deep;
       for (int i = 0; i < 33; i++) deep += "a.";
       deep += "net";
       return dnsResponse(id, "api.stripe.com", {goodAnswer(), dnsA(dnsName(deep), "198.18.5.2")});
     }},
};

class DnsMalformedTest : public DnsTest {};

TEST_P(DnsMalformedTest, MalformedResponsesTeachNothing) {
  uint64_t k = 0;
  for (const Malformed& m : kMalformed) {
    SCOPED_TRACE(m.name);
    uint16_t id = uint16_t(77 + k);
    ASSERT_TRUE(ask(id, "api.stripe.com"));
    dp().passes(in(), udpResponse(m.build(id)));
    EXPECT_EQ(dp().dnsStat(MB_DNS_STAT_RESPONSE_UNREADABLE), ++k);
    EXPECT_EQ(dp().learnedSize(), 0u);
    EXPECT_EQ(dp().dnsStat(MB_DNS_STAT_LEARNED), 0u);
  }
}

TEST_P(DnsTest, TruncatedPacketTeachesNothing) {
  ASSERT_TRUE(ask(3, "api.stripe.com"));
  Bytes full = udpResponse(dnsResponse(3, "api.stripe.com", {goodAnswer()}));
  dp().passes(in(), cut(full, full.size() - 2));  // the UDP length says more
  EXPECT_EQ(dp().dnsStat(MB_DNS_STAT_RESPONSE_UNREADABLE), 1u);
  EXPECT_EQ(dp().learnedSize(), 0u);
}

TEST_P(DnsTest, NoAnswersNxdomainAndOtherTypesTeachNothing) {
  Bytes q = dnsPointer(kDnsQuestionAt);
  ASSERT_TRUE(ask(1, "api.stripe.com"));
  EXPECT_TRUE(answer(dnsResponse(1, "api.stripe.com", {})));
  ASSERT_TRUE(ask(2, "api.stripe.com"));
  EXPECT_TRUE(answer(dnsResponse(2, "api.stripe.com", {dnsA(q, v4(1))}, kRcodeNxdomain)));
  ASSERT_TRUE(ask(3, "api.stripe.com"));
  EXPECT_TRUE(answer(dnsResponse(3, "api.stripe.com",
                                 {dnsRecord(q, kDnsTxt, 300, Bytes{3, 'a', 'b', 'c'}),
                                  dnsRecord(q, kDnsA, 300, Bytes{198, 18, 5, 1}, /*class CH*/ 3),
                                  dnsRecord(q, kDnsA, 300, Bytes{198, 18, 5, 1, 0})})));
  EXPECT_EQ(dp().dnsStat(MB_DNS_STAT_NOTHING), 3u);
  EXPECT_EQ(dp().learnedSize(), 0u);
  // Other types beside an A: skipped, the A learned.
  ASSERT_TRUE(ask(4, "api.stripe.com"));
  EXPECT_TRUE(answer(dnsResponse(4, "api.stripe.com", {dnsRecord(q, kDnsTxt, 300, Bytes{1, 'x'}), dnsA(q, v4(1))})));
  EXPECT_EQ(namesFor(v4(1)), std::set<std::string>{"api.stripe.com"});
}

TEST_P(DnsTest, Edns0OptRecordDoesNotGetInTheWay) {
  Bytes q = dnsPointer(kDnsQuestionAt);
  ASSERT_TRUE(dp().passes(out(), udpQuery(dnsQuery(8, "api.stripe.com", kDnsA, {dnsOpt()}))));
  ASSERT_TRUE(answer(dnsResponse(8, "api.stripe.com", {dnsA(q, v4(1))}, 0, {dnsOpt()})));
  EXPECT_EQ(namesFor(v4(1)), std::set<std::string>{"api.stripe.com"});
}

TEST_P(DnsTest, TcpResponseInOneSegmentTeaches) {
  Addr ep = Addr::parse(n().endpoint), res = Addr::parse(resolver());
  auto toResolver = [&](uint8_t flags, const Bytes& payload) {
    return frame(ip(ep, res, kTcp, tcp(41000, 53, flags) + payload));
  };
  auto fromResolver = [&](uint8_t flags, const Bytes& payload) {
    return frame(ip(res, ep, kTcp, tcp(53, 41000, flags) + payload));
  };
  EXPECT_TRUE(dp().passes(out(), toResolver(kSyn, {})));
  EXPECT_TRUE(dp().passes(in(), fromResolver(kSyn | kAck, {})));
  EXPECT_TRUE(dp().passes(out(), toResolver(kAck, {})));
  EXPECT_TRUE(dp().passes(out(), toResolver(kAck | kPsh, dnsTcp(dnsQuery(0x4242, "api.stripe.com")))));
  ASSERT_EQ(dp().pending().size(), 1u);
  EXPECT_EQ(dp().pending()[0].first.proto, kTcp);
  Bytes q = dnsPointer(kDnsQuestionAt);
  EXPECT_TRUE(dp().passes(
      in(), fromResolver(kAck | kPsh, dnsTcp(dnsResponse(0x4242, "api.stripe.com", {dnsA(q, v4(1)), dnsAaaa(q, v6(1))})))));
  EXPECT_EQ(namesFor(v4(1)), std::set<std::string>{"api.stripe.com"});
  EXPECT_EQ(namesFor(v6(1)), std::set<std::string>{"api.stripe.com"});
  // A forbidden name, or a second query riding behind an allowed one: dropped.
  EXPECT_FALSE(dp().passes(out(), toResolver(kAck | kPsh, dnsTcp(dnsQuery(1, "evil.org")))));
  EXPECT_FALSE(dp().passes(out(), toResolver(kAck | kPsh, dnsTcp(dnsQuery(2, "api.stripe.com")) +
                                                             dnsTcp(dnsQuery(3, "evil.org")))));
  EXPECT_EQ(dp().reason(MB_REASON_DNS_REFUSED), 0u);
}

TEST_P(DnsTest, TtlHasAFloorAndACap) {
  Bytes q = dnsPointer(kDnsQuestionAt);
  ASSERT_TRUE(ask(1, "api.stripe.com"));
  uint64_t before = monotonicNs();
  ASSERT_TRUE(answer(dnsResponse(1, "api.stripe.com",
                                 {dnsA(q, v4(1), 0), dnsA(q, v4(2), 0x80000000u), dnsA(q, v4(3), 10 * 86400)})));
  uint64_t after = monotonicNs();
  const uint64_t s = 1000000000ull;
  for (int k : {1, 2}) {
    auto v = dp().learned(v4(k));
    ASSERT_TRUE(v);
    EXPECT_GE(v->slot[0].expires_ns, before + MB_DNS_TTL_FLOOR_S * s);
    EXPECT_LE(v->slot[0].expires_ns, after + MB_DNS_TTL_FLOOR_S * s);
  }
  auto capped = dp().learned(v4(3));
  ASSERT_TRUE(capped);
  EXPECT_LE(capped->slot[0].expires_ns, after + MB_DNS_TTL_CAP_S * s);
  // A TTL of 0 still lets the first connection through.
  if (family() == 4) {
    EXPECT_TRUE(connects(v4(1), 443));
  }
}

TEST_P(DnsTest, ExpiredNamesNoLongerReachTheDecision) {
  mb_dns_learned v{};
  std::strcpy(v.slot[2].name, "api.stripe.com");
  v.slot[2].expires_ns = monotonicNs() + 60 * 1000000000ull;
  dp().putLearned(learnedAddr(1), v);
  EXPECT_TRUE(connects(learnedAddr(1), 443));
  v.slot[2].expires_ns = monotonicNs() - 1;
  dp().putLearned(learnedAddr(1), v);
  EXPECT_FALSE(connects(learnedAddr(1), 443));
  // Another endpoint's learned names are not this one's.
  v.slot[2].expires_ns = monotonicNs() + 60 * 1000000000ull;
  dp().putLearned(learnedAddr(2), v, 99);
  EXPECT_FALSE(connects(learnedAddr(2), 443));
  // Text no wire name could be (an empty label) matches nothing.
  std::strcpy(v.slot[2].name, "api..stripe.com");
  dp().putLearned(learnedAddr(3), v);
  EXPECT_FALSE(connects(learnedAddr(3), 443));
}

TEST_P(DnsTest, AnAddressKeepsItsLatestNamesBeyondItsSlots) {
  Bytes q = dnsPointer(kDnsQuestionAt);
  const char* names[] = {"a.example.com", "b.example.com", "c.example.com", "d.example.com", "e.example.com"};
  uint32_t ttl = 100;
  for (const char* name : names) {
    ASSERT_TRUE(ask(uint16_t(ttl), name));
    ASSERT_TRUE(answer(dnsResponse(uint16_t(ttl), name, {dnsA(q, v4(1), ttl), dnsAaaa(q, v6(1), ttl)})));
    ttl += 100;
  }
  std::set<std::string> want{"b.example.com", "c.example.com", "d.example.com", "e.example.com"};
  EXPECT_EQ(namesFor(v4(1)), want) << "the name expiring first made room";
  EXPECT_EQ(namesFor(v6(1)), want);
  // The same name again moves its deadline, taking no slot.
  auto before = dp().learned(v4(1));
  ASSERT_TRUE(ask(1, "c.example.com"));
  ASSERT_TRUE(answer(dnsResponse(1, "c.example.com", {dnsA(q, v4(1), 5000)})));
  auto after = dp().learned(v4(1));
  EXPECT_EQ(namesFor(v4(1)), want);
  for (int j = 0; j < MB_DNS_SLOTS; j++) {
    if (std::string(after->slot[j].name) == "c.example.com") {
      EXPECT_GT(after->slot[j].expires_ns, before->slot[j].expires_ns);
    }
  }
}

TEST_P(DnsTest, WithoutDnsFeaturesNothingIsReadOrLearned) {
  load(Options{.egress_enforced = true});
  // dns stays MB_DNS_MSG_NONE: rule 12 lets it through like any packet.
  EXPECT_TRUE(ask(1, "evil.org"));
  Bytes q = dnsPointer(kDnsQuestionAt);
  EXPECT_TRUE(answer(dnsResponse(1, "evil.org", {dnsA(q, v4(1)), dnsAaaa(q, v6(1))})));
  for (uint32_t stat = 0; stat < MB_DNS_STAT_MAX; stat++) EXPECT_EQ(dp().dnsStat(stat), 0u) << stat;
  EXPECT_TRUE(dp().pending().empty());
  EXPECT_EQ(dp().learnedSize(), 0u);
}

MB_INSTANTIATE_FAMILY_HOOK(DnsTest);
MB_INSTANTIATE_FAMILY_HOOK(DnsMalformedTest);

}  // namespace
}  // namespace mbtest
