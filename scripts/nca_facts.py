#!/usr/bin/env python3
"""Turn IBM network-config-analyzer (nca) connectivity output into facts.

A fact is one CSV row ``src,dst,protocol,port,allowed``: may pod ``src``
("ns/name") open a connection to pod ``dst`` ("ns/name") on ``protocol``
(TCP, UDP or SCTP) and destination ``port``?  ``allowed`` is ``true`` or
``false``.  ``nplc matrix ... --format csv`` prints the same table, so after
both sides went through this module the comparison is a plain diff.

Subcommands (run with the venv's python; PyYAML is needed):

  nca_facts.py facts NCA_TXT --population POP [--probes-from CSV | --probes SPEC]
      NCA_TXT is what ``nca --connectivity ... -o txt_no_fw_rules
      --output_endpoints pods`` wrote ("-" = stdin).  Prints one row per
      (src pod, dst pod, probe), src != dst, pods taken from POP, sorted.
      Probes come from the distinct (protocol, port) pairs of an nplc matrix
      CSV (--probes-from), from --probes "TCP:80,UDP:53,SCTP:9000,TCP:8000-8002",
      or, by default, from the port boundaries the nca output itself mentions.
  nca_facts.py normalize CSV
      Canonicalises an nplc matrix CSV the same way (checks the header, maps
      allowed to true/false, upper-cases protocols, drops src == dst rows,
      rejects duplicate or conflicting rows, sorts).
  nca_facts.py prep-population POP OUT
      Writes the population in the form handed to nca (see below).
  nca_facts.py pods POP
      Lists the pods of a population, one "ns/name" per line.

What nca 2.1.0 prints (observed by running it offline; see
scripts/testdata/ for the inputs)
-------------------------------------------------------------------------

Command:  nca --connectivity DIR_OR_FILE --resource_list POP.yaml
              -o txt_no_fw_rules --output_endpoints pods -f OUT.txt

OUT.txt then holds one line per (source, destination, connection set),
sorted, nothing else::

    0.0.0.0-9.255.255.255 => ops/probe-0 : All connections
    10.0.0.0-10.0.255.255 => shop/web-0 : {protocols:TCP,dst_ports:8000-8100}
    ops/probe-0 => 0.0.0.0-255.255.255.255 : All connections
    ops/probe-0 => shop/web-0 : {protocols:TCP,dst_ports:8000-8100}
    shop/web-0 => 0.0.0.0-169.254.169.253 : {protocols:TCP,dst_ports:443}
    shop/web-0 => 169.254.169.255-255.255.255.255 : {protocols:TCP,dst_ports:443}
    shop/web-0 => ops/probe-0 : {protocols:SCTP,dst_ports:9000}
    shop/web-0 => ops/probe-0 : {protocols:UDP,dst_ports:53}
    shop/web-0 => shop/db-0 : {protocols:TCP,dst_ports:5432}
    b/cli => a/srv-1 : {protocols:TCP,dst_ports:1-79,81-65535}
    b/cli => a/srv-1 : {protocols:UDP, SCTP}
    a/srv-1 => 2001:db8::-2001:db8:0:ffff:ffff:ffff:ffff:ffff : {protocols:TCP,dst_ports:443}

- Endpoints.  A pod is "namespace/name" (with the default
  ``--output_endpoints deployments`` it would be "ns/name[Pod]" or
  "ns/owner[ReplicaSet]" / "ns/deploy[Deployment-StatefulSet]", replicas
  merged: always pass ``--output_endpoints pods``).  External addresses are
  IP *ranges* "first-last" (IPv4 or IPv6), a block with ``except`` split into
  several lines; never the pod IPs (nca never matches ipBlocks against pods,
  like nplc).  IPv6 lines appear only when some policy mentions an IPv6
  block (or with --print_ipv6).
- Pairs without any allowed connection are simply absent.  A pod to itself
  never appears (nca drops self loops).  The same pair can appear on several
  lines (one per connection "cube"); their union is what is allowed.
- Connection sets:
    "All connections"                 every protocol (0-255), every port
    "No connections"                  nothing (not seen in practice)
    "{k:v,k:v},{k:v}"                 union of cubes; a dimension missing
                                      from a cube means "any value"
    "All but {..},{..}"               complement of that union (nca picks
                                      whichever is shorter)
  Cube keys seen for Kubernetes policies: ``protocols`` and ``dst_ports``
  (``src_ports``, ``icmp_type``, ``icmp_code``, ``methods``, ``paths``,
  ``hosts`` exist for Calico/Istio and are rejected here).
  ``protocols`` is a comma-and-space separated list of IANA names ("TCP",
  "UDP, SCTP"), possibly "all but TCP, UDP"; numbers for unnamed protocols.
  ``dst_ports`` is a comma separated list of ports and inclusive ranges
  ("53", "80,443,8000-8100", "1-79,81-65535").
- Named ports are already resolved, per destination pod (and per protocol:
  a TCP rule on a port name the pod declares as UDP matches nothing; nca
  warns "Illegal protocol UDP in the named port dns of the pod ...
  Ignoring the pod").  endPort ranges are honoured; SCTP works; a ports
  entry without a port is "{protocols:X}" (every port of X); a rule without
  ports is "All connections" (every protocol, not only TCP/UDP/SCTP).

nca also drops "isomorphic" pods: it keeps at most two pods with the same
namespace, owner (ownerReferences) and labels.  ``prep-population``
therefore removes ownerReferences (irrelevant to NetworkPolicy) so every pod
of the population is modelled, and flattens ``kind: List`` documents (as
printed by ``kubectl get ns,pods -A -o yaml``; nca reads those too).
"""

