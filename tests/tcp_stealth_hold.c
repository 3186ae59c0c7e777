// SPDX-License-Identifier: GPL-2.0
/*
 * The integrity hold, every way in. A connection accepted by a listener with
 * TCP_STEALTH_INTEGRITY_LEN = n is held until its first n bytes match the
 * commitment of its knock: until then the server application must not see a
 * byte, nor learn that bytes are there, whichever way it reads; after a
 * failed check every way reports the error (docs/PROTOCOL.md, section 7.1).
 *
 * The ways in: recv (plain, MSG_PEEK, MSG_OOB), recvmmsg, splice,
 * TCP_ZEROCOPY_RECEIVE (its copy fallback reads too), FIONREAD/SIOCINQ,
 * SIOCATMARK, the TCP_INQ control message, poll, SO_RCVLOWAT, io_uring
 * (IORING_OP_RECV, IORING_OP_RECVMSG, multishot recv); urgent data in and
 * after the first n bytes; TCP Fast Open data in the SYN; and a listener of
 * a SO_REUSEPORT group closing with net.ipv4.tcp_migrate_req = 1.
 *
 * Namespaces a (client) and b (server) joined by veth, IPv4 and IPv6.
 */
#define _GNU_SOURCE	/* recvmmsg, splice, pipe2, POLLRDHUP */
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#define PAIR_NS_TAG "tsh"
#include "pair_fixture.h"

#define PAYLOAD "SSH-2.0-tcp_stealth hold test\r\n"
#define N ((int)sizeof(PAYLOAD) - 1)
#define TRAILER "trailer!"
#define TLEN ((int)sizeof(TRAILER) - 1)

/* Every readiness bit that says "something to read". */
#define POLL_READ (POLLIN | POLLPRI | POLLRDNORM | POLLRDBAND | POLLRDHUP)

/* struct tcp_zerocopy_receive of the uapi (glibc has only its first part). */
struct zc_receive {
	__u64 address;
	__u32 length;
	__u32 recv_skip_hint;
	__u32 inq;
	__s32 err;
	__u64 copybuf_address;
	__s32 copybuf_len;
	__u32 flags;
	__u64 msg_control;
	__u64 msg_controllen;
	__u32 msg_flags;
	__u32 reserved;
};

/* Wait (up to 3 s) until the peer has acknowledged all @fd sent, i.e. the
 * bytes are in the server's receive queue. */
static int wait_acked(int fd)
{
	int i, q;

	for (i = 0; i < 1500; i++) {
		if (ioctl(fd, SIOCOUTQ, &q))
			return -1;
		if (!q)
			return 0;
		usleep(2000);
	}
	return -1;
}

/*
 * A knocking client in @ns committed to PAYLOAD (TCP_NODELAY) that has
 * sent the first @sent bytes of @data, all acknowledged; if @afd, the
 * connection accepted from @lfd goes there. 0 or -1.
 */
static int held(const char *ns, int fam, int lfd, const char *data, int sent,
		int *cfd, int *afd)
{
	int one = 1;

	if (integrity_client(ns, fam, SECRET, PAYLOAD, N, cfd))
		return -1;
	if (setsockopt(*cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) ||
	    (sent && write_all(*cfd, data, sent)) || wait_acked(*cfd))
		return -1;
	if (!afd)
		return 0;
	*afd = tcp_accept_timeout(lfd, 4000);
	return *afd < 0 ? -1 : 0;
}

/* Each probe reads without waiting: the bytes it read, or -errno. */
static int r_recv(int fd, char *buf, int len, int flags)
{
	int n = recv(fd, buf, len, flags | MSG_DONTWAIT);

	return n < 0 ? -errno : n;
}

/* Two messages of half of @len each. */
static int r_recvmmsg(int fd, char *buf, int len)
{
	struct iovec iov[2] = {
		{ .iov_base = buf, .iov_len = len / 2 },
		{ .iov_base = buf + len / 2, .iov_len = len - len / 2 },
	};
	struct mmsghdr m[2] = {
		{ .msg_hdr = { .msg_iov = &iov[0], .msg_iovlen = 1 } },
		{ .msg_hdr = { .msg_iov = &iov[1], .msg_iovlen = 1 } },
	};
	int n = recvmmsg(fd, m, 2, MSG_DONTWAIT, NULL), i, got = 0;

	if (n < 0)
		return -errno;
	for (i = 0; i < n; i++)
		got += m[i].msg_len;
	return got;
}

