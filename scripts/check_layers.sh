#!/usr/bin/env bash
# Layer check (DESIGN §2): every #include under src/, cli/ and tasks/ must point inward, and
# the heavy or networked libraries stay in the files that adapt them. Prints one line per
# violation ("file:line: layer X includes layer Y (...)") and exits 1 when there is any.
#
#   scripts/check_layers.sh               check this checkout
#   scripts/check_layers.sh --root DIR    check the tree at DIR
#   scripts/check_layers.sh --self-test   plant violations in copies and check they are caught
#
# The rules are the two tables at the top of the Python part below.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
script="$here/$(basename "$0")"

check() { python3 - "$1" <<'PY'
import os, re, sys

# ---- Rules ------------------------------------------------------------------------------
# Which layers a layer may include (its own layer is always allowed). A file's layer is its
# folder: src/<layer>/..., cli/ -> cli, tasks/ -> tasks (the built-in kinds).
# platform (OS code, includes nothing of ours) <- core <- ports <- adapters (store, queue,
# tracking, ml, tasks) <- engine/agent <- app <- cli/server. Adapters implement ports and
# know no engine; the engine and the agent see ports only; only app wires adapters; the CLI
# and the server may use engine types (options, progress) but never an adapter.
ALLOWED = {
    "platform": [],
    "core":     ["platform"],
    "ports":    ["core"],
    "ml":       ["core"],
    "store":    ["core", "ports", "platform"],
    "queue":    ["core", "ports", "platform"],
    "tracking": ["core", "ports", "platform"],
    "tasks":    ["core", "ports", "platform", "ml"],
    "engine":   ["core", "ports", "platform", "ml"],
    "agent":    ["core", "ports", "platform", "engine"],
    "app":      ["core", "ports", "platform", "ml", "tasks", "store", "queue", "tracking", "engine", "agent"],
    "server":   ["core", "ports", "platform", "ml", "engine", "app"],
    "cli":      ["core", "ports", "platform", "ml", "engine", "app", "server"],
}
# Single includes allowed across the table above, each with its reason.
EXCEPTIONS = {
    # exec and noop are linked into mlrun_core and registered by the kind registry itself;
    # the other kinds come through the plugin's KindSet entry point.
    ("src/engine/kinds.cpp", "tasks/core/core_kinds.hpp"),
}
# Port headers that still live beside their adapter count as layer "ports".
PORT_FILES = [
    "src/store/task_store.hpp", "src/store/task_store.cpp", "src/queue/queue.hpp",
    "src/tracking/tracker.hpp",
]
# Third-party headers (by include prefix) and the only files that may include them
# (a path ending in "/" is a folder; "*" is a wildcard).
THIRD_PARTY = [
    (("torch/", "ATen/", "c10/"), ["src/ml/", "tasks/kinds/", "tasks/plugin.cpp"]),
    (("opencv2/",),               ["src/ml/", "tasks/kinds/", "tasks/plugin.cpp"]),
    (("cairo.h",),                ["src/ml/plots.cpp"]),
    (("csv.h",),                  ["src/ml/io/csv.cpp"]),
    (("xgboost/",),               ["src/ml/models/xgb_model.cpp"]),
    (("curl/",),                  ["src/tracking/mlflow_*", "src/app/mlflow_uri.cpp"]),
    (("hiredis/",),               ["src/queue/redis*"]),
    (("sqlite3.h",),              ["src/store/sqlite*"]),
    (("libpq-fe.h", "pqxx/"),     ["src/store/postgres*"]),
    (("httplib.h",),              ["src/server/"]),
    (("yaml-cpp/",),              ["src/core/yaml.cpp"]),
    (("nettle/", "openssl/"),     ["src/core/util.cpp"]),
]
# The on-demand adapter plugins (src/CMakeLists.txt picks their files by name): a header of a
# plugin's files may be included only by that plugin's files and the core-side code that
# loads it; anything else would link plugin code into mlrun_core (or fail to link).
PLUGIN_HEADERS = [
    ("src/queue/redis_",     ["src/queue/redis_*", "src/app/wiring.cpp"]),
    ("src/store/postgres_",  ["src/store/postgres_*", "src/app/wiring.cpp"]),
    ("src/tracking/mlflow_", ["src/tracking/mlflow_*", "src/app/mlflow_*"]),
    ("src/app/mlflow_",      ["src/app/mlflow_*", "src/app/sync.cpp", "src/app/uri.cpp"]),
    ("src/server/",          ["src/server/", "cli/server_commands.cpp"]),
]
# Headers of those folders that mlrun_core compiles (not in a plugin).
PLUGIN_HEADERS_IN_CORE = ["src/server/tokens.hpp"]
# ------------------------------------------------------------------------------------------

root = os.path.abspath(sys.argv[1])
# Where a quoted include is looked for after the file's own folder: the compilers' -I list,
# then the root itself (so that "cli/cli.hpp" means cli/cli.hpp).
INCLUDE_DIRS = ["src", "tasks", "cli", "."]
include_re = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')

def layer_of(rel):
    if rel in PORT_FILES:
        return "ports"
    parts = rel.split("/")
    if parts[0] == "src" and len(parts) > 2:
        return parts[1]
    if parts[0] in ("cli", "tasks"):
        return parts[0]
    return None

def resolve(including_dir, name):
    for base in [including_dir] + [os.path.join(root, d) for d in INCLUDE_DIRS]:
        path = os.path.join(base, name)
        if os.path.isfile(path):
            return os.path.relpath(os.path.normpath(path), root)
    return None

def allowed_here(rel, patterns):
    for p in patterns:
        if p.endswith("/") and rel.startswith(p):
            return True
        if p.endswith("*") and rel.startswith(p[:-1]):
            return True
        if rel == p:
            return True
    return False

violations = []
for top in ("src", "cli", "tasks"):
    for dirpath, dirnames, filenames in os.walk(os.path.join(root, top)):
        dirnames.sort()
        for fn in sorted(filenames):
            if not fn.endswith((".cpp", ".hpp", ".h", ".cc")):
                continue
            path = os.path.join(dirpath, fn)
            rel = os.path.relpath(path, root)
            layer = layer_of(rel)
            if layer not in ALLOWED:
                violations.append(f"{rel}:1: unknown layer '{layer}' (add it to ALLOWED in scripts/check_layers.sh)")
                continue
            with open(path, encoding="utf-8", errors="replace") as f:
                for lineno, line in enumerate(f, 1):
                    m = include_re.match(line)
                    if not m:
                        continue
                    kind, name = m.groups()
                    target = resolve(dirpath, name) if kind == '"' else None
                    if target is not None:
                        to = layer_of(target)
                        if (to is not None and to != layer and to not in ALLOWED[layer]
                                and (rel, target) not in EXCEPTIONS):
                            violations.append(f"{rel}:{lineno}: layer {layer} includes layer {to} ({target})")
                        elif target not in PLUGIN_HEADERS_IN_CORE:
                            for prefix, where in PLUGIN_HEADERS:
                                if target.startswith(prefix) and not allowed_here(rel, where):
                                    violations.append(f"{rel}:{lineno}: includes {target} of an on-demand plugin "
                                                      f"(allowed in {', '.join(where)})")
                        continue
                    for prefixes, where in THIRD_PARTY:
                        if name.startswith(prefixes) and not allowed_here(rel, where):
                            violations.append(f"{rel}:{lineno}: {kind}{name}{'>' if kind == '<' else kind} "
                                              f"outside its adapters (allowed in {', '.join(where)})")
for v in violations:
    print(v)
sys.exit(1 if violations else 0)
PY
}