import csv
import io
import ipaddress
import re
import sys

try:
    import yaml
except ImportError:  # pragma: no cover
    sys.exit("nca_facts.py: PyYAML is missing; run it with .venv/bin/python "
             "(pip install -r scripts/requirements.txt)")

HEADER = ["src", "dst", "protocol", "port", "allowed"]
PROTOCOLS = ("TCP", "UDP", "SCTP")
# nca prints IANA names; numbers only for protocols without a name.
PROTO_NUMBERS = {"6": "TCP", "17": "UDP", "132": "SCTP"}
TRUE_WORDS = {"true", "1", "yes", "y", "allow", "allowed", "permit", "permitted"}
FALSE_WORDS = {"false", "0", "no", "n", "deny", "denied", "drop", "dropped"}


class FactsError(Exception):
    """Input nca_facts cannot interpret: always fatal."""


# --------------------------------------------------------------- population

LIST_KINDS = {"List", "PodList", "NamespaceList"}


def _flatten(doc):
    if not isinstance(doc, dict):
        return
    if doc.get("kind") in LIST_KINDS:
        for item in doc.get("items") or []:
            if isinstance(item, dict) and "kind" not in item:
                item = dict(item, kind=doc["kind"][:-4])
            yield from _flatten(item)
    else:
        yield doc


def load_population(path):
    """Namespace and Pod objects of a population file, Lists flattened."""
    try:
        with open(path, encoding="utf-8") as f:
            docs = list(yaml.safe_load_all(f))
    except OSError as e:
        raise FactsError(f"cannot read population {path}: {e}") from e
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else path
        raise FactsError(f"population {where}: not valid YAML: "
                         f"{getattr(e, 'problem', None) or e}") from e
    objs = [o for d in docs for o in _flatten(d) if o.get("kind") in ("Namespace", "Pod")]
    if not any(o["kind"] == "Pod" for o in objs):
        raise FactsError(f"population {path} has no Pod objects")
    return objs


def pod_name(obj):
    md = obj.get("metadata") or {}
    if not md.get("name"):
        raise FactsError("a Pod in the population has no metadata.name")
    return f"{md.get('namespace') or 'default'}/{md['name']}"


def population_pods(path):
    names = [pod_name(o) for o in load_population(path) if o["kind"] == "Pod"]
    dups = sorted({n for n in names if names.count(n) > 1})
    if dups:
        raise FactsError(f"population {path} lists pods twice: {', '.join(dups)}")
    return sorted(names)


