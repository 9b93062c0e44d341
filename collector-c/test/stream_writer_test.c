/* stream_writer_test.c: framing, short writes, EINTR, EAGAIN, a closed peer,
 * a file that cannot grow, and loss accounting. What the writer produces must
 * parse as whole frames only (the reader's twin test is
 * host/src/decode/stream_reader.test.ts). */
#define _GNU_SOURCE /* F_SETPIPE_SZ */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <unistd.h>

#include "stream_writer.h"
#include "test_util.h"

/* Packet sizes around the varint and buffer limits. */
static const size_t sizes[] = {
	0, 1, 127, 128, 300, 16383, 16384, 5000,
	PI_WRITER_BUFFER_BYTES - 5,	/* exactly fills an empty buffer */
	PI_WRITER_BUFFER_BYTES,		/* too big to buffer: written directly */
	70000, 3, 2,
};
#define N_PACKETS (sizeof(sizes) / sizeof(sizes[0]))

static uint8_t packet_byte(size_t packet, size_t i)
{
	return (uint8_t)(packet * 31 + i * 7);
}

static uint8_t *make_packet(size_t k)
{
	uint8_t *p = malloc(sizes[k] + 1);

	for (size_t i = 0; i < sizes[k]; i++)
		p[i] = packet_byte(k, i);
	return p;
}

/* The test's own frame parser: how many whole frames buf[0..n) holds, with
 * their payloads checked against make_packet(). Sets *end to where they end. */
static size_t parse_frames(const uint8_t *buf, size_t n, size_t *end)
{
	size_t pos = 0, count = 0;

	for (;;) {
		size_t i = pos, len = 0;
		unsigned shift = 0;

		if (i >= n || buf[i++] != 0x0a)
			break;
		while (i < n && (buf[i] & 0x80)) {
			len |= (size_t)(buf[i++] & 0x7f) << shift;
			shift += 7;
		}
		if (i >= n)
			break;
		len |= (size_t)buf[i++] << shift;
		if (i + len > n)
			break;
		CHECK(count < N_PACKETS && len == sizes[count % N_PACKETS]);
		for (size_t j = 0; j < len && count < N_PACKETS; j++)
			if (buf[i + j] != packet_byte(count, j)) {
				fprintf(stderr, "packet %zu byte %zu differs\n", count, j);
				test_failures++;
				break;
			}
		pos = i + len;
		count++;
	}
	*end = pos;
	return count;
}

static size_t append_all(struct pi_writer *w)
{
	size_t accepted = 0;

	for (size_t k = 0; k < N_PACKETS; k++) {
		uint8_t *p = make_packet(k);

		accepted += pi_writer__append(w, p, sizes[k]) == 0;
		free(p);
	}
	return accepted;
}

/* Tag + varint length + payload (all sizes here are below 2^21). */
static size_t frame_bytes(size_t k)
{
	return 1 + (sizes[k] < 128 ? 1 : sizes[k] < 16384 ? 2 : 3) + sizes[k];
}

static size_t total_frame_bytes(void)
{
	size_t total = 0;

	for (size_t k = 0; k < N_PACKETS; k++)
		total += frame_bytes(k);
	return total;
}

static int temp_file(void)
{
	char path[] = "/tmp/pi_writer_XXXXXX";
	int fd = mkstemp(path);

	if (fd >= 0)
		unlink(path);
	return fd;
}

static uint8_t *read_back(int fd, size_t *n)
{
	off_t size = lseek(fd, 0, SEEK_END);
	uint8_t *buf = malloc((size_t)size + 1);

	*n = (size_t)pread(fd, buf, (size_t)size, 0);
	return buf;
}

