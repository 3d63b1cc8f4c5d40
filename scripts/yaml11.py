"""Read nplc's YAML the way YAML 1.1 readers do, and say where that differs
from the text nplc wrote (issue 10).

kubectl and the API machinery read manifests with go-yaml v2 (through
sigs.k8s.io/yaml), kubernetes-validate with PyYAML: both YAML 1.1, where a
plain `on`, `y`, `No` is a boolean, `1_000`, `0b1`, `017`, `1:20` an
integer, `2001-12-14` a date, `~` null, `=` and `<<` the value and merge
keys. nplc quotes every such string (src/emit/yaml.rs, `needs_quotes`).

`problems(text)` parses the text with PyYAML and looks at every scalar
node, mapping keys included: PyYAML's own YAML 1.1 resolver must tag it
`str`, and so must go-yaml v2's resolver (`goyaml_v2_tag`, a Python copy
of resolve.go for plain scalars: it adds `y`/`n`, `0o` and `0X` integers,
floats without a dot and dates with one-digit months). Only the values of
`port` and `endPort` may be integers, written as plain digits. The text
must also load with `yaml.safe_load_all`, as kubernetes-validate loads it.
Used by scripts/crosscheck; `python3 scripts/yaml11.py FILE...` checks
files by hand.
"""

import calendar
import re
import sys

import yaml

STR = "tag:yaml.org,2002:str"
INT = "tag:yaml.org,2002:int"
INT_FIELDS = ("port", "endPort")
DIGITS = re.compile(r"[0-9]+")

# go-yaml v2, resolve.go (as vendored in sigs.k8s.io/yaml/goyaml.v2)
_GO_MAP = {
    **dict.fromkeys("y Y yes Yes YES true True TRUE on On ON".split(), "bool"),
    **dict.fromkeys("n N no No NO false False FALSE off Off OFF".split(), "bool"),
    **dict.fromkeys(["", "~", "null", "Null", "NULL"], "null"),
    **dict.fromkeys(".nan .NaN .NAN .inf .Inf .INF +.inf +.Inf +.INF -.inf -.Inf -.INF".split(),
                    "float"),
}
_GO_STYLE_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_GO_TIMESTAMP = re.compile(r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})"
                           r"(?:([Tt ])([0-9]{1,2}):([0-9]{1,2}):([0-9]{1,2})"
                           r"(?:[.,][0-9]+)?(Z|[-+][0-9]{2}:[0-9]{2})?)?")


def _go_int(s):
    """strconv.ParseInt(s, 0, 64), its syntax (go-yaml v2 reads a larger
    integer as a big.Int or a float)."""
    u = s[1:] if s[:1] in ("+", "-") else s
    if not u:
        return False
    base, digits = 10, u
    if u[0] == "0":
        prefixes = {"x": 16, "b": 2, "o": 8}
        if len(u) >= 3 and u[1].lower() in prefixes:
            base, digits = prefixes[u[1].lower()], u[2:]
        else:
            base, digits = 8, u[1:]
    return all(c in "0123456789abcdef"[:base] for c in digits.lower())


def _go_float(s):
    try:
        return abs(float(s)) != float("inf")
    except ValueError:
        return False


def _go_timestamp(s):
    """parseTimestamp: `YYYY-` first, then one of go-yaml's time.Parse
    layouts (date only; `T`/`t` with a zone; a space without one)."""
    m = _GO_TIMESTAMP.fullmatch(s)
    if not m:
        return False
    y, mo, d, sep, h, mi, sec, zone = m.groups()
    if not (1 <= int(mo) <= 12 and 1 <= int(d) <= calendar.monthrange(int(y), int(mo))[1]):
        return False
    if sep is None:
        return True
    if not (int(h) < 24 and int(mi) < 60 and int(sec) < 60):
        return False
    return (zone is None) if sep == " " else (zone is not None)


def goyaml_v2_tag(s):
    """The tag go-yaml v2 gives the plain scalar `s` (`merge` for `<<`,
    which its decoder takes for a merge key as a mapping key)."""
    if s == "<<":
        return "merge"
    hint = "N" if not s else ("S" if s[0] in "+-" else "D" if s[0].isdigit() and s[0].isascii()
                              else "M" if s[0] in "yYnNtTfFoO~" else "." if s[0] == "." else None)
    if hint is None:
        return "str"
    if s in _GO_MAP:
        return _GO_MAP[s]
    if hint == ".":
        return "float" if re.fullmatch(r"\.[0-9]+([eE][-+]?[0-9]+)?", s) and _go_float(s) else "str"
    if hint in ("D", "S"):
        if _go_timestamp(s):
            return "timestamp"
        plain = s.replace("_", "")
        if _go_int(plain):
            return "int"
        if _GO_STYLE_FLOAT.fullmatch(plain) and _go_float(plain):
            return "float"
        rest = plain[2:] if plain.startswith("0b") else None
        if rest is not None:
            r = rest[1:] if rest[:1] in ("+", "-") else rest
            if r and set(r) <= {"0", "1"}:
                return "int"
        elif plain.startswith("-0b") and plain[3:] and set(plain[3:]) <= {"0", "1"}:
            return "int"
    return "str"