def prep_population(src, dst):
    """Write src as plain multi-document YAML without ownerReferences."""
    out = []
    for obj in load_population(src):
        obj = dict(obj)
        md = dict(obj.get("metadata") or {})
        md.pop("ownerReferences", None)
        obj["metadata"] = md
        out.append(obj)
    with open(dst, "w", encoding="utf-8") as f:
        yaml.safe_dump_all(out, f, sort_keys=False)
    return sum(1 for o in out if o["kind"] == "Pod")


# ------------------------------------------------------ connection sets

class Intervals:
    """A set of integers as inclusive ranges; None bounds = unrestricted."""

    def __init__(self, ranges):
        self.ranges = ranges

    @classmethod
    def parse(cls, text, what):
        ranges = []
        for part in text.split(","):
            part = part.strip()
            m = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
            if not m:
                raise FactsError(f"cannot read {what} {part!r} in {text!r}")
            lo = int(m.group(1))
            hi = int(m.group(2)) if m.group(2) else lo
            if hi < lo:
                raise FactsError(f"empty {what} range {part!r}")
            ranges.append((lo, hi))
        return cls(ranges)

    def __contains__(self, n):
        return any(lo <= n <= hi for lo, hi in self.ranges)

    def bounds(self):
        for lo, hi in self.ranges:
            yield from (lo - 1, lo, hi, hi + 1)


class Protocols:
    def __init__(self, names, negated):
        self.names, self.negated = names, negated

    @classmethod
    def parse(cls, text):
        text = text.strip()
        negated = text.startswith("all but ")
        if negated:
            text = text[len("all but "):]
        names = set()
        for name in text.split(","):
            name = name.strip()
            if not name:
                raise FactsError(f"cannot read protocols {text!r}")
            names.add(PROTO_NUMBERS.get(name, name.upper()))
        return cls(names, negated)

    def __contains__(self, proto):
        return (proto in self.names) != self.negated


class Cube:
    """One "{protocols:...,dst_ports:...}" term; missing key = any value."""

    KEY_RE = re.compile(r"(?:^|,)([a-z_]+):")

    def __init__(self, text):
        keys = list(self.KEY_RE.finditer(text))
        if not keys or keys[0].start() != 0:
            raise FactsError(f"cannot read connection cube {{{text}}}")
        self.protocols = self.dst_ports = None
        for i, m in enumerate(keys):
            end = keys[i + 1].start() if i + 1 < len(keys) else len(text)
            key, value = m.group(1), text[m.end():end]
            if key == "protocols":
                self.protocols = Protocols.parse(value)
            elif key == "dst_ports":
                self.dst_ports = Intervals.parse(value, "port")
            else:
                # src_ports, icmp_*, methods, paths, hosts: not Kubernetes
                # NetworkPolicy; the facts would be ambiguous.
                raise FactsError(f"unsupported connection dimension {key!r} in {{{text}}}")

    def allows(self, proto, port):
        return ((self.protocols is None or proto in self.protocols)
                and (self.dst_ports is None or port in self.dst_ports))


class ConnSet:
    def __init__(self, text):
        self.text = text = text.strip()
        self.all = text == "All connections"
        self.negated = False
        self.cubes = []
        if self.all or text == "No connections":
            return
        if text.startswith("All but "):
            self.negated, text = True, text[len("All but "):]
        terms = re.findall(r"\{([^{}]*)\}", text)
        if not terms or re.sub(r"\{[^{}]*\}", "", text).strip(",") != "":
            raise FactsError(f"cannot read connection set {self.text!r}")
        self.cubes = [Cube(t) for t in terms]

    def allows(self, proto, port):
        if self.all:
            return True
        return any(c.allows(proto, port) for c in self.cubes) != self.negated

    def port_bounds(self):
        for c in self.cubes:
            if c.dst_ports is not None:
                yield from c.dst_ports.bounds()


# ----------------------------------------------------------- nca output

