// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "intern.h"

#include <stdlib.h>
#include <string.h>

/* Open addressing over iids; strings live in `strs` indexed by iid - 1. */
struct pi_intern {
	uint32_t *slots;
	size_t n_slots;
	char **strs;
	size_t n, cap;
};

static uint64_t hash(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ull;
	return h;
}

struct pi_intern *pi_intern__new(void)
{
	struct pi_intern *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->n_slots = 1024;
	t->slots = calloc(t->n_slots, sizeof(*t->slots));
	if (!t->slots) {
		free(t);
		return NULL;
	}
	return t;
}

void pi_intern__free(struct pi_intern *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n; i++)
		free(t->strs[i]);
	free(t->strs);
	free(t->slots);
	free(t);
}

static int rehash(struct pi_intern *t)
{
	size_t n_slots = t->n_slots * 2;
	uint32_t *slots = calloc(n_slots, sizeof(*slots));

	if (!slots)
		return -1;
	for (size_t i = 0; i < t->n; i++) {
		size_t k = hash(t->strs[i]) & (n_slots - 1);

		while (slots[k])
			k = (k + 1) & (n_slots - 1);
		slots[k] = i + 1;
	}
	free(t->slots);
	t->slots = slots;
	t->n_slots = n_slots;
	return 0;
}

uint32_t pi_intern__get(struct pi_intern *t, const char *s, bool *is_new)
{
	size_t k = hash(s) & (t->n_slots - 1);
	char *copy;

	*is_new = false;
	for (; t->slots[k]; k = (k + 1) & (t->n_slots - 1))
		if (!strcmp(t->strs[t->slots[k] - 1], s))
			return t->slots[k];
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 256;
		void *p = realloc(t->strs, cap * sizeof(*t->strs));

		if (!p)
			return 0;
		t->strs = p;
		t->cap = cap;
	}
	if (!(copy = strdup(s)))
		return 0;
	t->strs[t->n++] = copy;
	t->slots[k] = t->n;
	*is_new = true;
	if (t->n * 2 > t->n_slots && rehash(t))
		return 0;
	return t->n;
}

const char *pi_intern__str(const struct pi_intern *t, uint32_t iid)
{
	return iid && iid <= t->n ? t->strs[iid - 1] : NULL;
}
