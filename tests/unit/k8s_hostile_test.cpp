// Hostile strings in every field of a manifest that reaches policy text
// (compiler/k8s; docs/kubernetes.md, "Names and strings").
//
// The import generates policy text and parses it again, so a string from a
// manifest that the text does not hold as one word is code. These tests put
// quotes, braces, backslashes, line breaks, comment markers, NUL, non-ASCII
// and very long strings into each such field (as YAML double-quoted scalars,
// which can hold any of them) and check that each manifest is either refused
// at the field's own line and column, or compiles to exactly the policies and
// rules the manifest has, and that `import k8s` output reads back the same.
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "pipeline/pipeline.h"
#include "frontend/lexical.h"
#include "frontend/parser.h"
#include "k8s/import.h"
#include "k8s_test_support.h"
#include "support/utf8.h"

namespace membrane::k8s {
namespace {

using fixtures::Manifests;
using fixtures::TempDir;

// Every field whose value reaches policy text (or the inventory), as a
// placeholder inside a double-quoted scalar; `{{K8S_KEY}}` and
// `{{NS_LABEL_KEY}}` sit after a fixed prefix. Defaults make it compile.
const char* kTemplate = R"(apiVersion: v1
kind: Namespace
metadata: {name: "{{NS_NAME}}", labels: {"{{NS_LABEL_KEY}}": "{{NS_LABEL_VALUE}}"}}
---
apiVersion: v1
kind: Pod
metadata: {name: "{{POD_NAME}}", namespace: shop, labels: {"{{POD_LABEL_KEY}}": "{{POD_LABEL_VALUE}}"}}
spec: {containers: [{name: c, ports: [{name: "{{POD_PORT_NAME}}", containerPort: 8080}]}]}
status: {podIP: "{{POD_IP}}"}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: "{{NP_NAME}}", namespace: "{{NP_NAMESPACE}}"}
spec:
  podSelector:
    matchLabels: {"{{NP_LABEL_KEY}}": "{{NP_LABEL_VALUE}}"}
    matchExpressions: [{key: "{{NP_EXPR_KEY}}", operator: In, values: ["{{NP_EXPR_VALUE}}", b]}]
  ingress:
    - from:
        - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: "{{NP_NS_VALUE}}"}}
          podSelector: {matchLabels: {app: web}}
        - ipBlock: {cidr: "{{NP_CIDR}}"}
        - ipBlock: {cidr: 0.0.0.0/0, except: ["{{NP_EXCEPT}}"]}
      ports: [{port: "{{NP_PORT}}"}, {protocol: "{{NP_PROTOCOL}}", port: 53}]
  egress:
    - to: [{namespaceSelector: {matchLabels: {"{{NP_NS_LABEL_KEY}}": x}}}]
---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: "{{CNP_NAME}}", namespace: shop}
spec:
  endpointSelector: {matchLabels: {"k8s:{{CNP_KEY}}": "{{CNP_VALUE}}"}}
  ingress:
    - fromEndpoints:
        - matchLabels: {"k8s:io.kubernetes.pod.namespace": "{{CNP_NS}}"}
        - matchLabels: {"io.cilium.k8s.namespace.labels.{{CNP_NS_KEY}}": x}
      fromEntities: ["{{CNP_ENTITY}}"]
      fromCIDR: ["{{CNP_CIDR}}"]
      toPorts: [{ports: [{port: "{{CNP_PORT}}", protocol: TCP}]}]
  egress:
    - icmps: [{fields: [{type: "{{CNP_ICMP}}"}]}]
---
apiVersion: cilium.io/v2
kind: CiliumClusterwideNetworkPolicy
metadata: {name: "{{CCNP_NAME}}"}
spec:
  endpointSelector: {matchLabels: {"k8s:io.kubernetes.pod.namespace": "{{CCNP_NS}}"}}
  egress: [{toEntities: [world]}]
)";

