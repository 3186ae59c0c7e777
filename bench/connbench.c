// SPDX-License-Identifier: GPL-2.0
/*
 * connbench: connection set-up cost with and without tcp_stealth. Only for
 * `make bench`, inside the test VM.
 *
 *   connbench run N ROUNDS INTLEN   connect+send+accept+read+close loops
 *   connbench listen PORT [NKEYS [isn]]  a protected listener on
 *                                   0.0.0.0:PORT that never accepts; runs
 *                                   until killed; with NKEYS (1 to
 *                                   TCP_STEALTH_MAX_KEYS) keys, NKEYS - 1 of
 *                                   them added with TCP_STEALTH_KEY; with
 *                                   "isn", in the original Knock's ISN mode
 *   connbench serve PORT SECRET     a listener protected with SECRET that
 *                                   accepts and closes; runs until killed
 *   connbench knock ADDR PORT N SECRET  N connects to ADDR:PORT with SECRET,
 *                                   one after the other; prints how many
 *                                   were refused (ECONNREFUSED)
 *
 * `run` works on 127.0.0.1 in the caller's namespace. Each round times N
 * connections for each case, in turn:
 *   plain      no stealth anywhere
 *   stealth    listener and client with the same secret
 *   integrity  as stealth, and the client commits to its first INTLEN bytes
 *              (TCP_STEALTH_INTEGRITY), the listener requires them
 *              (TCP_STEALTH_INTEGRITY_LEN)
 * Every connection: socket(), [secret], connect(), write INTLEN bytes,
 * accept(), read them, close both. A connect() refused by the replay cache
 * is retried and counted (there should be none: docs/PROTOCOL.md, section
 * 8). A short warm-up round comes first. Prints per case the median over the
 * rounds of microseconds per connection (and every round's, sorted), the
 * refusals, and the mean time per phase of the loop; and per protected
 * case its connection rate relative to plain, round by round (plain's time
 * over the case's in the same round): median, lowest and highest.
 */
#define _GNU_SOURCE
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

#ifndef TCP_ULP
#define TCP_ULP 31
#endif

#define SECRET "This is my magic ID."
#define MAX_ROUNDS 15
#define BASE_PORT 6001

enum { PLAIN, STEALTH, INTEGRITY, NCASES };
static const char *const names[NCASES] = { "plain", "stealth", "integrity" };

static int set_secret_of(int fd, const char *secret)
{
	if (setsockopt(fd, IPPROTO_TCP, TCP_ULP, "stealth", 7) && errno != EEXIST)
		return -1;
	return setsockopt(fd, IPPROTO_TCP, TCP_STEALTH, secret, strlen(secret));
}

static int set_secret(int fd)
{
	return set_secret_of(fd, SECRET);
}

static int listener(int c, int port, int intlen)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (c != PLAIN && set_secret(fd))
		goto fail;
	if (c == INTEGRITY &&
	    setsockopt(fd, IPPROTO_TCP, TCP_STEALTH_INTEGRITY_LEN, &intlen, sizeof(intlen)))
		goto fail;
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) || listen(fd, 128))
		goto fail;
	return fd;
fail:
	perror("connbench: listener");
	close(fd);
	return -1;
}

/* Adds @n keys to @fd's, with secrets other than SECRET. */
static int add_keys(int fd, int n)
{
	for (int i = 0; i < n; i++) {
		struct tcp_stealth_key k = { .flags = TCP_STEALTH_KEY_ADD };

		k.secret_len = snprintf((char *)k.secret, sizeof(k.secret),
					"connbench extra key %d", i + 1);
		if (setsockopt(fd, IPPROTO_TCP, TCP_STEALTH_KEY, &k, sizeof(k))) {
			perror("connbench: TCP_STEALTH_KEY");
			return -1;
		}
	}
	return 0;
}

static int read_all(int fd, char *buf, int len)
{
	while (len > 0) {
		ssize_t r = read(fd, buf, len);

		if (r <= 0)
			return -1;
		buf += r;
		len -= r;
	}
	return 0;
}

