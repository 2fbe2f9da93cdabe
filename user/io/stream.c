// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * stream.c - passt's edge: one qemu at a time on a UNIX stream socket ("-netdev stream")
 *
 * Theory of operation
 *
 * Framing, both ways: a 4-byte big-endian length, then that many bytes of Ethernet frame (no FCS,
 * no padding required: a virtio guest sends frames shorter than 60 bytes and they are accepted).
 * Valid lengths are STREAM_FRAME_MIN (an Ethernet header) to STREAM_FRAME_MAX (65520 + 14).
 *
 * Connections: stream_listen() binds the socket (-s PATH, or the first free /tmp/passt_N.socket:
 * a path is "free" if nothing exists there or nobody accepts connections on it any more).
 * stream_accept() takes one qemu. While one is connected, a further connection is accepted and
 * closed at once, with a log line: it fails fast on the client's side rather than hanging in the
 * backlog. Before refusing, the connected qemu is checked: if it has hung up (its EOF waiting in
 * the same epoll round as the newcomer), it is drained and dropped first, so a qemu restarted
 * quickly is not refused. --fd gives an already-connected socket instead (stream_adopt()); there
 * is no next qemu after it.
 *
 * Reading (stream_handle() on EPOLLIN): recv() into rbuf (STREAM_RBUF_SIZE, 128 KiB) after the
 * bytes kept from the last read, then walk all complete frames in it: check each length as soon
 * as its 4 bytes are there, hand each complete frame to dispatch_frame() (answers go to the output
 * batch; if that batch fills up mid-read it is flushed first), and move the incomplete tail (at
 * most one frame, so it always fits) to the front for the next read. A length out of range, EOF
 * with bytes of a frame pending, or a read error drop the connection with a log line, and
 * stream_disconnect() forgets all of its state (rbuf contents and length, pending output): nothing
 * of a broken stream can leak into the next qemu's.
 *
 * Writing (stream_flush()): each frame of the batch gets its length in the slot's BATCH_HEADROOM
 * bytes in front of it, and all slots go out in one sendmsg() (MSG_NOSIGNAL, non-blocking; in
 * IOV_MAX chunks). If the kernel takes only part of it, the rest of the frame it tore is copied to
 * wbuf and completed on EPOLLOUT; the whole frames after it are queued in wbuf too while they fit
 * (STREAM_WBUF_SIZE); from the first one that does not fit on, they are dropped whole (counted in
 * the batch's dropped). While wbuf has bytes, new frames are queued behind them or dropped the same
 * way. So the stream never carries a torn frame, ordering is kept, and what goes out of a batch is
 * always a prefix of it (stream_flush() returns its length).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/epoll_ref.h"
#include "core/log.h"
#include "io/stream.h"

#define STREAM_LEN_BYTES 4
#define STREAM_READS_PER_EVENT 64
#define STREAM_IOV_MAX 1024 /* IOV_MAX on Linux */

_Static_assert(BATCH_HEADROOM >= STREAM_LEN_BYTES, "the length goes in the batch headroom");
_Static_assert(STREAM_RBUF_SIZE > STREAM_LEN_BYTES + STREAM_FRAME_MAX,
	       "an incomplete frame always fits in the read buffer");
_Static_assert(STREAM_WBUF_SIZE > STREAM_LEN_BYTES + STREAM_FRAME_MAX,
	       "a torn frame always fits in the write buffer");

int stream_init(struct stream_state *s, int epollfd)
{
	memset(s, 0, sizeof(*s));
	s->epollfd = epollfd;
	s->listen_fd = -1;
	s->conn_fd = -1;
	s->rbuf = malloc(STREAM_RBUF_SIZE);
	s->wbuf = malloc(STREAM_WBUF_SIZE);
	if (!s->rbuf || !s->wbuf) {
		err("qemu stream: cannot allocate buffers");
		free(s->rbuf);
		free(s->wbuf);
		s->rbuf = s->wbuf = NULL;
		return -1;
	}
	return 0;
}

/* ---- Listening ---- */

/* Is somebody accepting connections on the socket file at path? */
static bool stream_path_in_use(const struct sockaddr_un *addr)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool in_use;

	if (fd < 0)
		return true; /* cannot tell: do not replace it */
	in_use = connect(fd, (const struct sockaddr *)addr, sizeof(*addr)) == 0 ||
		(errno != ECONNREFUSED && errno != ENOENT && errno != ENOTSOCK);
	close(fd);
	return in_use;
}

/* Bind a listening socket at path. Returns the fd, -EADDRINUSE if somebody is serving there, or
 * another -errno. A stale socket file (no listener) is replaced. */
