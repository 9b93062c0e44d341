/* encode_test.c: encode.c beyond the goldens: a hand-checked vector, the
 * fast node-row path against nanopb on random batches (bytes and decoded
 * values), output bounds, and hostile control messages. */
#include <errno.h>

#include <pb_common.h>
#include <pb_decode.h>
#include <pb_encode.h>

#include "encode.h"
#include "test_util.h"

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void)
{
	/* xorshift64*: deterministic, so a failure reproduces. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

/* A value of 1 to 10 varint bytes, biased to the small ones real rows have. */
static uint64_t rng_value(void)
{
	unsigned bits = (unsigned)(rng() % 65);

	return bits == 64 ? rng() : rng() & ((1ull << bits) - 1);
}

static void test_hand_checked_row(void)
{
	/* node 7, compute 300 ns, barrier 0, thread 0, everything else 0 */
	static const uint8_t want[] = {
		/* TracePacket.node_events, 10 bytes */
		0x0a, 0x0a,
		/* node_index_delta: [7] */
		0x2a, 0x01, 0x07,
		/* compute_ns: [300] = 0b10_0101100 -> ac 02 */
		0x32, 0x02, 0xac, 0x02,
		/* barrier_ns: [0] */
		0x3a, 0x01, 0x00,
	};
	const uint32_t index[] = { 7 };
	const uint64_t compute[] = { 300 }, barrier[] = { 0 };
	const uint32_t fused[] = { 0 }; /* all 0: left out */
	const struct pi_node_rows rows = {
		.n_rows = 1, .node_index = index, .compute_ns = compute,
		.barrier_ns = barrier, .fused = fused,
	};
	uint8_t buf[64];
	size_t len = 0;

	CHECK(pi_encode_node_events(&rows, buf, sizeof(buf), &len) == 0);
	bytes_equal("hand-checked row", buf, len, want, sizeof(want));
}

static void test_empty_batch(void)
{
	/* node_events {} */
	static const uint8_t want[] = { 0x0a, 0x00 };
	const struct pi_node_rows rows = { 0 };
	uint8_t buf[8];
	size_t len = 0;

	CHECK(pi_encode_node_events(&rows, buf, sizeof(buf), &len) == 0);
	bytes_equal("empty batch", buf, len, want, sizeof(want));
}

#define MAX_ROWS 300
#define MAX_COUNTERS 3

struct random_batch {
	struct pi_node_rows rows;
	uint32_t index[MAX_ROWS], delta[MAX_ROWS], fused[MAX_ROWS];
	uint64_t compute[MAX_ROWS], barrier[MAX_ROWS], counter[MAX_COUNTERS][MAX_ROWS];
	struct pi_counter_rows counters[MAX_COUNTERS];
	profinfer_v1_CounterColumn columns[MAX_COUNTERS];
	bool fused_all_zero;
};

static void make_random_batch(struct random_batch *b)
{
	size_t n = (size_t)(rng() % (MAX_ROWS + 1));
	uint32_t node = (uint32_t)(rng() % 4);
	bool with_fused = rng() % 2;

	memset(b, 0, sizeof(*b));
	b->fused_all_zero = true;
	for (size_t i = 0; i < n; i++) {
		/* Mostly increasing; now and then a jump back (wraps mod 2^32). */
		b->index[i] = node;
		b->delta[i] = (uint32_t)(node - (i ? b->index[i - 1] : 0));
		node = rng() % 50 ? node + 1 + (uint32_t)(rng() % 3) : (uint32_t)rng();
		b->compute[i] = rng_value();
		b->barrier[i] = rng_value();
		b->fused[i] = with_fused && rng() % 8 == 0 ? (uint32_t)(rng() % 4) : 0;
		if (b->fused[i])
			b->fused_all_zero = false;
	}
	b->rows = (struct pi_node_rows){
		.pid = (uint32_t)rng_value(),
		.tid = (uint32_t)rng_value(),
		.thread_index = (uint32_t)(rng() % 3),
		.graph_id = rng_value(),
		.start_ns = rng_value(),
		.n_rows = n,
		.node_index = b->index,
		.compute_ns = b->compute,
		.barrier_ns = b->barrier,
		.fused = with_fused ? b->fused : NULL,
		.n_counters = (size_t)(rng() % (MAX_COUNTERS + 1)),
		.counters = b->counters,
	};
	for (size_t c = 0; c < b->rows.n_counters; c++) {
		for (size_t i = 0; i < n; i++)
			b->counter[c][i] = rng_value();
		b->counters[c] = (struct pi_counter_rows){ (uint32_t)c, b->counter[c] };
		b->columns[c] = (profinfer_v1_CounterColumn){ (uint32_t)c, (pb_size_t)n,
							     b->counter[c] };
	}
}

/* The same batch as a nanopb struct, for pi_encode_packet(). */
static void as_nanopb(struct random_batch *b, profinfer_v1_TracePacket *p)
{
	const struct pi_node_rows *r = &b->rows;
	pb_size_t n = (pb_size_t)r->n_rows;
	bool fused = r->fused && !b->fused_all_zero;

	memset(p, 0, sizeof(*p));
	p->which_data = profinfer_v1_TracePacket_node_events_tag;
	p->data.node_events = (profinfer_v1_NodeEventBatch){
		.pid = r->pid,
		.tid = r->tid,
		.graph_id = r->graph_id,
		.start_ns = r->start_ns,
		.node_index_delta_count = n,
		.node_index_delta = b->delta,
		.compute_ns_count = n,
		.compute_ns = b->compute,
		.barrier_ns_count = n,
		.barrier_ns = b->barrier,
		.fused_count = fused ? n : 0,
		.fused = fused ? b->fused : NULL,
		.counters_count = (pb_size_t)r->n_counters,
		.counters = b->columns,
		.thread_index = r->thread_index,
	};
}

/* Decodes the fast path's bytes with nanopb and compares every value. */
static void check_decodes_back(const struct random_batch *b, const uint8_t *buf, size_t len)
{
	profinfer_v1_TracePacket p;
	pb_istream_t s = pb_istream_from_buffer(buf, len);
	const profinfer_v1_NodeEventBatch *d = &p.data.node_events;
	const struct pi_node_rows *r = &b->rows;
	uint32_t node = 0;
	int bad = 0;

	if (!pb_decode(&s, profinfer_v1_TracePacket_fields, &p)) {
		fprintf(stderr, "failed to decode: %s\n", PB_GET_ERROR(&s));
		test_failures++;
		return;
	}
	bad |= p.which_data != profinfer_v1_TracePacket_node_events_tag;
	bad |= d->pid != r->pid || d->tid != r->tid || d->graph_id != r->graph_id;
	bad |= d->start_ns != r->start_ns || d->thread_index != r->thread_index;
	bad |= d->node_index_delta_count != r->n_rows || d->compute_ns_count != r->n_rows;
	bad |= d->barrier_ns_count != r->n_rows || d->counters_count != r->n_counters;
	bad |= d->fused_count != (b->fused_all_zero ? 0 : r->n_rows);
	for (size_t i = 0; !bad && i < r->n_rows; i++) {
		node += d->node_index_delta[i];
		bad |= node != r->node_index[i];
		bad |= d->compute_ns[i] != r->compute_ns[i] || d->barrier_ns[i] != r->barrier_ns[i];
		bad |= d->fused_count && d->fused[i] != r->fused[i];
		for (size_t c = 0; c < r->n_counters; c++)
			bad |= d->counters[c].delta[i] != r->counters[c].delta[i];
	}
	CHECK(!bad);
	pb_release(profinfer_v1_TracePacket_fields, &p);
}

static void test_random_batches(void)
{
	static struct random_batch b;
	static uint8_t fast[1 << 16], slow[1 << 16];
	profinfer_v1_TracePacket p;

	for (int round = 0; round < 2000; round++) {
		size_t fast_len = 0, slow_len = 0;
		char what[64];

		make_random_batch(&b);
		as_nanopb(&b, &p);
		CHECK(pi_encode_node_events(&b.rows, fast, sizeof(fast), &fast_len) == 0);
		CHECK(pi_encode_packet(&p, slow, sizeof(slow), &slow_len) == 0);
		snprintf(what, sizeof(what), "random batch %d (%zu rows)", round, b.rows.n_rows);
		if (!bytes_equal(what, fast, fast_len, slow, slow_len))
			return;
		CHECK(fast_len <= pi_node_events_max_size(b.rows.n_rows, b.rows.n_counters));
		check_decodes_back(&b, fast, fast_len);
	}
}

/* Every cap below the size fails with -ENOSPC and writes nothing past cap. */
static void test_output_bounds(void)
{
	static struct random_batch b;
	uint8_t want[4096], buf[4096 + 16];
	size_t want_len = 0, len;
	profinfer_v1_TracePacket p;

	do
		make_random_batch(&b);
	while (b.rows.n_rows < 5 || b.rows.n_rows > 100);
	CHECK(pi_encode_node_events(&b.rows, want, sizeof(want), &want_len) == 0);
	for (size_t cap = 0; cap < want_len; cap++) {
		memset(buf, 0xa5, sizeof(buf));
		CHECK(pi_encode_node_events(&b.rows, buf, cap, &len) == -ENOSPC);
		for (size_t i = cap; i < sizeof(buf); i++)
			if (buf[i] != 0xa5) {
				fprintf(stderr, "node rows: cap %zu, byte %zu written\n", cap, i);
				test_failures++;
				break;
			}
	}
	CHECK(pi_encode_node_events(&b.rows, buf, want_len, &len) == 0 && len == want_len);

	as_nanopb(&b, &p);
	for (size_t cap = 0; cap < want_len; cap++) {
		memset(buf, 0xa5, sizeof(buf));
		CHECK(pi_encode_packet(&p, buf, cap, &len) == -ENOSPC);
		for (size_t i = cap; i < sizeof(buf); i++)
			if (buf[i] != 0xa5) {
				fprintf(stderr, "nanopb: cap %zu, byte %zu written\n", cap, i);
				test_failures++;
				break;
			}
	}
}

static void test_bad_structs(void)
{
	profinfer_v1_TracePacket p = profinfer_v1_TracePacket_init_zero;
	profinfer_v1_GraphNode node = profinfer_v1_GraphNode_init_zero;
	const struct pi_node_rows missing_column = { .n_rows = 3 };
	uint8_t buf[256];
	size_t len;

	node.ne_count = 5; /* over max_count:4 */
	p.which_data = profinfer_v1_TracePacket_graph_structure_tag;
	p.data.graph_structure.nodes_count = 1;
	p.data.graph_structure.nodes = &node;
	CHECK(pi_encode_packet(&p, buf, sizeof(buf), &len) == -EINVAL);
	CHECK(pi_encode_node_events(&missing_column, buf, sizeof(buf), &len) == -EINVAL);
}

/* ---------------------------------------------------------------------------
 * Hostile control messages. In-test builders make the bytes a client could
 * send; decoding must reject what exceeds a bound, never overflow. */

struct builder {
	uint8_t buf[16384];
	size_t len;
};

static void put_varint(struct builder *b, uint64_t v)
{
	while (v >= 0x80) {
		b->buf[b->len++] = (uint8_t)v | 0x80;
		v >>= 7;
	}
	b->buf[b->len++] = (uint8_t)v;
}

static void put_bytes(struct builder *b, unsigned field, const void *p, size_t n)
{
	put_varint(b, field << 3 | 2);
	put_varint(b, n);
	memcpy(b->buf + b->len, p, n);
	b->len += n;
}

/* A ClientMessage { start { config { <config bytes> } } }. */
static void wrap_start_config(struct builder *out, const struct builder *config)
{
	struct builder start = { .len = 0 };

	put_bytes(&start, 3, config->buf, config->len);	/* StartSession.config */
	out->len = 0;
	put_bytes(out, 3, start.buf, start.len);		/* ClientMessage.start */
}

static int decode(const struct builder *b, const char **why)
{
	static profinfer_v1_ClientMessage m;

	*why = "";
	return pi_decode_client_message(b->buf, b->len, &m, why);
}

static void test_hostile_client_messages(void)
{
	struct builder msg = { .len = 0 }, hello = { .len = 0 }, config = { .len = 0 };
	char s[512];
	const char *why;

	/* hello { auth_token: <127 bytes> }: fits (max_size 128 holds the NUL) */
	memset(s, 'a', sizeof(s));
	put_bytes(&hello, 2, s, 127);
	put_bytes(&msg, 2, hello.buf, hello.len);
	CHECK(decode(&msg, &why) == 0);

	/* hello { auth_token: <128 bytes> }: one over */
	hello.len = msg.len = 0;
	put_bytes(&hello, 2, s, 128);
	put_bytes(&msg, 2, hello.buf, hello.len);
	CHECK(decode(&msg, &why) == -EBADMSG);
	CHECK(strcmp(why, "string overflow") == 0);

	/* start { config { counters: "c" x 17 } }: over max_count 16 */
	for (int i = 0; i < 17; i++)
		put_bytes(&config, 4, "c", 1);
	wrap_start_config(&msg, &config);
	CHECK(decode(&msg, &why) == -EBADMSG);
	CHECK(strcmp(why, "array overflow") == 0);

	/* start { config { op_filter: <32 bytes> } }: over max_size 32 */
	config.len = 0;
	put_bytes(&config, 7, s, 32);
	wrap_start_config(&msg, &config);
	CHECK(decode(&msg, &why) == -EBADMSG);

	/* start { config { probes { library: <300 bytes> } } } */
	{
		struct builder probe = { .len = 0 };

		put_bytes(&probe, 1, s, 300);
		config.len = 0;
		put_bytes(&config, 6, probe.buf, probe.len);
		wrap_start_config(&msg, &config);
		CHECK(decode(&msg, &why) == -EBADMSG);
	}

	/* hello { auth_token: length 2^32 } with 3 bytes behind it */
	msg.len = 0;
	put_varint(&msg, 2 << 3 | 2);
	put_varint(&msg, 6);
	put_varint(&msg, 2 << 3 | 2);
	put_varint(&msg, 1ull << 32);
	CHECK(decode(&msg, &why) == -EBADMSG);

	/* A varint of 11 bytes */
	msg.len = 0;
	put_varint(&msg, 1 << 3 | 0);
	for (int i = 0; i < 10; i++)
		msg.buf[msg.len++] = 0xff;
	msg.buf[msg.len++] = 0x01;
	CHECK(decode(&msg, &why) == -EBADMSG);

	/* Every prefix of a valid StartSession is accepted or rejected, never more. */
	config.len = 0;
	put_bytes(&config, 10, "auto", 4);
	put_bytes(&config, 4, "cycles", 6);
	wrap_start_config(&msg, &config);
	CHECK(decode(&msg, &why) == 0);
	for (size_t cut = 0; cut < msg.len; cut++) {
		struct builder prefix = msg;
		int err;

		prefix.len = cut;
		err = decode(&prefix, &why);
		CHECK(err == 0 || err == -EBADMSG);
	}

	/* Unknown fields are skipped (a newer client). */
	msg.len = 0;
	put_bytes(&msg, 99, "future", 6);
	CHECK(decode(&msg, &why) == 0);
}

/* Everything a ClientMessage reaches is a fixed-size field: pb_decode can
 * neither allocate (FT_POINTER) nor call out (FT_CALLBACK). */
static void check_all_static(const pb_msgdesc_t *desc, const char *path, int depth)
{
	static uint8_t scratch[sizeof(profinfer_v1_ClientMessage)];
	pb_field_iter_t it;

	if (depth > 8 || !pb_field_iter_begin(&it, desc, scratch))
		return;
	do {
		if (PB_ATYPE(it.type) != PB_ATYPE_STATIC) {
			fprintf(stderr, "%s: field %u is not static\n", path, (unsigned)it.tag);
			test_failures++;
		}
		if (PB_LTYPE_IS_SUBMSG(it.type) && it.submsg_desc)
			check_all_static(it.submsg_desc, path, depth + 1);
	} while (pb_field_iter_next(&it));
}

int main(void)
{
	test_hand_checked_row();
	test_empty_batch();
	test_random_batches();
	test_output_bounds();
	test_bad_structs();
	test_hostile_client_messages();
	check_all_static(profinfer_v1_ClientMessage_fields, "ClientMessage", 0);
	CHECK(sizeof(profinfer_v1_ClientMessage) < 65536);
	return test_exit("encode_test");
}
