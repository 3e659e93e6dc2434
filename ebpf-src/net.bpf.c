/* SPDX-License-Identifier: GPL-2.0 OR Apache-2.0 */
/*
 * Network syscalls: socket, connect, accept/accept4, bind, listen, sendto/sendmsg,
 * recvfrom/recvmsg. Tuples are read from the kernel socket after the call, so they show
 * the addresses the kernel actually used.
 */

#define PG_SOCK_STREAM 1
#define PG_SOCK_DGRAM 2
#define PG_SOCK_RAW 3
#define PG_IPPROTO_ICMP 1
#define PG_IPPROTO_TCP 6
#define PG_IPPROTO_UDP 17

static __always_inline struct sock *pg_fd_sock(struct task_struct *task, long fd)
{
	struct file *file = (struct file *)pg_fd_file_ptr(task, fd);
	struct socket *sock = NULL;
	struct sock *sk = NULL;
	if (!file)
		return NULL;
	PG_READ(sock, file->private_data);
	if (!sock)
		return NULL;
	PG_READ(sk, sock->sk);
	return sk;
}

static __always_inline __u8 pg_sock_l4(struct sock *sk)
{
	__u16 type = 0, proto = 0;
	PG_READ(type, sk->sk_type);
	PG_READ(proto, sk->sk_protocol);
	if (type == PG_SOCK_RAW)
		return PG_L4_RAW;
	switch (proto) {
	case PG_IPPROTO_TCP:
		return PG_L4_TCP;
	case PG_IPPROTO_UDP:
		return PG_L4_UDP;
	case PG_IPPROTO_ICMP:
		return PG_L4_ICMP;
	}
	if (type == PG_SOCK_STREAM)
		return PG_L4_TCP;
	if (type == PG_SOCK_DGRAM)
		return PG_L4_UDP;
	return PG_L4_UNKNOWN;
}

/*
 * The socket tuple of fd. Client side (connect, send, recv): source = local end;
 * server side (accept): source = the remote client, as Falco orders it.
 */
static __noinline void pg_push_tuple(struct pg_writer *w, struct task_struct *task, long fd,
				     bool server)
{
	struct sock *sk = pg_fd_sock(task, fd);
	__u16 family = 0;
	__u8 *out = w->buf + PG_SAFE(w->pos);
	if (!sk) {
		pg_set_len(w, 0);
		return;
	}
	PG_READ(family, sk->__sk_common.skc_family);
	if (family == PG_AF_INET) {
		__u32 laddr = 0, raddr = 0;
		__u16 lport = 0, rport = 0;
		PG_READ(laddr, sk->__sk_common.skc_rcv_saddr);
		PG_READ(raddr, sk->__sk_common.skc_daddr);
		PG_READ(lport, sk->__sk_common.skc_num);
		PG_READ(rport, sk->__sk_common.skc_dport);
		rport = __builtin_bswap16(rport);
		out[0] = PG_AF_INET;
		out[1] = pg_sock_l4(sk);
		if (server) {
			__builtin_memcpy(out + 2, &raddr, 4);
			__builtin_memcpy(out + 6, &rport, 2);
			__builtin_memcpy(out + 8, &laddr, 4);
			__builtin_memcpy(out + 12, &lport, 2);
		} else {
			__builtin_memcpy(out + 2, &laddr, 4);
			__builtin_memcpy(out + 6, &lport, 2);
			__builtin_memcpy(out + 8, &raddr, 4);
			__builtin_memcpy(out + 12, &rport, 2);
		}
		pg_set_len(w, 14);
	} else if (family == PG_AF_INET6) {
		__u16 lport = 0, rport = 0;
		PG_READ(lport, sk->__sk_common.skc_num);
		PG_READ(rport, sk->__sk_common.skc_dport);
		rport = __builtin_bswap16(rport);
		out[0] = PG_AF_INET6;
		out[1] = pg_sock_l4(sk);
		__u8 *src = out + 2, *dst = out + 20;
		if (server) {
			bpf_probe_read_kernel(src, 16, &sk->__sk_common.skc_v6_daddr);
			__builtin_memcpy(src + 16, &rport, 2);
			bpf_probe_read_kernel(dst, 16, &sk->__sk_common.skc_v6_rcv_saddr);
			__builtin_memcpy(dst + 16, &lport, 2);
		} else {
			bpf_probe_read_kernel(src, 16, &sk->__sk_common.skc_v6_rcv_saddr);
			__builtin_memcpy(src + 16, &lport, 2);
			bpf_probe_read_kernel(dst, 16, &sk->__sk_common.skc_v6_daddr);
			__builtin_memcpy(dst + 16, &rport, 2);
		}
		pg_set_len(w, 38);
	} else if (family == PG_AF_UNIX) {
		struct unix_sock *us = (struct unix_sock *)sk;
		struct sock *peer = NULL;
		struct unix_address *addr = NULL;
		PG_READ(peer, us->peer);
		/* Falco names both ends of a connection alike: connect's socket first. */
		__u64 src = server ? (__u64)peer : (__u64)sk;
		__u64 dst = server ? (__u64)sk : (__u64)peer;
		out[0] = PG_AF_UNIX;
		__builtin_memcpy(out + 1, &src, 8);
		__builtin_memcpy(out + 9, &dst, 8);
		PG_READ(addr, us->addr);
		if (!addr && peer)
			PG_READ(addr, ((struct unix_sock *)peer)->addr);
		long n = 0;
		/* name[] is a flexible array: address it by offset (sun_path follows the family). */
		const char *path = (const char *)addr +
				   bpf_core_field_offset(((struct unix_address *)0)->name) + 2;
		if (addr) {
			n = bpf_probe_read_kernel_str(out + 17, 108, path);
			if (n > 0) {
				n -= 1;
			} else {
				n = 0;
			}
			/* An abstract socket's name starts with a NUL: show it as '@'. */
			if (n == 0) {
				char first = 0;
				bpf_probe_read_kernel(&first, 1, path + 1);
				if (first) {
					out[17] = '@';
					n = bpf_probe_read_kernel_str(out + 18, 107,
								      path + 1);
					n = n > 0 ? n : 1;
				}
			}
		}
		pg_set_len(w, 17 + (n & 127));
	} else {
		out[0] = family;
		pg_set_len(w, 1);
	}
}