const std::map<std::string, std::string> kDefaults = {
    {"NS_NAME", "shop"},         {"NS_LABEL_KEY", "team"},       {"NS_LABEL_VALUE", "web"},
    {"POD_NAME", "api-0"},       {"POD_LABEL_KEY", "app"},       {"POD_LABEL_VALUE", "api"},
    {"POD_PORT_NAME", "http"},   {"POD_IP", "198.18.1.10"},      {"NP_NAME", "api"},
    {"NP_NAMESPACE", "shop"},    {"NP_LABEL_KEY", "app"},        {"NP_LABEL_VALUE", "api"},
    {"NP_EXPR_KEY", "tier"},     {"NP_EXPR_VALUE", "a"},         {"NP_NS_VALUE", "ops"},
    {"NP_CIDR", "198.19.0.0/16"}, {"NP_EXCEPT", "198.19.1.0/24"}, {"NP_PORT", "http"},
    {"NP_PROTOCOL", "UDP"},      {"NP_NS_LABEL_KEY", "team"},    {"CNP_NAME", "api"},
    {"CNP_KEY", "app"},          {"CNP_VALUE", "api"},           {"CNP_NS", "ops"},
    {"CNP_NS_KEY", "team"},      {"CNP_ENTITY", "host"},         {"CNP_CIDR", "198.19.0.0/16"},
    {"CNP_PORT", "80"},          {"CNP_ICMP", "EchoRequest"},    {"CCNP_NAME", "all-out"},
    {"CCNP_NS", "shop"},
};

// YAML double-quoted form of any text: escapes for '"', '\' and every C0
// control and DEL; the rest (UTF-8) as is.
std::string yamlEscaped(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c == 0x7F) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02X", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

struct Filled {
  std::string yaml;
  int line = 0, column = 0;  // of the opening quote of the field's scalar
};

Filled fill(const std::string& field, const std::string& value) {
  std::string text = kTemplate;
  for (const auto& [name, def] : kDefaults) {
    if (name == field) continue;
    std::string token = "{{" + name + "}}";
    size_t at = text.find(token);
    if (at == std::string::npos) throw std::logic_error("no placeholder " + name);
    text.replace(at, token.size(), def);
  }
  std::string token = "{{" + field + "}}";
  size_t at = text.find(token);
  if (at == std::string::npos) throw std::logic_error("no placeholder " + field);
  Filled out;
  size_t quote = text.rfind('"', at);
  size_t lineStart = text.rfind('\n', quote);
  out.line = static_cast<int>(std::count(text.begin(), text.begin() + static_cast<long>(quote), '\n')) + 1;
  out.column = static_cast<int>(quote - (lineStart == std::string::npos ? 0 : lineStart + 1)) + 1;
  out.yaml = text.replace(at, token.size(), yamlEscaped(value));
  return out;
}

// The strings: each breaks out of a bare word, a quoted string, a comment or
// a line in some way, or is merely long or unusual.
std::vector<std::string> hostileStrings() {
  std::vector<std::string> out = {
      "evil { namespace shop selects {} ingress { allow from all } } policy api",
      "x } ingress { allow from all } egress { allow to all",
      "a\"b",
      "a\\\"b",
      "\" } policy evil { selects {} ingress { allow from all } } policy \"",
      "a\\",
      "\\",
      "{",
      "}",
      "(a, b)",
      "a, tier = b",
      "a = b",
      "!a",
      "a/b/c",
      "/a",
      "a/",
      "k8s:app",
      "a:b:c",
      "dead:beef::1",
      "# comment",
      "a #b",
      "// comment",
      "a//b",
      "/* open",
      "a */ b",
      "a\nb",
      "a\r\nb",
      "\n",
      "a\tb",
      std::string("a\0b", 3),
      std::string(1, '\0'),
      "\x01",
      "\x7F",
      "\xC2\x85",      // NEL, a C1 control
      "\xE2\x80\xAE",  // RIGHT-TO-LEFT OVERRIDE
      "caf\xC3\xA9",   // non-ASCII letter
      "\xF0\x9F\x92\xA3",
      "",
      " ",
      "a b",
      "-a",
      "a-",
      "a..b",
      "1abc",
      "80",
      "0",
      "yes",
      "all",
      "policy",
      "namespace",
      "in",
      "notin",
      "pods",
      "cidr",
      "except",
      "198.18.0.0/16",
      "198.18.0.1",
      "198.18.0.0/16 except 198.18.1.0/24",
      "2001:2::/48",
      std::string(64, 'a'),
      std::string(254, 'a'),
      std::string(5000, 'b'),
      "Http",
      "a--b",
      "http",
  };
  return out;
}

struct Baseline {
  size_t policies = 0, rules = 0;
};

Baseline counts(const pipeline::Compilation& c) {
  Baseline b;
  if (c.checked) {
    b.policies = c.checked->policies.size();
    for (const auto& p : c.checked->policies) b.rules += p.rules.size();
  }
  return b;
}

