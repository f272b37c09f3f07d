// See http_codegen.h: a class's HTTP tables and the request tests of its
// request decision.
#include "codegen/http_codegen.h"

#include <algorithm>
#include <bitset>
#include <map>
#include <set>
#include <stdexcept>

#include <llvm/IR/Module.h>

#include "abi/datapath.h"
#include "codegen/irbuilder_bpf.h"
#include "features/l4/l4.h"
#include "names/dns.h"
#include "names/http.h"

namespace membrane::codegen {

namespace {

// Field indices of struct mb_http_request as clang lays it out.
enum RequestField {
  kReqMethodLen = 0, kReqFlags = 1, kReqPathLen = 2, kReqHostLen = 3, kReqPad = 4, kReqSeen = 5,
  kReqRepeated = 6, kReqMethod = 7, kReqPath = 8, kReqHost = 9, kReqValueLen = 10, kReqValue = 11
};
constexpr unsigned kRequestFields = 12;

using ByteSet = std::bitset<256>;

// A Thompson NFA: edges on byte sets, epsilon edges, pattern bits accepted.
class Nfa {
 public:
  uint32_t node() {
    nodes_.emplace_back();
    return static_cast<uint32_t>(nodes_.size() - 1);
  }
  uint32_t set(const ByteSet& s) {
    auto it = std::find(sets_.begin(), sets_.end(), s);
    if (it != sets_.end()) return static_cast<uint32_t>(it - sets_.begin());
    sets_.push_back(s);
    return static_cast<uint32_t>(sets_.size() - 1);
  }
  void edge(uint32_t from, const ByteSet& s, uint32_t to) { nodes_[from].edges.push_back({set(s), to}); }
  void epsilon(uint32_t from, uint32_t to) { nodes_[from].eps.push_back(to); }
  void accept(uint32_t at, uint32_t bit) { nodes_[at].accepts.push_back(bit); }
  // One byte of `s`, then on.
  uint32_t one(uint32_t from, const ByteSet& s) {
    uint32_t n = node();
    edge(from, s, n);
    return n;
  }
  // Any run (possibly empty) of `s`.
  uint32_t many(uint32_t from, const ByteSet& s) {
    uint32_t n = node();
    epsilon(from, n);
    edge(n, s, n);
    return n;
  }

  struct Node {
    std::vector<std::pair<uint32_t, uint32_t>> edges;  // (set, target)
    std::vector<uint32_t> eps;
    std::vector<uint32_t> accepts;
  };
  std::vector<Node> nodes_;
  std::vector<ByteSet> sets_;

