#!/bin/sh
# filter.sh - the privacy filter's detectors against the npm package
# redact-pii on the same text: throughput (MB/s of one core, and ns per
# keystroke: each typed byte is one keystroke) and recall on the labelled
# corpus' personal-data positives (email, phone, card, ssn, iban, ip).
# Prints "name: value unit" lines on stdout; build and npm output go to
# stderr. bench/README.md says what each line means.
#
# Setup, the bench's own step (never the main install script): redact-pii
# 3.4.0 is installed into bench/node_modules with npm on the first run.
#
# Environment:
#   BUILD     build directory (default: build)
#   SEED      seed of the generated text (default 20261124)
#   MB        size of the generated text in MB of 10^6 bytes (default 100)
#   SLICE_MB  the slice both tools time for the ratio (default 2): redact-pii
#             takes minutes for 100 MB, so it runs on the text's first
#             SLICE_MB MB only, and the ratio compares bench-filter's time on
#             that same slice
set -eu

cd "$(dirname "$0")/.."
root=$(pwd)
build=${BUILD:-$root/build}
seed=${SEED:-20261124}
mb=${MB:-100}
slice_mb=${SLICE_MB:-2}
target_ratio=50

ninja -C "$build" bench/bench-filter >&2
if [ ! -f bench/node_modules/redact-pii/package.json ]; then
	echo "filter.sh: installing redact-pii@3.4.0 into bench/node_modules" >&2
	npm install --prefix bench --no-audit --no-fund redact-pii@3.4.0 >&2
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

"$build/bench/bench-filter" --root "$root" --seed "$seed" --mb "$mb" \
	--slice-mb "$slice_mb" --text-out "$tmp/slice.txt" \
	--cases-out "$tmp/cases.tsv" >"$tmp/filter.out"
cat "$tmp/filter.out"
node bench/redact-pii.js --text "$tmp/slice.txt" --cases "$tmp/cases.tsv" \
	>"$tmp/redact.out"
cat "$tmp/redact.out"

val() { sed -n "s/^$1: \([0-9.]*\).*/\1/p" "$2"; }
f_slice=$(val filter_slice_mb_per_s "$tmp/filter.out")
f_full=$(val filter_mb_per_s "$tmp/filter.out")
r=$(val redact_pii_mb_per_s "$tmp/redact.out")
f_rec=$(val filter_recall_personal "$tmp/filter.out")
r_rec=$(val redact_pii_recall_personal "$tmp/redact.out")

awk -v fs="$f_slice" -v ff="$f_full" -v r="$r" -v fr="$f_rec" -v rr="$r_rec" \
	-v t="$target_ratio" -v smb="$slice_mb" 'BEGIN {
	printf "throughput_ratio: %.0f x (bench-filter / redact-pii, same %s MB slice)\n", fs / r, smb
	printf "throughput_ratio_full: %.0f x (bench-filter on the whole text / redact-pii on the slice)\n", ff / r
	printf "recall_personal_filter: %.3f ratio\n", fr
	printf "recall_personal_redact_pii: %.3f ratio\n", rr
	printf "target_throughput_ratio: %d x\n", t
	missed = ""
	if (fs / r < t) missed = missed sprintf(" throughput %.0fx < %dx;", fs / r, t)
	if (fr < rr) missed = missed sprintf(" recall %.3f < %.3f;", fr, rr)
	if (missed == "") print "targets: met"
	else printf "targets: missed (%s )\n", missed
}'
