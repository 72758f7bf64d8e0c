/* workq: a small pool of worker threads for blocking work (image pulls, git,
 * OCI runtime calls), whose results come back to the event loop.
 *
 * work() runs on a worker thread; done() then runs on the thread of the
 * event_base given to workq_new(), in submission-independent order. Neither
 * may touch the other's state without the caller's own care: the usual shape
 * is a job struct that work() fills and done() reads and frees.
 */
#ifndef BERTH_WORKQ_H
#define BERTH_WORKQ_H

struct event_base;
struct workq;

typedef void (*workq_fn)(void *arg);

/* Starts nthreads workers reporting to base; jobs of one key run at most
 * per_key at once (<= 0: no limit but nthreads). Never returns NULL. */
struct workq *workq_new(struct event_base *base, int nthreads, int per_key);

/* Queues work; done (may be NULL) runs on the loop after work returned. */
void workq_submit(struct workq *q, workq_fn work, workq_fn done, void *arg);

/* workq_submit() in the lane key (copied; NULL: no lane): while per_key jobs
 * of the key run, its next ones wait and later jobs of other keys pass them,
 * so work stuck on one peer (a registry, a git host) holds at most per_key
 * workers. Jobs of a key start in the order they were queued. */
void workq_submit_keyed(struct workq *q, const char *key, workq_fn work, workq_fn done, void *arg);

/* Jobs queued or running, not yet done. Loop thread only. */
int workq_pending(const struct workq *q);

/* Stops the workers after the jobs that are running; queued jobs that never
 * started are dropped without calling work or done (their args are the
 * caller's). Runs the done() of finished jobs first. Frees q. */
void workq_free(struct workq *q);

#endif
