#include "frontend/ast_builder.h"

#include <charconv>

#include "frontend/lexical.h"

namespace membrane::frontend {

using P = grammar::MembraneParser;

OffsetMap::OffsetMap(const std::string& utf8) {
  bool ascii = true;
  for (unsigned char c : utf8) ascii &= c < 0x80;
  if (ascii) return;
  for (uint32_t i = 0; i < utf8.size(); ++i)
    if ((static_cast<unsigned char>(utf8[i]) & 0xC0) != 0x80) offsets_.push_back(i);
  offsets_.push_back(static_cast<uint32_t>(utf8.size()));
}

uint32_t OffsetMap::byteOffset(size_t cp) const {
  if (offsets_.empty()) return static_cast<uint32_t>(cp);
  return cp < offsets_.size() ? offsets_[cp] : offsets_.back();
}

SourceRange BuildContext::rangeOf(const antlr4::Token* start, const antlr4::Token* stop) const {
  if (!start) return {};
  if (!stop || stop->getStopIndex() < start->getStartIndex()) stop = start;
  uint32_t begin = offsets.byteOffset(start->getStartIndex());
  uint32_t end = offsets.byteOffset(stop->getStopIndex() + 1);
  return SourceRange{sources.locate(file, begin), end > begin ? end - begin : 0};
}

namespace {

class AstBuilder {
 public:
  explicit AstBuilder(const BuildContext& ctx) : ctx_(ctx) {}

  ast::File build(P::FileContext* root) {
    ast::File file;
    file.id = ctx_.file;
    ast::Name fileNamespace{"default", {}};
    for (auto* item : root->item()) {
      if (auto* ns = dynamic_cast<P::FileNamespaceContext*>(item)) {
        fileNamespace = word(ns->word());
      } else if (auto* sel = dynamic_cast<P::SelectorDefContext*>(item)) {
        file.selectors.push_back({word(sel->word()), selectorBody(sel->selectorBody()), range(sel)});
      } else if (auto* ports = dynamic_cast<P::PortsDefContext*>(item)) {
        file.ports.push_back({word(ports->word()), l4List(ports->l4List()), range(ports)});
      } else if (auto* peers = dynamic_cast<P::PeersDefContext*>(item)) {
        file.peers.push_back({word(peers->word()), peerList(peers->peerList()), range(peers)});
      } else if (auto* pol = dynamic_cast<P::PolicyDefContext*>(item)) {
        file.policies.push_back(policy(pol, fileNamespace));
      }
    }
    return file;
  }

 private:
  const BuildContext& ctx_;

  SourceRange range(antlr4::ParserRuleContext* c) const { return ctx_.rangeOf(c->getStart(), c->getStop()); }
  SourceRange range(antlr4::Token* t) const { return ctx_.rangeOf(t, t); }
  SourceRange range(antlr4::tree::TerminalNode* n) const { return range(n->getSymbol()); }

  static std::string unquote(const std::string& s) { return unquoteWord(s); }

  ast::Name word(P::WordContext* w) const { return {unquote(w->getText()), range(w)}; }

