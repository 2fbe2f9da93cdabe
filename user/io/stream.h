/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * stream.h - passt's edge: qemu's "-netdev stream" UNIX socket
 *
 * One qemu at a time. Each frame on the socket, both ways, is a 4-byte big-endian length followed
 * by that many bytes of Ethernet frame. stream_read() reassembles frames from large reads and
 * dispatches each; stream_flush() writes a frame batch with one sendmsg(). A connection that
 * breaks the framing (length 0, below an Ethernet header, above STREAM_FRAME_MAX, or closed
 * mid-frame) is dropped with a log line, every byte of its reading state is forgotten, and the
 * next qemu is accepted.
 */
#ifndef BPASST_STREAM_H
#define BPASST_STREAM_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/batch.h"
#include "io/dispatch.h"

#define STREAM_FRAME_MIN BP_ETH_HLEN /* an Ethernet header; shorter than 60 is fine (virtio) */
#define STREAM_FRAME_MAX BP_FRAME_MAX /* 65520 + 14 */
#define STREAM_RBUF_SIZE (128 * 1024) /* one read: many frames, or at least one whole one */
#define STREAM_WBUF_SIZE (256 * 1024) /* unsent bytes kept after a partial write */
#define STREAM_SOCK_TRIES 128 /* /tmp/passt_1.socket ... /tmp/passt_128.socket */

/* What stream_handle()/stream_accept() did to the connection. */
enum stream_status {
	STREAM_IDLE = 0, /* nothing changed */
	STREAM_CONNECTED, /* a new qemu is connected */
	STREAM_DISCONNECTED, /* the qemu went away (or was dropped): state was reset */
};

struct stream_state {
	int epollfd;
	int listen_fd; /* -1 when serving an inherited (--fd) connection */
	int conn_fd; /* the qemu connected now, or -1 */
	bool inherited; /* conn_fd came from --fd: there is no next qemu */
	char path[PATH_MAX]; /* socket path we bound ("" for --fd) */

	uint8_t *rbuf; /* STREAM_RBUF_SIZE: bytes read, starting at a frame's length field */
	size_t rlen;

	uint8_t *wbuf; /* STREAM_WBUF_SIZE: bytes of whole frames still to be written */
	size_t wlen, woff; /* pending bytes are wbuf[woff, wlen) */

	unsigned long connections, framing_errors, frames_out, frames_dropped;
};

/* Allocate the buffers (once, at start-up). 0, or -1 (logged). */
int stream_init(struct stream_state *s, int epollfd);
/* Bind and listen on path, or on the first free /tmp/passt_N.socket if path is empty (a socket
 * file nobody listens on any more is replaced). Registers the listening socket (EPOLL_KIND_STREAM_
 * LISTEN). s->path gets the path. 0, or -1 (logged). */
int stream_listen(struct stream_state *s, const char *path);
/* Serve an already-connected stream socket (--fd). 0, or -1 (logged). */
int stream_adopt(struct stream_state *s, int fd);
/* The listening socket is readable: accept a qemu. If one is connected and still alive, the new
 * connection is accepted and closed at once, with a log line (one qemu at a time). */
enum stream_status stream_accept(struct stream_state *s, struct dispatch_ctx *d);
/* Events on the connection: read and dispatch frames on EPOLLIN, write pending bytes on EPOLLOUT,
 * and drop the connection on EOF, errors or a framing error. */
enum stream_status stream_handle(struct stream_state *s, struct dispatch_ctx *d, uint32_t events);
/* Write every frame of b (a length in each slot's headroom, one sendmsg), then reset b. A frame the
 * kernel took in part is completed later on EPOLLOUT (the stream never carries a torn frame), and
 * so are the whole frames after it that fit the write queue. Returns n: frames 0..n-1 of the batch
 * were written or queued, frames n.. were dropped whole (counted in b->dropped). If the write
 * fails the connection is closed and the return is -1 (stream_connected() tells). */
int stream_flush(struct stream_state *s, struct frame_batch *b);
static inline bool stream_connected(const struct stream_state *s)
{
	return s->conn_fd >= 0;
}
/* Drop the connection and reset every byte of reading and writing state. */
void stream_disconnect(struct stream_state *s, const char *why);
/* Close everything; unlink the socket file (errors only logged). */
void stream_cleanup(struct stream_state *s);

#endif /* BPASST_STREAM_H */