def problems(text):
    """Where a YAML 1.1 reader reads `text` otherwise than it is written:
    a list of "path: what" lines, empty when there is none."""
    try:
        nodes = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
        list(yaml.safe_load_all(text))
    except yaml.YAMLError as e:
        return [f"PyYAML cannot read it: {' '.join(str(e).split())}"]
    found = []

    def scalar(node, path, key):
        plain = node.style is None
        go = goyaml_v2_tag(node.value) if plain else "str"
        if node.tag == STR and go == "str":
            return
        if (key in INT_FIELDS and plain and node.tag == INT and go == "int"
                and DIGITS.fullmatch(node.value)):
            return
        found.append(f"{path}: {node.value!r} reads as {node.tag.rsplit(':', 1)[-1]} "
                     f"(PyYAML), {go} (go-yaml v2)")

    def walk(node, path, key):
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                if isinstance(k, yaml.ScalarNode):
                    scalar(k, f"{path} key", None)
                    walk(v, f"{path}.{k.value}", k.value)
                else:
                    found.append(f"{path}: a key that is not a scalar")
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                walk(item, f"{path}[{i}]", key)
        else:
            scalar(node, path, key)

    for i, node in enumerate(nodes):
        if node is not None:
            walk(node, f"doc{i}", None)
    return found


def strings(text):
    """Every mapping key and string scalar of `text`, as PyYAML reads it."""
    out = set()

    def walk(v):
        if isinstance(v, dict):
            for k, x in v.items():
                out.add(k)
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)
        elif isinstance(v, str):
            out.add(v)

    for doc in yaml.safe_load_all(text):
        walk(doc)
    return out


# The checker must catch the example and each other class, in keys
# and values, and pass their quoted forms and what nplc writes plain.
_BAD = {
    "matchLabels: {on: yes}": "spec:\n  podSelector:\n    matchLabels: {on: yes}\n",
    "a key yes": "metadata:\n  labels:\n    yes: a\n",
    "a key y (go-yaml only)": "spec:\n  matchLabels:\n    y: a\n",
    "a value N (go-yaml only)": "spec:\n  matchLabels:\n    a: N\n",
    "a name 017": "metadata:\n  name: 017\n",
    "a value 1_000": "spec:\n  matchLabels:\n    a: 1_000\n",
    "a value 0b1": "spec:\n  values:\n  - 0b1\n",
    "0o17 (go-yaml only)": "spec:\n  values:\n  - 0o17\n",
    "1e3 (go-yaml only)": "spec:\n  values:\n  - 1e3\n",
    "a date": "spec:\n  values:\n  - 2001-12-14\n",
    "a short date (go-yaml only)": "spec:\n  values:\n  - 2001-1-2\n",
    "null": "metadata:\n  name: ~\n",
    "a port 1_000": "spec:\n  ports:\n  - port: 1_000\n",
    "a port true": "spec:\n  ports:\n  - port: true\n",
    "the value key": "spec:\n  values:\n  - =\n",
    "sexagesimal": "metadata:\n  annotations:\n    a: 1:20\n",
    "a merge key": "metadata:\n  labels:\n    <<: a\n",
}
_GOOD = ("metadata:\n  labels:\n    'on': 'yes'\n    'y': 'n'\n  name: '017'\nspec:\n  ports:\n"
         "  - port: 80\n    endPort: 90\n  - port: 'y'\n  values:\n  - '2001-12-14'\n"
         "  - '='\n  - ''\n  - ::/0\n  - 10.0.0.0/8\n  - 1team\n  - |-\n    on\n    1_000\n"
         "  - \"a\\tb\"\n")


def self_test():
    """An error message when the checker misses a known case, else None."""
    for what, text in _BAD.items():
        if not problems(text):
            return f"yaml11: {what} passed:\n{text}"
    bad = problems(_GOOD)
    if bad:
        return "yaml11: quoted text flagged: " + "; ".join(bad)
    return None


if __name__ == "__main__":
    err = self_test()
    if err:
        sys.exit(err)
    status = 0
    for name in sys.argv[1:]:
        with open(name, encoding="utf-8") as f:
            for p in problems(f.read()):
                print(f"{name}: {p}")
                status = 1
    sys.exit(status)