/* A sockaddr from user memory. */
static __noinline void pg_push_sockaddr(struct pg_writer *w, const void *uaddr, long alen)
{
	__u16 family = 0;
	__u8 *out = w->buf + PG_SAFE(w->pos);
	if (!uaddr || alen < 2 || bpf_probe_read_user(&family, 2, uaddr) != 0) {
		pg_set_len(w, 0);
		return;
	}
	if (family == PG_AF_INET) {
		struct pg_sockaddr_in in = {};
		bpf_probe_read_user(&in, sizeof(in), uaddr);
		__u16 port = __builtin_bswap16(in.port);
		out[0] = PG_AF_INET;
		__builtin_memcpy(out + 1, in.addr, 4);
		__builtin_memcpy(out + 5, &port, 2);
		pg_set_len(w, 7);
	} else if (family == PG_AF_INET6) {
		struct pg_sockaddr_in6 in6 = {};
		bpf_probe_read_user(&in6, sizeof(in6), uaddr);
		__u16 port = __builtin_bswap16(in6.port);
		out[0] = PG_AF_INET6;
		__builtin_memcpy(out + 1, in6.addr, 16);
		__builtin_memcpy(out + 17, &port, 2);
		pg_set_len(w, 19);
	} else if (family == PG_AF_UNIX) {
		out[0] = PG_AF_UNIX;
		long n = bpf_probe_read_user_str(out + 1, 108, uaddr + 2);
		if (n <= 1) {
			/* Abstract name: '@' then the bytes after the leading NUL. */
			out[1] = '@';
			n = bpf_probe_read_user_str(out + 2, 107, uaddr + 3);
			n = n > 1 ? n : 1;
		} else {
			n -= 1;
		}
		pg_set_len(w, 1 + (n & 127));
	} else {
		out[0] = family;
		pg_set_len(w, 1);
	}
}

static __always_inline __u32 pg_snaplen(void)
{
	struct pg_settings *s = pg_get_settings();
	__u32 n = s ? s->snaplen : 80;
	return n > PG_MAX_SNAPLEN ? PG_MAX_SNAPLEN : n;
}

/* The first iovec of a user msghdr and the total size of all of them. */
static __always_inline void pg_msg_iov(const void *umsg, void **base, __u64 *first_len,
				       __u64 *total, void **control, __u64 *control_len)
{
	struct user_msghdr msg = {};
	*base = NULL;
	*first_len = 0;
	*total = 0;
	*control = NULL;
	*control_len = 0;
	if (!umsg || bpf_probe_read_user(&msg, sizeof(msg), umsg) != 0)
		return;
	*control = msg.msg_control;
	*control_len = msg.msg_controllen;
	for (int i = 0; i < 8; i++) {
		struct iovec iov = {};
		if (i >= msg.msg_iovlen)
			break;
		if (bpf_probe_read_user(&iov, sizeof(iov), &msg.msg_iov[i]) != 0)
			break;
		if (i == 0) {
			*base = iov.iov_base;
			*first_len = iov.iov_len;
		}
		*total += iov.iov_len;
	}
}

