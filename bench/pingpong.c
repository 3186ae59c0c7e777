// SPDX-License-Identifier: GPL-2.0
/*
 * pingpong: round trips of small messages on one TCP connection that is up,
 * for `make bench` (bench/guest.sh, section 8): what the module's input hook
 * costs every segment of an ordinary connection, in a namespace where it
 * works and in one where it does not.
 *
 *   pingpong serve ADDR PORT      accept one connection on ADDR:PORT and
 *                                 echo what it sends until it closes; prints
 *                                 "ready" once listening
 *   pingpong run ADDR PORT N      connect, then N round trips of 64 bytes;
 *                                 prints "pingpong us_per_rt X" (guest time
 *                                 per round trip, microseconds: under QEMU's
 *                                 -icount, thousands of instructions of the
 *                                 whole guest)
 *   pingpong secret               a TCP socket with a secret (TCP_ULP, then
 *                                 TCP_STEALTH), kept until killed: the
 *                                 module is then at work in the namespace;
 *                                 prints "ready"
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <linux/tcp_stealth.h>

#define MSG 64

static void die(const char *what)
{
	fprintf(stderr, "pingpong: %s: %s\n", what, strerror(errno));
	exit(1);
}

static struct sockaddr_in addr_of(const char *ip, const char *port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };

	sin.sin_port = htons(atoi(port));
	if (inet_pton(AF_INET, ip, &sin.sin_addr) != 1) {
		fprintf(stderr, "pingpong: bad address %s\n", ip);
		exit(2);
	}
	return sin;
}

/* Reads exactly n bytes; 0 at EOF before the first, -1 on error. */
static ssize_t read_all(int fd, char *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = read(fd, buf + got, n - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r < 0 || got ? -1 : 0;
		got += r;
	}
	return got;
}

static int serve(struct sockaddr_in sin)
{
	int one = 1, lfd, fd;
	char buf[MSG];
	ssize_t r;

	lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (lfd < 0)
		die("socket");
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) || listen(lfd, 1))
		die("bind/listen");
	printf("ready\n");
	fflush(stdout);
	fd = accept(lfd, NULL, NULL);
	if (fd < 0)
		die("accept");
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	while ((r = read_all(fd, buf, MSG)) > 0)
		if (write(fd, buf, MSG) != MSG)
			die("write");
	if (r < 0)
		die("read");
	close(fd);
	close(lfd);
	return 0;
}

static int run(struct sockaddr_in sin, long n)
{
	struct timespec t0, t1;
	char buf[MSG] = "ping";
	int one = 1, fd;
	double us;
	long i;

	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		die("socket");
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)))
		die("connect");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < n; i++) {
		if (write(fd, buf, MSG) != MSG)
			die("write");
		if (read_all(fd, buf, MSG) != MSG)
			die("read");
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	close(fd);
	us = ((t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec)) / 1e3 / n;
	printf("pingpong us_per_rt %.2f\n", us);
	return 0;
}

static int secret(void)
{
	static const char s[] = "pingpong: the module at work here";
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0)
		die("socket");
	if (setsockopt(fd, IPPROTO_TCP, TCP_ULP, "stealth", 7) ||
	    setsockopt(fd, IPPROTO_TCP, TCP_STEALTH, s, sizeof(s) - 1))
		die("setsockopt");
	printf("ready\n");
	fflush(stdout);
	pause();
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "serve"))
		return serve(addr_of(argv[2], argv[3]));
	if (argc == 5 && !strcmp(argv[1], "run") && atol(argv[4]) > 0)
		return run(addr_of(argv[2], argv[3]), atol(argv[4]));
	if (argc == 2 && !strcmp(argv[1], "secret"))
		return secret();
	fprintf(stderr, "usage: pingpong serve ADDR PORT | run ADDR PORT N | secret\n");
	return 2;
}
