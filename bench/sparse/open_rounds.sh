#!/bin/bash
# open_rounds.sh — alternated open-time / memory rounds for learned-sparse index directories (bench_sparse_open):
# the format-1 directory opened by the binary from before format 2 (OLD, exact parts rebuilt) and by the
# current one, the format-2 directories (float and 8-bit) opened by default and with full verification.
# Each open is a fresh process. Round 1 also runs Q corpus rows as queries with every algorithm and prints
# hashes of the hits (equal hashes across directories = identical answers).
#   usage: bench/sparse/open_rounds.sh OLD_BENCH NEW_BENCH [ROUNDS] [Q]
# Directories (bench/data/sparse/open/), written once with:
#   OLD_BENCH --corpus bench/data/sparse/indep-1M.csr --write bench/data/sparse/open/indep-1M-f32-v1
#   NEW_BENCH --corpus bench/data/sparse/indep-1M.csr --write bench/data/sparse/open/indep-1M-w32-v2
#   NEW_BENCH --corpus bench/data/sparse/indep-1M.csr --write bench/data/sparse/open/indep-1M-w8-v2 --weight_bits 8
set -e
OLD=$1 NEW=$2 ROUNDS=${3:-3} QN=${4:-100}
D=bench/data/sparse/open C=bench/data/sparse/indep-1M.csr
for r in $(seq 1 "$ROUNDS"); do
  echo "# round $r $(uptime)"
  Q=0; [ "$r" = 1 ] && Q=$QN
  "$OLD" --open $D/indep-1M-f32-v1 --corpus $C --queries $Q | sed "s/^/old-v1 /"
  "$NEW" --open $D/indep-1M-w32-v2 --corpus $C --queries $Q | sed "s/^/new-v2-f32-open /"
  "$NEW" --open $D/indep-1M-w32-v2 --verify 1 | sed "s/^/new-v2-f32-verify /"
  "$NEW" --open $D/indep-1M-f32-v1 | sed "s/^/new-v1 /"
  "$NEW" --open $D/indep-1M-w8-v2 --corpus $C --queries $Q | sed "s/^/new-v2-u8-open /"
  "$NEW" --open $D/indep-1M-w8-v2 --verify 1 | sed "s/^/new-v2-u8-verify /"
done