static __noinline void pg_net(struct pg_sc *sc)
{
	struct pg_writer w;
	struct task_struct *task = bpf_get_current_task_btf();
	long fd = (int)sc->a[0];
	long ret = sc->ret;

	switch (sc->id) {
	case PG_NR_socket: {
		if (!pg_begin(&w, PG_ET_SOCKET, 5, sc->tid, sc->pid))
			return;
		pg_push_u64(&w, ret);
		pg_push_u64(&w, (__u32)sc->a[0]);
		pg_push_u64(&w, (__u32)sc->a[1] & 0xf);
		pg_push_u64(&w, (__u32)sc->a[2]);
		pg_push_u64(&w, (__u32)sc->a[1] & ~0xfU);
		break;
	}
	case PG_NR_connect:
		if (!pg_begin(&w, PG_ET_CONNECT, 4, sc->tid, sc->pid))
			return;
		pg_push_u64(&w, ret);
		/* Non-blocking connects return EINPROGRESS with the tuple already set. */
		if (ret == 0 || ret == -115)
			pg_push_tuple(&w, task, fd, false);
		else
			pg_push_absent(&w);
		pg_push_u64(&w, fd);
		pg_push_sockaddr(&w, (void *)sc->a[1], (long)sc->a[2]);
		break;
	case PG_NR_accept:
	case PG_NR_accept4: {
		bool four = sc->id == PG_NR_accept4;
		struct sock *lsk = pg_fd_sock(task, fd);
		__u32 qlen = 0, qmax = 0;
		if (lsk) {
			PG_READ(qlen, lsk->sk_ack_backlog);
			PG_READ(qmax, lsk->sk_max_ack_backlog);
		}
		if (!pg_begin(&w, four ? PG_ET_ACCEPT4 : PG_ET_ACCEPT, four ? 6 : 5, sc->tid,
			      sc->pid))
			return;
		pg_push_u64(&w, ret);
		if (ret >= 0)
			pg_push_tuple(&w, task, ret, true);
		else
			pg_push_absent(&w);
		pg_push_u64(&w, qmax ? (qlen * 100) / qmax : 0);
		pg_push_u64(&w, qlen);
		pg_push_u64(&w, qmax);
		if (four)
			pg_push_u64(&w, (__u32)sc->a[3]);
		break;
	}
	case PG_NR_listen:
		if (!pg_begin(&w, PG_ET_LISTEN, 3, sc->tid, sc->pid))
			return;
		pg_push_u64(&w, ret);
		pg_push_u64(&w, fd);
		pg_push_u64(&w, (__s64)(int)sc->a[1]);
		break;
	case PG_NR_bind:
		if (!pg_begin(&w, PG_ET_BIND, 3, sc->tid, sc->pid))
			return;
		pg_push_u64(&w, ret);
		pg_push_sockaddr(&w, (void *)sc->a[1], (long)sc->a[2]);
		pg_push_u64(&w, fd);
		break;
	case PG_NR_sendto:
	case PG_NR_recvfrom: {
		bool send = sc->id == PG_NR_sendto;
		__u64 n = send ? sc->a[2] : (ret > 0 ? ret : 0);
		if (send && ret >= 0 && ret < n)
			n = ret;
		if (!pg_begin(&w, send ? PG_ET_SENDTO : PG_ET_RECVFROM, 5, sc->tid, sc->pid))
			return;
		pg_push_u64(&w, ret);
		pg_push_user_bytes(&w, (void *)sc->a[1], ret >= 0 ? n : 0, pg_snaplen());
		if (send) {
			pg_push_u64(&w, fd);
			pg_push_u64(&w, sc->a[2]);
			pg_push_tuple(&w, task, fd, false);
		} else {
			pg_push_tuple(&w, task, fd, false);
			pg_push_u64(&w, fd);
			pg_push_u64(&w, sc->a[2]);
		}
		break;
	}
	case PG_NR_sendmsg:
	case PG_NR_recvmsg: {
		bool send = sc->id == PG_NR_sendmsg;
		void *base, *control;
		__u64 first, total, control_len;
		pg_msg_iov((void *)sc->a[1], &base, &first, &total, &control, &control_len);
		__u64 n = first;
		if (ret >= 0 && ret < n)
			n = ret;
		if (ret < 0)
			n = 0;
		if (!pg_begin(&w, send ? PG_ET_SENDMSG : PG_ET_RECVMSG, send ? 5 : 6, sc->tid,
			      sc->pid))
			return;
		pg_push_u64(&w, ret);
		if (send) {
			pg_push_user_bytes(&w, base, n, pg_snaplen());
			pg_push_u64(&w, fd);
			pg_push_u64(&w, total);
			pg_push_tuple(&w, task, fd, false);
		} else {
			pg_push_u64(&w, ret > 0 ? ret : 0);
			pg_push_user_bytes(&w, base, n, pg_snaplen());
			pg_push_tuple(&w, task, fd, false);
			pg_push_user_bytes(&w, control, ret >= 0 ? control_len : 0, pg_snaplen());
			pg_push_u64(&w, fd);
		}
		break;
	}
	default:
		return;
	}
	pg_submit(&w);
}
