/* stream_writer.c: see stream_writer.h. Twin of host/src/decode/stream_reader.ts. */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "stream_writer.h"

/* Trace.packet: field 1, length-delimited. */
#define TRACE_PACKET_TAG 0x0a
/* Tag + the varint length of a packet up to PI_MAX_PACKET_BYTES (< 2^28). */
#define FRAME_HEADER_MAX (1 + 4)

struct pi_writer {
	int fd;
	bool seekable;		/* a regular file: a partial frame can be cut off */
	bool broken;		/* a partial frame went to a pipe or socket: stop */
	bool reported;		/* the first failed write was said on stderr */
	size_t used;		/* bytes of whole frames in buf */
	uint64_t buffered;	/* frames in buf */
	struct pi_writer_stats stats;
	uint8_t buf[PI_WRITER_BUFFER_BYTES];
};

struct pi_writer *pi_writer__new_fd(int fd)
{
	struct pi_writer *w = calloc(1, sizeof(*w));
	struct stat st;

	if (!w)
		return NULL;
	w->fd = fd;
	w->seekable = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
	return w;
}

static size_t put_frame_header(uint8_t *p, size_t len)
{
	size_t n = 0;

	p[n++] = TRACE_PACKET_TAG;
	while (len >= 0x80) {
		p[n++] = (uint8_t)len | 0x80;
		len >>= 7;
	}
	p[n++] = (uint8_t)len;
	return n;
}

/* Writes p[0..n) through short writes, EINTR and (for a non-blocking fd)
 * EAGAIN. Sets *done to the bytes written, even on failure. */
static int write_all(int fd, const uint8_t *p, size_t n, size_t *done)
{
	*done = 0;
	while (*done < n) {
		ssize_t r = write(fd, p + *done, n - *done);

		if (r > 0) {
			*done += (size_t)r;
			continue;
		}
		if (r == 0)
			return -EIO;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			struct pollfd pfd = { .fd = fd, .events = POLLOUT };
			int ready = poll(&pfd, 1, PI_WRITER_STALL_MS);

			if (ready > 0 || (ready < 0 && errno == EINTR))
				continue;
			return ready == 0 ? -ETIMEDOUT : -errno;
		}
		return -errno;
	}
	return 0;
}

/* Of the frames in buf[0..used), how many end within the first `done` bytes,
 * and where the last of them ends. buf holds only frames we built. */
static size_t whole_frames(const uint8_t *buf, size_t used, size_t done, uint64_t *count)
{
	size_t pos = 0;

	*count = 0;
	while (pos < used) {
		size_t i = pos + 1, len = 0;
		unsigned shift = 0;

		do {
			len |= (size_t)(buf[i] & 0x7f) << shift;
			shift += 7;
		} while (buf[i++] & 0x80);
		if (i + len > done)
			break;
		pos = i + len;
		(*count)++;
	}
	return pos;
}

/* A write of `packets` frames failed with `err` after `done` bytes; the first
 * `whole` frames (ending at byte `boundary`) are out in full. Keep the fd a
 * sequence of whole frames, and account for every packet. */
static void settle_failure(struct pi_writer *w, int err, size_t done, size_t boundary,
			   uint64_t whole, uint64_t packets)
{
	w->stats.last_error = err;
	/* Once, so that a full disk is said, not only counted (EVENT_KIND_OUTPUT). */
	if (!w->reported) {
		w->reported = true;
		fprintf(stderr, "profinferd: cannot write the trace after %llu bytes: %s; packets that "
			"cannot be written are dropped and counted as lost (EVENT_KIND_OUTPUT): free "
			"space where the trace goes\n",
			(unsigned long long)(w->stats.bytes_written + boundary), strerror(-err));
	}
	w->stats.bytes_written += boundary;
	w->stats.packets_written += whole;
	w->stats.packets_failed += packets - whole;
	if (done == boundary)
		return;
	/* Part of a frame is out: cut it off a file, or stop writing a stream. */
	if (w->seekable) {
		off_t end = lseek(w->fd, 0, SEEK_CUR);
		off_t cut = end - (off_t)(done - boundary);

		if (end >= 0 && cut >= 0 && ftruncate(w->fd, cut) == 0 &&
		    lseek(w->fd, cut, SEEK_SET) == cut)
			return;
	}
	w->broken = true;
}

static int drop(struct pi_writer *w, int err)
{
	w->stats.packets_failed++;
	w->stats.last_error = err;
	return err;
}

int pi_writer__flush(struct pi_writer *w)
{
	size_t done;
	int err;

	if (!w->used)
		return 0;
	err = write_all(w->fd, w->buf, w->used, &done);
	if (err) {
		uint64_t whole;
		size_t boundary = whole_frames(w->buf, w->used, done, &whole);

		settle_failure(w, err, done, boundary, whole, w->buffered);
	} else {
		w->stats.bytes_written += w->used;
		w->stats.packets_written += w->buffered;
	}
	w->used = 0;
	w->buffered = 0;
	return err;
}

/* A frame bigger than the buffer goes straight to the fd. */
static int write_direct(struct pi_writer *w, const uint8_t *header, size_t header_len,
			const uint8_t *packet, size_t len)
{
	size_t done_header = 0, done_packet = 0;
	int err = write_all(w->fd, header, header_len, &done_header);

	if (!err)
		err = write_all(w->fd, packet, len, &done_packet);
	if (err) {
		settle_failure(w, err, done_header + done_packet, 0, 0, 1);
		return err;
	}
	w->stats.bytes_written += header_len + len;
	w->stats.packets_written++;
	return 0;
}

int pi_writer__append(struct pi_writer *w, const uint8_t *packet, size_t len)
{
	uint8_t header[FRAME_HEADER_MAX];
	size_t header_len;

	if (!packet && len)
		return drop(w, -EINVAL);
	if (len > PI_MAX_PACKET_BYTES)
		return drop(w, -EMSGSIZE);
	if (w->broken)
		return drop(w, -EPIPE);
	header_len = put_frame_header(header, len);
	if (w->used + header_len + len > sizeof(w->buf)) {
		pi_writer__flush(w); /* its failures are counted there */
		if (w->broken)
			return drop(w, -EPIPE);
	}
	if (header_len + len > sizeof(w->buf))
		return write_direct(w, header, header_len, packet, len);
	memcpy(w->buf + w->used, header, header_len);
	if (len)
		memcpy(w->buf + w->used + header_len, packet, len);
	w->used += header_len + len;
	w->buffered++;
	return 0;
}

struct pi_writer_stats pi_writer__stats(const struct pi_writer *w)
{
	return w->stats;
}

void pi_writer__free(struct pi_writer *w)
{
	if (!w)
		return;
	pi_writer__flush(w);
	free(w);
}
