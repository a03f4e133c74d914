#!/bin/sh
# make demo: the main job on an embedded default. Today: validate the
# example release's manifest and print a summary of it. (It grows as
# features land: publish to a local file:// repository, run the agent,
# verify the audit log.)
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
manifest=examples/hello/manifest.yaml

echo "== ./upgr validate $manifest"
./upgr validate "$manifest"
echo "valid"
echo

# The summary reads the example's own simple layout (one key per line);
# only upgr parses manifests for real.
echo "== the release"
awk '
function val(s) { sub(/^[^:]*:[ ]*/, "", s); gsub(/"/, "", s); return s }
function flush() { if (file != "") files = files file "\n"; file = "" }
/^[a-z]/ { flush(); section = $1; sub(/:.*/, "", section) }
/^(app|version|target):/ { printf "%-9s %s\n", section, val($0) }
section == "files" && /^  - path:/ { flush(); n++; file = sprintf("  %-16s", val($0)) }
section == "files" && /^    mode:/ { file = file " mode " val($0) }
section == "files" && /^    config: true/ { file = file ", config (kept if edited locally)" }
section == "preconditions" && /^  - / { sub(/^  - /, ""); pre = pre "  " $0 "\n" }
section == "preconditions" && /^    [a-z]/ { sub(/^    /, ""); pre = pre "    " $0 "\n" }
/^(stop|start|health|rollback):/ {
	rest = $0; sub(/^[a-z]+:[ ]*/, "", rest); steps = steps sprintf("  %-9s %s\n", section, rest)
}
END {
	flush()
	printf "files     %d\n%s", n, files
	printf "preconditions\n%s", pre
	printf "steps\n%s", steps
}' "$manifest"
