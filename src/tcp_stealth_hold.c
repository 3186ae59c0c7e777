// SPDX-License-Identifier: GPL-2.0
/*
 * Connections held until their first bytes pass a check (the integrity
 * hold, src/ffi/hold.rs): reading the bytes TCP has queued without taking
 * them, the wait of a socket call until the check decides, and the deadline
 * that resets a connection whose bytes do not come in time.
 *
 * This stays C because it is made of kernel macros and inline functions the
 * 6.12 kernel crate does not wrap (skb_queue_walk(), TCP_SKB_CB(),
 * sk_wait_event(), the socket's bh lock), and the 6.12 crate's workqueue
 * has no delayed work.
 */
#include <linux/atomic.h>
#include <linux/refcount.h>
#include <linux/sched/signal.h>
#include <linux/skbuff.h>
#include <linux/slab.h>
#include <linux/tcp.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include <net/sock.h>
#include <net/tcp.h>

#include "tcp_stealth_helpers.h"

/**
 * tcp_stealth_rcvq_copy() - copy queued bytes without taking them
 * @sk: a TCP socket, locked by the caller
 * @off: where to start, in bytes after the next byte a read would return
 * @buf: where the bytes go
 * @len: how many bytes at most
 *
 * Walks the receive queue as tcp_recvmsg() would, without moving
 * copied_seq: the bytes stay queued for the application.
 *
 * Return: how many bytes were copied; fewer than @len where the queue ends
 * or has a hole.
 */
u32 tcp_stealth_rcvq_copy(struct sock *sk, u32 off, u8 *buf, u32 len)
{
	u32 seq = tcp_sk(sk)->copied_seq + off, done = 0;
	struct sk_buff *skb;

	skb_queue_walk(&sk->sk_receive_queue, skb) {
		u32 start = TCP_SKB_CB(skb)->seq, skip, n;

		/* A Fast Open SYN's data starts one after its sequence number. */
		if (TCP_SKB_CB(skb)->tcp_flags & TCPHDR_SYN)
			start++;
		if (before(seq, start))
			break;
		skip = seq - start;
		if (skip >= skb->len)
			continue;
		n = min(skb->len - skip, len - done);
		if (skb_copy_bits(skb, skip, buf + done, n))
			break;
		done += n;
		seq += n;
		if (done == len)
			break;
	}
	return done;
}

/**
 * tcp_stealth_rcv_urgent() - whether urgent data touches the held bytes
 * @sk: a held connection, locked
 * @start: the sequence number of its first byte
 * @n: how many bytes are held
 *
 * Without SO_OOBINLINE a read skips the urgent byte, and a second urgent
 * pointer makes TCP drop an unread urgent byte from the receive queue
 * (tcp_check_urg()); either would change the bytes the application reads
 * from those that were checked. TCP takes an urgent pointer only at or after
 * rcv_nxt, so once all @n bytes are in, no new one can point into them.
 *
 * Return: true if an urgent pointer points into the @n bytes from @start, or
 * bytes were taken from the receive queue (nobody may read them yet).
 */
bool tcp_stealth_rcv_urgent(const struct sock *sk, u32 start, u32 n)
{
	const struct tcp_sock *tp = tcp_sk(sk);

	return READ_ONCE(tp->copied_seq) != start ||
	       (READ_ONCE(tp->urg_data) && READ_ONCE(tp->urg_seq) - start < n);
}

/**
 * tcp_stealth_wait_state() - wait until a held connection's check decides
 * @sk: the socket, not locked by the caller
 * @state: the check's state word, which lives as long as @sk's ULP context
 * @pending: the value of @state while the check has not decided
 * @nonblock: whether the socket call is non-blocking
 *
 * Sleeps as a blocking read sleeps (sk_wait_event(), SO_RCVTIMEO) until
 * @state changes, the socket has an error or is closed.
 *
 * Context: process context; takes and releases the socket lock.
 * Return: 0 once @state is no longer @pending; the socket's error;
 * -ECONNRESET if it is closed; -EAGAIN if @nonblock or the timeout ran
 * out; -EINTR or -ERESTARTSYS on a signal.
 */
