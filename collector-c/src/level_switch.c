// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "level_switch.h"

#include <bpf/libbpf.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "uprobe_attach.h"

#define PI_LS_MAX_ADDRS 64

/* One probe kind in one file: its addresses and, while attached, its links. */
struct ls_probe {
	enum pi_probe_kind kind;
	unsigned long offsets[PI_LS_MAX_ADDRS];
	__u64 cookies[PI_LS_MAX_ADDRS];
	size_t n;
	struct bpf_link **links; /* one (uprobe_multi) or n */
	size_t n_links;
};

struct ls_module {
	pid_t pid;
	char *path;
	struct ls_probe probes[PI_PROBE_KIND_COUNT];
	size_t n_probes;
};

/* Destroying a uprobe link waits for the kernel's RCU grace periods
 * (uprobe_unregister_sync): 40-300 ms per link on average here, up to
 * 1.1 s (measured, see collector.c). The
 * collector's thread must keep reading the ring buffer meanwhile, so links
 * are handed to a thread that destroys them. A link being destroyed still
 * traps, but the BPF level gate makes it record nothing. */
struct reaper {
	pthread_t thread;
	bool started, stop;
	pthread_mutex_t lock;
	pthread_cond_t wake, idle;
	struct bpf_link **q;
	size_t n, cap;
	bool busy;
};

struct pi_level_switch {
	struct bpf_program *progs[PI_PROBE_KIND_COUNT];
	bool multi;
	enum pi_level level; /* whose probes are attached */
	struct ls_module *modules;
	size_t n_modules, cap_modules;
	struct pi_level_switch_cost cost; /* detach figures: under reaper.lock */
	uint64_t last_attach_ns;
	struct reaper reaper;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

int pi_level_switch__kind_level(enum pi_probe_kind k)
{
	switch (k) {
	case PI_PROBE_GRAPH_ENTER:
	case PI_PROBE_GRAPH_EXIT:
		return PI_LEVEL_GRAPH;
	case PI_PROBE_NODE_DISPATCH:
	case PI_PROBE_NODE_FUSED:
	case PI_PROBE_NODE_BARRIER:
	case PI_PROBE_NODE_LOOP_BARRIER:
		return PI_LEVEL_NODE;
	default:
		return 0;
	}
}

struct pi_level_switch *pi_level_switch__new(struct bpf_program *const *progs, bool multi,
					     enum pi_level level)
{
	struct pi_level_switch *ls = calloc(1, sizeof(*ls));

