#!/bin/sh
# Measure the stripped release binary of every single-cloud feature set and
# of the default (all clouds) set against an empty `fn main() {}` built with
# the same profile, and keep features.md up to date: the size table between
# its markers, and the "binary size" column of the feature table (the table
# whose header is "| feature | cloud | what it fetches ... | binary size |
# APK |": each row that starts with "| `CLOUD` |", size the fourth column).
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
# " aws azure ... ": awk looks a name up with index(" NAME ").
cloud_words=" $(printf '%s\n' "$clouds" | tr '\n' ' ')"

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
kibs=$table.kibs
trap 'rm -f "$table" "$table.doc" "$kibs"' EXIT
: >"$kibs"

row() { # SET FILE APK
	bytes=$(size_of "$2")
	delta=$((bytes - empty))
	kib=$(awk -v b="$bytes" 'BEGIN { printf "%.1f", b / 1024 }')
	dkib=$(awk -v b="$delta" 'BEGIN { printf "%+.1f", b / 1024 }')
	echo "| $1 | $bytes | $kib | $delta ($dkib KiB) | $3 |" >>"$table"
	echo "$1 $kib" >>"$kibs"
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

# The start of both awk programs that read the feature table: loads the
# new sizes into kib[] and sets `name` to the cloud of a feature-table row
# (empty on every other line).
# shellcheck disable=SC2016 # awk's $1, not the shell's
feature_rows='
	BEGIN { while ((getline l < kibs) > 0) { split(l, f, " "); kib[f[1]] = f[2] } }
	/^\| feature \| cloud \| what it fetches/ { in_t = 1 }
	!/^\|/ { in_t = 0 }
	{ name = "" }
	in_t && /^\| `[^`]+` \| / {
		name = $1; sub(/^\| `/, "", name); sub(/`$/, "", name)
		if (!index(clouds, " " name " ")) name = ""
	}'

# The document as `just sizes` would leave it: the new table between the
# markers and each cloud's row of the feature table given its new size.
# Fails on a cloud row without the five columns.
updated() {
	awk -v b="$begin" -v e="$end" -v t="$table" '
		$0 == b { print; while ((getline l < t) > 0) print l; skip = 1; next }
		$0 == e { skip = 0 }
		!skip { print }' "$doc" |
		awk -F' [|] ' -v OFS=' | ' -v kibs="$kibs" -v clouds="$cloud_words" "$feature_rows"'
		name != "" {
			if (NF != 5) { print "sizes.sh: the feature table row for " name " needs 5 columns (size 4th)" > "/dev/stderr"; bad = 1 }
			$4 = kib[name] " KiB"
			seen[name] = 1
		}
		{ print }
		END {
			n = split(clouds, c, " ")
			for (i = 1; i <= n; i++) if (!(c[i] in seen)) { print "sizes.sh: the feature table has no row for `" c[i] "`" > "/dev/stderr"; bad = 1 }
			exit bad
		}'
}
updated >"$table.doc"

if [ "$check" = 1 ]; then
	stale=0
	if [ "${SIZES_TOLERANCE:-0}" = 0 ]; then
		cmp -s "$doc" "$table.doc" || stale=1
	else
		# Same rows in the same order, each size within the tolerance; the
		# feature table's sizes (KiB, one decimal) within it too.
		current | grep '^| [^-]' | awk -F' [|] ' -v t="$SIZES_TOLERANCE" -v new="$table" '
			BEGIN { while ((getline l < new) > 0) if (l ~ /^\| [^-]/) { split(l, f, " [|] "); n++; name[n] = f[1]; size[n] = f[2] } }
			{ i++; d = $2 - size[i]; if (d < 0) d = -d; if ($1 != name[i] || d > t) bad = 1 }
			END { exit (bad || i != n) }' || stale=1
		awk -F' [|] ' -v t="$SIZES_TOLERANCE" -v kibs="$kibs" -v clouds="$cloud_words" "$feature_rows"'
			name != "" {
				got = $4; sub(/ KiB$/, "", got)
				d = (got - kib[name]) * 1024; if (d < 0) d = -d
				if (got !~ /^[0-9.]+$/ || d > t + 52) bad = 1
			}
			END { exit bad }' "$doc" || stale=1
	fi
	if [ "$stale" = 1 ]; then
		echo "sizes.sh: the sizes in features.md are stale; run \`just sizes\`. New table:" >&2
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

cat "$table.doc" >"$doc"
cat "$table"
[ "$over" = 0 ] || echo "WARNING: over budget, see above" >&2