# Lines nca writes around the map when its stdout is parsed instead of -f.
NOISE_PREFIXES = ("Warning:", "global:", "wrote query output", "Total run time",
                  "TCP Connections:", "non-TCP Connections:")


def is_external(endpoint):
    """True for "first-last" address ranges or CIDRs, comma separated."""
    for part in endpoint.split(","):
        try:
            if "/" in part:
                ipaddress.ip_network(part, strict=False)
            else:
                for addr in part.split("-", 1):
                    ipaddress.ip_address(addr)
        except ValueError:
            return False
    return True


def parse_nca(text, pods):
    """{(src, dst): [ConnSet]} for pod pairs; counts of ignored lines."""
    pods = set(pods)
    pairs, external = {}, 0
    for lineno, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith(NOISE_PREFIXES):
            continue
        m = re.fullmatch(r"(\S+) => (\S+) : (.+)", line)
        if not m:
            raise FactsError(f"line {lineno}: not an nca connectivity line: {line!r}")
        src, dst, conn = m.groups()
        conn = ConnSet(conn)
        kinds = []
        for ep in (src, dst):
            if ep in pods:
                kinds.append("pod")
            elif is_external(ep):
                kinds.append("ip")
            else:
                raise FactsError(
                    f"line {lineno}: endpoint {ep!r} is neither a pod of the population "
                    "nor an address range (did nca run with --output_endpoints pods "
                    "on a population prepared by prep-population?)")
        if kinds == ["pod", "pod"]:
            pairs.setdefault((src, dst), []).append(conn)
        else:
            external += 1
    return pairs, external


# --------------------------------------------------------------- probes

def parse_probe_spec(spec):
    probes = set()
    for item in spec.split(","):
        item = item.strip()
        m = re.fullmatch(r"([A-Za-z]+):(\d+)(?:-(\d+))?", item)
        if not m or m.group(1).upper() not in PROTOCOLS:
            raise FactsError(f"bad probe {item!r} (want PROTO:PORT or PROTO:LO-HI, "
                             f"PROTO one of {', '.join(PROTOCOLS)})")
        lo = int(m.group(2))
        hi = int(m.group(3) or lo)
        probes.update((m.group(1).upper(), p) for p in range(lo, hi + 1))
    return probes


def probes_from_matrix(path):
    return {(r[2], int(r[3])) for r in read_matrix(path)}


def auto_probes(*pair_maps):
    """Every protocol x (ports the connection sets start or end at, +-1)."""
    ports = {1, 53, 80, 443, 65535}
    for pairs in pair_maps:
        for conns in pairs.values():
            for c in conns:
                ports.update(c.port_bounds())
    return {(proto, p) for proto in PROTOCOLS for p in ports if 1 <= p <= 65535}


def facts(pairs, pods, probes):
    rows = []
    for src in pods:
        for dst in pods:
            if src == dst:
                continue
            conns = pairs.get((src, dst), [])
            for proto, port in probes:
                ok = any(c.allows(proto, port) for c in conns)
                rows.append((src, dst, proto, port, "true" if ok else "false"))
    return sorted(rows)


# --------------------------------------------------------- nplc matrix

