/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Per-CPU counters for the Rust side (src/tcp_stealth_percpu.c,
 * src/ffi/percpu.rs).
 */
#ifndef _TCP_STEALTH_PERCPU_H
#define _TCP_STEALTH_PERCPU_H

#include <linux/compiler_types.h>
#include <linux/types.h>

u64 __percpu *tcp_stealth_percpu_alloc(unsigned int n);
void tcp_stealth_percpu_inc(u64 __percpu *p, unsigned int i);
u64 tcp_stealth_percpu_sum(const u64 __percpu *p, unsigned int i);
void tcp_stealth_percpu_free(u64 __percpu *p);

#endif /* _TCP_STEALTH_PERCPU_H */