int tcp_stealth_wait_state(struct sock *sk, const u32 *state, u32 pending,
			   bool nonblock)
{
	DEFINE_WAIT_FUNC(wait, woken_wake_function);
	long timeo = sock_rcvtimeo(sk, nonblock);
	int err = 0;

	lock_sock(sk);
	add_wait_queue(sk_sleep(sk), &wait);
	while (READ_ONCE(*state) == pending) {
		if (sk->sk_err) {
			err = sock_error(sk);
			break;
		}
		if (sk->sk_state == TCP_CLOSE) {
			err = -ECONNRESET;
			break;
		}
		if (!timeo) {
			err = -EAGAIN;
			break;
		}
		if (signal_pending(current)) {
			err = sock_intr_errno(timeo);
			break;
		}
		sk_wait_event(sk, &timeo,
			      READ_ONCE(*state) != pending || sk->sk_err ||
			      sk->sk_state == TCP_CLOSE, &wait);
	}
	remove_wait_queue(sk_sleep(sk), &wait);
	release_sock(sk);
	return err;
}

static struct workqueue_struct *tcp_stealth_wq;
/* Deadlines allocated and not freed yet (see tcp_stealth_wq_exit()). */
static atomic_t tcp_stealth_deadlines = ATOMIC_INIT(0);

/**
 * tcp_stealth_wq_init() - create the deadlines' workqueue at module load
 *
 * Return: 0, or -ENOMEM.
 */
int tcp_stealth_wq_init(void)
{
	tcp_stealth_wq = alloc_workqueue("tcp_stealth", 0, 0);
	return tcp_stealth_wq ? 0 : -ENOMEM;
}

/**
 * tcp_stealth_wq_exit() - destroy the deadlines' workqueue at module unload
 *
 * Called once no socket holds a reference on the module and after an RCU
 * barrier, so every ULP context has been freed, and with it the owner's
 * reference on each deadline. No deadline is pending then: a socket's ULP
 * stops its deadline (tcp_stealth_deadline_stop(), which also keeps a
 * running one from queueing itself again) before it drops its module
 * reference. A deadline may still be running, holding the last references
 * on its socket and on itself; destroy_workqueue() waits for it. After
 * that no deadline may be left: one would be a timer that fires into freed
 * module memory, which the warning reports.
 */
void tcp_stealth_wq_exit(void)
{
	destroy_workqueue(tcp_stealth_wq);
	WARN_ON_ONCE(atomic_read(&tcp_stealth_deadlines));
}

/*
 * A deadline of one socket: delayed work on the module's workqueue that
 * calls fn(sk) with the socket locked as TCP's receive path locks it (bh
 * lock, not owned by a user), and resets the connection with the errno fn
 * returns, if any. It is refcounted apart from the socket's ULP context,
 * because the ULP context goes away when TCP destroys the socket, which may
 * happen while the work runs: the owner holds one reference, queued or
 * running work another (and one on the socket).
 *
 * dead is set by tcp_stealth_deadline_stop() when TCP destroys the socket;
 * from then on the deadline is never queued again. It is written and read
 * under the socket's bh lock, or with the socket owned by the writer or
 * reader (who then cannot run at the same time as a holder of the bh lock
 * that checks ownership first, as the work does).
 *
 * Why not lock_sock() and tcp_abort(): the socket may still sit in its
 * listener's accept queue, and inet_csk_listen_stop() warns about a child
 * that a user owns.
 */
struct tcp_stealth_deadline {
	struct delayed_work work;
	struct sock *sk;
	int (*fn)(struct sock *sk);
	refcount_t ref;
	bool dead;
};

/**
 * tcp_stealth_deadline_put() - drop a reference on a deadline
 * @d: the deadline; freed with the last reference
 */
static void tcp_stealth_deadline_put(struct tcp_stealth_deadline *d)
{
	if (refcount_dec_and_test(&d->ref)) {
		kfree(d);
		atomic_dec(&tcp_stealth_deadlines);
	}
}

/**
 * tcp_stealth_deadline_fn() - a deadline fires
 * @work: the deadline's work
 *
 * Calls the deadline's function with the socket bh-locked (or looks again
 * shortly while a socket call owns the socket) and resets the connection
 * with the errno it returns. Drops the references the queued work held.
 */
