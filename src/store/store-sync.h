/* store-sync: the durability gate between the store's commits and their
 * side effects (group commit).
 *
 * With SQLite in WAL mode and synchronous = NORMAL a COMMIT returns once its
 * frames are written to the WAL, before they are on the disk. The loop then
 * notes the commit (store_sync_committed(), which returns its generation)
 * and, instead of acting on it at once, hands what depends on it (a runtime
 * action, an API reply saying it was done) to store_sync_after(). A syncer
 * thread flushes the WAL (one fsync covers every commit written before it
 * began) and publishes the generation it covered; an eventfd wakes the loop,
 * which runs every waiter whose generation is now durable. Reads never wait
 * on a flush.
 *
 * A failed flush fails the gate for good: after a failed fsync the kernel
 * may have dropped the dirty pages, so a later fsync that succeeds proves
 * nothing about the earlier commits. Every waiter then runs with failed set
 * (and must not perform its side effect), as does every later one.
 *
 * The flush is a function so that a unit test can hold it (a test double of
 * the syncer); store_sync_wal_flush() is SQLite's. A store whose commit is
 * durable when it returns (PostgreSQL, synchronous_commit = on) needs no
 * gate: store_sync_new() with flush NULL runs each waiter on the next loop
 * pass without a thread. */
#ifndef BERTH_STORE_SYNC_H
#define BERTH_STORE_SYNC_H

#include <stdint.h>

#include "common/err.h"

struct event_base;
struct store_sync;

/* Makes every commit written before the call durable; 0 or negative with
 * err set. Runs on the syncer thread. */
typedef int (*store_sync_flush_fn)(void *arg, struct err *err);

/* What runs on the loop once a commit is durable; failed is 0, or 1 when the
 * gate failed (the side effect must not happen). */
typedef void (*store_sync_cb)(void *arg, int failed);

/* A gate on base's loop; flush and flush_arg (borrowed) make commits durable,
 * flush NULL for a store whose commits already are. Never NULL. */
struct store_sync *store_sync_new(struct event_base *base, store_sync_flush_fn flush,
                                  void *flush_arg);

/* Stops the syncer after a last flush and runs the waiters left (failed when
 * that flush failed); then frees s. */
void store_sync_free(struct store_sync *s);

/* Notes that a commit returned; returns its generation (1, 2, ...). Loop
 * thread only. */
uint64_t store_sync_committed(struct store_sync *s);

/* Notes the commits the store wrote since the last call: written is the
 * store's generation (store_generation()), a new commit is noted when it
 * moved. Returns the generation that covers every write so far: what
 * depends on them waits for it. Inside a transaction pass 0: its commit,
 * still to come, is then noted by the next call too. Loop thread only. */
uint64_t store_sync_note(struct store_sync *s, uint64_t written);

/* Blocks until generation gen is durable: 0, or -1 when the gate failed.
 * For the threads of a pool (the loop waits with store_sync_after()); none
 * may still wait when store_sync_free() is called. */
int store_sync_wait(struct store_sync *s, uint64_t gen);

/* The generation of the last commit noted. */
uint64_t store_sync_last(const struct store_sync *s);

/* The highest generation known durable. */
uint64_t store_sync_durable(struct store_sync *s);

/* Runs cb(arg, failed) on the loop once generation gen is durable, never
 * from inside this call (a caller may hold state it has not finished
 * writing). Waiters run in the order of their generations, then of their
 * calls. */
void store_sync_after(struct store_sync *s, uint64_t gen, store_sync_cb cb, void *arg);

/* SQLite's flush_arg: the database's path and the WAL file last flushed. */
struct store_sync_wal {
	const char *db_path; /* borrowed */
	uint64_t dev, ino;   /* the WAL flushed last, 0 before the first */
};

/* SQLite's flush: fsync of the WAL of the database (flush_arg a struct
 * store_sync_wal), and of its directory when the WAL is a new file (its
 * name must survive a power cut too). No WAL yet: nothing to flush. */
int store_sync_wal_flush(void *flush_arg, struct err *err);

#endif
