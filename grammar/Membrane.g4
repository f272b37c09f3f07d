// The membrane policy language. Reference: docs/language.md.
//
// Design notes:
//  - Keywords are reserved only where they start a construct; label keys and
//    values accept any word (see `word`), so `role = ingress` just works.
//  - Protocol and port are bound with '/', e.g. `tcp/8080`, so lists never
//    need lookahead to know where a protocol's ports end.
//  - Comments go to the hidden channel (not skipped) so `membranec fmt` can
//    keep them.
//  - `with NAME { ... }` after a rule: each rule kind parses its own body
//    (compiler/features/<kind>/), so a kind needs no grammar change.
//  - `service [NS/]NAME [in namespaceRef]` and `service { labels } [in
//    namespaceRef]` name Kubernetes Services; the compiler looks them up in
//    the inventory.
//  - `processes { exe "/usr/local/bin/api" }` in a policy: the executables
//    of the selected endpoints that may use the network at all (egress).
//    Its body is the process rule kind's, parsed by that kind's module.
//  - `dns "a.example.com", "*.example.com"`: strings after `dns` continue
//    its list (the loop is greedy), any other peer ends it.
//  - `nodes { labels }`: the cluster's nodes whose labels match; the compiler
//    puts their addresses from the inventory in its place.
//  - `tier admin priority N` / `tier baseline`: the AdminNetworkPolicy
//    tiers around ordinary policies (docs/language.md, "Tiers"); `pass` is
//    their third action. `selects SEL in NAMESPACES` narrows a clusterwide
//    policy's subjects by namespace.
grammar Membrane;

file
    : item* EOF
    ;

item
    : NAMESPACE word                              # fileNamespace
    | SELECTOR word '=' selectorBody              # selectorDef
    | PORTS word '=' l4List                       # portsDef
    | PEERS word '=' peerList                     # peersDef
    | POLICY word '{' policyStmt* '}'             # policyDef
    ;

policyStmt
    : NAMESPACE word                              # policyNamespace
    | CLUSTERWIDE                                 # policyClusterwide
    | SELECTS selectorRef (IN namespaceRef)?      # policySelects
    | MODE word                                   # policyMode
    | TIER ADMIN PRIORITY NUMBER                  # policyAdminTier
    | TIER BASELINE                               # policyBaselineTier
    | PROCESSES '{' balanced* '}'                 # policyProcesses
    | INGRESS '{' policyRule* '}'                       # ingressSection
    | EGRESS '{' policyRule* '}'                        # egressSection
    ;

policyRule
    : action=(ALLOW | DENY | PASS) dir=(FROM | TO) peerList (ON l4List)? extension*
    ;

// Reserved for L7 (http, kafka, dns), process constraints and more.
extension
    : WITH word '{' balanced* '}'
    ;

balanced
    : '{' balanced* '}'
    | ~('{' | '}')
    ;

peerList
    : peer (',' peer)*
    ;

peer
    : PODS selectorRef (IN namespaceRef)?         # podsPeer
    | namespaceRef                                # namespacesPeer
    | entity=(WORLD | CLUSTER | HOST | ALL)       # entityPeer
    | CIDR ADDRESS (EXCEPT exceptList)?           # cidrPeer
    | SERVICE word ('/' word)? (IN namespaceRef)? # servicePeer
    | SERVICE selectorBody (IN namespaceRef)?     # servicesBySelectorPeer
    | DNS STRING (',' STRING)*                    # dnsPeer
    | NODES selectorRef                           # nodesPeer
    | word                                        # peerRef
    ;

namespaceRef
    : NAMESPACES selectorRef                      # namespacesBySelector
    | NAMESPACE word                              # namespaceByName
    ;

exceptList
    : ADDRESS
    | '(' ADDRESS (',' ADDRESS)* ','? ')'
    ;

selectorRef
    : selectorBody                                # inlineSelector
    | word                                        # namedSelector
    ;

selectorBody
    : '{' (requirement (',' requirement)* ','?)? '}'
    ;