static void tcp_stealth_deadline_fn(struct work_struct *work)
{
	struct tcp_stealth_deadline *d =
		container_of(to_delayed_work(work), struct tcp_stealth_deadline,
			     work);
	struct sock *sk = d->sk;
	int err;

	local_bh_disable();
	bh_lock_sock(sk);
	if (READ_ONCE(d->dead)) {
		/* The socket is destroyed: nothing to check, no more work. */
	} else if (sock_owned_by_user(sk)) {
		/* In a socket call right now: look again shortly. */
		tcp_stealth_deadline_set(d, 1 + HZ / 50);
	} else {
		err = d->fn(sk);
		if (err && !sock_flag(sk, SOCK_DEAD) &&
		    sk->sk_state != TCP_CLOSE) {
			/* RST to the peer, queues purged; then the error. */
			tcp_disconnect(sk, 0);
			WRITE_ONCE(sk->sk_err, err);
			tcp_done(sk);
			sk_error_report(sk);
		}
	}
	bh_unlock_sock(sk);
	local_bh_enable();
	sock_put(sk);
	tcp_stealth_deadline_put(d);
}

/**
 * tcp_stealth_deadline_new() - a deadline for @sk, not armed yet
 * @sk: the socket (a child being cloned); the deadline keeps a pointer and
 *      takes a reference whenever it is queued
 * @fn: called when the deadline fires, socket locked; returns 0 or the
 *      errno to reset the connection with
 * @gfp: allocation flags
 *
 * Return: the deadline, with one reference for the caller, or NULL.
 */
struct tcp_stealth_deadline *
tcp_stealth_deadline_new(struct sock *sk, int (*fn)(struct sock *sk),
			 gfp_t gfp)
{
	struct tcp_stealth_deadline *d = kzalloc(sizeof(*d), gfp);

	if (!d)
		return NULL;
	INIT_DELAYED_WORK(&d->work, tcp_stealth_deadline_fn);
	d->sk = sk;
	d->fn = fn;
	refcount_set(&d->ref, 1);
	atomic_inc(&tcp_stealth_deadlines);
	return d;
}

/**
 * tcp_stealth_deadline_set() - (re)arm a deadline to fire in @delay jiffies
 * @d: the deadline
 * @delay: jiffies from now
 *
 * The socket must be locked (bh lock or owned) by the caller. Does nothing
 * once the deadline is stopped.
 */
void tcp_stealth_deadline_set(struct tcp_stealth_deadline *d,
			      unsigned long delay)
{
	if (READ_ONCE(d->dead))
		return;
	refcount_inc(&d->ref);
	sock_hold(d->sk);
	/* Already queued: it holds its references, drop the new ones. */
	if (mod_delayed_work(tcp_stealth_wq, &d->work, delay)) {
		__sock_put(d->sk);	/* the queued work holds another */
		refcount_dec(&d->ref);
	}
}

/**
 * tcp_stealth_deadline_cancel() - disarm a deadline, if it is pending
 * @d: the deadline
 *
 * A deadline that is running already is not waited for; it does not queue
 * itself again after tcp_stealth_deadline_stop() only.
 */
void tcp_stealth_deadline_cancel(struct tcp_stealth_deadline *d)
{
	if (cancel_delayed_work(&d->work)) {
		/* Not necessarily the last reference: sock_put(), not the
		 * __sock_put() that would leak the socket if it were. */
		sock_put(d->sk);
		tcp_stealth_deadline_put(d);
	}
}

/**
 * tcp_stealth_deadline_stop() - the socket is being destroyed: disarm the
 * deadline for good
 * @d: the deadline
 *
 * Called with the socket locked (bh lock), from the ULP's release. A
 * deadline running at the same time waits for the bh lock and then sees
 * that it is dead: it neither checks nor queues itself again.
 */
void tcp_stealth_deadline_stop(struct tcp_stealth_deadline *d)
{
	WRITE_ONCE(d->dead, true);
	tcp_stealth_deadline_cancel(d);
}

/**
 * tcp_stealth_deadline_free() - drop the owner's reference on a deadline
 * @d: the deadline, stopped already (nothing is pending)
 */
void tcp_stealth_deadline_free(struct tcp_stealth_deadline *d)
{
	WARN_ON_ONCE(!READ_ONCE(d->dead) && delayed_work_pending(&d->work));
	tcp_stealth_deadline_cancel(d);
	tcp_stealth_deadline_put(d);
}