TEST(K8sHostile, TheTemplateCompilesWithItsDefaults) {
  Filled f = fill("NP_NAME", "api");
  Manifests m(f.yaml, false);
  ASSERT_TRUE(m.ok());
  Baseline b = counts(m.compilation());
  EXPECT_EQ(b.policies, 3u);
  EXPECT_EQ(b.rules, 5u);
  EXPECT_EQ(m.compilation().ir->rules.size(), 5u);
}

// The property: every hostile string in every field is refused at the
// field's YAML line:col, or yields the same policies and rules as the
// defaults, and what `import k8s` writes reads back as converted.
TEST(K8sHostile, EveryFieldIsRefusedAtItsLocationOrKeepsThePolicyStructure) {
  Manifests base(fill("NP_NAME", "api").yaml, false);
  ASSERT_TRUE(base.ok());
  const Baseline expected = counts(base.compilation());
  size_t refused = 0, accepted = 0;
  for (const auto& [field, def] : kDefaults) {
    for (const auto& value : hostileStrings()) {
      SCOPED_TRACE("field " + field + " = \"" + yamlEscaped(value.substr(0, 100)) + "\"");
      Filled f = fill(field, value);
      Manifests m(f.yaml, false);
      const auto& c = m.compilation();
      std::string d = m.diagnostics();
      ASSERT_EQ(d.find("internal error"), std::string::npos) << d;
      if (c.outcome() == pipeline::Outcome::Ok) {
        ++accepted;
        Baseline got = counts(c);
        EXPECT_EQ(got.policies, expected.policies) << d;
        EXPECT_EQ(got.rules, expected.rules) << d;
        ASSERT_TRUE(c.ir);
        EXPECT_EQ(c.ir->rules.size(), expected.rules);
        // What `import k8s` writes: it throws if the text does not read
        // back as exactly the converted policies.
        SourceManager sources;
        DiagnosticEngine diags(sources);
        FileId id = sources.add(m.path(), f.yaml);
        ImportResult r = importManifests({id}, sources, diags);
        ASSERT_FALSE(diags.hasErrors());
        EXPECT_EQ(r.policies.size(), expected.policies);
        std::string text;
        EXPECT_NO_THROW(text = renderForOutput(r.policies, "hostile"));
        continue;
      }
      ++refused;
      // Refused: an error at the field itself, in the manifest.
      bool atField = false;
      for (const auto& diag : c.diags.all()) {
        if (diag.severity != Severity::Error) continue;
        SourceLoc loc = c.sources.original(diag.range).begin;
        EXPECT_EQ(c.sources.path(loc.file), m.path()) << d;
        if (static_cast<int>(loc.line) == f.line && static_cast<int>(loc.column) == f.column) atField = true;
      }
      EXPECT_TRUE(atField) << "expected an error at " << f.line << ":" << f.column << "\n" << d;
    }
  }
  // Both outcomes happen: the test is not vacuous.
  EXPECT_GT(refused, 1000u);
  EXPECT_GT(accepted, 20u);
}

// The exact payload of the hardening issue: a NetworkPolicy whose name
// closes its own policy and opens another one that allows everything.
TEST(K8sHostile, PolicyNameInjectionIsRefusedAtTheName) {
  Manifests m(R"(apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: "evil { namespace shop selects {} ingress { allow from all } } policy api"
  namespace: shop
spec:
  podSelector: {}
  ingress: []
)",
              false);
  EXPECT_EQ(m.compilation().outcome(), pipeline::Outcome::PolicyErrors);
  std::string d = m.diagnostics();
  EXPECT_NE(d.find("m.yaml:4:9: error: metadata.name: 'evil { namespace shop selects {} ingress { allow from all } } "
                   "policy api' is not a valid name"),
            std::string::npos)
      << d;
  EXPECT_FALSE(m.compilation().checked);
}

TEST(K8sHostile, NameWithALineBreakIsRefusedAtItsYamlLocation) {
  // Not at 1:1 of the generated text: at the scalar, in the manifest.
  Manifests m("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  namespace: shop\n"
              "  name: \"a\\nb\"\nspec: {podSelector: {}}\n",
              false);
  EXPECT_NE(m.diagnostics().find("m.yaml:5:9: error: metadata.name: control character U+000A in 'a\\nb'"),
            std::string::npos)
      << m.diagnostics();
}