static void test_file_round_trip(void)
{
	int fd = temp_file();
	struct pi_writer *w = pi_writer__new_fd(fd);
	struct pi_writer_stats st;
	size_t n, end;
	uint8_t *buf;

	CHECK(append_all(w) == N_PACKETS);
	CHECK(pi_writer__flush(w) == 0);
	st = pi_writer__stats(w);
	CHECK(st.packets_written == N_PACKETS && st.packets_failed == 0);
	CHECK(st.bytes_written == total_frame_bytes());
	pi_writer__free(w);

	buf = read_back(fd, &n);
	CHECK(n == total_frame_bytes());
	CHECK(parse_frames(buf, n, &end) == N_PACKETS && end == n);

	/* Cut anywhere: exactly the frames wholly before the cut survive. */
	for (size_t cut = 0; cut <= n; cut += cut < 256 ? 1 : 97) {
		size_t whole = parse_frames(buf, cut, &end);

		CHECK(end <= cut);
		CHECK(whole == N_PACKETS || end + frame_bytes(whole) > cut);
	}
	free(buf);
	close(fd);
}

static void test_limits(void)
{
	int fd = temp_file();
	struct pi_writer *w = pi_writer__new_fd(fd);
	static const uint8_t one = 1;

	CHECK(pi_writer__append(w, &one, PI_MAX_PACKET_BYTES + 1ull) == -EMSGSIZE);
	CHECK(pi_writer__append(w, NULL, 1) == -EINVAL);
	CHECK(pi_writer__stats(w).packets_failed == 2);
	CHECK(pi_writer__stats(w).last_error == -EINVAL);
	pi_writer__free(w);
	close(fd);
}

/* ---------------------------------------------------------------------------
 * Pipes: a slow reader thread makes short writes and EAGAIN; a timer signal
 * makes EINTR. */

struct reader {
	int fd;
	size_t chunk;		/* bytes per read() */
	useconds_t pause_us;	/* between reads */
	size_t stop_after;	/* close after this many bytes (0: read to EOF) */
	uint8_t *buf;
	size_t len;
};

static void *reader_main(void *arg)
{
	struct reader *r = arg;
	sigset_t all;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL); /* signals go to the writer */
	r->buf = malloc(total_frame_bytes() + 1);
	for (;;) {
		ssize_t got = read(r->fd, r->buf + r->len, r->chunk);

		if (got <= 0)
			break;
		r->len += (size_t)got;
		if (r->stop_after && r->len >= r->stop_after)
			break;
		if (r->pause_us)
			usleep(r->pause_us);
	}
	close(r->fd);
	return NULL;
}

static volatile sig_atomic_t alarms;

static void on_alarm(int sig)
{
	(void)sig;
	alarms++;
}

static void test_pipe(const char *name, bool nonblocking, bool interrupt)
{
	int fds[2];
	pthread_t thread;
	struct reader r = { .chunk = 777, .pause_us = 200 };
	struct pi_writer *w;
	struct pi_writer_stats st;
	size_t end;

	CHECK(pipe(fds) == 0);
	fcntl(fds[1], F_SETPIPE_SZ, 4096);
	if (nonblocking)
		fcntl(fds[1], F_SETFL, fcntl(fds[1], F_GETFL) | O_NONBLOCK);
	if (interrupt) {
		struct sigaction sa = { .sa_handler = on_alarm }; /* no SA_RESTART */
		struct itimerval every = { { 0, 300 }, { 0, 300 } };

		sigaction(SIGALRM, &sa, NULL);
		setitimer(ITIMER_REAL, &every, NULL);
	}
	r.fd = fds[0];
	pthread_create(&thread, NULL, reader_main, &r);

	w = pi_writer__new_fd(fds[1]);
	CHECK(append_all(w) == N_PACKETS);
	CHECK(pi_writer__flush(w) == 0);
	st = pi_writer__stats(w);
	pi_writer__free(w);
	if (interrupt) {
		struct itimerval off = { { 0, 0 }, { 0, 0 } };

		setitimer(ITIMER_REAL, &off, NULL);
	}
	close(fds[1]);
	pthread_join(thread, NULL);

	CHECK(st.packets_written == N_PACKETS && st.packets_failed == 0);
	CHECK(r.len == total_frame_bytes());
	CHECK(parse_frames(r.buf, r.len, &end) == N_PACKETS && end == r.len);
	if (interrupt)
		CHECK(alarms > 0);
	printf("  %-34s %zu bytes intact%s\n", name, r.len,
	       interrupt ? (alarms ? ", interrupted" : ", never interrupted") : "");
	free(r.buf);
}