static int stream_bind(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct stat st;
	int fd, ret;

	if (strlen(path) >= sizeof(addr.sun_path))
		return -ENAMETOOLONG;
	memcpy(addr.sun_path, path, strlen(path) + 1);

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;

	for (int attempt = 0; attempt < 2; attempt++) {
		if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0) {
			if (listen(fd, 1) < 0)
				break;
			return fd;
		}
		if (errno != EADDRINUSE || attempt)
			break;
		/* Something is there: a live passt (leave it), or a stale socket (replace it). */
		if (lstat(path, &st) < 0 || !S_ISSOCK(st.st_mode) || stream_path_in_use(&addr)) {
			close(fd);
			return -EADDRINUSE;
		}
		debug("qemu stream: replacing stale socket %s", path);
		unlink(path);
	}
	ret = -errno;
	close(fd);
	return ret;
}

int stream_listen(struct stream_state *s, const char *path)
{
	struct epoll_event ev = { .events = EPOLLIN };
	int fd = -1;

	if (path && *path) {
		fd = stream_bind(path);
		if (fd < 0) {
			err("qemu stream: cannot listen on %s: %s", path,
			    fd == -EADDRINUSE ? "another process is serving it" : strerror(-fd));
			return -1;
		}
		snprintf(s->path, sizeof(s->path), "%s", path);
	} else {
		for (int i = 1; i <= STREAM_SOCK_TRIES && fd < 0; i++) {
			snprintf(s->path, sizeof(s->path), "/tmp/passt_%d.socket", i);
			fd = stream_bind(s->path);
			if (fd < 0 && fd != -EADDRINUSE) {
				err("qemu stream: cannot listen on %s: %s", s->path, strerror(-fd));
				return -1;
			}
		}
		if (fd < 0) {
			err("qemu stream: no free socket path among /tmp/passt_1..%d.socket",
			    STREAM_SOCK_TRIES);
			s->path[0] = '\0';
			return -1;
		}
	}

	ev.data.u64 = epoll_ref_make(EPOLL_KIND_STREAM_LISTEN, 0);
	if (epoll_ctl(s->epollfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		err("qemu stream: epoll_ctl: %s", strerror(errno));
		close(fd);
		unlink(s->path);
		s->path[0] = '\0';
		return -1;
	}
	s->listen_fd = fd;
	return 0;
}

/* Register a connected qemu. */
static int stream_attach(struct stream_state *s, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP };

	ev.data.u64 = epoll_ref_make(EPOLL_KIND_STREAM, 0);
	if (epoll_ctl(s->epollfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		err("qemu stream: epoll_ctl: %s", strerror(errno));
		return -1;
	}
	s->conn_fd = fd;
	s->rlen = 0;
	s->wlen = s->woff = 0;
	s->connections++;
	return 0;
}

int stream_adopt(struct stream_state *s, int fd)
{
	int flags = fcntl(fd, F_GETFL);
	int type = 0;
	socklen_t len = sizeof(type);

	if (flags < 0 || getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0 ||
	    type != SOCK_STREAM) {
		err("qemu stream: --fd %d is not a connected stream socket", fd);
		return -1;
	}
	if (fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0 || fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
		err("qemu stream: --fd %d: %s", fd, strerror(errno));
		return -1;
	}
	if (stream_attach(s, fd) < 0)
		return -1;
	s->inherited = true;
	info("qemu stream: serving the connected socket given by --fd %d", fd);
	return 0;
}

void stream_disconnect(struct stream_state *s, const char *why)
{
	if (s->conn_fd < 0)
		return;
	if (why)
		info("qemu stream: %s", why);
	close(s->conn_fd); /* leaves the epoll set too */
	s->conn_fd = -1;
	/* Forget everything of this connection: a half-read frame must not become the start of
	 * the next qemu's stream, nor pending output the start of what it reads. */
	memset(s->rbuf, 0, s->rlen);
	s->rlen = 0;
	s->wlen = s->woff = 0;
}

/* ---- Reading ---- */

static uint32_t stream_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* Dispatch every complete frame of rbuf, keep the incomplete tail. false if the connection was
 * dropped (framing error, or the output flush failed). */
static bool stream_parse(struct stream_state *s, struct dispatch_ctx *d)
{
	size_t off = 0;

	while (s->rlen - off >= STREAM_LEN_BYTES) {
		uint32_t len = stream_be32(s->rbuf + off);

		if (len < STREAM_FRAME_MIN || len > STREAM_FRAME_MAX) {
			char why[128];

			s->framing_errors++;
			snprintf(why, sizeof(why),
				 "frame length %u out of range (%u..%u), closing connection", len,
				 (unsigned)STREAM_FRAME_MIN, (unsigned)STREAM_FRAME_MAX);
			warn("qemu stream: %s", why);
			stream_disconnect(s, NULL);
			return false;
		}
		if (s->rlen - off - STREAM_LEN_BYTES < len)
			break; /* incomplete: wait for more */

		if (batch_full(d->out) && stream_flush(s, d->out) < 0)
			return false;
		dispatch_frame(d, s->rbuf + off + STREAM_LEN_BYTES, len);
		off += STREAM_LEN_BYTES + len;
	}

	if (off) {
		memmove(s->rbuf, s->rbuf + off, s->rlen - off);
		s->rlen -= off;
	}
	return true;
}

static enum stream_status stream_read(struct stream_state *s, struct dispatch_ctx *d)
{
	for (int i = 0; i < STREAM_READS_PER_EVENT; i++) {
		ssize_t n = recv(s->conn_fd, s->rbuf + s->rlen, STREAM_RBUF_SIZE - s->rlen,
				 MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return STREAM_IDLE;
			if (errno != ECONNRESET) {
				warn("qemu stream: read error: %s, closing connection",
				     strerror(errno));
				stream_disconnect(s, NULL);
				return STREAM_DISCONNECTED;
			}
			n = 0; /* a reset is a hang-up that left unread data behind */
		}
		if (n == 0) {
			if (s->rlen) {
				s->framing_errors++;
				warn("qemu stream: connection closed in the middle of a frame, %zu "
				     "bytes of it discarded",
				     s->rlen);
				stream_disconnect(s, NULL);
			} else {
				stream_disconnect(s, "qemu disconnected");
			}
			return STREAM_DISCONNECTED;
		}
		s->rlen += (size_t)n;
		if (!stream_parse(s, d))
			return STREAM_DISCONNECTED;
	}
	return STREAM_IDLE; /* more may be pending: level-triggered epoll calls again */
}

/* ---- Writing ---- */

static int stream_set_epollout(struct stream_state *s, bool on)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP | (on ? EPOLLOUT : 0) };

	ev.data.u64 = epoll_ref_make(EPOLL_KIND_STREAM, 0);
	return epoll_ctl(s->epollfd, EPOLL_CTL_MOD, s->conn_fd, &ev);
}

