#!/usr/bin/env bash
# What mlrun loads at start (ARCHITECTURE.md, "Libraries and plugins"): the networked
# adapters' libraries (libcurl, hiredis, libpq, cpp-httplib's OpenSSL) and libtorch live in
# plugins loaded on demand, so neither mlrun nor libmlrun_core.so may need them, and a
# control command (`mlrun task list` on a fresh SQLite store) must not load them either.
# Prints one line per violation and exits 1 when there is any; a ctest (tests/CMakeLists.txt).
#
#   scripts/check_linked_libs.sh [BUILD_DIR]      (default: build)
set -euo pipefail
build="${1:-build}"
mlrun="$build/mlrun"
core="$build/libmlrun_core.so"
[[ -x "$mlrun" && -f "$core" ]] || { echo "check_linked_libs: no $mlrun or $core (build first)" >&2; exit 2; }
forbidden='libcurl|libhiredis|libpq|libssl|libgnutls|libtorch|libc10|libopencv|libmlrun_(redis|postgres|mlflow|server|tasks)'
bad=0
# Direct dependencies (DT_NEEDED), then everything the loader would map (ldd).
for f in "$mlrun" "$core"; do
    needed="$(readelf -d "$f" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')"
    if hits="$(grep -E "$forbidden" <<<"$needed")"; then
        while read -r lib; do echo "$f: needs $lib (it belongs in an on-demand plugin)"; done <<<"$hits"
        bad=1
    fi
done
if hits="$(ldd "$mlrun" | awk '{print $1}' | grep -E "$forbidden")"; then
    while read -r lib; do echo "$mlrun: loads $lib at start (ldd)"; done <<<"$hits"
    bad=1
fi
# At run time: a control command on a fresh store maps none of them either.
tmp="$(mktemp -d "${TMPDIR:-/tmp}/check_linked_libs_XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
if ! LD_DEBUG=files LD_DEBUG_OUTPUT="$tmp/ld" "$mlrun" --home "$tmp/store" task list >/dev/null 2>"$tmp/err"; then
    echo "$mlrun task list failed: $(cat "$tmp/err")"
    bad=1
fi
if hits="$(cat "$tmp"/ld.* | sed -n 's/.*file=\([^ ]*\).*/\1/p' | sort -u | grep -E "$forbidden")"; then
    while read -r lib; do echo "$mlrun task list: loaded $lib"; done <<<"$hits"
    bad=1
fi
n="$(ldd "$mlrun" | wc -l)"
if [[ $bad -eq 0 ]]; then
    echo "check_linked_libs: ok ($n libraries at start, none of the adapters' ones)"
fi
exit $bad
