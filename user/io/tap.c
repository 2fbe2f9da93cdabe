// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * tap.c - pasta's edge: the tap device in the namespace, and moving frames through it
 *
 * Theory of operation
 *
 * Creation (tap_open/tap_create, called from inside the target network namespace, see
 * ns_call_in_netns()): /dev/net/tun is opened there, so the device is created in that namespace,
 * and TUNSETIFF makes (or attaches to) a tap named `name` with IFF_TAP | IFF_NO_PI: every read()
 * returns one whole Ethernet frame and every write() sends one, without a packet-info header.
 * MAC and MTU are set with the classic interface ioctls on a datagram socket of that namespace,
 * the transmit queue length through rtnetlink (its ioctl wants CAP_NET_ADMIN in the initial user
 * namespace, which an unprivileged pasta does not have). tap_create() then brings lo and the
 * tap up.
 *
 * The transmit queue (txqueuelen) is the kernel's buffer of frames the namespace sent and we have
 * not read yet (the qdisc's limit and tun's ring). The kernel's default of 1000 frames overflows
 * when a burst arrives while the daemon is busy elsewhere, so it is raised to TAP_TXQUEUELEN; the
 * memory this can pin stays bounded by the senders' socket buffers, which queued frames count in.
 *
 * Data paths
 *   namespace -> us: tap_read_batch() reads frames one by one (non-blocking) into one static
 *     receive area and hands each to dispatch_frame(), which parses it and appends any answer to
 *     d->out. The receive area is reused for the next frame, so nothing may keep a pointer into
 *     it after dispatch_frame() returns (the handlers copy what they keep).
 *   us -> namespace: tap_flush() writes each committed frame of a batch with one write() (a tap
 *     takes exactly one frame per call) and resets the batch. A frame the tap cannot take now
 *     (EAGAIN: the namespace's receive queue is full) is dropped and counted: retrying would
 *     reorder frames or stall every other flow, and TCP above will recover.
 *
 * State: only the static receive area.
 */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/if_tun.h>
#include <linux/sockios.h>

#include "core/log.h"
#include "io/netlink.h"
#include "io/tap.h"

#define TAP_TXQUEUELEN 5000
#define TAP_RECV_SIZE (BP_FRAME_MAX + 64) /* a little slack: longer frames show up as too long */

static uint8_t tap_recv_area[TAP_RECV_SIZE];

/* A socket to hang the interface ioctls on, in the current network namespace. */
static int tap_ioctl_sock(void)
{
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (s < 0)
		s = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	return s;
}

static int tap_set_up(int s, const char *name)
{
	struct ifreq ifr = { 0 };

	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
	if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
		return -errno;
	if (ifr.ifr_flags & IFF_UP)
		return 0;
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
		return -errno;
	return 0;
}

void tap_random_mac(uint8_t mac[BP_ETH_ALEN])
{
	if (getrandom(mac, BP_ETH_ALEN, 0) != BP_ETH_ALEN) {
		/* no entropy source: still unique enough per process */
		unsigned v = (unsigned)getpid() * 2654435761u;

		memcpy(mac, &v, 4);
		mac[4] = 0x5a;
		mac[5] = 0xa5;
	}
	mac[0] = (uint8_t)((mac[0] & 0xfe) | 0x02); /* unicast, locally administered */
}

int tap_open(const char *name, const uint8_t mac[BP_ETH_ALEN], int mtu, int *ifindex)
{
	static const uint8_t zero[BP_ETH_ALEN];
	struct ifreq ifr = { 0 };
	uint8_t rnd[BP_ETH_ALEN];
	int fd, s, ret;

	if (!name || !name[0] || strlen(name) >= IFNAMSIZ)
		return -EINVAL;

	fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		err("tap: open /dev/net/tun: %s", strerror(errno));
		return ret;
	}
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		ret = -errno;
		err("tap: creating %s: %s", name, strerror(errno));
		close(fd);
		return ret;
	}

	s = tap_ioctl_sock();
	if (s < 0) {
		ret = -errno;
		err("tap: socket for interface ioctls: %s", strerror(errno));
		close(fd);
		return ret;
	}

	if (!mac || !memcmp(mac, zero, sizeof(zero))) {
		tap_random_mac(rnd);
		mac = rnd;
	}
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
	ifr.ifr_hwaddr.sa_family = 1; /* ARPHRD_ETHER */
	memcpy(ifr.ifr_hwaddr.sa_data, mac, BP_ETH_ALEN);
	if (ioctl(s, SIOCSIFHWADDR, &ifr) < 0) {
		ret = -errno;
		err("tap: setting the MAC address of %s: %s", name, strerror(errno));
		goto fail;
	}

	if (mtu > 0) {
		memset(&ifr, 0, sizeof(ifr));
		snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
		ifr.ifr_mtu = mtu;
		if (ioctl(s, SIOCSIFMTU, &ifr) < 0) {
			ret = -errno;
			err("tap: setting MTU %d on %s: %s", mtu, name, strerror(errno));
			goto fail;
		}
	}

	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
	if (ioctl(s, SIOCGIFINDEX, &ifr) < 0) {
		ret = -errno;
		err("tap: index of %s: %s", name, strerror(errno));
		goto fail;
	}
	ret = nl_link_set_txqlen(ifr.ifr_ifindex, TAP_TXQUEUELEN);
	if (ret < 0)
		warn("tap: setting txqueuelen %d on %s: %s", TAP_TXQUEUELEN, name, strerror(-ret));
	if (ifindex)
		*ifindex = ifr.ifr_ifindex;
	close(s);
	return fd;