	if (!ls)
		return NULL;
	memcpy(ls->progs, progs, sizeof(ls->progs));
	ls->multi = multi;
	ls->level = level;
	pthread_mutex_init(&ls->reaper.lock, NULL);
	pthread_cond_init(&ls->reaper.wake, NULL);
	pthread_cond_init(&ls->reaper.idle, NULL);
	return ls;
}

static int keep(void *ctx, struct bpf_link *l)
{
	struct ls_probe *p = ctx;
	void *nl = realloc(p->links, (p->n_links + 1) * sizeof(*p->links));

	if (!nl)
		return -ENOMEM;
	p->links = nl;
	p->links[p->n_links++] = l;
	return 0;
}

static void *reap(void *arg)
{
	struct pi_level_switch *ls = arg;
	struct reaper *r = &ls->reaper;

	pthread_mutex_lock(&r->lock);
	for (;;) {
		while (!r->n && !r->stop)
			pthread_cond_wait(&r->wake, &r->lock);
		if (!r->n)
			break;
		{
			struct bpf_link *l = r->q[--r->n];
			uint64_t t0, took;

			r->busy = true;
			pthread_mutex_unlock(&r->lock);
			t0 = now_ns();
			bpf_link__destroy(l);
			took = now_ns() - t0;
			pthread_mutex_lock(&r->lock);
			r->busy = false;
			ls->cost.links_destroyed++;
			ls->cost.detach_ns += took;
			if (took > ls->cost.detach_ns_max)
				ls->cost.detach_ns_max = took;
			if (!r->n)
				pthread_cond_broadcast(&r->idle);
		}
	}
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

/* Hands the links to the reaper (destroys them here if it cannot run). */
static void detach_probe(struct pi_level_switch *ls, struct ls_probe *p)
{
	struct reaper *r = &ls->reaper;
	size_t i = 0;

	if (!p->n_links)
		return;
	if (!r->started && !pthread_create(&r->thread, NULL, reap, ls))
		r->started = true;
	pthread_mutex_lock(&r->lock);
	if (r->started && r->n + p->n_links > r->cap) {
		size_t cap = (r->n + p->n_links) * 2;
		void *nq = realloc(r->q, cap * sizeof(*r->q));

		if (nq) {
			r->q = nq;
			r->cap = cap;
		}
	}
	if (r->started && r->n + p->n_links <= r->cap) {
		for (; i < p->n_links; i++)
			r->q[r->n++] = p->links[i];
		pthread_cond_signal(&r->wake);
	}
	pthread_mutex_unlock(&r->lock);
	for (; i < p->n_links; i++) {
		bpf_link__destroy(p->links[i]);
		pthread_mutex_lock(&r->lock);
		ls->cost.links_destroyed++;
		pthread_mutex_unlock(&r->lock);
	}
	free(p->links);
	p->links = NULL;
	p->n_links = 0;
}

static int attach_probe(struct pi_level_switch *ls, struct ls_module *m, struct ls_probe *p,
			char *err, size_t errlen)
{
	int e;

	if (p->n_links)
		return 0;
	e = pi_uprobe__attach(ls->progs[p->kind], ls->multi, p->kind == PI_PROBE_GRAPH_EXIT, m->pid,
			      m->path, p->offsets,
			      p->kind == PI_PROBE_NODE_LOOP_BARRIER ? p->cookies : NULL, p->n, keep, p);
	ls->cost.links_created += p->n_links;
	if (e) {
		snprintf(err, errlen, "failed to attach %s in %s of process %d: %s", pi_probe_kind__name(p->kind),
			 m->path, (int)m->pid, strerror(-e));
		detach_probe(ls, p);
	}
	return e;
}

/* Attaches (or detaches) the probes of one level in every module. */
static int set_group(struct pi_level_switch *ls, int group, bool on, char *err, size_t errlen)
{
	int e = 0;

	for (size_t i = 0; i < ls->n_modules && !e; i++) {
		struct ls_module *m = &ls->modules[i];

		for (size_t k = 0; k < m->n_probes && !e; k++) {
			struct ls_probe *p = &m->probes[k];

			if (pi_level_switch__kind_level(p->kind) != group)
				continue;
			if (on)
				e = attach_probe(ls, m, p, err, errlen);
			else
				detach_probe(ls, p);
		}
	}
	return e;
}

int pi_level_switch__add(struct pi_level_switch *ls, pid_t pid, const char *path,
			 const struct pi_probe_plan *plan, char *err, size_t errlen)
{
	struct ls_module *m;
	int e = 0;

	if (ls->n_modules == ls->cap_modules) {
		size_t cap = ls->cap_modules ? ls->cap_modules * 2 : 16;
		void *nm = realloc(ls->modules, cap * sizeof(*ls->modules));

		if (!nm)
			return -ENOMEM;
		ls->modules = nm;
		ls->cap_modules = cap;
	}
	m = &ls->modules[ls->n_modules];
	memset(m, 0, sizeof(*m));
	m->pid = pid;
	for (int k = 0; k < PI_PROBE_KIND_COUNT; k++) {
		struct ls_probe *p = &m->probes[m->n_probes];

		if (!pi_level_switch__kind_level(k))
			continue;
		p->kind = k;
		for (size_t i = 0; i < plan->n && p->n < PI_LS_MAX_ADDRS; i++)
			if (plan->probes[i].kind == (enum pi_probe_kind)k) {
				p->cookies[p->n] = plan->probes[i].cookie;
				p->offsets[p->n++] = plan->probes[i].offset;
			}
		if (p->n)
			m->n_probes++;
	}
	if (!m->n_probes)
		return 0;
	if (!(m->path = strdup(path)))
		return -ENOMEM;
	ls->n_modules++;
	for (size_t k = 0; k < m->n_probes && !e; k++)
		if (pi_level_switch__kind_level(m->probes[k].kind) <= (int)ls->level)
			e = attach_probe(ls, m, &m->probes[k], err, errlen);
	return e;
}

int pi_level_switch__apply(struct pi_level_switch *ls, enum pi_level level, char *err, size_t errlen)
{
	uint64_t t0 = now_ns(), took;
	int e = 0;

	if (level == ls->level)
		return 0;
	if (level > ls->level) {
		for (int g = ls->level + 1; g <= (int)level && !e; g++)
			e = set_group(ls, g, true, err, errlen);
		took = now_ns() - t0;
		ls->last_attach_ns = took;
		ls->cost.attaches++;
		ls->cost.attach_ns += took;
		if (took > ls->cost.attach_ns_max)
			ls->cost.attach_ns_max = took;
		if (e) {
			/* Back to where it was: a level is all or nothing. */
			for (int g = level; g > (int)ls->level; g--)
				set_group(ls, g, false, NULL, 0);
			return e;
		}
	} else {
		for (int g = ls->level; g > (int)level; g--)
			set_group(ls, g, false, NULL, 0);
		pthread_mutex_lock(&ls->reaper.lock);
		ls->cost.detaches++;
		pthread_mutex_unlock(&ls->reaper.lock);
	}
	ls->level = level;
	return 0;
}

enum pi_level pi_level_switch__attached(const struct pi_level_switch *ls)
{
	return ls->level;
}

void pi_level_switch__detach_all(struct pi_level_switch *ls)
{
	struct reaper *r;

	if (!ls)
		return;
	r = &ls->reaper;
	for (size_t i = 0; i < ls->n_modules; i++)
		for (size_t k = 0; k < ls->modules[i].n_probes; k++)
			detach_probe(ls, &ls->modules[i].probes[k]);
	/* Every probe gone before the caller drains the ring for the last time. */
	pthread_mutex_lock(&r->lock);
	while (r->started && (r->n || r->busy))
		pthread_cond_wait(&r->idle, &r->lock);
	pthread_mutex_unlock(&r->lock);
}

uint64_t pi_level_switch__last_attach_ns(const struct pi_level_switch *ls)
{
	return ls->last_attach_ns;
}

void pi_level_switch__cost(const struct pi_level_switch *ls, struct pi_level_switch_cost *out)
{
	pthread_mutex_lock((pthread_mutex_t *)&ls->reaper.lock);
	*out = ls->cost;
	pthread_mutex_unlock((pthread_mutex_t *)&ls->reaper.lock);
}

void pi_level_switch__free(struct pi_level_switch *ls)
{
	if (!ls)
		return;
	pi_level_switch__detach_all(ls);
	if (ls->reaper.started) {
		pthread_mutex_lock(&ls->reaper.lock);
		ls->reaper.stop = true;
		pthread_cond_signal(&ls->reaper.wake);
		pthread_mutex_unlock(&ls->reaper.lock);
		pthread_join(ls->reaper.thread, NULL);
	}
	free(ls->reaper.q);
	for (size_t i = 0; i < ls->n_modules; i++)
		free(ls->modules[i].path);
	free(ls->modules);
	free(ls);
}