TEST(K8sHostile, ValidNamesThatAreNotBareWordsAreQuoted) {
  // DNS names may start with a digit, port names too: such words are
  // quoted in the text, so they neither fail to parse nor lex as numbers.
  TempDir dir;
  std::string path = dir.write("n.yaml", R"(apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: 1-deny, namespace: 9shop}
spec:
  podSelector: {matchLabels: {"0app": "1"}}
  ingress: [{ports: [{port: 8080-http}]}]
)");
  SourceManager sources;
  DiagnosticEngine diags(sources);
  std::string error;
  ImportResult r = importManifests({*sources.load(path, &error)}, sources, diags);
  ASSERT_FALSE(diags.hasErrors());
  std::string text = renderForOutput(r.policies, "");
  EXPECT_NE(text.find("policy \"1-deny\" {\n  namespace \"9shop\"\n  selects { \"0app\" = \"1\" }\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("allow from all on tcp/\"8080-http\""), std::string::npos) << text;
  Manifests m(std::string(sources.text(0)), false);
  EXPECT_TRUE(m.ok());
}

TEST(K8sHostile, AFileNameCannotEndTheCommentThatNamesIt) {
  // The source comment above each policy holds the manifest's path.
  TempDir dir;
  std::string path = dir.write("a\npolicy evil { namespace shop selects {} ingress { allow from all } }\n.yaml",
                               "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
                               "metadata: {name: a, namespace: shop}\nspec: {podSelector: {}, ingress: []}\n");
  SourceManager sources;
  DiagnosticEngine diags(sources);
  std::string error;
  ImportResult r = importManifests({*sources.load(path, &error)}, sources, diags);
  ASSERT_FALSE(diags.hasErrors());
  std::string text = renderForOutput(r.policies, "");
  EXPECT_EQ(text.find("\npolicy evil"), std::string::npos) << text;
  EXPECT_NE(text.find("a\\npolicy evil"), std::string::npos) << text;
  pipeline::Compilation c;
  pipeline::run({{path}, {}}, c);
  ASSERT_TRUE(c.checked) << text;
  EXPECT_EQ(c.checked->policies.size(), 1u);
}

// quoteWord is the one place that writes a word: whatever it returns, the
// parser reads back as exactly the original, as a policy name, namespace,
// label key and label value; and it refuses only what a STRING cannot hold
// or a reviewer cannot see.
TEST(K8sHostile, QuotedWordsReadBackExactly) {
  std::vector<std::string> words = hostileStrings();
  std::mt19937 rng(12);
  const std::string alphabet = "aZ_09.-:/\\\"{}()#*,=! \t\n\x7F\xC3\xA9";
  for (int i = 0; i < 3000; ++i) {
    std::string w;
    size_t n = rng() % 12;
    for (size_t k = 0; k < n; ++k) w += alphabet[rng() % alphabet.size()];
    words.push_back(w);
  }
  size_t checked = 0;
  for (const auto& w : words) {
    auto token = frontend::quoteWord(w);
    bool control = false;
    for (unsigned char ch : w) control |= ch < 0x20 || ch == 0x7F;
    bool utf8 = firstInvalidUtf8(w) == std::string::npos;
    EXPECT_EQ(token.has_value(), !control && utf8) << yamlEscaped(w);
    if (!token) continue;
    std::string text = "policy " + *token + " { namespace " + *token + " selects { " + *token + " = " + *token +
                       ", " + *token + "/x } }\n";
    SourceManager sources;
    DiagnosticEngine diags(sources);
    FileId id = sources.add("w.policy", text);
    auto file = frontend::parseFile(id, sources, diags);
    ASSERT_TRUE(file) << yamlEscaped(text);
    ASSERT_EQ(file->policies.size(), 1u) << text;
    const auto& p = file->policies[0];
    EXPECT_EQ(p.name.text, w);
    ASSERT_TRUE(p.ns);
    EXPECT_EQ(p.ns->text, w);
    ASSERT_TRUE(p.selects);
    ASSERT_EQ(p.selects->requirements.size(), 2u) << text;
    EXPECT_EQ(p.selects->requirements[0].req.key, w);
    EXPECT_EQ(p.selects->requirements[0].req.values.at(0), w);
    EXPECT_EQ(p.selects->requirements[1].req.key, w + "/x");
    EXPECT_EQ(frontend::unquoteWord(*token), w);
    ++checked;
  }
  EXPECT_GT(checked, 1000u);
}

}  // namespace
}  // namespace membrane::k8s