/* splice() into a pipe, and back out of it into @buf. */
static int r_splice(int fd, char *buf, int len)
{
	int p[2], n;

	if (pipe2(p, O_NONBLOCK))
		return -1000;
	n = splice(fd, NULL, p[1], NULL, len, SPLICE_F_NONBLOCK);
	if (n < 0)
		n = -errno;
	else if (n > 0 && read(p[0], buf, n) != n)
		n = -1000;
	close(p[0]);
	close(p[1]);
	return n;
}

/* TCP_ZEROCOPY_RECEIVE without a mapping: its copy fallback reads into
 * @buf when everything queued fits. */
static int r_zerocopy(int fd, char *buf, int len)
{
	struct zc_receive zc = {
		.copybuf_address = (__u64)(unsigned long)buf,
		.copybuf_len = len,
	};
	socklen_t zlen = sizeof(zc);

	if (getsockopt(fd, IPPROTO_TCP, TCP_ZEROCOPY_RECEIVE, &zc, &zlen))
		return -errno;
	return zc.copybuf_len;
}

/* recvmsg() with the TCP_INQ control message (TCP_INQ must be on): *@inq
 * gets its value, -1 if none came. */
static int r_inq_cmsg(int fd, char *buf, int len, int *inq)
{
	char ctl[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	struct msghdr m = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = ctl, .msg_controllen = sizeof(ctl),
	};
	struct cmsghdr *c;
	int n = recvmsg(fd, &m, MSG_DONTWAIT);

	*inq = -1;
	if (n < 0)
		return -errno;
	for (c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
		if (c->cmsg_level == SOL_TCP && c->cmsg_type == TCP_CM_INQ)
			memcpy(inq, CMSG_DATA(c), sizeof(*inq));
	return n;
}

/* An ioctl that answers an int: the int, or -errno. */
static int ioc(int fd, unsigned long req)
{
	int v = -1;

	return ioctl(fd, req, &v) ? -errno : v;
}

/* poll() for everything readable within @ms: revents, or -errno. */
static int pev(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLL_READ };
	int n = poll(&p, 1, ms);

	return n < 0 ? -errno : p.revents;
}

/* read() that may wait (the socket's SO_RCVTIMEO): bytes, or -errno. */
static int read_err(int fd, char *buf, int len)
{
	int n = read(fd, buf, len);

	return n < 0 ? -errno : n;
}

/*
 * Every way to read @fd fails with @err and shows nothing: EAGAIN while the
 * bytes are held (poll shows nothing readable), the check's errno after it
 * failed (poll shows POLLERR).
 */
static void expect_nothing(struct __test_metadata *_metadata, int fd, int err)
{
	char buf[256];
	int inq;

	if (err == EAGAIN) {
		EXPECT_EQ(0, pev(fd, 0) & POLL_READ);
	} else {
		EXPECT_TRUE(pev(fd, 0) & POLLERR);
	}
	EXPECT_EQ(-err, r_recv(fd, buf, sizeof(buf), 0));
	EXPECT_EQ(-err, r_recv(fd, buf, sizeof(buf), MSG_PEEK));
	EXPECT_EQ(-err, r_recv(fd, buf, sizeof(buf), MSG_OOB));
	EXPECT_EQ(-err, r_recvmmsg(fd, buf, sizeof(buf)));
	EXPECT_EQ(-err, r_splice(fd, buf, sizeof(buf)));
	EXPECT_EQ(-err, r_zerocopy(fd, buf, sizeof(buf)));
	EXPECT_EQ(-err, r_inq_cmsg(fd, buf, sizeof(buf), &inq));
	EXPECT_EQ(-1, inq);
	EXPECT_EQ(0, ioc(fd, FIONREAD));
	EXPECT_EQ(0, ioc(fd, SIOCATMARK));
}

