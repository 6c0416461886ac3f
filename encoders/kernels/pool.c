/* pool.c — fork-join pool with passive waiting (see pool.h for why): workers are started lazily, wait on a
 * condition variable for a new job generation, take task indices from an atomic counter, and the last one
 * to finish wakes the caller. Workers live until the process exits. Contract: encoders/kernels/pool.h. */
#include "encoders/kernels/pool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#ifdef SPAR_HAVE_OPENMP
#include <omp.h>
#endif

#define MAX_WORKERS 63

static pthread_mutex_t g_busy = PTHREAD_MUTEX_INITIALIZER; /* held by the one caller using the workers */
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;   /* guards everything below */
static pthread_cond_t g_work = PTHREAD_COND_INITIALIZER;
static pthread_cond_t g_done = PTHREAD_COND_INITIALIZER;
static int g_n_workers;
static uint64_t g_gen;          /* job generation, bumped per call */
static int g_participants;      /* workers taking part in the current job (ids 1..g_participants) */
static int g_running;           /* participants not finished yet */
static spar_pool_fn g_fn;
static void *g_ctx;
static size_t g_n;
static atomic_size_t g_next;
static uint64_t g_seen0[MAX_WORKERS + 1]; /* the generation current when worker i was started */

/* A forked child has none of the parent's workers: forget them (and any lock held across fork) so the child
 * starts its own on its first call instead of waiting forever for threads that do not exist. */
static void after_fork_child(void) {
    pthread_mutex_t m0 = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t c0 = PTHREAD_COND_INITIALIZER;
    g_busy = m0;
    g_mu = m0;
    g_work = c0;
    g_done = c0;
    g_n_workers = 0;
    g_running = 0;
}

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static void register_fork(void) { (void)pthread_atfork(NULL, NULL, after_fork_child); }

static void drain(spar_pool_fn fn, void *ctx, size_t n, int tid) {
    for (;;) {
        size_t i = atomic_fetch_add_explicit(&g_next, 1, memory_order_relaxed);
        if (i >= n) return;
        fn(ctx, i, tid);
    }
}

static void *worker(void *arg) {
    int id = (int)(intptr_t)arg;
    pthread_mutex_lock(&g_mu);
    uint64_t seen = g_seen0[id]; /* not g_gen: the job that started us may already be posted */
    for (;;) {
        while (g_gen == seen) pthread_cond_wait(&g_work, &g_mu);
        seen = g_gen;
        if (id > g_participants) continue;
        spar_pool_fn fn = g_fn;
        void *ctx = g_ctx;
        size_t n = g_n;
        pthread_mutex_unlock(&g_mu);
        drain(fn, ctx, n, id);
        pthread_mutex_lock(&g_mu);
        if (--g_running == 0) pthread_cond_signal(&g_done);
    }
    return NULL;
}

void spar_pool_run(size_t n, int n_threads, spar_pool_fn fn, void *ctx) {
    if (n == 0) return;
    if (n_threads <= 1 || n == 1 || pthread_mutex_trylock(&g_busy) != 0) {
        for (size_t i = 0; i < n; i++) fn(ctx, i, 0);
        return;
    }
    pthread_once(&g_once, register_fork);
    int want = n_threads - 1 < MAX_WORKERS ? n_threads - 1 : MAX_WORKERS;
    if ((size_t)want > n - 1) want = (int)(n - 1);
    pthread_mutex_lock(&g_mu);
    while (g_n_workers < want) {
        pthread_t th;
        pthread_attr_t at;
        int ok = pthread_attr_init(&at) == 0;
        if (ok) pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        g_seen0[g_n_workers + 1] = g_gen;
        ok = ok && pthread_create(&th, &at, worker, (void *)(intptr_t)(g_n_workers + 1)) == 0;
        pthread_attr_destroy(&at);
        if (!ok) break;
        g_n_workers++;
    }
    int parts = want < g_n_workers ? want : g_n_workers;
    g_fn = fn;
    g_ctx = ctx;
    g_n = n;
    atomic_store(&g_next, 0);
    g_participants = parts;
    g_running = parts;
    g_gen++;
    pthread_cond_broadcast(&g_work);
    pthread_mutex_unlock(&g_mu);
    drain(fn, ctx, n, 0);
    pthread_mutex_lock(&g_mu);
    while (g_running > 0) pthread_cond_wait(&g_done, &g_mu);
    pthread_mutex_unlock(&g_mu);
    pthread_mutex_unlock(&g_busy);
}

int spar_pool_default_threads(void) {
#ifdef SPAR_HAVE_OPENMP
    int n = omp_get_max_threads();
    return n > 0 ? n : 1;
#else
    return 1;
#endif
}