/* Append bytes to wbuf (compacting it first); false if they do not fit. */
static bool stream_queue(struct stream_state *s, const uint8_t *p, size_t len)
{
	if (s->woff) {
		memmove(s->wbuf, s->wbuf + s->woff, s->wlen - s->woff);
		s->wlen -= s->woff;
		s->woff = 0;
	}
	if (len > STREAM_WBUF_SIZE - s->wlen)
		return false;
	memcpy(s->wbuf + s->wlen, p, len);
	s->wlen += len;
	return true;
}

/* Write what wbuf holds. 0 (all written or would block), or -1 (connection dropped). */
static int stream_write_pending(struct stream_state *s)
{
	while (s->woff < s->wlen) {
		ssize_t n = send(s->conn_fd, s->wbuf + s->woff, s->wlen - s->woff,
				 MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return stream_set_epollout(s, true) < 0 ? -1 : 0;
			warn("qemu stream: write error: %s, closing connection", strerror(errno));
			stream_disconnect(s, NULL);
			return -1;
		}
		s->woff += (size_t)n;
	}
	s->wlen = s->woff = 0;
	return stream_set_epollout(s, false) < 0 ? -1 : 0;
}

/* Queue whole frames [first, end) of b behind pending bytes, in order, up to the first one that
 * does not fit: that one and all after it are dropped (so what goes out is always a prefix of the
 * batch, and never reordered). Returns the number queued, or -1 if epoll failed. */
static int stream_queue_frames(struct stream_state *s, struct frame_batch *b, unsigned first)
{
	int queued = 0;
	unsigned i;

	for (i = first; i < b->count; i++) {
		size_t len;
		uint8_t *p = batch_frame(b, i, &len);

		if (!stream_queue(s, p - STREAM_LEN_BYTES, len + STREAM_LEN_BYTES))
			break;
		queued++;
	}
	if (i < b->count) {
		b->dropped += b->count - i;
		s->frames_dropped += b->count - i;
		log_ratelimited(LOG_LVL_DEBUG,
				"qemu stream: socket full, %lu frames dropped so far",
				s->frames_dropped);
	}
	if (s->wlen > s->woff && stream_set_epollout(s, true) < 0)
		return -1;
	return queued;
}