requirement
    : labelKey op=('=' | '==' | '!=') labelValue                    # reqCompare
    | labelKey op=(IN | NOTIN) '(' labelValue (',' labelValue)* ','? ')'  # reqSet
    | labelKey                                                      # reqExists
    | '!' labelKey                                                  # reqNotExists
    ;

labelKey
    : word ('/' word)?
    ;

labelValue
    : word
    | NUMBER
    | STRING
    ;

l4List
    : l4Item (',' l4Item)*
    ;

l4Item
    : proto=(TCP | UDP | SCTP) ('/' portSet)?     # portProto
    | proto=(ICMP | ICMPV6) ('/' icmpSet)?        # icmpProto
    | ANY                                         # anyProto
    | word                                        # l4Ref
    ;

portSet
    : portSpec
    | '{' portSpec (',' portSpec)* ','? '}'
    ;

portSpec
    : NUMBER ('-' NUMBER)?                        # portNumber
    | word                                        # portName
    ;

icmpSet
    : icmpType
    | '{' icmpType (',' icmpType)* ','? '}'
    ;

icmpType
    : NUMBER
    | word
    ;

// Any identifier-like token, keywords included: label keys and values, names.
word
    : NAME
    | STRING
    | NAMESPACE | SELECTOR | PORTS | PEERS | POLICY | CLUSTERWIDE | SELECTS
    | MODE | INGRESS | EGRESS | ALLOW | DENY | FROM | TO | ON | WITH | PODS
    | NAMESPACES | IN | NOTIN | CIDR | EXCEPT | SERVICE | WORLD | CLUSTER
    | HOST | ALL | ANY | TCP | UDP | SCTP | ICMP | ICMPV6 | DNS | PROCESSES
    | TIER | ADMIN | BASELINE | PRIORITY | PASS | NODES
    ;

NAMESPACE   : 'namespace';
SELECTOR    : 'selector';
PORTS       : 'ports';
PEERS       : 'peers';
POLICY      : 'policy';
CLUSTERWIDE : 'clusterwide';
SELECTS     : 'selects';
MODE        : 'mode';
PROCESSES   : 'processes';
INGRESS     : 'ingress';
EGRESS      : 'egress';
ALLOW       : 'allow';
DENY        : 'deny';
FROM        : 'from';
TO          : 'to';
ON          : 'on';
WITH        : 'with';
PODS        : 'pods';
NAMESPACES  : 'namespaces';
IN          : 'in';
NOTIN       : 'notin';
CIDR        : 'cidr';
EXCEPT      : 'except';
SERVICE     : 'service';
DNS         : 'dns';
WORLD       : 'world';
CLUSTER     : 'cluster';
HOST        : 'host';
ALL         : 'all';
ANY         : 'any';
TCP         : 'tcp';
UDP         : 'udp';
SCTP        : 'sctp';
ICMP        : 'icmp';
ICMPV6      : 'icmpv6';
TIER        : 'tier';
ADMIN       : 'admin';
BASELINE    : 'baseline';
PRIORITY    : 'priority';
PASS        : 'pass';
NODES       : 'nodes';

// An address or prefix. Listed before NAME so `fd00::1` is an address (ties go
// to the first rule); IPv6 needs two colons, so `k8s:app` stays a NAME.
ADDRESS
    : DIGITS '.' DIGITS '.' DIGITS '.' DIGITS ('/' DIGITS)?
    | HEX* ':' HEX* ':' (HEX | ':' | '.')* ('/' DIGITS)?
    ;

NUMBER  : DIGITS;
NAME    : [a-zA-Z_] [a-zA-Z0-9_.:\-]*;
STRING  : '"' (~["\\\r\n] | '\\' ["\\])* '"';

LINE_COMMENT  : ('#' | '//') ~[\r\n]* -> channel(HIDDEN);
BLOCK_COMMENT : '/*' .*? '*/' -> channel(HIDDEN);
WS            : [ \t\r\n]+ -> channel(HIDDEN);

OTHER : . ;

fragment DIGITS : [0-9]+;
fragment HEX    : [0-9a-fA-F];
