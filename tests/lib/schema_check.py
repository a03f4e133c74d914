#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Validate YAML files against a JSON Schema (2020-12), for the test that
checks schema/manifest.schema.json and `upgr validate` agree.

    /usr/bin/python3 tests/lib/schema_check.py SCHEMA FILE...

Prints one line per file: "FILE: valid", "FILE: invalid: REASON" or
"FILE: unloadable: REASON". Exits 0 unless the schema itself is broken.

Plain scalars are typed as the YAML 1.2 core schema says, exactly as upgr's
ydoc reads them (see src/ydoc.h), not as PyYAML's YAML 1.1 defaults would
(where `yes` is true, `0755` is octal 493 and `=` is special): the point is
to compare two validators on the same data.
"""
import re
import sys

import jsonschema
import yaml


class CoreLoader(yaml.SafeLoader):
    """SafeLoader with the YAML 1.2 core schema's implicit types only."""


CoreLoader.yaml_implicit_resolvers = {}

_RESOLVERS = [
    ("tag:yaml.org,2002:null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
    ("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", list("tTfF")),
    ("tag:yaml.org,2002:int", r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$",
     list("-+0123456789")),
    ("tag:yaml.org,2002:float",
     r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
     r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$", list("-+0123456789.")),
]
for tag, rx, first in _RESOLVERS:
    CoreLoader.add_implicit_resolver(tag, re.compile(rx), first)


def _int(loader, node):
    v = loader.construct_scalar(node)
    if v.startswith("0o"):
        return int(v[2:], 8)
    if v.startswith("0x"):
        return int(v[2:], 16)
    return int(v, 10)


def _float(loader, node):
    v = loader.construct_scalar(node).lower()
    if v.endswith(".inf"):
        return float("-inf") if v.startswith("-") else float("inf")
    if v == ".nan":
        return float("nan")
    return float(v)


CoreLoader.add_constructor("tag:yaml.org,2002:int", _int)
CoreLoader.add_constructor("tag:yaml.org,2002:float", _float)


def main(argv):
    if len(argv) < 2:
        print("usage: schema_check.py SCHEMA FILE...", file=sys.stderr)
        return 2
    import json
    with open(argv[1], encoding="utf-8") as f:
        schema = json.load(f)
    cls = jsonschema.Draft202012Validator
    cls.check_schema(schema)
    validator = cls(schema)
    for path in argv[2:]:
        try:
            with open(path, "rb") as f:
                data = yaml.load(f, Loader=CoreLoader)
        except (yaml.YAMLError, OSError, ValueError) as e:
            print("%s: unloadable: %s" % (path, str(e).replace("\n", " ")))
            continue
        errors = sorted(validator.iter_errors(data), key=lambda e: list(e.path))
        if errors:
            e = errors[0]
            where = "/".join(str(p) for p in e.path) or "(top)"
            print("%s: invalid: %s: %s" % (path, where, e.message.replace("\n", " ")))
        else:
            print("%s: valid" % path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