/*
 * All but the last committed byte are in the server's queue: nothing shows,
 * also after SO_RCVLOWAT changes (which makes TCP re-check readiness). Then
 * the last byte and more come, and each way reads its part of the stream.
 */
TEST_F_TIMEOUT(pair, pending_then_every_way_reads, T_TIMEOUT)
{
	int fam = variant->family, lfd, cfd = -1, afd = -1, one = 1, v, inq, got = 0;
	char buf[256], all[N + TLEN];

	lfd = integrity_listener(self->ns.b, fam, SECRET, N);
	ASSERT_LE(0, lfd);
	ASSERT_EQ(0, held(self->ns.a, fam, lfd, PAYLOAD, N - 1, &cfd, &afd));
	ASSERT_EQ(0, setsockopt(afd, IPPROTO_TCP, TCP_INQ, &one, sizeof(one)));
	expect_nothing(_metadata, afd, EAGAIN);
	v = 1;
	ASSERT_EQ(0, setsockopt(afd, SOL_SOCKET, SO_RCVLOWAT, &v, sizeof(v)));
	expect_nothing(_metadata, afd, EAGAIN);
	v = N + TLEN;
	ASSERT_EQ(0, setsockopt(afd, SOL_SOCKET, SO_RCVLOWAT, &v, sizeof(v)));
	expect_nothing(_metadata, afd, EAGAIN);

	ASSERT_EQ(0, write_all(cfd, PAYLOAD TRAILER + N - 1, 1 + TLEN));
	EXPECT_TRUE(pev(afd, 4000) & POLLIN);
	v = 1;
	ASSERT_EQ(0, setsockopt(afd, SOL_SOCKET, SO_RCVLOWAT, &v, sizeof(v)));
	EXPECT_EQ(N + TLEN, ioc(afd, FIONREAD));
	EXPECT_EQ(0, ioc(afd, SIOCATMARK));
	EXPECT_EQ(-EINVAL, r_recv(afd, buf, 1, MSG_OOB));	/* no urgent data */
	EXPECT_EQ(N + TLEN, r_recv(afd, buf, sizeof(buf), MSG_PEEK));
	EXPECT_EQ(8, r_recvmmsg(afd, all + got, 8));
	got += 8;
	EXPECT_EQ(8, r_splice(afd, all + got, 8));
	got += 8;
	EXPECT_EQ(8, r_inq_cmsg(afd, all + got, 8, &inq));
	got += 8;
	EXPECT_EQ(N + TLEN - got, inq);
	EXPECT_EQ(N + TLEN - got, r_zerocopy(afd, all + got, sizeof(buf)));
	EXPECT_EQ(0, memcmp(all, PAYLOAD TRAILER, N + TLEN));
	close(afd);
	close(cfd);
	close(lfd);
}

/* After a failed check (mismatch, FIN too early, deadline) every way reports
 * the documented errno. */
TEST_F_TIMEOUT(pair, failed_every_way_reports, T_TIMEOUT)
{
	int fam = variant->family, lfd, cfd[3] = { -1, -1, -1 }, afd[3] = { -1, -1, -1 }, i;
	long long bad = CTR(self->ns.b, "integrity_mismatch");
	long long sh = CTR(self->ns.b, "integrity_short");
	long long to = CTR(self->ns.b, "integrity_timeout");
	char wrong[] = PAYLOAD;

	ASSERT_EQ(0, netns_sysctl_set(self->ns.b, "net.tcp_stealth.integrity_timeout_secs", "1"));
	lfd = integrity_listener(self->ns.b, fam, SECRET, N);
	ASSERT_LE(0, lfd);
	wrong[N - 1] ^= 1;
	ASSERT_EQ(0, held(self->ns.a, fam, lfd, wrong, N, &cfd[0], &afd[0]));
	ASSERT_EQ(0, held(self->ns.a, fam, lfd, PAYLOAD, 10, &cfd[1], &afd[1]));
	ASSERT_EQ(0, shutdown(cfd[1], SHUT_WR));
	ASSERT_EQ(0, held(self->ns.a, fam, lfd, PAYLOAD, N - 1, &cfd[2], &afd[2]));
	EXPECT_EQ(bad + 1, wait_counter(self->ns.b, "integrity_mismatch", bad + 1));
	EXPECT_EQ(sh + 1, wait_counter(self->ns.b, "integrity_short", sh + 1));
	EXPECT_EQ(to + 1, wait_counter(self->ns.b, "integrity_timeout", to + 1));
	expect_nothing(_metadata, afd[0], EBADMSG);
	expect_nothing(_metadata, afd[1], ECONNABORTED);
	expect_nothing(_metadata, afd[2], ETIMEDOUT);
	for (i = 0; i < 3; i++) {
		close(afd[i]);
		close(cfd[i]);
	}
	close(lfd);
}

