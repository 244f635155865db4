// SPDX-License-Identifier: GPL-2.0
/*
 * net.bpf.c — outbound connections and listens.
 *
 * TCP: sock/inet_sock_set_state, no syscall slow path. The CLOSE→SYN_SENT
 * step runs in the connecting task, so the task is stashed by socket; the
 * handshake's end (ESTABLISHED or CLOSE, possibly in softirq, possibly much
 * later for a non-blocking connect) emits one event with the result.
 * UDP: cgroup connect4/6 and sendmsg4/6 on the cgroup v2 root; sendmsg to a
 * destination this socket already used is folded in the kernel.
 */
#include "lib/common.bpf.h"
#include <bpf/bpf_endian.h>

char LICENSE[] SEC("license") = "GPL";

#define AF_INET	    2
#define AF_INET6    10
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17
#define SOCK_DGRAM  2

struct pending {
	struct vgl_hdr h;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64); /* struct sock address */
	__type(value, struct pending);
} connecting SEC(".maps");

struct udp_key {
	__u64 cookie;
	__u8 daddr[16];
	__u16 dport;
	__u16 _pad[3];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct udp_key);
	__type(value, __u8);
} udp_seen SEC(".maps");

static __always_inline void fill_addrs(struct vgl_connect *e,
				       struct trace_event_raw_inet_sock_set_state *ctx)
{
	e->family = ctx->family;
	e->protocol = ctx->protocol;
	e->sport = ctx->sport;
	e->dport = ctx->dport;
	if (ctx->family == AF_INET) {
		bpf_probe_read_kernel(e->saddr, 4, ctx->saddr);
		bpf_probe_read_kernel(e->daddr, 4, ctx->daddr);
	} else {
		bpf_probe_read_kernel(e->saddr, 16, ctx->saddr_v6);
		bpf_probe_read_kernel(e->daddr, 16, ctx->daddr_v6);
	}
}

SEC("tracepoint/sock/inet_sock_set_state")
int handle_set_state(struct trace_event_raw_inet_sock_set_state *ctx)
{
	__u64 sk = (__u64)ctx->skaddr;
	struct vgl_connect e = {};
	struct pending *p, np;

	if (ctx->protocol != IPPROTO_TCP)
		return 0;
	/* connect and listen run in the calling task (vigild's own are not reported) */
	if (ctx->newstate == TCP_SYN_SENT) {
		if (from_agent())
			return 0;
		hdr_fill(&np.h, VGL_MSG_CONNECT);
		bpf_map_update_elem(&connecting, &sk, &np, BPF_ANY);
		return 0;
	}
	if (ctx->newstate == TCP_LISTEN) {
		if (from_agent())
			return 0;
		hdr_fill(&e.h, VGL_MSG_LISTEN);
		fill_addrs(&e, ctx);
		e.via = VGL_VIA_TCP_STATE;
		rec_submit(&e, sizeof(e), VGL_MSG_LISTEN);
		return 0;
	}
	if (ctx->oldstate != TCP_SYN_SENT)
		return 0;
	p = bpf_map_lookup_elem(&connecting, &sk);
	if (!p)
		return 0;
	e.h = p->h;
	e.h.ts_ns = bpf_ktime_get_boot_ns();
	fill_addrs(&e, ctx);
	e.via = VGL_VIA_TCP_STATE;
	if (ctx->newstate == TCP_ESTABLISHED)
		e.error = 0;
	else
		e.error = BPF_CORE_READ((struct sock *)ctx->skaddr, sk_err);
	if (e.error == 0 && ctx->newstate != TCP_ESTABLISHED)
		e.error = -1;
	bpf_map_delete_elem(&connecting, &sk);
	rec_submit(&e, sizeof(e), VGL_MSG_CONNECT);
	return 0;
}

static __always_inline void udp_event(struct bpf_sock_addr *ctx, __u8 via, int v6)
{
	struct vgl_connect e = {};
	struct udp_key k = {};
	struct bpf_sock *sk;
	__u8 one = 1;

	if (from_agent())
		return;
	if (ctx->type != SOCK_DGRAM || ctx->protocol != IPPROTO_UDP)
		return;
	k.cookie = bpf_get_socket_cookie(ctx);
	if (v6) {
		*(__u32 *)&k.daddr[0] = ctx->user_ip6[0];
		*(__u32 *)&k.daddr[4] = ctx->user_ip6[1];
		*(__u32 *)&k.daddr[8] = ctx->user_ip6[2];
		*(__u32 *)&k.daddr[12] = ctx->user_ip6[3];
	} else {
		*(__u32 *)&k.daddr[0] = ctx->user_ip4;
	}
	k.dport = bpf_ntohs(ctx->user_port);
	if (via == VGL_VIA_SENDMSG) {
		if (bpf_map_lookup_elem(&udp_seen, &k))
			return;
		if (bpf_map_update_elem(&udp_seen, &k, &one, BPF_ANY))
			drop_count(VGL_DROP_UDP_DEDUP_FULL);
	}
	hdr_fill_current(&e.h, VGL_MSG_CONNECT);
	e.h.flags = VGL_HF_NO_TASK;
	e.family = v6 ? AF_INET6 : AF_INET;
	e.protocol = IPPROTO_UDP;
	__builtin_memcpy(e.daddr, k.daddr, 16);
	e.dport = k.dport;
	sk = ctx->sk;
	if (sk) {
		e.sport = sk->src_port;
		if (!v6)
			*(__u32 *)&e.saddr[0] = sk->src_ip4;
	}
	if (via == VGL_VIA_SENDMSG && !v6)
		*(__u32 *)&e.saddr[0] = ctx->msg_src_ip4;
	e.error = -1;
	e.via = via;
	e.cookie = k.cookie;
	rec_submit(&e, sizeof(e), VGL_MSG_CONNECT);
}

SEC("cgroup/connect4")
int udp_connect4(struct bpf_sock_addr *ctx)
{
	udp_event(ctx, VGL_VIA_CONNECT, 0);
	return 1;
}

SEC("cgroup/connect6")
int udp_connect6(struct bpf_sock_addr *ctx)
{
	udp_event(ctx, VGL_VIA_CONNECT, 1);
	return 1;
}

SEC("cgroup/sendmsg4")
int udp_sendmsg4(struct bpf_sock_addr *ctx)
{
	udp_event(ctx, VGL_VIA_SENDMSG, 0);
	return 1;
}

SEC("cgroup/sendmsg6")
int udp_sendmsg6(struct bpf_sock_addr *ctx)
{
	udp_event(ctx, VGL_VIA_SENDMSG, 1);
	return 1;
}
