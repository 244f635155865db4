// SPDX-License-Identifier: GPL-2.0
/*
 * contain.bpf.c — in-kernel egress verdicts for contained cells.
 *
 * cgroup connect4/6 and sendmsg4/6 on the cgroup v2 root, links pinned so
 * they keep enforcing while vigild restarts. A task in an isolated cell gets
 * EPERM for every connect and unconnected send (loopback allowed only when
 * the cell says so); a task in an allowlisted cell only reaches its policy's
 * CIDR+port entries (loopback always). The verdict is the task's cell, not
 * the socket's: sockets keep the cgroup they were born in. Process sets
 * follow fork (a contained process's children join its set) and drop a
 * process when its last thread exits.
 */
#include "vmlinux.h"
#include <bpf/bpf_endian.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#define VGL_CONTAIN_PIN
#include "lib/contain.bpf.h"
#include "lib/seccomp.bpf.h"

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, VGL_ALLOW_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct vgl_allow_key);
	__type(value, struct vgl_allow_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} vgl_allow SEC(".maps");

static __always_inline int is_loopback(const __u8 *a)
{
	__u32 w0 = *(const __u32 *)&a[0], w1 = *(const __u32 *)&a[4];
	__u32 w2 = *(const __u32 *)&a[8], w3 = *(const __u32 *)&a[12];

	if (w0 || w1)
		return 0;
	if (w2 == bpf_htonl(0xffff)) /* ::ffff:127.x.y.z */
		return a[12] == 127;
	return !w2 && w3 == bpf_htonl(1); /* ::1 */
}

static __always_inline int port_ok(const struct vgl_allow_val *v, __u16 port)
{
	if (!v->nports)
		return 1;
	for (int i = 0; i < VGL_ALLOW_PORTS; i++)
		if (i < v->nports && v->ports[i] == port)
			return 1;
	return 0;
}

/* 1: let it through, 0: EPERM. */
static __always_inline int verdict(struct bpf_sock_addr *ctx, int v6)
{
	struct vgl_allow_key k = {};
	struct vgl_allow_val *v;
	struct vgl_cell *c = current_cell();

	if (!c)
		return 1;
	if (v6) {
		*(__u32 *)&k.addr[0] = ctx->user_ip6[0];
		*(__u32 *)&k.addr[4] = ctx->user_ip6[1];
		*(__u32 *)&k.addr[8] = ctx->user_ip6[2];
		*(__u32 *)&k.addr[12] = ctx->user_ip6[3];
	} else {
		k.addr[10] = k.addr[11] = 0xff;
		*(__u32 *)&k.addr[12] = ctx->user_ip4;
	}
	if (c->flags & VGL_CELL_ISOLATE)
		return (c->flags & VGL_CELL_ALLOW_LO) && is_loopback(k.addr);
	if (!(c->flags & VGL_CELL_ALLOWLIST) || is_loopback(k.addr))
		return 1;
	k.prefixlen = 32 + 128;
	k.policy = c->policy;
	v = bpf_map_lookup_elem(&vgl_allow, &k);
	return v && port_ok(v, bpf_ntohs(ctx->user_port));
}

SEC("cgroup/connect4")
int contain_connect4(struct bpf_sock_addr *ctx)
{
	return verdict(ctx, 0);
}

SEC("cgroup/connect6")
int contain_connect6(struct bpf_sock_addr *ctx)
{
	return verdict(ctx, 1);
}

SEC("cgroup/sendmsg4")
int contain_sendmsg4(struct bpf_sock_addr *ctx)
{
	return verdict(ctx, 0);
}

SEC("cgroup/sendmsg6")
int contain_sendmsg6(struct bpf_sock_addr *ctx)
{
	return verdict(ctx, 1);
}

/* A contained process's children are contained with it (threads share its tgid). */
SEC("tp_btf/sched_process_fork")
int BPF_PROG(contain_fork, struct task_struct *parent, struct task_struct *child)
{
	__u32 ptgid, ctgid;
	struct vgl_cell *c;
	struct vgl_confined *root;
	__u32 confined = confined_maybe(), tasks = cstate_get(VGL_CSTATE_TASKS);

	if ((!confined && !tasks) || child->pid != child->tgid)
		return 0;
	ptgid = parent->tgid;
	ctgid = child->tgid;
	/* a confined process's children are confined: report them too */
	root = confined ? bpf_map_lookup_elem(&vgl_confined, &ptgid) : NULL;
	if (root)
		bpf_map_update_elem(&vgl_confined, &ctgid, root, BPF_ANY);
	if (!tasks)
		return 0;
	c = bpf_map_lookup_elem(&vgl_tasks, &ptgid);
	if (c)
		bpf_map_update_elem(&vgl_tasks, &ctgid, c, BPF_ANY);
	return 0;
}

/* The last thread of a contained process is gone: its pid may be reused. */
SEC("tp_btf/sched_process_exit")
int BPF_PROG(contain_exit, struct task_struct *p)
{
	__u32 tgid, confined = confined_maybe(), tasks = cstate_get(VGL_CSTATE_TASKS);

	/* nothing to forget (the common case): two array loads and out */
	if ((!confined && !tasks) || p->signal->live.counter != 0)
		return 0;
	tgid = p->tgid;
	/* a lookup first: a delete takes the bucket's lock even when there is nothing */
	if (confined && bpf_map_lookup_elem(&vgl_confined, &tgid))
		bpf_map_delete_elem(&vgl_confined, &tgid);
	if (tasks && bpf_map_lookup_elem(&vgl_tasks, &tgid))
		bpf_map_delete_elem(&vgl_tasks, &tgid);
	return 0;
}