/*
 * io_uring: IORING_OP_RECV, IORING_OP_RECVMSG and a multishot recv on held
 * sockets complete only once the bytes are verified, with those bytes; a
 * recv on a socket whose check fails completes with EBADMSG.
 */
TEST_F_TIMEOUT(pair, io_uring_waits_for_verification, T_TIMEOUT)
{
	int fam = variant->family, lfd, cfd[4], afd[4], i, seen = 0;
	struct __kernel_timespec ts = { .tv_nsec = 300 * 1000 * 1000 };
	struct __kernel_timespec wait = { .tv_sec = 5 };
	static char rbuf[2][64], pbuf[4][64], wrong[] = PAYLOAD;
	struct iovec iov = { .iov_base = rbuf[1], .iov_len = sizeof(rbuf[1]) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	struct io_uring ring;
	char rbuf3[64];

	lfd = integrity_listener(self->ns.b, fam, SECRET, N);
	ASSERT_LE(0, lfd);
	for (i = 0; i < 3; i++)
		ASSERT_EQ(0, held(self->ns.a, fam, lfd, PAYLOAD, N - 1, &cfd[i], &afd[i]));
	ASSERT_EQ(0, held(self->ns.a, fam, lfd, PAYLOAD, 0, &cfd[3], &afd[3]));
	ASSERT_EQ(0, io_uring_queue_init(8, &ring, 0));

	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_provide_buffers(sqe, pbuf, sizeof(pbuf[0]), 4, 7, 0);
	ASSERT_EQ(1, io_uring_submit_and_wait(&ring, 1));
	ASSERT_EQ(0, io_uring_peek_cqe(&ring, &cqe));
	ASSERT_LE(0, cqe->res);
	io_uring_cqe_seen(&ring, cqe);

	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_recv(sqe, afd[0], rbuf[0], sizeof(rbuf[0]), 0);
	sqe->user_data = 0;
	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_recvmsg(sqe, afd[1], &mh, 0);
	sqe->user_data = 1;
	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_recv_multishot(sqe, afd[2], NULL, 0, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = 7;
	sqe->user_data = 2;
	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_recv(sqe, afd[3], rbuf3, sizeof(rbuf3), 0);
	sqe->user_data = 3;
	ASSERT_EQ(4, io_uring_submit(&ring));
	/* Nothing completes while the bytes are held. */
	EXPECT_EQ(-ETIME, io_uring_wait_cqe_timeout(&ring, &cqe, &ts));

	for (i = 0; i < 3; i++)
		ASSERT_EQ(0, write_all(cfd[i], PAYLOAD + N - 1, 1));
	wrong[3] ^= 1;
	ASSERT_EQ(0, write_all(cfd[3], wrong, N));
	while (seen != 0xf) {
		ASSERT_EQ(0, io_uring_wait_cqe_timeout(&ring, &cqe, &wait));
		i = cqe->user_data;
		ASSERT_TRUE(i >= 0 && i < 4);
		if (seen & 1 << i) {	/* more of the multishot recv: EOF */
			io_uring_cqe_seen(&ring, cqe);
			continue;
		}
		seen |= 1 << i;
		switch (i) {
		case 0:
		case 1:
			EXPECT_EQ(N, cqe->res);
			EXPECT_EQ(0, memcmp(rbuf[i], PAYLOAD, N));
			break;
		case 2:
			EXPECT_EQ(N, cqe->res);
			EXPECT_TRUE(cqe->flags & IORING_CQE_F_BUFFER);
			EXPECT_EQ(0, memcmp(pbuf[(cqe->flags >> IORING_CQE_BUFFER_SHIFT) & 3],
					    PAYLOAD, N));
			break;
		case 3:
			EXPECT_EQ(-EBADMSG, cqe->res);
			break;
		}
		io_uring_cqe_seen(&ring, cqe);
	}
	io_uring_queue_exit(&ring);
	for (i = 0; i < 4; i++) {
		close(afd[i]);
		close(cfd[i]);
	}
	close(lfd);
}

/*
 * Urgent data (finding L8): without SO_OOBINLINE, TCP takes the urgent byte
 * out of the stream, and a second urgent pointer makes it drop a queued
 * byte; a man in the middle can set URG on a verified segment. The
 * application must then get an error, never n bytes other than the committed
 * ones. 1: the last committed byte urgent; 2: the first, then another
 * urgent pointer.
 */
TEST_F_TIMEOUT(pair, urgent_byte_in_commitment_fails, T_TIMEOUT)
{
	int fam = variant->family, lfd, cfd[2] = { -1, -1 }, afd[2] = { -1, -1 }, i;
	long long bad = CTR(self->ns.b, "integrity_mismatch");
	char buf[64];

	lfd = integrity_listener(self->ns.b, fam, SECRET, N);
	ASSERT_LE(0, lfd);
	ASSERT_EQ(0, held(self->ns.a, fam, lfd, PAYLOAD, N - 1, &cfd[0], &afd[0]));
	ASSERT_EQ(1, send(cfd[0], PAYLOAD + N - 1, 1, MSG_OOB));
	ASSERT_EQ(0, held(self->ns.a, fam, lfd, PAYLOAD, 0, &cfd[1], &afd[1]));
	ASSERT_EQ(1, send(cfd[1], PAYLOAD, 1, MSG_OOB));
	wait_acked(cfd[1]);
	/* (May find the connection reset already.) */
	send(cfd[1], PAYLOAD + 1, N - 1, MSG_OOB | MSG_NOSIGNAL);
	for (i = 0; i < 2; i++) {
		EXPECT_EQ(-EBADMSG, read_err(afd[i], buf, sizeof(buf)));
		EXPECT_TRUE(pev(afd[i], 0) & POLLERR);
		EXPECT_EQ(-EBADMSG, r_recv(afd[i], buf, sizeof(buf), MSG_OOB));
		EXPECT_EQ(0, ioc(afd[i], SIOCATMARK));
	}
	EXPECT_EQ(bad + 2, wait_counter(self->ns.b, "integrity_mismatch", bad + 2));
	for (i = 0; i < 2; i++) {
		close(afd[i]);
		close(cfd[i]);
	}
	close(lfd);
}

/*
 * Urgent data after the first n bytes is the application's, once they are
 * verified; before that, not even EPOLLPRI shows it. The first data segment
 * is dropped twice, so the urgent byte after it arrives out of order while
 * the committed bytes are still missing.
 */
TEST_F_TIMEOUT(pair, urgent_after_commitment_waits, T_TIMEOUT)
{
	int fam = variant->family, lfd, cfd = -1, afd, n = 1000, i, ev, one = 1;
	char *data = malloc(n), *buf = malloc(n), c = 0;

	ASSERT_TRUE(data && buf);
	for (i = 0; i < n; i++)
		data[i] = 'a' + i % 26;
	ASSERT_EQ(0, drop_big_segments(self->ns.b, 2500));
	lfd = integrity_listener(self->ns.b, fam, SECRET, n);
	ASSERT_LE(0, lfd);
	ASSERT_EQ(0, integrity_client(self->ns.a, fam, SECRET, data, n, &cfd));
	ASSERT_EQ(0, setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)));
	afd = tcp_accept_timeout(lfd, 4000);
	ASSERT_LE(0, afd);
	ASSERT_EQ(0, write_all(cfd, data, n));
	ASSERT_EQ(1, send(cfd, "X", 1, MSG_OOB));
	/* Whatever shows up, there is something to read by then. */
	ev = pev(afd, 300);
	if (ev & POLL_READ)
		EXPECT_LT(0, r_recv(afd, buf, 1, MSG_PEEK));
	ASSERT_EQ(0, read_all(afd, buf, n));
	EXPECT_EQ(0, memcmp(buf, data, n));
	EXPECT_EQ(1, recv(afd, &c, 1, MSG_OOB));
	EXPECT_EQ('X', c);
	/* The loss really happened. */
	EXPECT_EQ(0, dropped_segments(self->ns.b, 2));
	close(afd);
	close(cfd);
	close(lfd);
	free(data);
	free(buf);
}