  ast::Policy policy(P::PolicyDefContext* c, const ast::Name& fileNamespace) {
    ast::Policy p;
    p.name = word(c->word());
    p.fileNamespace = fileNamespace.text;
    p.fileNamespaceRange = fileNamespace.range;
    p.range = range(c);
    for (auto* stmt : c->policyStmt()) {
      // A statement given twice keeps its first value; the checker reports
      // the repeat (ast::Policy::repeated).
      if (auto* ns = dynamic_cast<P::PolicyNamespaceContext*>(stmt)) {
        if (p.ns) p.repeated.push_back({"namespace", range(ns)});
        else p.ns = word(ns->word());
      } else if (auto* cw = dynamic_cast<P::PolicyClusterwideContext*>(stmt)) {
        if (p.clusterwide) p.repeated.push_back({"clusterwide", range(cw)});
        p.clusterwide = true;
        p.clusterwideRange = range(cw);
      } else if (auto* sel = dynamic_cast<P::PolicySelectsContext*>(stmt)) {
        if (p.selects) {
          p.repeated.push_back({"selects", range(sel)});
        } else {
          p.selects = selectorRef(sel->selectorRef());
          if (sel->namespaceRef()) p.selectsIn = namespaceRef(sel->namespaceRef());
        }
      } else if (auto* admin = dynamic_cast<P::PolicyAdminTierContext*>(stmt)) {
        if (p.tier) p.repeated.push_back({"tier", range(admin)});
        else p.tier = ast::TierStatement{ast::TierStatement::Kind::Admin,
                                         ast::Name{admin->NUMBER()->getText(), range(admin->NUMBER())}, range(admin)};
      } else if (auto* baseline = dynamic_cast<P::PolicyBaselineTierContext*>(stmt)) {
        if (p.tier) p.repeated.push_back({"tier", range(baseline)});
        else p.tier = ast::TierStatement{ast::TierStatement::Kind::Baseline, std::nullopt, range(baseline)};
      } else if (auto* mode = dynamic_cast<P::PolicyModeContext*>(stmt)) {
        if (p.mode) p.repeated.push_back({"mode", range(mode)});
        else p.mode = word(mode->word());
      } else if (auto* pr = dynamic_cast<P::PolicyProcessesContext*>(stmt)) {
        if (p.processes) {
          p.repeated.push_back({"processes", range(pr)});
        } else {
          ast::Extension e{{pr->PROCESSES()->getText(), range(pr->PROCESSES())}, {}, range(pr)};
          for (auto* b : pr->balanced()) bodyTokens(b, e.body);
          p.processes = std::move(e);
        }
      } else if (auto* in = dynamic_cast<P::IngressSectionContext*>(stmt)) {
        p.sections.push_back(section(ast::Direction::Ingress, in->INGRESS()->getSymbol(), in->policyRule()));
      } else if (auto* eg = dynamic_cast<P::EgressSectionContext*>(stmt)) {
        p.sections.push_back(section(ast::Direction::Egress, eg->EGRESS()->getSymbol(), eg->policyRule()));
      }
    }
    return p;
  }

  ast::Section section(ast::Direction dir, antlr4::Token* keyword, const std::vector<P::PolicyRuleContext*>& rules) {
    ast::Section s{dir, {}, range(keyword)};
    for (auto* r : rules) s.rules.push_back(rule(r));
    return s;
  }

  ast::Rule rule(P::PolicyRuleContext* c) {
    ast::Rule r;
    r.action = c->action->getType() == P::ALLOW  ? ast::Action::Allow
               : c->action->getType() == P::PASS ? ast::Action::Pass
                                                 : ast::Action::Deny;
    r.fromKeyword = c->dir->getType() == P::FROM;
    r.dirRange = range(c->dir);
    r.peers = peerList(c->peerList());
    if (c->l4List()) r.l4 = l4List(c->l4List());
    for (auto* ext : c->extension()) r.extensions.push_back(extension(ext));
    r.range = range(c);
    return r;
  }

  ast::Extension extension(P::ExtensionContext* c) {
    ast::Extension e{word(c->word()), {}, range(c)};
    for (auto* b : c->balanced()) bodyTokens(b, e.body);
    return e;
  }

  void bodyTokens(antlr4::tree::ParseTree* node, std::vector<ast::Name>& out) const {
    if (auto* leaf = dynamic_cast<antlr4::tree::TerminalNode*>(node)) {
      out.push_back({leaf->getText(), range(leaf)});
      return;
    }
    for (auto* child : node->children) bodyTokens(child, out);
  }

  std::vector<ast::Peer> peerList(P::PeerListContext* c) {
    std::vector<ast::Peer> out;
    for (auto* p : c->peer()) out.push_back(peer(p));
    return out;
  }

