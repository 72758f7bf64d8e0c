/* strmap: a hash map from strings (copied) to borrowed pointers, for the
 * look-ups by id that a loop pass makes once per container. */
#ifndef BERTH_STRMAP_H
#define BERTH_STRMAP_H

#include <stddef.h>

struct strmap;

/* An empty map. Never NULL. */
struct strmap *strmap_new(void);

/* Frees m; free_value (may be NULL) is called on each value first. */
void strmap_free(struct strmap *m, void (*free_value)(void *value));

/* The value of key, or NULL. */
void *strmap_get(const struct strmap *m, const char *key);

/* Sets key's value (not NULL); returns the value it replaces, or NULL. */
void *strmap_put(struct strmap *m, const char *key, void *value);

/* Removes key; returns its value, or NULL when it was not there. */
void *strmap_del(struct strmap *m, const char *key);

/* Entries. */
size_t strmap_len(const struct strmap *m);

/* Removes every entry for which keep(key, value, arg) answers 0, calling
 * free_value (may be NULL) on its value. */
void strmap_filter(struct strmap *m, int (*keep)(const char *key, void *value, void *arg),
                   void *arg, void (*free_value)(void *value));

#endif