/* A client sending @data (N bytes) in its Fast Open SYN; 0 or -1. */
static int tfo_client(const char *ns, int fam, const char *data, int *fd_out)
{
	struct sockaddr_storage ss;
	socklen_t len = netns_sockaddr(fam, netns_addr_b(fam), PORT, &ss);
	struct pollfd p = { .events = POLLOUT };
	struct tcp_info ti;
	socklen_t tlen = sizeof(ti);
	int fd = sock_in(ns, fam);

	if (fd < 0)
		return -1;
	*fd_out = fd;
	p.fd = fd;
	if (set_secret(fd, SECRET, 0) ||
	    setsockopt(fd, IPPROTO_TCP, TCP_STEALTH_INTEGRITY, PAYLOAD, N) ||
	    fcntl(fd, F_SETFL, O_NONBLOCK) ||
	    sendto(fd, data, N, MSG_FASTOPEN, (struct sockaddr *)&ss, len) != N ||
	    poll(&p, 1, 4000) != 1 ||
	    getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &tlen))
		return -1;
	/* The server took the data in the SYN. */
	return ti.tcpi_options & TCPI_OPT_SYN_DATA ? 0 : -1;
}

/*
 * TCP Fast Open (finding L10): all n committed bytes come in the SYN, and
 * nothing after them. The check must not wait for more data or for the
 * deadline (10 s here): the bytes are readable, or the error is there, at
 * once.
 */
