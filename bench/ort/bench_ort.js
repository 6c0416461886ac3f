#!/usr/bin/env node
// bench_ort.js — spar's C transformer against ONNX Runtime (npm onnxruntime-node) on the same weights, ALTERNATED
// in one run: for every round and shape, spar (a `bench_encoder serve` child process) runs, then ONNX Runtime
// (in this process), then the next shape. Both use 2 threads (ORT intra_op_num_threads=2, inter_op 1; spar's
// OpenBLAS/OpenMP from its environment, set to 2 below unless already set). See bench/ort/README.md.
//
//   node bench_ort.js --spar BUILD/bench/bench_encoder --models models/bert,models/distilbert
//        [--graphs encoder,splade] [--lens 128,256] [--batches 1,32] [--rounds 3] [--reps 1] [--pruned 1|0]
//        [--out FILE.jsonl]
//
// Each model folder holds model.safetensors (read by spar) and encoder.onnx / splade.onnx (export_onnx.py).
// Prints one JSON line per measurement, then a median-of-rounds summary (seq/s, GFLOP/s, ratio spar/ORT, and the
// CPU seconds each engine's process used per run — user + system over all its threads, a figure that depends
// far less than wall time on how much of the shared cores the other tenants took).
'use strict';
const path = require('path');
const fs = require('fs');
const { spawn } = require('child_process');
const readline = require('readline');
const ort = require('onnxruntime-node');