  ast::Peer peer(P::PeerContext* c) {
    ast::Peer p;
    p.range = range(c);
    if (auto* pods = dynamic_cast<P::PodsPeerContext*>(c)) {
      ast::PodsPeer pp{selectorRef(pods->selectorRef()), std::nullopt};
      if (pods->namespaceRef()) pp.ns = namespaceRef(pods->namespaceRef());
      p.value = std::move(pp);
    } else if (auto* nss = dynamic_cast<P::NamespacesPeerContext*>(c)) {
      p.value = namespaceRef(nss->namespaceRef());
    } else if (auto* ent = dynamic_cast<P::EntityPeerContext*>(c)) {
      switch (ent->entity->getType()) {
        case P::WORLD: p.value = ast::Entity::World; break;
        case P::CLUSTER: p.value = ast::Entity::Cluster; break;
        case P::HOST: p.value = ast::Entity::Host; break;
        default: p.value = ast::Entity::All; break;
      }
    } else if (auto* cidr = dynamic_cast<P::CidrPeerContext*>(c)) {
      ast::CidrPeer cp{cidr->ADDRESS()->getText(), range(cidr->ADDRESS()), {}};
      if (auto* ex = cidr->exceptList())
        for (auto* a : ex->ADDRESS()) cp.except.push_back({a->getText(), range(a)});
      p.value = std::move(cp);
    } else if (auto* svc = dynamic_cast<P::ServicePeerContext*>(c)) {
      auto words = svc->word();
      ast::ServicePeer sp;
      if (words.size() == 2) sp.ns = word(words[0]);
      sp.name = word(words.back());
      if (svc->namespaceRef()) sp.in = namespaceRef(svc->namespaceRef());
      p.value = std::move(sp);
    } else if (auto* svcs = dynamic_cast<P::ServicesBySelectorPeerContext*>(c)) {
      ast::ServicePeer sp;
      sp.selector = selectorBody(svcs->selectorBody());
      if (svcs->namespaceRef()) sp.in = namespaceRef(svcs->namespaceRef());
      p.value = std::move(sp);
    } else if (auto* ref = dynamic_cast<P::PeerRefContext*>(c)) {
      p.value = word(ref->word());
    } else if (auto* dns = dynamic_cast<P::DnsPeerContext*>(c)) {
      ast::DnsPeer dp;
      for (auto* s : dns->STRING()) dp.names.push_back({unquote(s->getText()), range(s)});
      p.value = std::move(dp);
    } else if (auto* nodes = dynamic_cast<P::NodesPeerContext*>(c)) {
      p.value = ast::NodesPeer{selectorRef(nodes->selectorRef())};
    }
    return p;
  }

  ast::NamespaceRef namespaceRef(P::NamespaceRefContext* c) {
    ast::NamespaceRef ns;
    ns.range = range(c);
    if (auto* bySel = dynamic_cast<P::NamespacesBySelectorContext*>(c)) {
      ns.kind = ast::NamespaceRef::Kind::BySelector;
      ns.selector = selectorRef(bySel->selectorRef());
    } else if (auto* byName = dynamic_cast<P::NamespaceByNameContext*>(c)) {
      ns.kind = ast::NamespaceRef::Kind::ByName;
      ns.name = word(byName->word());
    }
    return ns;
  }

  ast::SelectorRef selectorRef(P::SelectorRefContext* c) {
    if (auto* inl = dynamic_cast<P::InlineSelectorContext*>(c)) return selectorBody(inl->selectorBody());
    ast::SelectorRef s;
    s.range = range(c);
    if (auto* named = dynamic_cast<P::NamedSelectorContext*>(c)) s.ref = word(named->word());
    return s;
  }

  ast::SelectorRef selectorBody(P::SelectorBodyContext* c) {
    ast::SelectorRef s;
    s.range = range(c);
    for (auto* req : c->requirement()) s.requirements.push_back(requirement(req));
    return s;
  }

  std::string labelKey(P::LabelKeyContext* c) {
    auto words = c->word();
    std::string key = unquote(words[0]->getText());
    if (words.size() == 2) key += "/" + unquote(words[1]->getText());
    return key;
  }

