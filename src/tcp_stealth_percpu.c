// SPDX-License-Identifier: GPL-2.0
/*
 * Per-CPU 64-bit counters for the Rust side (src/ffi/percpu.rs), which the
 * kernel crate of Linux 6.12 has no abstraction for: this_cpu_inc() and
 * per_cpu_ptr() are macros.
 *
 * A counter bumped on every packet by every CPU as one shared atomic bounces
 * its cache line between the CPUs; a per-CPU counter stays in the bumping
 * CPU's cache, and a reader adds up the CPUs' copies.
 */
#include <linux/percpu.h>
#include <linux/cpumask.h>

#include "tcp_stealth_percpu.h"

/**
 * tcp_stealth_percpu_alloc() - allocate @n zeroed 64-bit counters per CPU
 * @n: the number of counters (at least 1)
 *
 * Context: process context (GFP_KERNEL), e.g. a pernet init.
 *
 * Return: the per-CPU array, or NULL if out of memory. Free it with
 * tcp_stealth_percpu_free().
 */
u64 __percpu *tcp_stealth_percpu_alloc(unsigned int n)
{
	if (!n || n > PCPU_MIN_UNIT_SIZE / sizeof(u64))
		return NULL;
	return __alloc_percpu(n * sizeof(u64), sizeof(u64));
}

/**
 * tcp_stealth_percpu_inc() - add one to this CPU's copy of counter @i
 * @p: an array from tcp_stealth_percpu_alloc()
 * @i: the counter, below the @n it was allocated with
 *
 * this_cpu_inc(): safe in any context, with or without preemption or
 * interrupts disabled (one instruction on x86; interrupts off around it
 * where the architecture has no such instruction).
 */
void tcp_stealth_percpu_inc(u64 __percpu *p, unsigned int i)
{
	this_cpu_inc(p[i]);
}

/**
 * tcp_stealth_percpu_sum() - the sum of counter @i over all CPUs
 * @p: an array from tcp_stealth_percpu_alloc()
 * @i: the counter, below the @n it was allocated with
 *
 * Every possible CPU's copy is read, so counts of a CPU that went offline
 * still count. Concurrent increments may or may not be in the sum, as with
 * a shared atomic read at the same moment. Context: any.
 *
 * Return: the sum.
 */
u64 tcp_stealth_percpu_sum(const u64 __percpu *p, unsigned int i)
{
	u64 sum = 0;
	int cpu;

	for_each_possible_cpu(cpu)
		sum += READ_ONCE(per_cpu_ptr(p, cpu)[i]);
	return sum;
}

/**
 * tcp_stealth_percpu_free() - free an array of tcp_stealth_percpu_alloc()
 * @p: the array, or NULL
 *
 * Context: process context; nobody may use @p any more.
 */
void tcp_stealth_percpu_free(u64 __percpu *p)
{
	free_percpu(p);
}
