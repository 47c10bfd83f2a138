#!/usr/bin/env bash
# Writes the seed corpora of the cargo-fuzz targets from the repository's migration files:
#   fuzz/corpus/load_migration/  one file per migration (examples/blog/migrations/*.toml,
#                                tests/embedded/**/*.toml)
#   fuzz/corpus/graph/           each project's files joined into one input: per file, its
#                                path under the migrations folder on the first line, then its
#                                text, files separated by the byte 0x1E (see
#                                fuzz_targets/graph.rs); plus one input per single file
# Run from anywhere; existing corpus entries (found by earlier runs) are kept.
set -euo pipefail
fuzz="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$fuzz")"
lm="$fuzz/corpus/load_migration"
graph="$fuzz/corpus/graph"
mkdir -p "$lm" "$graph"

# project name -> migrations folder
projects=("blog:$root/examples/blog/migrations" "embedded:$root/tests/embedded")

for entry in "${projects[@]}"; do
    project="${entry%%:*}"
    dir="${entry#*:}"
    out="$graph/seed-$project"
    : > "$out"
    first=1
    while IFS= read -r file; do
        rel="${file#"$dir"/}"
        cp "$file" "$lm/seed-$project-${rel//\//-}"
        { printf '%s\n' "$rel"; cat "$file"; } > "$graph/seed-$project-${rel//\//-}"
        if [ "$first" -eq 0 ]; then printf '\036' >> "$out"; fi
        first=0
        { printf '%s\n' "$rel"; cat "$file"; } >> "$out"
    done < <(find "$dir" -name '*.toml' -type f | LC_ALL=C sort)
done

echo "load_migration: $(find "$lm" -type f | wc -l) files in $lm"
echo "graph: $(find "$graph" -type f | wc -l) files in $graph"