  std::string labelValue(P::LabelValueContext* c) { return unquote(c->getText()); }

  ast::LabelRequirement requirement(P::RequirementContext* c) {
    ast::LabelRequirement lr;
    lr.range = range(c);
    labels::Requirement& r = lr.req;
    if (auto* cmp = dynamic_cast<P::ReqCompareContext*>(c)) {
      r.key = labelKey(cmp->labelKey());
      r.op = cmp->op->getText() == "!=" ? labels::Op::NotEquals : labels::Op::Equals;
      r.values = {labelValue(cmp->labelValue())};
    } else if (auto* set = dynamic_cast<P::ReqSetContext*>(c)) {
      r.key = labelKey(set->labelKey());
      r.op = set->op->getType() == P::IN ? labels::Op::In : labels::Op::NotIn;
      for (auto* v : set->labelValue()) r.values.push_back(labelValue(v));
    } else if (auto* ex = dynamic_cast<P::ReqExistsContext*>(c)) {
      r.key = labelKey(ex->labelKey());
      r.op = labels::Op::Exists;
    } else if (auto* nex = dynamic_cast<P::ReqNotExistsContext*>(c)) {
      r.key = labelKey(nex->labelKey());
      r.op = labels::Op::DoesNotExist;
    }
    return lr;
  }

  std::vector<ast::L4Item> l4List(P::L4ListContext* c) {
    std::vector<ast::L4Item> out;
    for (auto* item : c->l4Item()) out.push_back(l4Item(item));
    return out;
  }

  static uint32_t number(const std::string& text) {
    // Saturates: anything past 2^32-1 is out of range for every use anyway.
    uint64_t v = 0;
    for (char ch : text) {
      v = v * 10 + static_cast<uint64_t>(ch - '0');
      if (v > UINT32_MAX) return UINT32_MAX;
    }
    return static_cast<uint32_t>(v);
  }

  ast::L4Item l4Item(P::L4ItemContext* c) {
    ast::L4Item item;
    item.range = range(c);
    if (auto* pp = dynamic_cast<P::PortProtoContext*>(c)) {
      switch (pp->proto->getType()) {
        case P::TCP: item.protocol = ast::Protocol::TCP; break;
        case P::UDP: item.protocol = ast::Protocol::UDP; break;
        default: item.protocol = ast::Protocol::SCTP; break;
      }
      if (auto* set = pp->portSet()) {
        for (auto* spec : set->portSpec()) {
          ast::PortSpec ps;
          ps.range = range(spec);
          if (auto* num = dynamic_cast<P::PortNumberContext*>(spec)) {
            auto nums = num->NUMBER();
            ps.first = number(nums[0]->getText());
            ps.last = nums.size() == 2 ? number(nums[1]->getText()) : ps.first;
          } else if (auto* name = dynamic_cast<P::PortNameContext*>(spec)) {
            ps.name = word(name->word()).text;
          }
          item.ports.push_back(std::move(ps));
        }
      }
    } else if (auto* icmp = dynamic_cast<P::IcmpProtoContext*>(c)) {
      item.protocol = icmp->proto->getType() == P::ICMP ? ast::Protocol::ICMP : ast::Protocol::ICMPv6;
      if (auto* set = icmp->icmpSet()) {
        for (auto* t : set->icmpType()) {
          ast::PortSpec ps;
          ps.range = range(t);
          if (t->NUMBER()) {
            ps.first = ps.last = number(t->NUMBER()->getText());
          } else {
            ps.name = word(t->word()).text;
          }
          item.ports.push_back(std::move(ps));
        }
      }
    } else if (dynamic_cast<P::AnyProtoContext*>(c)) {
      item.protocol = ast::Protocol::Any;
    } else if (auto* ref = dynamic_cast<P::L4RefContext*>(c)) {
      item.ref = word(ref->word());
    }
    return item;
  }

};

}  // namespace

ast::File buildAst(P::FileContext* root, const BuildContext& ctx) { return AstBuilder(ctx).build(root); }

}  // namespace membrane::frontend
