#!/bin/sh
# Measure the stripped release binary of every single-cloud feature set and
# of the default (all clouds) set against an empty `fn main() {}` built with
# the same profile, and keep the table in features.md up to date.
#
# usage: sizes.sh            rebuild, rewrite the table in features.md
#        sizes.sh --check    rebuild, fail if the table is stale (for CI);
#                            or a binary is over its budget
#
# Budgets: each single-cloud binary <= 700 KiB, all clouds <= 1 MiB; an
# image ships one of them, and the point of per-cloud packages is to stay
# far below cloud-init's footprint.
# SIZES_TOLERANCE=BYTES lets --check accept rows that moved by at most that
# much (default 0: the table must match exactly).
# FEATURES_MD, CARGO and STRIP override the document and the tools (tests
# use them to exercise this script without real release builds).
set -eu

here=$(cd "$(dirname "$0")" && pwd -P)
top=$(dirname "$here")
doc=${FEATURES_MD:-$top/features.md}
begin='<!-- sizes:begin -->'
end='<!-- sizes:end -->'
single_budget=$((700 * 1024))
all_budget=$((1024 * 1024))

check=0
case ${1:-} in
--check) check=1 ;;
"") ;;
*)
	echo "usage: $0 [--check]" >&2
	exit 2
	;;
esac

target_dir=${PACKAGING_TARGET_DIR:-$top/target/packaging}
bin=$target_dir/sizes
clouds=$("$here/build-clouds.sh" --list)

# shellcheck disable=SC2086 # cloud names are plain words
PACKAGING_TARGET_DIR=$target_dir "$here/build-clouds.sh" "$bin" $clouds all
# shellcheck disable=SC2086 # CARGO_FLAGS is a word list
${CARGO:-cargo} build --release --quiet ${CARGO_FLAGS:-} \
	--manifest-path "$here/empty-main/Cargo.toml" --target-dir "$target_dir"
cp "$target_dir/release/empty-main" "$bin/empty-main"

# The profile already strips; strip again in case a local config overrides
# the profile, so the numbers are always of what a package would ship.
strip=${STRIP:-strip}
if command -v "$strip" >/dev/null 2>&1; then
	for f in "$bin"/*; do "$strip" "$f"; done
fi

size_of() { wc -c <"$1" | tr -d ' '; }

empty=$(size_of "$bin/empty-main")
rustc_v=$(${RUSTC:-rustc} -V | cut -d' ' -f2)
host=$(${RUSTC:-rustc} -vV | sed -n 's/^host: //p')
over=0
table=$(mktemp)
trap 'rm -f "$table" "$table.doc"' EXIT

row() { # SET FILE APK
	bytes=$(size_of "$2")
	delta=$((bytes - empty))
	kib=$(awk -v b="$bytes" 'BEGIN { printf "%.1f", b / 1024 }')
	dkib=$(awk -v b="$delta" 'BEGIN { printf "%+.1f", b / 1024 }')
	echo "| $1 | $bytes | $kib | $delta ($dkib KiB) | $3 |" >>"$table"
}

budget() { # SET FILE LIMIT
	bytes=$(size_of "$2")
	if [ "$bytes" -gt "$3" ]; then
		echo "WARNING: $1 binary is $bytes bytes, over its budget of $3 bytes" >&2
		over=1
	fi
}

{
	echo "Stripped release binaries, rustc $rustc_v, $host (\`just sizes\` rewrites this table)."
	echo
	echo "| feature set | bytes | KiB | delta over empty main | APK name |"
	echo "|---|--:|--:|--:|---|"
} >"$table"
row "empty \`fn main() {}\`" "$bin/empty-main" "—"
for cloud in $clouds; do
	row "$cloud" "$bin/tiny-cloud-$cloud" "tiny-cloud-$cloud"
	budget "$cloud" "$bin/tiny-cloud-$cloud" "$single_budget"
done
row "all (default)" "$bin/tiny-cloud-all" "— (not packaged)"
budget "all-clouds" "$bin/tiny-cloud-all" "$all_budget"

if ! grep -qxF "$begin" "$doc" || ! grep -qxF "$end" "$doc"; then
	echo "sizes.sh: $doc lacks the $begin / $end markers" >&2
	exit 1
fi

# The current table: the lines strictly between the markers.
current() {
	awk -v b="$begin" -v e="$end" '$0 == e { in_t = 0 } in_t { print } $0 == b { in_t = 1 }' "$doc"
}

if [ "$check" = 1 ]; then
	stale=0
	if [ "${SIZES_TOLERANCE:-0}" = 0 ]; then
		current | cmp -s - "$table" || stale=1
	else
		# Same rows in the same order, each size within the tolerance.
		current | grep '^| [^-]' | awk -F' [|] ' -v t="$SIZES_TOLERANCE" -v new="$table" '
			BEGIN { while ((getline l < new) > 0) if (l ~ /^\| [^-]/) { split(l, f, " [|] "); n++; name[n] = f[1]; size[n] = f[2] } }
			{ i++; d = $2 - size[i]; if (d < 0) d = -d; if ($1 != name[i] || d > t) bad = 1 }
			END { exit (bad || i != n) }' || stale=1
	fi
	if [ "$stale" = 1 ]; then
		echo "sizes.sh: the table in features.md is stale; run \`just sizes\`. New table:" >&2
		cat "$table" >&2
		exit 1
	fi
	if [ "$over" = 1 ]; then
		echo "sizes.sh: over budget (see above); find what grew with \`cargo bloat --release --crates\`" >&2
		exit 1
	fi
	echo "sizes.sh: features.md is up to date, all binaries within budget" >&2
	exit 0
fi

awk -v b="$begin" -v e="$end" -v t="$table" '
	$0 == b { print; while ((getline l < t) > 0) print l; skip = 1; next }
	$0 == e { skip = 0 }
	!skip { print }' "$doc" >"$table.doc"
cat "$table.doc" >"$doc"
cat "$table"
[ "$over" = 0 ] || echo "WARNING: over budget, see above" >&2