int stream_flush(struct stream_state *s, struct frame_batch *b)
{
	struct iovec iov[STREAM_IOV_MAX];
	int done = 0;
	unsigned i = 0;

	if (s->conn_fd < 0) {
		b->dropped += b->count;
		batch_reset(b);
		return 0;
	}

	/* Lengths into each slot's headroom. */
	for (unsigned k = 0; k < b->count; k++) {
		size_t len;
		uint8_t *p = batch_frame(b, k, &len);

		p[-4] = (uint8_t)(len >> 24);
		p[-3] = (uint8_t)(len >> 16);
		p[-2] = (uint8_t)(len >> 8);
		p[-1] = (uint8_t)len;
	}

	if (s->wlen > s->woff && stream_write_pending(s) < 0)
		goto fail;

	while (i < b->count) {
		struct msghdr mh = { .msg_iov = iov };
		unsigned first = i, n_iov = 0;
		ssize_t n;

		if (s->wlen > s->woff) { /* still pending: keep order, queue behind it */
			int q = stream_queue_frames(s, b, i);

			if (q < 0)
				goto fail;
			done += q;
			break;
		}

		for (; i < b->count && n_iov < STREAM_IOV_MAX; i++, n_iov++) {
			size_t len;
			uint8_t *p = batch_frame(b, i, &len);

			iov[n_iov].iov_base = p - STREAM_LEN_BYTES;
			iov[n_iov].iov_len = len + STREAM_LEN_BYTES;
		}
		mh.msg_iovlen = n_iov;
		do {
			n = sendmsg(s->conn_fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
		} while (n < 0 && errno == EINTR);
		if (n < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK) {
				warn("qemu stream: write error: %s, closing connection",
				     strerror(errno));
				stream_disconnect(s, NULL);
				goto fail;
			}
			n = 0;
		}

		/* Count the frames sent whole; keep the rest of a torn one; queue the others. */
		for (unsigned k = 0; k < n_iov; k++) {
			size_t flen = iov[k].iov_len;
			unsigned rest = first + k;
			int q;

			if ((size_t)n >= flen) {
				n -= (ssize_t)flen;
				done++;
				s->frames_out++;
				continue;
			}
			if (n > 0) {
				/* Torn: wbuf is empty here and larger than any frame. */
				log_ratelimited(LOG_LVL_DEBUG,
						"qemu stream: partial write, the rest of a frame "
						"(%zu of %zu bytes) waits for the socket",
						flen - (size_t)n, flen);
				stream_queue(s, (uint8_t *)iov[k].iov_base + n, flen - (size_t)n);
				done++;
				s->frames_out++;
				rest++;
			}
			q = stream_queue_frames(s, b, rest);
			if (q < 0)
				goto fail;
			done += q;
			i = b->count; /* every frame is sent, queued or dropped */
			break;
		}
	}

	batch_reset(b);
	return done;

fail:
	if (s->conn_fd >= 0)
		stream_disconnect(s, "write failed");
	batch_reset(b);
	return -1;
}

/* ---- Events ---- */

enum stream_status stream_handle(struct stream_state *s, struct dispatch_ctx *d, uint32_t events)
{
	if (s->conn_fd < 0)
		return STREAM_IDLE;
	if ((events & EPOLLOUT) && stream_write_pending(s) < 0)
		return STREAM_DISCONNECTED;
	if (events & (EPOLLIN | EPOLLHUP | EPOLLRDHUP | EPOLLERR))
		return stream_read(s, d);
	return STREAM_IDLE;
}

enum stream_status stream_accept(struct stream_state *s, struct dispatch_ctx *d)
{
	int fd = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			warn("qemu stream: accept: %s", strerror(errno));
		return STREAM_IDLE;
	}

	if (s->conn_fd >= 0) {
		struct pollfd p = { .fd = s->conn_fd, .events = POLLIN | POLLRDHUP };

		/* The connected qemu may have hung up in this same epoll round: finish it first. */
		if (poll(&p, 1, 0) > 0 && (p.revents & (POLLHUP | POLLRDHUP | POLLERR))) {
			for (int i = 0; i < 4 && s->conn_fd >= 0; i++)
				stream_read(s, d);
		}
	}
	if (s->conn_fd >= 0) {
		warn("qemu stream: a qemu is already connected, refusing another connection");
		close(fd);
		return STREAM_IDLE;
	}

	if (stream_attach(s, fd) < 0) {
		close(fd);
		return STREAM_IDLE;
	}
	info("qemu stream: qemu connected");
	return STREAM_CONNECTED;
}

void stream_cleanup(struct stream_state *s)
{
	stream_disconnect(s, NULL);
	if (s->listen_fd >= 0) {
		close(s->listen_fd);
		s->listen_fd = -1;
	}
	if (s->path[0] && unlink(s->path) < 0 && errno != ENOENT)
		debug("qemu stream: cannot remove %s: %s", s->path, strerror(errno));
	s->path[0] = '\0';
	free(s->rbuf);
	free(s->wbuf);
	s->rbuf = s->wbuf = NULL;
}