fail:
	close(s);
	close(fd);
	return ret;
}

int tap_bring_up(const char *name)
{
	int s = tap_ioctl_sock(), ret;

	if (s < 0)
		return -errno;
	ret = tap_set_up(s, "lo");
	if (ret < 0)
		err("tap: bringing lo up: %s", strerror(-ret));
	if (ret == 0) {
		ret = tap_set_up(s, name);
		if (ret < 0)
			err("tap: bringing %s up: %s", name, strerror(-ret));
	}
	close(s);
	return ret;
}

int tap_create(const char *name, const uint8_t mac[BP_ETH_ALEN], int mtu, int *ifindex)
{
	int fd = tap_open(name, mac, mtu, ifindex), ret;

	if (fd < 0)
		return fd;
	ret = tap_bring_up(name);
	if (ret < 0) {
		close(fd);
		return ret;
	}
	return fd;
}

int tap_read_batch(int fd, struct dispatch_ctx *d, unsigned max)
{
	unsigned n = 0;

	while (n < max) {
		ssize_t len = read(fd, tap_recv_area, sizeof(tap_recv_area));

		if (len < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			return -errno;
		}
		if (len == 0) /* no frame: the device is gone */
			return n ? (int)n : -EIO;
		n++;
		if ((size_t)len > BP_FRAME_MAX) {
			log_ratelimited(LOG_LVL_WARN, "tap: dropping a %zd-byte frame (maximum %d)",
					len, BP_FRAME_MAX);
			continue;
		}
		dispatch_frame(d, tap_recv_area, (size_t)len);
	}
	return (int)n;
}

int tap_flush(int fd, struct frame_batch *b)
{
	unsigned i;
	int written = 0;

	for (i = 0; i < b->count; i++) {
		size_t len;
		const uint8_t *frame = batch_frame(b, i, &len);
		ssize_t n;

		do {
			n = write(fd, frame, len);
		} while (n < 0 && errno == EINTR);
		if (n < 0) {
			b->dropped++;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				log_ratelimited(LOG_LVL_WARN, "tap: write of a %zu-byte frame: %s",
						len, strerror(errno));
			continue;
		}
		written++;
	}
	batch_reset(b);
	return written;
}
