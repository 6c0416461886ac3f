#!/bin/sh
# lowp_bench.sh — sequences/s of spar's fp32, bf16 and int8 weight paths (bench_encoder bench), 2 threads,
# bert-base and distilbert-base shapes (random weights in memory), encoder only and encoder + full SPLADE head.
# Every round starts two fresh processes per shape, alternated:
#   1. OPENBLAS_CORETYPE=Haswell  (the VM's setting: OpenBLAS AVX2 kernels) running f32, bf16, int8 alternated
#   2. OPENBLAS_CORETYPE=SkylakeX (OpenBLAS AVX-512 kernels, ~ what a default Debian install picks) running f32
# (the kernel set is read when OpenBLAS loads, so it needs its own process; bf16 / int8 call no BLAS in the
# linear layers, attention or head). Appends JSON lines (with "round" and the load average) to OUT.
#   sh lowp_bench.sh BENCH_ENCODER OUT [ROUNDS] [SHAPES] [MODELS]
# SHAPES: "LEN:BATCH ..." (default "128:1 256:1 128:32 256:32"); MODELS: bert,distilbert (default both).
# Summary: python3 lowp_summarize.py OUT
bin=$1 out=$2 rounds=${3:-3} shapes=${4:-"128:1 256:1 128:32 256:32"} models=${5:-"bert distilbert"}
export OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2
r=0
while [ "$r" -lt "$rounds" ]; do
  for model in $models; do
    for shape in $shapes; do
      len=${shape%:*} batch=${shape#*:}
      for core in Haswell SkylakeX; do
        w=f32,bf16,int8
        [ "$core" = SkylakeX ] && w=f32
        load=$(cut -d' ' -f1 /proc/loadavg)
        OPENBLAS_CORETYPE=$core "$bin" bench --models "$model" --lens "$len" --batches "$batch" --reps 1 --weights "$w" |
          sed "s/^{/{\"round\":$r,\"load\":$load,/" >> "$out"
      done
    done
  done
  r=$((r + 1))
done