TEST_F_TIMEOUT(pair, fast_open_data_in_syn, T_TIMEOUT)
{
	int fam = variant->family, lfd, cfd[2] = { -1, -1 }, afd[2] = { -1, -1 }, qlen = 8, i;
	char buf[64], wrong[] = PAYLOAD;

	ASSERT_EQ(0, netns_sysctl_set(self->ns.a, "net.ipv4.tcp_fastopen", "5"));
	ASSERT_EQ(0, netns_sysctl_set(self->ns.b, "net.ipv4.tcp_fastopen", "514"));
	lfd = integrity_listener(self->ns.b, fam, SECRET, N);
	ASSERT_LE(0, lfd);
	ASSERT_EQ(0, setsockopt(lfd, IPPROTO_TCP, TCP_FASTOPEN, &qlen, sizeof(qlen)));
	ASSERT_EQ(0, tfo_client(self->ns.a, fam, PAYLOAD, &cfd[0]));
	wrong[0] ^= 1;
	ASSERT_EQ(0, tfo_client(self->ns.a, fam, wrong, &cfd[1]));
	for (i = 0; i < 2; i++) {
		afd[i] = tcp_accept_timeout(lfd, 4000);
		ASSERT_LE(0, afd[i]);
	}
	/* Accepted in the order the SYNs came. */
	EXPECT_TRUE(pev(afd[0], 4000) & POLLIN);
	EXPECT_EQ(N, r_recv(afd[0], buf, sizeof(buf), 0));
	EXPECT_EQ(0, memcmp(buf, PAYLOAD, N));
	EXPECT_TRUE(pev(afd[1], 4000) & POLLERR);
	EXPECT_EQ(-EBADMSG, r_recv(afd[1], buf, sizeof(buf), 0));
	for (i = 0; i < 2; i++) {
		close(afd[i]);
		close(cfd[i]);
	}
	close(lfd);
}