/* Microseconds spent per phase and case, over all rounds. */
enum { PH_SETUP, PH_CONNECT, PH_WRITE, PH_ACCEPT, PH_READ, PH_CLOSE, NPHASES };
static const char *const phase_names[NPHASES] = {
	"socket+options", "connect", "write", "accept", "read", "close",
};
static double phase_us[NCASES][NPHASES];

static double now_us(void);

/*
 * One connection; 0, 1 if refused, -1 on error. Its first bytes start with
 * a count of the connections so far, so that no two integrity knocks commit
 * to the same bytes: two clients committing to the same bytes in the same
 * second send the same knock with a chance of 2^-16 (docs/PROTOCOL.md,
 * section 3), and at this loop's rate that happened a few times a round,
 * each costing a 1 s retransmission (refusal_hidden).
 */
static int one_conn(int c, int lfd, int port, char *payload, int intlen)
{
	static unsigned long long count;
	double t[NPHASES + 1];

	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port) };
	char buf[4096];
	int fd, afd;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	count++;
	memcpy(payload, &count, intlen < (int)sizeof(count) ? intlen : (int)sizeof(count));
	t[0] = now_us();
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return -1;
	if (c != PLAIN && set_secret(fd))
		goto fail;
	if (c == INTEGRITY &&
	    setsockopt(fd, IPPROTO_TCP, TCP_STEALTH_INTEGRITY, payload, intlen))
		goto fail;
	t[1] = now_us();
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin))) {
		if (errno == ECONNREFUSED) {
			close(fd);
			return 1;
		}
		goto fail;
	}
	t[2] = now_us();
	if (write(fd, payload, intlen) != intlen)
		goto fail;
	t[3] = now_us();
	afd = accept(lfd, NULL, NULL);
	if (afd < 0)
		goto fail;
	t[4] = now_us();
	if (read_all(afd, buf, intlen)) {
		close(afd);
		goto fail;
	}
	t[5] = now_us();
	close(afd);
	close(fd);
	t[6] = now_us();
	for (int p = 0; p < NPHASES; p++)
		phase_us[c][p] += t[p + 1] - t[p];
	return 0;
fail:
	perror("connbench: connection");
	close(fd);
	return -1;
}

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static int run(int n, int rounds, int intlen)
{
	double us[NCASES][MAX_ROUNDS], ratio[NCASES][MAX_ROUNDS];
	long refused[NCASES] = { 0 };
	char payload[4096];
	int lfd[NCASES];

	for (int i = 0; i < intlen; i++)
		payload[i] = 'A' + i % 26;
	for (int c = 0; c < NCASES; c++) {
		lfd[c] = listener(c, BASE_PORT + c, intlen);
		if (lfd[c] < 0)
			return 1;
	}
	/*
	 * Round -1 warms up (caches, the ULP's first use) and is not kept.
	 * Within a round the cases take turns connection by connection, so
	 * that drift in the host's load (large under TCG) hits them alike.
	 */
	for (int r = -1; r < rounds; r++) {
		int count = r < 0 ? 1 + n / 5 : n;
		double sum[NCASES] = { 0 };

		for (int i = 0; i < count; i++) {
			for (int c = 0; c < NCASES; c++) {
				double t0 = now_us();
				int rc = one_conn(c, lfd[c], BASE_PORT + c, payload, intlen);

				if (rc < 0)
					return 1;
				if (rc > 0) {
					/* Refused (replay cache): counted, tried again. */
					refused[c]++;
					if (refused[c] > 50L * n) {
						fprintf(stderr, "connbench: %s: %ld connects refused, giving up\n",
							names[c], refused[c]);
						return 1;
					}
					c--;
					continue;
				}
				sum[c] += now_us() - t0;
			}
		}
		for (int c = 0; c < NCASES; c++) {
			if (r < 0)
				memset(phase_us[c], 0, sizeof(phase_us[c]));
			else
				us[c][r] = sum[c] / n;
		}
		/* Connection rate relative to plain, within the round. */
		for (int c = 0; c < NCASES && r >= 0; c++)
			ratio[c][r] = sum[PLAIN] / sum[c];
	}
	for (int c = 0; c < NCASES; c++) {
		qsort(us[c], rounds, sizeof(double), cmp);
		printf("conn %s us_per_conn %.1f refused %ld rounds", names[c],
		       us[c][rounds / 2], refused[c]);
		for (int r = 0; r < rounds; r++)
			printf(" %.1f", us[c][r]);
		printf("\n");
	}
	for (int c = 1; c < NCASES; c++) {
		qsort(ratio[c], rounds, sizeof(double), cmp);
		printf("conn_ratio %s median %.3f min %.3f max %.3f rounds %d\n", names[c],
		       rounds % 2 ? ratio[c][rounds / 2] :
		       (ratio[c][rounds / 2 - 1] + ratio[c][rounds / 2]) / 2,
		       ratio[c][0], ratio[c][rounds - 1], rounds);
	}
	for (int c = 0; c < NCASES; c++) {
		printf("phases %s", names[c]);
		for (int p = 0; p < NPHASES; p++)
			printf(" %s %.1f", phase_names[p], phase_us[c][p] / ((double)n * rounds));
		printf("\n");
	}
	return 0;
}

