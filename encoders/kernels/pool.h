/* pool.h — a small fork-join thread pool for the encoders' own kernels (internal contract of encoders/kernels/).
 *
 * Why not OpenMP: libgomp's threads spin at every barrier and after every region (OMP_WAIT_POLICY defaults to
 * spinning, and the policy can only be set in the environment before the process starts). On a shared or
 * oversubscribed host a spinning thread burns the time slice its preempted partner needs: measured on the
 * development VM (2 vCPUs, load average ~13), the bf16 DistilBERT encoder at 128 tokens took 0.31 CPU-s with
 * libgomp's default policy and 0.06 CPU-s with OMP_WAIT_POLICY=passive. This pool's workers block on a
 * condition variable between calls (passive) and tasks are handed out dynamically, so a preempted thread
 * delays one task, not a barrier.
 *
 * Thread-safety: any thread may call spar_pool_run; one call uses the workers at a time, and a call made
 * while they are busy (another caller, or from inside a task) runs serially on its own thread. A child
 * process made by fork() starts its own workers on its first call (pthread_atfork). */
#ifndef SPAR_ENCODERS_POOL_H
#define SPAR_ENCODERS_POOL_H

#include <stddef.h>

/* One task: index i in [0, n), tid in [0, n_threads) identifies the running thread within the call. */
typedef void (*spar_pool_fn)(void *ctx, size_t i, int tid);

/** Run fn(ctx, i, tid) for every i in [0, n) on up to n_threads threads (the caller is thread 0) and return
 *  when all have finished. n_threads <= 1, n <= 1, a busy pool or a failure to start workers: serial. */
void spar_pool_run(size_t n, int n_threads, spar_pool_fn fn, void *ctx);

/** Threads a kernel should use by default: OpenMP's max thread count when built with OpenMP (so
 *  OMP_NUM_THREADS applies), else 1. */
int spar_pool_default_threads(void);

#endif