function args() {
  const a = { spar: '', models: '', graphs: 'encoder,splade', lens: '128,256', batches: '1,32', rounds: '3', reps: '1', out: '',
    pruned: '1' };
  for (let i = 2; i + 1 < process.argv.length; i += 2) a[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
  if (!a.spar || !a.models) { console.error('usage: bench_ort.js --spar BENCH_ENCODER --models DIR[,DIR] [...]'); process.exit(2); }
  const list = (s) => s.split(',').filter((x) => x.length);
  return { spar: a.spar, models: list(a.models), graphs: list(a.graphs), lens: list(a.lens).map(Number),
           batches: list(a.batches).map(Number), rounds: Number(a.rounds), reps: Number(a.reps), out: a.out,
           pruned: a.pruned !== '0' };
}

// A line-oriented client of `bench_encoder serve`.
function sparServer(bin, dir) {
  const env = Object.assign({}, process.env);
  if (!env.OPENBLAS_NUM_THREADS) env.OPENBLAS_NUM_THREADS = '2';
  if (!env.OMP_NUM_THREADS) env.OMP_NUM_THREADS = '2';
  const child = spawn(bin, ['serve', dir], { env, stdio: ['pipe', 'pipe', 'inherit'] });
  const rl = readline.createInterface({ input: child.stdout });
  const waiting = [];
  rl.on('line', (l) => { const w = waiting.shift(); if (w) w(JSON.parse(l)); });
  const next = () => new Promise((res) => waiting.push(res));
  return {
    ready: next(),
    ask(cmd) { const p = next(); child.stdin.write(cmd + '\n'); return p; },
    close() { child.stdin.write('quit\n'); child.stdin.end(); },
  };
}

function flops(cfg, graph, n) {
  const d = cfg.hidden_size || cfg.dim, f = cfg.intermediate_size || cfg.hidden_dim;
  const L = cfg.num_hidden_layers || cfg.n_layers, V = cfg.vocab_size;
  const enc = L * (n * (2 * d * 3 * d + 2 * d * d + 4 * d * f) + 4 * n * n * d);
  return graph === 'splade' ? enc + n * (2 * d * d + 2 * d * V) : enc;
}

async function ortRun(session, graph, len, batch, reps) {
  const T = len * batch;
  const ids = new BigInt64Array(T), mask = new BigInt64Array(T);
  for (let t = 0; t < T; t++) { ids[t] = BigInt(1000 + ((t * 7919) % 29000)); mask[t] = 1n; }
  const feeds = { input_ids: new ort.Tensor('int64', ids, [batch, len]), attention_mask: new ort.Tensor('int64', mask, [batch, len]) };
  const times = [];
  let out;
  const cpu0 = process.cpuUsage(); // this process, all threads: ORT's pool included
  for (let r = 0; r < reps; r++) {
    const t0 = process.hrtime.bigint();
    out = await session.run(feeds);
    times.push(Number(process.hrtime.bigint() - t0) / 1e9);
  }
  const cpu = process.cpuUsage(cpu0);
  times.sort((x, y) => x - y);
  const data = out[session.outputNames[0]].data;
  let check = 0, nnz = 0;
  for (let i = 0; i < data.length; i++) { check += data[i]; if (data[i] > 0) nnz++; }
  return { median_s: times[Math.floor(reps / 2)], best_s: times[0], cpu_s: (cpu.user + cpu.system) / 1e6 / reps, checksum: check, nnz: graph === 'splade' ? nnz : 0 };
}

const median = (xs) => { const s = xs.slice().sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };

async function main() {
  const o = args();
  const out = o.out ? fs.createWriteStream(o.out, { flags: 'a' }) : null;
  const emit = (rec) => { const l = JSON.stringify(rec); console.log(l); if (out) out.write(l + '\n'); };
  const summary = [];
  for (const dir of o.models) {
    const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
    const model = cfg.model_type === 'bert' ? 'bert-base' : 'distilbert-base';
    const spar = sparServer(o.spar, dir);
    const ready = await spar.ready;
    emit({ model, spar_bound_build_s: ready.bound_build_s });
    for (const graph of o.graphs) {
      const session = await ort.InferenceSession.create(path.join(dir, graph + '.onnx'), {
        intraOpNumThreads: 2, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all' });
      // Warm-up, one short run each, so neither side pays first-call allocation inside the measurements.
      await spar.ask(`${graph} 16 1 1`);
      await ortRun(session, graph, 16, 1, 1);
      const rows = {};
      for (let round = 0; round < o.rounds; round++) {
        for (const len of o.lens) for (const batch of o.batches) {
          const s = await spar.ask(`${graph} ${len} ${batch} ${o.reps}`);
          const r = await ortRun(session, graph, len, batch, o.reps);
          // The SPLADE graph also runs spar with exact vocabulary pruning (same output; skip rate reported).
          const p = graph === 'splade' && o.pruned ? await spar.ask(`splade-pruned ${len} ${batch} ${o.reps}`) : null;
          const g = await spar.ask('sgemm');
          const fl = flops(cfg, graph, len) * batch;
          const rec = { model, graph, len, batch, round,
            spar_s: s.median_s, ort_s: r.median_s, spar_seq_s: batch / s.median_s, ort_seq_s: batch / r.median_s,
            spar_gflops: fl / s.median_s / 1e9, ort_gflops: fl / r.median_s / 1e9, sgemm_gflops: g.sgemm_gflops,
            ratio: r.median_s / s.median_s, spar_cpu_s: s.cpu_s, ort_cpu_s: r.cpu_s, cpu_ratio: r.cpu_s / s.cpu_s,
            spar_max_rss_mb: s.max_rss_mb,
            node_ort_max_rss_mb: process.resourceUsage().maxRSS / 1024, spar_checksum: s.checksum, ort_checksum: r.checksum, spar_nnz: s.nnz, ort_nnz: r.nnz };
          if (p) Object.assign(rec, { pruned_s: p.median_s, pruned_seq_s: batch / p.median_s, pruned_ratio: r.median_s / p.median_s,
            pruned_skipped: p.skipped, pruned_checksum: p.checksum, pruned_nnz: p.nnz });
          emit(rec);
          const k = `${len}/${batch}`;
          (rows[k] = rows[k] || []).push(rec);
        }
      }
      await session.release();
      for (const k of Object.keys(rows)) {
        const rs = rows[k], m = (f) => median(rs.map(f));
        summary.push({ model, graph, len: rs[0].len, batch: rs[0].batch, rounds: rs.length,
          spar_seq_s: m((x) => x.spar_seq_s), ort_seq_s: m((x) => x.ort_seq_s), ratio: m((x) => x.ratio),
          spar_gflops: m((x) => x.spar_gflops), ort_gflops: m((x) => x.ort_gflops), sgemm_gflops: m((x) => x.sgemm_gflops),
          spar_cpu_s: m((x) => x.spar_cpu_s), ort_cpu_s: m((x) => x.ort_cpu_s), cpu_ratio: m((x) => x.cpu_ratio),
          pruned_ratio: graph === 'splade' && o.pruned ? m((x) => x.pruned_ratio) : null,
          pruned_skipped: graph === 'splade' && o.pruned ? m((x) => x.pruned_skipped) : null });
      }
    }
    spar.close();
  }
  console.log('\n| model | graph | len | batch | spar seq/s | ORT seq/s | spar/ORT | spar GFLOP/s | ORT GFLOP/s | sgemm GFLOP/s | ' +
    'spar CPU-s/run | ORT CPU-s/run | CPU ratio | pruned spar/ORT (rows skipped) |');
  console.log('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const r of summary) {
    const f = (x, p) => x.toFixed(p);
    const l = `| ${r.model} | ${r.graph} | ${r.len} | ${r.batch} | ${f(r.spar_seq_s, 2)} | ${f(r.ort_seq_s, 2)} | ${f(r.ratio, 2)}x | ` +
      `${f(r.spar_gflops, 1)} | ${f(r.ort_gflops, 1)} | ${f(r.sgemm_gflops, 1)} | ` +
      `${f(r.spar_cpu_s, 2)} | ${f(r.ort_cpu_s, 2)} | ${f(r.cpu_ratio, 2)}x | ` +
      (r.pruned_ratio !== null ? `${f(r.pruned_ratio, 2)}x (${f(100 * r.pruned_skipped, 1)}%) |` : '- |');
    console.log(l);
    if (out) out.write(JSON.stringify(Object.assign({ summary: true }, r)) + '\n');
  }
  if (out) out.end();
}

main().catch((e) => { console.error(e); process.exit(1); });