/* A SO_REUSEPORT listener on b's address; @n > 0: an integrity listener. */
static int rp_listener(const char *ns, int fam, int n)
{
	struct sockaddr_storage ss;
	socklen_t len = netns_sockaddr(fam, netns_addr_b(fam), PORT, &ss);
	int fd = sock_in(ns, fam), one = 1;

	if (fd < 0)
		return -1;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) ||
	    (n && set_secret(fd, SECRET, 0)) ||
	    bind(fd, (struct sockaddr *)&ss, len) || listen(fd, 16) ||
	    (n && setsockopt(fd, IPPROTO_TCP, TCP_STEALTH_INTEGRITY_LEN, &n, sizeof(n)))) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * Finding L7: an accepted socket takes the socket operations of the listener
 * accept() was called on. With net.ipv4.tcp_migrate_req = 1, closing a
 * listener of a SO_REUSEPORT group hands the connections in its accept
 * queue to another member, here a plain one without the module's ops, whose
 * splice and poll would show the unverified bytes. The connection stays
 * held there, and is readable once verified.
 */
TEST_F_TIMEOUT(pair, reuseport_migration_keeps_hold, T_TIMEOUT)
{
	int fam = variant->family, la, lb, cfd = -1, afd;
	char buf[64];

	ASSERT_EQ(0, netns_sysctl_set(self->ns.b, "net.ipv4.tcp_migrate_req", "1"));
	la = rp_listener(self->ns.b, fam, N);
	ASSERT_LE(0, la);
	ASSERT_EQ(0, held(self->ns.a, fam, la, PAYLOAD, N - 1, &cfd, NULL));
	lb = rp_listener(self->ns.b, fam, 0);
	ASSERT_LE(0, lb);
	close(la);
	afd = tcp_accept_timeout(lb, 4000);
	ASSERT_LE(0, afd);
	expect_nothing(_metadata, afd, EAGAIN);
	ASSERT_EQ(0, write_all(cfd, PAYLOAD TRAILER + N - 1, 1 + TLEN));
	EXPECT_TRUE(pev(afd, 4000) & POLLIN);
	EXPECT_EQ(N + TLEN, r_splice(afd, buf, sizeof(buf)));
	EXPECT_EQ(0, memcmp(buf, PAYLOAD TRAILER, N + TLEN));
	close(afd);
	close(cfd);
	close(lb);
}

/*
 * The other way to the same place: accept() is already waiting on a
 * listener when it starts to require integrity; the connection it returns
 * is held all the same.
 */
static void *accept_thread(void *arg)
{
	int *fd = arg;

	fd[1] = accept(fd[0], NULL, NULL);
	return NULL;
}

TEST_F_TIMEOUT(pair, accept_before_integrity_len, T_TIMEOUT)
{
	int fam = variant->family, lfd, cfd = -1, fd[2] = { -1, -1 }, n = N;
	pthread_t t;
	char buf[64];

	lfd = integrity_listener(self->ns.b, fam, SECRET, 0);
	ASSERT_LE(0, lfd);
	fd[0] = lfd;
	ASSERT_EQ(0, pthread_create(&t, NULL, accept_thread, fd));
	usleep(100 * 1000);	/* (if not waiting yet, the test proves less) */
	ASSERT_EQ(0, setsockopt(lfd, IPPROTO_TCP, TCP_STEALTH_INTEGRITY_LEN, &n, sizeof(n)));
	ASSERT_EQ(0, held(self->ns.a, fam, lfd, PAYLOAD, N - 1, &cfd, NULL));
	ASSERT_EQ(0, pthread_join(t, NULL));
	ASSERT_LE(0, fd[1]);
	expect_nothing(_metadata, fd[1], EAGAIN);
	ASSERT_EQ(0, write_all(cfd, PAYLOAD + N - 1, 1));
	EXPECT_TRUE(pev(fd[1], 4000) & POLLIN);
	EXPECT_EQ(N, r_splice(fd[1], buf, sizeof(buf)));
	EXPECT_EQ(0, memcmp(buf, PAYLOAD, N));
	close(fd[1]);
	close(cfd);
	close(lfd);
}

TEST_HARNESS_MAIN