def read_matrix(path, drop_self=True, stats=None):
    """Rows of an nplc matrix CSV, canonical and sorted."""
    try:
        f = sys.stdin if path == "-" else open(path, newline="", encoding="utf-8")
        with f:
            rows = list(csv.reader(f))
    except OSError as e:
        raise FactsError(f"cannot read matrix {path}: {e}") from e
    if not rows or [h.strip().lower() for h in rows[0]] != HEADER:
        got = ",".join(rows[0]) if rows else "(empty file)"
        raise FactsError(f"{path}: header must be {','.join(HEADER)}, got {got}")
    seen, out, selfs = {}, [], 0
    for n, r in enumerate(rows[1:], 2):
        if not r or all(not c.strip() for c in r):
            continue
        if len(r) != 5:
            raise FactsError(f"{path}:{n}: expected 5 fields, got {len(r)}: {r}")
        src, dst, proto, port, allowed = (c.strip() for c in r)
        proto = proto.upper()
        if proto not in PROTOCOLS:
            raise FactsError(f"{path}:{n}: protocol {proto!r} is not one of {', '.join(PROTOCOLS)}")
        if not port.isdigit() or not 1 <= int(port) <= 65535:
            raise FactsError(f"{path}:{n}: port {port!r} is not a number in 1-65535")
        a = allowed.lower()
        if a in TRUE_WORDS:
            a = "true"
        elif a in FALSE_WORDS:
            a = "false"
        else:
            raise FactsError(f"{path}:{n}: allowed {allowed!r} is not true/false")
        if "/" not in src or "/" not in dst:
            raise FactsError(f"{path}:{n}: pods must be written ns/name: {src!r}, {dst!r}")
        if src == dst and drop_self:
            selfs += 1
            continue
        key = (src, dst, proto, int(port))
        if key in seen:
            kind = "conflicting" if seen[key] != a else "duplicate"
            raise FactsError(f"{path}:{n}: {kind} row for {','.join(map(str, key))}")
        seen[key] = a
        out.append(key + (a,))
    if stats is not None:
        stats["self_rows_dropped"] = selfs
    return sorted(out)


def to_csv(rows):
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(HEADER)
    w.writerows(rows)
    return buf.getvalue()


# ------------------------------------------------------------------ CLI

def nca_facts_csv(nca_text, population, probes=None, probes_from=None, probe_set=None):
    """The whole conversion: (csv text, stats dict)."""
    pods = population_pods(population)
    pairs, external = parse_nca(nca_text, pods)
    if probe_set:
        probe_set = set(probe_set)
    elif probes_from:
        probe_set = probes_from_matrix(probes_from)
    elif probes:
        probe_set = parse_probe_spec(probes)
    else:
        probe_set = auto_probes(pairs)
    if not probe_set:
        raise FactsError("no probe ports")
    rows = facts(pairs, pods, sorted(probe_set))
    stats = {"pods": len(pods), "probes": len(probe_set), "facts": len(rows),
             "allowed": sum(r[4] == "true" for r in rows), "external_lines": external}
    return to_csv(rows), stats


def main(argv):
    import argparse
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("facts", help="nca txt_no_fw_rules output -> facts CSV")
    p.add_argument("nca_output")
    p.add_argument("--population", required=True)
    g = p.add_mutually_exclusive_group()
    g.add_argument("--probes-from", metavar="MATRIX_CSV")
    g.add_argument("--probes", metavar="SPEC")
    p = sub.add_parser("normalize", help="canonical form of an nplc matrix CSV")
    p.add_argument("csv")
    p = sub.add_parser("prep-population", help="population as handed to nca")
    p.add_argument("population")
    p.add_argument("out")
    p = sub.add_parser("pods", help="pods of a population")
    p.add_argument("population")
    a = ap.parse_args(argv)
    try:
        if a.cmd == "facts":
            if a.nca_output == "-":
                text = sys.stdin.read()
            else:
                with open(a.nca_output, encoding="utf-8") as f:
                    text = f.read()
            out, stats = nca_facts_csv(text, a.population, a.probes, a.probes_from)
            sys.stdout.write(out)
            print("nca_facts: " + ", ".join(f"{k}={v}" for k, v in stats.items()), file=sys.stderr)
        elif a.cmd == "normalize":
            stats = {}
            sys.stdout.write(to_csv(read_matrix(a.csv, stats=stats)))
            if stats["self_rows_dropped"]:
                print(f"nca_facts: dropped {stats['self_rows_dropped']} src == dst rows "
                      "(nca does not report a pod's traffic to itself)", file=sys.stderr)
        elif a.cmd == "prep-population":
            prep_population(a.population, a.out)
        elif a.cmd == "pods":
            print("\n".join(population_pods(a.population)))
    except (FactsError, OSError) as e:
        print(f"nca_facts: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    import signal
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # quiet under `| head`
    sys.exit(main(sys.argv[1:]))