  void close(std::vector<uint32_t>& s) const {
    std::vector<uint32_t> stack(s.begin(), s.end());
    std::set<uint32_t> seen(s.begin(), s.end());
    while (!stack.empty()) {
      uint32_t n = stack.back();
      stack.pop_back();
      for (uint32_t e : nodes_[n].eps)
        if (seen.insert(e).second) stack.push_back(e);
    }
    s.assign(seen.begin(), seen.end());
  }
};

ByteSet byte(char c) {
  ByteSet s;
  s.set(static_cast<unsigned char>(c));
  return s;
}

ByteSet allBytes() { return ByteSet().set(); }

ByteSet allBut(char c) { return allBytes().reset(static_cast<unsigned char>(c)); }

// A DNS label's characters (no '.'), lowercase as the reader leaves hosts.
ByteSet labelChars() {
  ByteSet s;
  for (char c = 'a'; c <= 'z'; ++c) s.set(static_cast<unsigned char>(c));
  for (char c = '0'; c <= '9'; ++c) s.set(static_cast<unsigned char>(c));
  s.set('-');
  s.set('_');
  return s;
}

// A path glob (no "**"): '*' is any run of bytes other than '/'.
uint32_t addGlob(Nfa& nfa, uint32_t at, std::string_view glob) {
  for (char c : glob) at = c == '*' ? nfa.many(at, allBut('/')) : nfa.one(at, byte(c));
  return at;
}

void addPath(Nfa& nfa, uint32_t start, const std::string& pattern, uint32_t bit) {
  auto parsed = names::parseHttpPathPattern(pattern);
  if (!std::holds_alternative<names::HttpPathPattern>(parsed))
    throw std::runtime_error("the IR holds an invalid path pattern \"" + pattern + "\"");
  uint32_t at = nfa.node();
  nfa.epsilon(start, at);
  std::string_view text = pattern;
  if (text == "/**" || text.ends_with("/**")) {
    // The path before it ("/static", or "" for "/**", which no canonical
    // path is), and that path, '/', anything.
    at = addGlob(nfa, at, text.substr(0, text.size() - 3));
    nfa.accept(at, bit);
    nfa.accept(nfa.many(nfa.one(at, byte('/')), allBytes()), bit);
    return;
  }
  nfa.accept(addGlob(nfa, at, text), bit);
}

void addHost(Nfa& nfa, uint32_t start, const std::string& pattern, uint32_t bit) {
  auto parsed = names::parseDnsPattern(pattern);
  const auto* p = std::get_if<names::DnsPattern>(&parsed);
  if (!p) throw std::runtime_error("the IR holds an invalid host pattern \"" + pattern + "\"");
  const ByteSet label = labelChars();
  uint32_t at = nfa.node();
  nfa.epsilon(start, at);
  if (p->text == "*") {
    // Every name: labels of one or more characters joined by '.'.
    uint32_t in = nfa.many(nfa.one(at, label), label);
    nfa.edge(nfa.one(in, byte('.')), label, in);
    nfa.accept(in, bit);
    return;
  }
  for (size_t i = 0; i < p->labels.size(); ++i) {
    if (i) at = nfa.one(at, byte('.'));
    const std::string& l = p->labels[i];
    if (l == "*") {
      at = nfa.many(nfa.one(at, label), label);  // at least one character
      continue;
    }
    for (char c : l) at = c == '*' ? nfa.many(at, label) : nfa.one(at, byte(c));
  }
  nfa.accept(at, bit);
}

[[noreturn]] void notSupported(const std::string& what) {
  throw std::runtime_error("code generation does not support " + what);
}

}  // namespace

HttpAutomaton HttpAutomaton::build(const std::vector<std::string>& pathPatterns,
                                   const std::vector<std::string>& hostPatterns, const std::string& what) {
  Nfa nfa;
  uint32_t roots[2] = {nfa.node(), nfa.node()};
  uint32_t bit = 0;
  for (const auto& p : pathPatterns) addPath(nfa, roots[0], p, bit++);
  for (const auto& h : hostPatterns) addHost(nfa, roots[1], h, bit++);

  HttpAutomaton a;
  a.words = std::max<uint32_t>(1, (bit + 63) / 64);
  // Byte classes: bytes every set treats alike.
  std::map<std::vector<bool>, uint8_t> classOf;
  std::vector<int> representative;
  for (unsigned c = 0; c < 256; ++c) {
    std::vector<bool> signature;
    for (const auto& s : nfa.sets_) signature.push_back(s.test(c));
    auto [it, added] = classOf.emplace(signature, static_cast<uint8_t>(classOf.size()));
    if (added) representative.push_back(static_cast<int>(c));
    a.byteClass[c] = it->second;
  }
  a.classes = static_cast<uint32_t>(representative.size());

  std::map<std::vector<uint32_t>, uint32_t> ids;
  std::vector<std::vector<uint32_t>> states;
  std::map<std::vector<uint64_t>, uint16_t> rows;
  auto intern = [&](std::vector<uint32_t> s) -> uint32_t {
    nfa.close(s);
    auto it = ids.find(s);
    if (it != ids.end()) return it->second;
    if (states.size() >= kMaxStates)
      throw std::runtime_error(what + ": its http path and host patterns need an automaton of more than " +
                               std::to_string(kMaxStates) + " states");
    uint32_t id = static_cast<uint32_t>(states.size());
    ids.emplace(s, id);
    states.push_back(std::move(s));
    return id;
  };
  intern({});  // 0: dead (the empty set's closure is empty)
  a.starts[0] = intern({roots[0]});
  a.starts[1] = intern({roots[1]});
  for (size_t i = 0; i < states.size(); ++i) {
    std::vector<uint64_t> row(a.words, 0);
    for (uint32_t n : states[i])
      for (uint32_t b : nfa.nodes_[n].accepts) row[b / 64] |= uint64_t(1) << (b % 64);
    auto [rit, added] = rows.emplace(row, static_cast<uint16_t>(rows.size()));
    if (added) a.bits.insert(a.bits.end(), row.begin(), row.end());
    a.accept.push_back(rit->second);
    for (uint32_t c = 0; c < a.classes; ++c) {
      std::vector<uint32_t> to;
      for (uint32_t n : states[i])
        for (const auto& [set, target] : nfa.nodes_[n].edges)
          if (nfa.sets_[set].test(static_cast<size_t>(representative[c]))) to.push_back(target);
      std::sort(to.begin(), to.end());
      to.erase(std::unique(to.begin(), to.end()), to.end());
      // `states` may grow here: index, never hold a reference across intern.
      a.next.push_back(static_cast<uint16_t>(to.empty() ? 0 : intern(std::move(to))));
    }
  }
  return a;
}

std::vector<uint64_t> HttpAutomaton::run(int which, const std::string& bytes) const {
  uint32_t s = starts[which];
  for (char c : bytes) {
    if (!s) break;
    s = next[s * classes + byteClass[static_cast<unsigned char>(c)]];
  }
  uint32_t row = accept[s];
  return std::vector<uint64_t>(bits.begin() + row * words, bits.begin() + (row + 1) * words);
}

HttpTables::HttpTables(const ir::EndpointClass& cls) {
  std::set<std::string> paths, hosts;
  std::map<std::string, std::set<uint32_t>> headers;  // name → rules naming it
  for (const auto* dp : {&cls.ingress, &cls.egress})
    for (const auto& r : dp->rules) {
      const auto* c = r.condition<ir::HttpCondition>();
      if (!c) continue;
      features_ |= dp == &cls.ingress ? MB_HTTP_F_INGRESS : MB_HTTP_F_EGRESS;
      for (const auto& m : c->requests) {
        if (!m.path.empty()) paths.insert(m.path);
        if (!m.host.empty()) hosts.insert(m.host);
        if (m.method.size() > MB_HTTP_METHOD_BYTES) notSupported("the method " + m.method + " of rule " + std::to_string(r.id));
        for (const auto& h : m.headers) {
          if (h.name.size() >= MB_HTTP_HEADER_NAME_BYTES || (h.value && h.value->size() > MB_HTTP_VALUE_BYTES))
            notSupported("header " + h.name + " of rule " + std::to_string(r.id) + ": longer than the datapath reads");
          headers[names::asciiLower(h.name)].insert(r.id);
        }
      }
    }
  paths_.assign(paths.begin(), paths.end());
  hosts_.assign(hosts.begin(), hosts.end());
  for (const auto& [name, rules] : headers) headers_.push_back(name);
  if (headers_.size() > MB_HTTP_HEADERS_MAX) {
    std::set<uint32_t> rules;
    for (const auto& [name, ids] : headers) rules.insert(ids.begin(), ids.end());
    std::string list;
    for (uint32_t id : rules) list += (list.empty() ? "" : ", ") + std::to_string(id);
    throw std::runtime_error("class " + std::to_string(cls.id) + "'s http rules (" + list + ") name " +
                             std::to_string(headers_.size()) + " distinct headers; the datapath reads at most " +
                             std::to_string(MB_HTTP_HEADERS_MAX) + " per class");
  }
  automaton_ = HttpAutomaton::build(paths_, hosts_, "class " + std::to_string(cls.id));
}

namespace {
uint32_t indexIn(const std::vector<std::string>& list, const std::string& s, const char* what) {
  auto it = std::lower_bound(list.begin(), list.end(), s);
  if (it == list.end() || *it != s) throw std::logic_error(std::string(what) + " \"" + s + "\" is not in its class's table");
  return static_cast<uint32_t>(it - list.begin());
}
}  // namespace

uint32_t HttpTables::pathBit(const std::string& p) const { return indexIn(paths_, p, "path pattern"); }
uint32_t HttpTables::hostBit(const std::string& h) const {
  return static_cast<uint32_t>(paths_.size()) + indexIn(hosts_, h, "host pattern");
}
uint32_t HttpTables::headerIndex(const std::string& n) const { return indexIn(headers_, names::asciiLower(n), "header"); }

std::vector<ir::PortRange> httpPorts(const ir::DirectionPolicy& direction) {
  std::vector<ir::PortRange> ranges;
  for (const auto& r : direction.rules) {
    if (!r.condition<ir::HttpCondition>()) continue;
    auto matches = features::l4::matchesOf(r);
    if (matches.empty()) ranges.push_back({1, 65535});
    for (const auto& m : matches) {
      if (m.protocol != ir::kTCP && m.protocol != ir::kAnyProtocol) continue;
      if (m.ports.empty()) ranges.push_back({1, 65535});
      ranges.insert(ranges.end(), m.ports.begin(), m.ports.end());
    }
  }
  std::vector<ir::PortRange> out;
  for (auto r : features::l4::normalizeRanges(ranges)) {
    if (r.first == 0) r.first = 1;  // port 0 carries no connection
    if (r.first <= r.last) out.push_back(r);
  }
  return out;
}

namespace {

// Replaces the shell's definition or extern declaration of `name` with a
// constant.
void defineGlobal(llvm::Module& module, const char* name, llvm::Constant* init) {
  llvm::GlobalVariable* decl = module.getGlobalVariable(name);
  if (!decl) throw std::runtime_error(std::string("the decision shell does not declare ") + name);
  auto* def = new llvm::GlobalVariable(module, init->getType(), /*isConstant=*/true, llvm::GlobalValue::InternalLinkage,
                                       init, std::string(name) + ".def");
  def->setAlignment(llvm::MaybeAlign(8));
  decl->replaceAllUsesWith(llvm::ConstantExpr::getBitCast(def, decl->getType()));
  decl->eraseFromParent();
  def->setName(name);
}

template <typename T>
llvm::Constant* array(llvm::LLVMContext& ctx, unsigned bits, const std::vector<T>& values) {
  std::vector<llvm::Constant*> out;
  auto* type = llvm::IntegerType::get(ctx, bits);
  for (const auto& v : values) out.push_back(llvm::ConstantInt::get(type, static_cast<uint64_t>(v)));
  return llvm::ConstantArray::get(llvm::ArrayType::get(type, out.size()), out);
}

// A u32 the shell defines (volatile const, in .rodata): set its initializer.
void setU32(llvm::Module& module, const char* name, uint32_t value) {
  llvm::GlobalVariable* gv = module.getGlobalVariable(name);
  if (!gv || !gv->hasInitializer() || !gv->getValueType()->isIntegerTy(32))
    throw std::runtime_error(std::string("the decision shell does not define ") + name + " as a u32");
  gv->setInitializer(llvm::ConstantInt::get(gv->getValueType(), value));
}

}  // namespace

void generateHttpTables(llvm::Module& module, const HttpTables& tables) {
  llvm::LLVMContext& ctx = module.getContext();
  setU32(module, "mb_http_class_features", tables.features());
  setU32(module, "mb_http_header_count", static_cast<uint32_t>(tables.headers().size()));
  llvm::GlobalVariable* names = module.getGlobalVariable("mb_http_header_names");
  if (!names || !names->hasInitializer())
    throw std::runtime_error("the decision shell does not define mb_http_header_names");
  auto* rowType = llvm::ArrayType::get(llvm::Type::getInt8Ty(ctx), MB_HTTP_HEADER_NAME_BYTES);
  auto* tableType = llvm::ArrayType::get(rowType, MB_HTTP_HEADERS_MAX);
  if (names->getValueType() != tableType)
    throw std::runtime_error("the decision shell declares mb_http_header_names with the wrong type");
  std::vector<llvm::Constant*> rows;
  for (size_t i = 0; i < MB_HTTP_HEADERS_MAX; ++i) {
    std::vector<uint8_t> bytes(MB_HTTP_HEADER_NAME_BYTES, 0);
    if (i < tables.headers().size()) std::copy(tables.headers()[i].begin(), tables.headers()[i].end(), bytes.begin());
    rows.push_back(array(ctx, 8, bytes));
  }
  names->setInitializer(llvm::ConstantArray::get(tableType, rows));

  const HttpAutomaton& a = tables.automaton();
  std::vector<uint8_t> classes(a.byteClass, a.byteClass + 256);
  defineGlobal(module, "mb_http_byte_class", array(ctx, 8, classes));
  defineGlobal(module, "mb_http_dfa_next", array(ctx, 16, a.next));
  defineGlobal(module, "mb_http_dfa_accept", array(ctx, 16, a.accept));
  defineGlobal(module, "mb_http_dfa_bits", array(ctx, 64, a.bits));
  defineGlobal(module, "mb_http_dfa_start", array(ctx, 32, std::vector<uint32_t>{a.starts[0], a.starts[1]}));
  auto u32 = [&](uint64_t v) { return llvm::ConstantInt::get(llvm::Type::getInt32Ty(ctx), v); };
  defineGlobal(module, "mb_http_dfa_classes", u32(a.classes));
  defineGlobal(module, "mb_http_dfa_states", u32(a.states()));
  defineGlobal(module, "mb_http_dfa_words", u32(a.words));
  defineGlobal(module, "mb_http_dfa_cells", u32(a.next.size()));
  defineGlobal(module, "mb_http_dfa_bit_count", u32(a.bits.size()));
}

// ---- request tests --------------------------------------------------------

void HttpRequestTests::prepare(llvm::Value* request, const ir::DirectionPolicy& direction) {
  req_ = request;
  auto* st = llvm::dyn_cast<llvm::StructType>(request->getType()->getPointerElementType());
  if (!st || st->getNumElements() != kRequestFields)
    throw std::runtime_error("datapath skeleton ABI mismatch: struct mb_http_request");
  std::set<uint32_t> pathWords, hostWords;
  bool methods = false, headers = false;
  for (const auto& r : direction.rules)
    if (const auto* c = r.condition<ir::HttpCondition>())
      for (const auto& m : c->requests) {
        if (!m.path.empty()) pathWords.insert(tables_.pathBit(m.path) / 64);
        if (!m.host.empty()) hostWords.insert(tables_.hostBit(m.host) / 64);
        methods |= !m.method.empty();
        headers |= !m.headers.empty();
      }
  llvm::Module& module = b_.module();
  auto walk = [&](uint32_t which, const std::set<uint32_t>& words, std::vector<llvm::Value*>& out) {
    out.assign(tables_.automaton().words, nullptr);
    if (words.empty()) return;
    llvm::Function* run = module.getFunction("mb_http_dfa_run");
    llvm::Function* word = module.getFunction("mb_http_dfa_word");
    if (!run || !word) throw std::runtime_error("the decision shell does not define mb_http_dfa_run and mb_http_dfa_word");
    llvm::Value* state = b_.CreateCall(run, {req_, b_.getInt32(which)});
    for (uint32_t w : words) out[w] = b_.CreateCall(word, {state, b_.getInt32(w)});
  };
  walk(0, pathWords, pathWords_);
  walk(1, hostWords, hostWords_);
  if (methods) {
    methodLen_ = b_.loadField(req_, kReqMethodLen, "method.len");
    llvm::Value* words = b_.CreateBitCast(b_.fieldPtr(req_, kReqMethod), b_.getInt64Ty()->getPointerTo());
    for (unsigned w = 0; w < 2; ++w)
      methodWords_[w] = b_.CreateAlignedLoad(b_.getInt64Ty(), b_.CreateConstInBoundsGEP1_32(b_.getInt64Ty(), words, w),
                                             llvm::MaybeAlign(8), "method." + std::to_string(w));
  }
  if (headers) {
    seen_ = b_.loadField(req_, kReqSeen, "header.seen");
    repeated_ = b_.loadField(req_, kReqRepeated, "header.repeated");
  }
}

llvm::Value* HttpRequestTests::bit(const std::vector<llvm::Value*>& words, uint32_t bit) {
  llvm::Value* w = words.at(bit / 64);
  if (!w) throw std::logic_error("http pattern bit not prepared");
  return b_.testMask(w, uint64_t(1) << (bit % 64));
}

// The method's bytes as two little-endian words compared under a mask
// (bytes past method_len are not promised to be zero).
std::vector<llvm::Value*> HttpRequestTests::method(const std::string& m) {
  std::vector<llvm::Value*> all = {b_.CreateICmpEQ(methodLen_, b_.getInt8(static_cast<uint8_t>(m.size())))};
  for (unsigned w = 0; w < 2 && w * 8 < m.size(); ++w) {
    uint64_t value = 0, mask = 0;
    for (unsigned i = 0; i < 8 && w * 8 + i < m.size(); ++i) {
      value |= uint64_t(static_cast<uint8_t>(m[w * 8 + i])) << (8 * i);
      mask |= uint64_t(0xff) << (8 * i);
    }
    all.push_back(b_.CreateICmpEQ(b_.CreateAnd(methodWords_[w], b_.getInt64(mask)), b_.getInt64(value)));
  }
  return all;
}

std::vector<llvm::Value*> HttpRequestTests::header(const ir::HttpHeaderMatch& h) {
  uint32_t i = tables_.headerIndex(h.name);
  std::vector<llvm::Value*> all = {b_.testMask(seen_, uint64_t(1) << i)};
  if (!h.value) return all;
  // Exactly once, with exactly this value (value_len is the whole value's
  // length, so a longer one never passes for its first bytes).
  all.push_back(b_.CreateNot(b_.testMask(repeated_, uint64_t(1) << i)));
  llvm::Value* lens = b_.fieldPtr(req_, kReqValueLen);
  llvm::Value* lenPtr = b_.CreateConstInBoundsGEP2_32(lens->getType()->getPointerElementType(), lens, 0, i);
  llvm::Value* len = b_.CreateLoad(b_.getInt16Ty(), lenPtr, "value.len");
  all.push_back(b_.CreateICmpEQ(len, b_.getInt16(static_cast<uint16_t>(h.value->size()))));
  llvm::Value* values = b_.fieldPtr(req_, kReqValue);
  llvm::Value* row = b_.CreateConstInBoundsGEP2_32(values->getType()->getPointerElementType(), values, 0, i);
  llvm::Value* words = b_.CreateBitCast(row, b_.getInt64Ty()->getPointerTo());
  const std::string& v = *h.value;
  for (unsigned w = 0; w * 8 < v.size(); ++w) {
    uint64_t value = 0, mask = 0;
    for (unsigned k = 0; k < 8 && w * 8 + k < v.size(); ++k) {
      value |= uint64_t(static_cast<uint8_t>(v[w * 8 + k])) << (8 * k);
      mask |= uint64_t(0xff) << (8 * k);
    }
    llvm::Value* word = b_.CreateAlignedLoad(b_.getInt64Ty(), b_.CreateConstInBoundsGEP1_32(b_.getInt64Ty(), words, w),
                                             llvm::MaybeAlign(8));
    all.push_back(b_.CreateICmpEQ(b_.CreateAnd(word, b_.getInt64(mask)), b_.getInt64(value)));
  }
  return all;
}

// Control flow, not arithmetic: each test of an item branches on to the
// next test, or to the next item when it fails. BPF has no instruction that
// sets a register from a comparison, so an i1 kept as a value is a branch
// writing 0 or 1; the and/or of an item's tests kept several such values
// live at once, and the verifier walked every combination of them (one rule
// of 8 items exceeded its million instructions). Branching to where the
// next test starts leaves nothing but the request's words live there.
llvm::Value* HttpRequestTests::condition(const ir::HttpCondition& c) {
  llvm::LLVMContext& ctx = b_.getContext();
  llvm::Function* f = b_.GetInsertBlock()->getParent();
  llvm::BasicBlock* match = llvm::BasicBlock::Create(ctx, "http.match", f);
  for (const auto& m : c.requests) {
    llvm::BasicBlock* nextItem = llvm::BasicBlock::Create(ctx, "http.item", f);
    auto require = [&](llvm::Value* test) {
      llvm::BasicBlock* then = llvm::BasicBlock::Create(ctx, "http.test", f);
      b_.CreateCondBr(test, then, nextItem);
      b_.SetInsertPoint(then);
    };
    if (!m.method.empty())
      for (llvm::Value* t : method(m.method)) require(t);
    if (!m.path.empty()) require(bit(pathWords_, tables_.pathBit(m.path)));
    if (!m.host.empty()) require(bit(hostWords_, tables_.hostBit(m.host)));
    for (const auto& h : m.headers)
      for (llvm::Value* t : header(h)) require(t);
    b_.CreateBr(match);
    b_.SetInsertPoint(nextItem);
  }
  llvm::BasicBlock* noMatch = b_.GetInsertBlock();
  llvm::BasicBlock* done = llvm::BasicBlock::Create(ctx, "http.done", f);
  b_.CreateBr(done);
  b_.SetInsertPoint(match);
  b_.CreateBr(done);
  b_.SetInsertPoint(done);
  llvm::PHINode* matched = b_.CreatePHI(b_.getInt1Ty(), 2, "http.matched");
  matched->addIncoming(b_.getTrue(), match);
  matched->addIncoming(b_.getFalse(), noMatch);
  return matched;
}

}  // namespace membrane::codegen
