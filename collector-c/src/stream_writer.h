/* stream_writer.h: writes encoded TracePackets to a file descriptor as a
 * `Trace`: each packet framed as field 1 (tag 0x0a, varint length, bytes).
 * Twin of host/src/decode/stream_reader.ts, which reads what this writes.
 *
 * A trace file and a live stream are the same bytes, and the fd only ever
 * receives whole frames, so a reader of a file cut anywhere gets every packet
 * before the cut. If a write fails part-way through a frame, the writer
 * truncates a regular file back to its last whole frame; on a pipe or socket
 * it stops writing (the reader sees a cut stream) and counts every later
 * packet as failed.
 *
 * Not thread-safe. Ignore SIGPIPE in the process: a closed peer must be a
 * failed write (EPIPE), not a signal.
 */
#ifndef PI_STREAM_WRITER_H
#define PI_STREAM_WRITER_H

#include <stddef.h>
#include <stdint.h>

/* Largest packet accepted: MAX_PACKET_BYTES in stream_reader.ts. */
#define PI_MAX_PACKET_BYTES (16u << 20)
/* Frames are gathered up to this size before a write(). */
#define PI_WRITER_BUFFER_BYTES (64u << 10)
/* How long a write() on a full non-blocking fd may wait for room. */
#define PI_WRITER_STALL_MS 1000

struct pi_writer;

struct pi_writer_stats {
	uint64_t bytes_written;		/* bytes of whole frames on the fd */
	uint64_t packets_written;	/* whole packets on the fd */
	uint64_t packets_failed;	/* packets dropped: LossStats EVENT_KIND_OUTPUT */
	int last_error;			/* last negative errno, 0 if none */
};

/* Does not take ownership of fd: the caller closes it after pi_writer__free().
 * Returns NULL on allocation failure. */
struct pi_writer *pi_writer__new_fd(int fd);

/* Frames and buffers one packet (flushing first when the buffer is full).
 * Returns 0 when the packet was accepted, or a negative errno when this
 * packet was dropped (and counted in packets_failed): -EMSGSIZE over
 * PI_MAX_PACKET_BYTES, -EPIPE once the stream is broken, or a write error for
 * a packet too big to buffer. A failed flush of earlier packets shows in the
 * stats and in pi_writer__flush(), not here. */
int pi_writer__append(struct pi_writer *w, const uint8_t *packet, size_t len);

/* Writes every buffered frame. Returns 0 or a negative errno. */
int pi_writer__flush(struct pi_writer *w);

struct pi_writer_stats pi_writer__stats(const struct pi_writer *w);

/* Flushes, then frees. NULL is a no-op. */
void pi_writer__free(struct pi_writer *w);

#endif /* PI_STREAM_WRITER_H */
