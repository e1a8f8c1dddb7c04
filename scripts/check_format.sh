#!/usr/bin/env bash
# Format check: clang-format (the repository's .clang-format) on every .cpp/.hpp under src,
# cli, tasks, tests and bench. Prints clang-format's diagnostics and a count of the files
# and lines it would change; exits 1 when any, 0 when the tree is formatted.
#   scripts/check_format.sh           check
#   scripts/check_format.sh --fix     reformat those files in place
set -euo pipefail
cd "$(dirname "$0")/.."
clang_format="${CLANG_FORMAT:-$(command -v clang-format-14 || command -v clang-format || true)}"
[[ -n "$clang_format" ]] || { echo "check_format: clang-format not found (apt-get install clang-format)" >&2; exit 2; }

mapfile -t files < <(git ls-files -co --exclude-standard -- 'src/*.cpp' 'src/*.hpp' 'cli/*.cpp' 'cli/*.hpp' \
    'tasks/*.cpp' 'tasks/*.hpp' 'tests/*.cpp' 'tests/*.hpp' 'bench/*.cpp' 'bench/*.hpp')
if [[ "${1:-}" == "--fix" ]]; then
    "$clang_format" -i --style=file "${files[@]}"
    exit 0
fi
bad_files=0
bad_lines=0
for f in "${files[@]}"; do
    if ! "$clang_format" --dry-run --Werror --style=file "$f" 2>/dev/null; then
        "$clang_format" --dry-run --style=file "$f" 2>&1 | head -20 >&2 || true
        n=$("$clang_format" --style=file "$f" | diff -U0 "$f" - | grep -c '^-[^-]' || true)
        bad_files=$((bad_files + 1))
        bad_lines=$((bad_lines + n))
    fi
done
if [[ $bad_files -gt 0 ]]; then
    echo "check_format: $bad_files of ${#files[@]} files need formatting ($bad_lines lines would change);" \
         "run scripts/check_format.sh --fix" >&2
    exit 1
fi
echo "check_format: ${#files[@]} files formatted"