# Plants one violation in a copy of the tree and expects exactly that line to be added.
plant() { # plant NAME ROOT FILE LINE_TEXT EXPECTED_PATTERN BASELINE
    local name=$1 copy=$2 file=$3 text=$4 pattern=$5 baseline=$6 out rc
    printf '%s\n' "$text" >>"$copy/$file"
    set +e
    out="$(check "$copy")"
    rc=$?
    set -e
    sed -i '$d' "$copy/$file"
    local added
    added="$(diff <(printf '%s\n' "$baseline") <(printf '%s\n' "$out") | sed -n 's/^> //p' || true)"
    if [[ $rc -eq 1 ]] && grep -qE "$pattern" <<<"$added" && [[ $(wc -l <<<"$added") -eq 1 ]]; then
        echo "self-test: $name: caught: $added"
    else
        echo "self-test: $name: NOT caught (exit $rc; new lines: ${added:-none})" >&2
        return 1
    fi
}

self_test() {
    local tmp
    tmp="$(mktemp -d "${TMPDIR:-/tmp}/check_layers_XXXXXX")"
    trap 'rm -rf "$tmp"' RETURN
    # 1. A small tree that follows the rules passes; each planted violation fails it.
    local mini="$tmp/mini"
    mkdir -p "$mini/src/core" "$mini/src/ports" "$mini/src/store" "$mini/src/engine" "$mini/src/app" "$mini/cli"
    printf '#pragma once\n#include <string>\n' >"$mini/src/core/task.hpp"
    printf '#pragma once\n#include "core/task.hpp"\n' >"$mini/src/ports/task_store.hpp"
    printf '#include "ports/task_store.hpp"\n#include <sqlite3.h>\n' >"$mini/src/store/sqlite_store.cpp"
    printf '#include "ports/task_store.hpp"\n' >"$mini/src/engine/runner.cpp"
    printf '#pragma once\n#include "ports/task_store.hpp"\n' >"$mini/src/engine/runner.hpp"
    printf '#include "engine/runner.hpp"\n#include "core/task.hpp"\n' >"$mini/src/app/wiring.cpp"
    printf '#pragma once\n#include "core/task.hpp"\n' >"$mini/cli/cli.hpp"
    printf '#include "cli.hpp"\n' >"$mini/cli/main.cpp"
    check "$mini" >/dev/null || { echo "self-test: a clean tree fails:" >&2; check "$mini" >&2; return 1; }
    echo "self-test: clean small tree: passes"
    plant "mini: core includes cli" "$mini" src/core/task.hpp '#include "cli.hpp"' \
        '^src/core/task.hpp:3: layer core includes layer cli' ""
    plant "mini: engine includes torch" "$mini" src/engine/runner.cpp '#include <torch/torch.h>' \
        '^src/engine/runner.cpp:2: <torch/torch.h> outside its adapters' ""
    plant "mini: adapter includes engine" "$mini" src/store/sqlite_store.cpp '#include "engine/runner.hpp"' \
        '^src/store/sqlite_store.cpp:3: layer store includes layer engine' ""
    plant "mini: sqlite in the CLI" "$mini" cli/main.cpp '#include <sqlite3.h>' \
        '^cli/main.cpp:2: <sqlite3.h> outside its adapters' ""
    check "$mini" >/dev/null || { echo "self-test: planting left the small tree dirty" >&2; return 1; }

    # 2. A copy of this tree: each planted violation adds exactly its line to what the tree
    # reports today (violations other engineers are still removing stay as they are).
    local copy="$tmp/tree" baseline
    mkdir -p "$copy"
    cp -r "$here/../src" "$here/../cli" "$here/../tasks" "$copy/"
    baseline="$(check "$copy" || true)"
    [[ "$baseline" == "$(check "$here/.." || true)" ]] || { echo "self-test: the copy differs" >&2; return 1; }
    local n_core
    n_core=$(($(wc -l <"$copy/src/core/util.hpp") + 1))
    plant "tree: core includes cli" "$copy" src/core/util.hpp '#include "cli/cli.hpp"' \
        "^src/core/util.hpp:$n_core: layer core includes layer cli" "$baseline"
    local n_eng
    n_eng=$(($(wc -l <"$copy/src/engine/plan.cpp") + 1))
    plant "tree: engine includes torch" "$copy" src/engine/plan.cpp '#include <torch/torch.h>' \
        "^src/engine/plan.cpp:$n_eng: <torch/torch.h> outside its adapters" "$baseline"
    local n_app
    n_app=$(($(wc -l <"$copy/src/app/task_ops.cpp") + 1))
    plant "tree: app includes a Redis plugin header" "$copy" src/app/task_ops.cpp '#include "queue/redis_queue.hpp"' \
        "^src/app/task_ops.cpp:$n_app: includes src/queue/redis_queue.hpp of an on-demand plugin" "$baseline"
    echo "self-test: passed"
}

case "${1:-}" in
--self-test) self_test ;;
--root) check "$2" ;;
"") check "$here/.." ;;
*) echo "usage: $0 [--root DIR | --self-test]" >&2; exit 2 ;;
esac