/* The peer closes mid-stream: a partial frame is out, so the writer stops,
 * and every packet is counted as written or failed. */
static void test_peer_closes(void)
{
	int fds[2];
	pthread_t thread;
	struct reader r = { .chunk = 100, .pause_us = 20000, .stop_after = 300 };
	struct pi_writer *w;
	struct pi_writer_stats st;
	size_t end, whole;
	uint8_t one = 1;

	CHECK(pipe(fds) == 0);
	fcntl(fds[1], F_SETPIPE_SZ, 4096);
	r.fd = fds[0];
	pthread_create(&thread, NULL, reader_main, &r);
	w = pi_writer__new_fd(fds[1]);
	append_all(w);
	pi_writer__flush(w);
	pthread_join(thread, NULL);
	CHECK(pi_writer__append(w, &one, 1) == -EPIPE); /* broken: refused */
	st = pi_writer__stats(w);
	pi_writer__free(w);
	close(fds[1]);

	CHECK(st.last_error == -EPIPE);
	CHECK(st.packets_written + st.packets_failed == N_PACKETS + 1);
	CHECK(st.packets_failed >= 2);
	whole = parse_frames(r.buf, r.len, &end);
	CHECK(whole <= st.packets_written);
	printf("  %-34s %llu written, %llu failed\n", "peer closes mid-frame",
	       (unsigned long long)st.packets_written, (unsigned long long)st.packets_failed);
	free(r.buf);
}

/* A file that cannot grow past 10000 bytes (RLIMIT_FSIZE): the write stops
 * mid-frame, and the writer cuts the file back to its last whole frame. */
static void test_file_full(void)
{
	int fd = temp_file();
	struct pi_writer *w = pi_writer__new_fd(fd);
	struct pi_writer_stats st;
	struct rlimit old, small;
	uint8_t packet[3000], *buf;
	size_t n, end, whole;

	memset(packet, 0x5a, sizeof(packet));
	signal(SIGXFSZ, SIG_IGN);
	getrlimit(RLIMIT_FSIZE, &old);
	small = (struct rlimit){ 10000, old.rlim_max };
	CHECK(setrlimit(RLIMIT_FSIZE, &small) == 0);

	for (int i = 0; i < 5; i++)
		CHECK(pi_writer__append(w, packet, sizeof(packet)) == 0);
	CHECK(pi_writer__flush(w) == -EFBIG);
	st = pi_writer__stats(w);
	/* Frames are 3003 bytes: 3 fit in 10000, the 4th was cut off. */
	CHECK(st.packets_written == 3 && st.packets_failed == 2);
	CHECK(st.bytes_written == 3 * 3003);
	CHECK(lseek(fd, 0, SEEK_END) == 3 * 3003);

	/* Room again: the writer carries on after the last whole frame. */
	CHECK(setrlimit(RLIMIT_FSIZE, &old) == 0);
	CHECK(pi_writer__append(w, packet, sizeof(packet)) == 0);
	CHECK(pi_writer__flush(w) == 0);
	st = pi_writer__stats(w);
	CHECK(st.packets_written == 4 && st.bytes_written == 4 * 3003);
	pi_writer__free(w);

	buf = read_back(fd, &n);
	whole = 0;
	for (end = 0; end + 3003 <= n && buf[end] == 0x0a; end += 3003)
		whole++;
	CHECK(n == 4 * 3003 && whole == 4);
	free(buf);
	close(fd);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	test_file_round_trip();
	test_limits();
	test_pipe("pipe, blocking, short reads", false, false);
	test_pipe("pipe, non-blocking (EAGAIN)", true, false);
	test_pipe("pipe, blocking, timer (EINTR)", false, true);
	test_peer_closes();
	test_file_full();
	return test_exit("stream_writer_test");
}
