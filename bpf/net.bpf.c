// SPDX-License-Identifier: GPL-2.0
/*
 * net.bpf.c — outbound connections and listens.
 *
 * TCP: sock/inet_sock_set_state, no syscall slow path. The CLOSE→SYN_SENT
 * step runs in the connecting task, so the task is stashed by socket; the
 * handshake's end (ESTABLISHED or CLOSE, possibly in softirq, possibly much
 * later for a non-blocking connect) emits one event with the result.
 * UDP: cgroup connect4/6 and sendmsg4/6 on the cgroup v2 root, the
 * sock_send_length tracepoint for a connected socket's first send, cgroup
 * sock_release;
 * once per process and destination (see udp_report).
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

/*
 * UDP is reported once per process and destination (udp_seen), again only
 * after udp_report_ns: a resolver's or a QUIC client's thousand sends, and
 * the fresh socket each getaddrinfo() uses, are one event. Keyed by tgid,
 * not socket: a new socket per query is the norm.
 */
struct udp_key {
	__u32 tgid;
	__u16 dport;
	__u8 family;
	__u8 _pad;
	__u8 daddr[16];
};

const volatile __u64 udp_report_ns = 60ull * 1000000000;
/* udp_seen's size, set with it before load: past it every new destination evicts one */
const volatile __u64 udp_seen_max = 65536;
/*
 * A UDP connect() sends nothing: getaddrinfo() connects a socket to each
 * candidate address only to learn the source address it would use (RFC
 * 6724 sorting) and closes it. Once userspace has attached udp_sent and
 * udp_release it sets this: a connect is then held (udp_pending, by
 * socket) and reported at the socket's first send; closed without one, it
 * is counted, not reported. Until then (or where they cannot attach) a
 * connect is reported when it happens.
 */
__u32 udp_on_send = 0;

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct udp_key);
	__type(value, __u64); /* when last reported */
} udp_seen SEC(".maps");

__u64 udp_seen_inserts = 0;

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64); /* socket cookie */
	__type(value, struct vgl_connect);
} udp_pending SEC(".maps");

/* What one state change says: the classic tracepoint's fields, or the same read from the sock. */
struct state_change {
	__u64 sk;
	int oldstate, newstate;
	__u16 family, protocol, sport, dport;
	const void *saddr, *daddr; /* 4 or 16 bytes by family, kernel memory */
	struct sock *sock;	   /* for sk_err */
};

static __always_inline void fill_addrs(struct vgl_connect *e, const struct state_change *c)
{
	e->family = c->family;
	e->protocol = c->protocol;
	e->sport = c->sport;
	e->dport = c->dport;
	if (c->family == AF_INET) {
		bpf_probe_read_kernel(e->saddr, 4, c->saddr);
		bpf_probe_read_kernel(e->daddr, 4, c->daddr);
	} else {
		bpf_probe_read_kernel(e->saddr, 16, c->saddr);
		bpf_probe_read_kernel(e->daddr, 16, c->daddr);
	}
}

/* Called with the state only known to matter: a connect's start or end, a listen. */
static __always_inline int state_report(const struct state_change *c)
{
	__u64 sk = c->sk;
	struct sock *sock = c->sock; /* a local: KREAD's relocations are for kernel types only */
	struct vgl_connect e = {};
	struct pending *p, np;

	/* connect and listen run in the calling task (vigild's own are not reported) */
	if (c->newstate == TCP_SYN_SENT) {
		if (from_agent())
			return 0;
		hdr_fill(&np.h, VGL_MSG_CONNECT);
		bpf_map_update_elem(&connecting, &sk, &np, BPF_ANY);
		return 0;
	}
	if (c->newstate == TCP_LISTEN) {
		if (from_agent())
			return 0;
		hdr_fill(&e.h, VGL_MSG_LISTEN);
		fill_addrs(&e, c);
		e.via = VGL_VIA_TCP_STATE;
		rec_submit(&e, sizeof(e), VGL_MSG_LISTEN);
		return 0;
	}
	p = bpf_map_lookup_elem(&connecting, &sk);
	if (!p)
		return 0;
	e.h = p->h;
	e.h.ts_ns = bpf_ktime_get_boot_ns();
	fill_addrs(&e, c);
	e.via = VGL_VIA_TCP_STATE;
	if (c->newstate == TCP_ESTABLISHED)
		e.error = 0;
	else
		e.error = KREAD(VGL_CAST(sock, struct sock), sk_err);
	if (e.error == 0 && c->newstate != TCP_ESTABLISHED)
		e.error = -1;
	bpf_map_delete_elem(&connecting, &sk);
	rec_submit(&e, sizeof(e), VGL_MSG_CONNECT);
	return 0;
}

/* Does this change matter? Most of a connection's do not (the server side's, the close). */
static __always_inline bool state_matters(__u16 protocol, int oldstate, int newstate)
{
	return protocol == IPPROTO_TCP &&
	       (newstate == TCP_SYN_SENT || newstate == TCP_LISTEN || oldstate == TCP_SYN_SENT);
}

/*
 * tp_btf: the sock itself, no perf record built first; the fields read as
 * the tracepoint's TP_fast_assign reads them (include/trace/events/sock.h).
 */
SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(set_state_btf, const struct sock *sk, const int oldstate, const int newstate)
{
	const struct inet_sock *inet = VGL_CAST(sk, struct inet_sock);
	struct state_change c = {.sk = (__u64)sk, .oldstate = oldstate, .newstate = newstate};

	if (!state_matters(sk->sk_protocol, oldstate, newstate))
		return 0;
	c.family = sk->__sk_common.skc_family;
	c.protocol = sk->sk_protocol;
	c.sport = bpf_ntohs(KREAD(inet, inet_sport));
	c.dport = bpf_ntohs(sk->__sk_common.skc_dport);
	c.sock = (struct sock *)sk;
	if (c.family == AF_INET) {
		c.saddr = &sk->__sk_common.skc_rcv_saddr;
		c.daddr = &sk->__sk_common.skc_daddr;
	} else {
		c.saddr = &sk->__sk_common.skc_v6_rcv_saddr;
		c.daddr = &sk->__sk_common.skc_v6_daddr;
	}
	return state_report(&c);
}

SEC("tracepoint/sock/inet_sock_set_state")
int handle_set_state(struct trace_event_raw_inet_sock_set_state *ctx)
{
	struct state_change c = {.sk = (__u64)ctx->skaddr,
				 .oldstate = ctx->oldstate,
				 .newstate = ctx->newstate,
				 .family = ctx->family,
				 .protocol = ctx->protocol,
				 .sport = ctx->sport,
				 .dport = ctx->dport,
				 .sock = (struct sock *)ctx->skaddr};

	if (!state_matters(ctx->protocol, ctx->oldstate, ctx->newstate))
		return 0;
	c.saddr = ctx->family == AF_INET ? (const void *)ctx->saddr : (const void *)ctx->saddr_v6;
	c.daddr = ctx->family == AF_INET ? (const void *)ctx->daddr : (const void *)ctx->daddr_v6;
	return state_report(&c);
}

/*
 * Report e unless its process reported this destination within
 * udp_report_ns. LRU inserts never fail: the table is full once it has had
 * more inserts than entries, and from then on each insert evicts the
 * destination seen least recently (reported again when it comes back).
 */
static __always_inline void udp_report(struct vgl_connect *e)
{
	struct udp_key k = {.tgid = e->h.pid, .dport = e->dport, .family = e->family};
	__u64 now = e->h.ts_ns, *last;

	__builtin_memcpy(k.daddr, e->daddr, 16);
	last = bpf_map_lookup_elem(&udp_seen, &k);
	if (last && now - *last < udp_report_ns) {
		drop_count(VGL_DROP_UDP_FOLDED);
		return;
	}
	if (last)
		*last = now;
	else if (!bpf_map_update_elem(&udp_seen, &k, &now, BPF_NOEXIST) &&
		 __sync_fetch_and_add(&udp_seen_inserts, 1) >= udp_seen_max)
		drop_count(VGL_DROP_UDP_DEDUP_FULL);
	rec_submit(e, sizeof(*e), VGL_MSG_CONNECT);
}

static __always_inline void udp_event(struct bpf_sock_addr *ctx, __u8 via, int v6)
{
	struct vgl_connect e = {};
	struct bpf_sock *sk;

	if (from_agent())
		return;
	if (ctx->type != SOCK_DGRAM || ctx->protocol != IPPROTO_UDP)
		return;
	e.cookie = bpf_get_socket_cookie(ctx);
	if (v6) {
		*(__u32 *)&e.daddr[0] = ctx->user_ip6[0];
		*(__u32 *)&e.daddr[4] = ctx->user_ip6[1];
		*(__u32 *)&e.daddr[8] = ctx->user_ip6[2];
		*(__u32 *)&e.daddr[12] = ctx->user_ip6[3];
	} else {
		*(__u32 *)&e.daddr[0] = ctx->user_ip4;
	}
	e.dport = bpf_ntohs(ctx->user_port);
	hdr_fill_current(&e.h, VGL_MSG_CONNECT);
	e.h.flags = VGL_HF_NO_TASK;
	e.family = v6 ? AF_INET6 : AF_INET;
	e.protocol = IPPROTO_UDP;
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
	if (via == VGL_VIA_CONNECT && udp_on_send) {
		bpf_map_update_elem(&udp_pending, &e.cookie, &e, BPF_ANY);
		return;
	}
	udp_report(&e);
}

/* The first send on a connected UDP socket: its connect happened. */
static __always_inline void udp_first_send(struct sock *sk)
{
	__u64 cookie = bpf_get_socket_cookie(sk);
	struct vgl_connect *p = bpf_map_lookup_elem(&udp_pending, &cookie);
	struct vgl_connect e;

	if (!p)
		return;
	e = *p;
	bpf_map_delete_elem(&udp_pending, &cookie);
	e.h.ts_ns = bpf_ktime_get_boot_ns();
	udp_report(&e);
}

/*
 * Every socket send (sock_sendmsg: send, sendto, sendmsg, sendmmsg, write,
 * io_uring) that was not refused: one load and compare for a non-UDP one.
 */
SEC("tp_btf/sock_send_length")
int BPF_PROG(udp_sent, struct sock *sk, int ret, int flags)
{
	if (ret < 0 || sk->sk_protocol != IPPROTO_UDP) /* a typed pointer: a plain load */
		return 0;
	udp_first_send(sk);
	return 0;
}

/* Closed without a send: a getaddrinfo() probe, or a socket never used. */
SEC("cgroup/sock_release")
int udp_release(struct bpf_sock *ctx)
{
	__u64 cookie;

	if (!udp_on_send || ctx->protocol != IPPROTO_UDP)
		return 1;
	cookie = bpf_get_socket_cookie(ctx);
	if (!bpf_map_delete_elem(&udp_pending, &cookie))
		drop_count(VGL_DROP_UDP_NO_DATA);
	return 1;
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