/* `serve`: accept and close, for ever. */
static int serve(int port, const char *secret)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (fd < 0 || set_secret_of(fd, secret) ||
	    bind(fd, (struct sockaddr *)&sin, sizeof(sin)) || listen(fd, 128)) {
		perror("connbench: serve");
		return 1;
	}
	printf("listening\n");
	fflush(stdout);
	for (;;) {
		int afd = accept(fd, NULL, NULL);

		if (afd >= 0)
			close(afd);
	}
}

/* `knock`: @n connects with @secret, one at a time; counts refusals. */
static int knock(const char *addr, int port, int n, const char *secret)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port) };
	int refused = 0, failed = 0;

	if (inet_pton(AF_INET, addr, &sin.sin_addr) != 1)
		return 2;
	for (int i = 0; i < n; i++) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);

		if (fd < 0 || set_secret_of(fd, secret)) {
			perror("connbench: knock");
			return 1;
		}
		if (connect(fd, (struct sockaddr *)&sin, sizeof(sin))) {
			if (errno == ECONNREFUSED)
				refused++;
			else
				failed++;
		}
		close(fd);
	}
	printf("knock connects %d refused %d failed %d\n", n, refused, failed);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "serve"))
		return serve(atoi(argv[2]), argv[3]);
	if (argc == 6 && !strcmp(argv[1], "knock"))
		return knock(argv[2], atoi(argv[3]), atoi(argv[4]), argv[5]);
	if (argc == 5 && !strcmp(argv[1], "run")) {
		int n = atoi(argv[2]), rounds = atoi(argv[3]), intlen = atoi(argv[4]);

		if (n < 1 || rounds < 1 || rounds > MAX_ROUNDS || intlen < 1 || intlen > 4096) {
			fprintf(stderr, "connbench: bad arguments\n");
			return 2;
		}
		return run(n, rounds, intlen);
	}
	if ((argc == 3 || argc == 4 || (argc == 5 && !strcmp(argv[4], "isn"))) &&
	    !strcmp(argv[1], "listen")) {
		int nkeys = argc >= 4 ? atoi(argv[3]) : 1, isn = TCP_STEALTH_MODE_ISN;
		int fd;

		if (nkeys < 1 || nkeys > TCP_STEALTH_MAX_KEYS) {
			fprintf(stderr, "connbench: NKEYS must be 1 to %d\n", TCP_STEALTH_MAX_KEYS);
			return 2;
		}
		fd = listener(STEALTH, atoi(argv[2]), 0);
		if (fd < 0 || add_keys(fd, nkeys - 1))
			return 1;
		if (argc == 5 &&
		    setsockopt(fd, IPPROTO_TCP, TCP_STEALTH_MODE, &isn, sizeof(isn))) {
			perror("connbench: TCP_STEALTH_MODE");
			return 1;
		}
		printf("listening\n");
		fflush(stdout);
		for (;;)
			pause();
	}
	fprintf(stderr, "usage: %s run N ROUNDS INTLEN | listen PORT [NKEYS [isn]] | serve PORT SECRET | "
		"knock ADDR PORT N SECRET\n", argv[0]);
	return 2;
}
