// SPDX-License-Identifier: GPL-2.0
/* kcsi detonate — activity tracer (libbpf CO-RE).
 *
 * Tracepoints on process life (exec, fork, exit) and on the syscalls a
 * detonation cares about (connect, accept, bind, listen, open for write,
 * unlink, rename, chmod, memfd_create, ptrace, setuid family).  Only tasks in
 * the sandbox's network namespace (target_netns, set before load) and outside
 * the initial pid namespace (the restored container's processes, not podman or
 * CRIU running in the namespace) are reported, through a ring buffer. */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "detonate_event.h"

char LICENSE[] SEC("license") = "GPL";

const volatile __u64 target_netns = 0;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 22);
} events SEC(".maps");

static __always_inline bool in_scope(struct task_struct *t)
{
	if (BPF_CORE_READ(t, nsproxy, net_ns, ns.inum) != target_netns)
		return false;
	return BPF_CORE_READ(t, thread_pid, level) > 0;
}

static __always_inline __u32 vpid_of(struct task_struct *t)
{
	struct pid *p = BPF_CORE_READ(t, thread_pid);
	unsigned int lvl = BPF_CORE_READ(p, level);
	struct upid up = {};
	bpf_core_read(&up, sizeof(up), &p->numbers[lvl & 7]);
	return up.nr;
}

static __always_inline struct det_event *start(__u32 type)
{
	struct task_struct *t = (struct task_struct *)bpf_get_current_task();
	struct det_event *e;
	if (!in_scope(t))
		return NULL;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return NULL;
	__builtin_memset(e, 0, sizeof(*e));
	e->ts_ns = bpf_ktime_get_boot_ns();
	e->type = type;
	e->tgid = bpf_get_current_pid_tgid() >> 32;
	e->tid = (__u32)bpf_get_current_pid_tgid();
	e->ppid = BPF_CORE_READ(t, real_parent, tgid);
	e->vpid = vpid_of(BPF_CORE_READ(t, group_leader));
	e->uid = (__u32)bpf_get_current_uid_gid();
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	BPF_CORE_READ_STR_INTO(&e->pcomm, t, real_parent, comm);
	return e;
}

static __always_inline void sockaddr(struct det_event *e, const void *uaddr)
{
	struct sockaddr_in sa = {};
	bpf_probe_read_user(&sa, sizeof(sa), uaddr);
	e->family = sa.sin_family;
	e->port = __builtin_bswap16(sa.sin_port);
	if (sa.sin_family == 2)
		__builtin_memcpy(e->addr, &sa.sin_addr, 4);
	else if (sa.sin_family == 10)
		bpf_probe_read_user(e->addr, 16, (const char *)uaddr + 8);
}

SEC("tp/sched/sched_process_exec")
int on_exec(struct trace_event_raw_sched_process_exec *ctx)
{
	struct det_event *e = start(DET_EV_EXEC);
	struct task_struct *t = (struct task_struct *)bpf_get_current_task();
	unsigned off = ctx->__data_loc_filename & 0xFFFF;
	unsigned long as, ae;
	if (!e)
		return 0;
	bpf_probe_read_kernel_str(e->path, sizeof(e->path), (void *)ctx + off);
	as = BPF_CORE_READ(t, mm, arg_start);
	ae = BPF_CORE_READ(t, mm, arg_end);
	if (ae > as) {
		unsigned long n = ae - as;
		if (n > 255)
			n = 255;
		bpf_probe_read_user(e->path2, n & 255, (void *)as);
		e->a1 = (__s64)n;
	}
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("tp/sched/sched_process_fork")
int on_fork(struct trace_event_raw_sched_process_fork *ctx)
{
	struct det_event *e = start(DET_EV_FORK);
	if (!e)
		return 0;
	e->a1 = ctx->child_pid;
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("tp/sched/sched_process_exit")
int on_exit_(void *ctx)
{
	struct task_struct *t = (struct task_struct *)bpf_get_current_task();
	struct det_event *e;
	__u64 id = bpf_get_current_pid_tgid();
	if ((id >> 32) != (__u32)id) /* threads */
		return 0;
	if (!(e = start(DET_EV_EXIT)))
		return 0;
	e->a1 = BPF_CORE_READ(t, exit_code);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

#define SYS_ENTER(name, evtype)                                                                                        \
	SEC("tp/syscalls/sys_enter_" #name)                                                                             \
	int enter_##name(struct trace_event_raw_sys_enter *ctx)                                                         \
	{                                                                                                               \
		struct det_event *e = start(evtype);                                                                    \
		if (!e)                                                                                                 \
			return 0;                                                                                       \
		fill_##name(e, ctx);                                                                                    \
		bpf_ringbuf_submit(e, 0);                                                                               \
		return 0;                                                                                               \
	}

static __always_inline void fill_connect(struct det_event *e, struct trace_event_raw_sys_enter *c)
{
	e->fd = (__s32)c->args[0];
	sockaddr(e, (const void *)c->args[1]);
}
SYS_ENTER(connect, DET_EV_CONNECT)

static __always_inline void fill_bind(struct det_event *e, struct trace_event_raw_sys_enter *c)
{
	e->fd = (__s32)c->args[0];
	sockaddr(e, (const void *)c->args[1]);
}
SYS_ENTER(bind, DET_EV_BIND)

static __always_inline void fill_listen(struct det_event *e, struct trace_event_raw_sys_enter *c)
{
	e->fd = (__s32)c->args[0];
	e->a1 = (__s64)c->args[1];
}
SYS_ENTER(listen, DET_EV_LISTEN)

static __always_inline void fill_unlink(struct det_event *e, struct trace_event_raw_sys_enter *c)
{
	bpf_probe_read_user_str(e->path, sizeof(e->path), (const void *)c->args[0]);
}
SYS_ENTER(unlink, DET_EV_UNLINK)

static __always_inline void fill_unlinkat(struct det_event *e, struct trace_event_raw_sys_enter *c)
{
	e->fd = (__s32)c->args[0];
	bpf_probe_read_user_str(e->path, sizeof(e->path), (const void *)c->args[1]);
	e->a1 = (__s64)c->args[2];
}
SYS_ENTER(unlinkat, DET_EV_UNLINK)

static __always_inline void fill_rename(struct det_event *e, struct trace_event_raw_sys_enter *c)
{
	bpf_probe_read_user_str(e->path, sizeof(e->path), (const void *)c->args[0]);
	bpf_probe_read_user_str(e->path2, sizeof(e->path2), (const void *)c->args[1]);
}
SYS_ENTER(rename, DET_EV_RENAME)

static __always_inline void fill_renameat2(struct det_event *e, struct trace_event_raw_sys_enter *c)
{
	e->fd = (__s32)c->args[0];
	bpf_probe_read_user_str(e->path, sizeof(e->path), (const void *)c->args[1]);
	bpf_probe_read_user_str(e->path2, sizeof(e->path2), (const void *)c->args[3]);
}
SYS_ENTER(renameat2, DET_EV_RENAME)

static __always_inline void fill_renameat(struct det_event *e, struct trace_event_raw_sys_enter *c)
{
	fill_renameat2(e, c);
}
SYS_ENTER(renameat, DET_EV_RENAME)

static __always_inline void fill_chmod(struct det_event *e, struct trace_event_raw_sys_enter *c)
{
	bpf_probe_read_user_str(e->path, sizeof(e->path), (const void *)c->args[0]);
	e->a1 = (__s64)c->args[1];
}
SYS_ENTER(chmod, DET_EV_CHMOD)

static __always_inline void fill_fchmodat(struct det_event *e, struct trace_event_raw_sys_enter *c)
{
	e->fd = (__s32)c->args[0];
	bpf_probe_read_user_str(e->path, sizeof(e->path), (const void *)c->args[1]);
	e->a1 = (__s64)c->args[2];
}
SYS_ENTER(fchmodat, DET_EV_CHMOD)

static __always_inline void fill_fchmod(struct det_event *e, struct trace_event_raw_sys_enter *c)
{
	e->fd = (__s32)c->args[0];
	e->a1 = (__s64)c->args[1];
}
SYS_ENTER(fchmod, DET_EV_CHMOD)

static __always_inline void fill_memfd_create(struct det_event *e, struct trace_event_raw_sys_enter *c)
{
	bpf_probe_read_user_str(e->path, sizeof(e->path), (const void *)c->args[0]);
	e->a1 = (__s64)c->args[1];
}
SYS_ENTER(memfd_create, DET_EV_MEMFD)

static __always_inline void fill_ptrace(struct det_event *e, struct trace_event_raw_sys_enter *c)
{
	e->a1 = (__s64)c->args[0];
	e->a2 = (__s64)c->args[1];
}
SYS_ENTER(ptrace, DET_EV_PTRACE)

static __always_inline void fill_setuid(struct det_event *e, struct trace_event_raw_sys_enter *c)
{
	e->a1 = (__s64)c->args[0];
	e->a2 = -1;
}
SYS_ENTER(setuid, DET_EV_SETUID)

static __always_inline void fill_setreuid(struct det_event *e, struct trace_event_raw_sys_enter *c)
{
	e->a1 = (__s64)c->args[1];
	e->a2 = (__s64)c->args[0];
}
SYS_ENTER(setreuid, DET_EV_SETUID)

static __always_inline void fill_setresuid(struct det_event *e, struct trace_event_raw_sys_enter *c)
{
	e->a1 = (__s64)c->args[1];
	e->a2 = (__s64)c->args[0];
}
SYS_ENTER(setresuid, DET_EV_SETUID)

/* opens: only for writing (O_WRONLY, O_RDWR, O_CREAT, O_TRUNC) */
#define WRITE_FLAGS (01 | 02 | 0100 | 01000)
static __always_inline int open_common(const void *upath, __s64 flags, __s64 mode, __s32 dfd)
{
	struct det_event *e;
	if (!(flags & WRITE_FLAGS))
		return 0;
	if (!(e = start(DET_EV_OPEN)))
		return 0;
	e->fd = dfd;
	e->a1 = flags;
	e->a2 = mode;
	bpf_probe_read_user_str(e->path, sizeof(e->path), upath);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("tp/syscalls/sys_enter_openat")
int enter_openat(struct trace_event_raw_sys_enter *c)
{
	return open_common((const void *)c->args[1], (__s64)c->args[2], (__s64)c->args[3], (__s32)c->args[0]);
}

SEC("tp/syscalls/sys_enter_open")
int enter_open(struct trace_event_raw_sys_enter *c)
{
	return open_common((const void *)c->args[0], (__s64)c->args[1], (__s64)c->args[2], -100);
}

SEC("tp/syscalls/sys_enter_creat")
int enter_creat(struct trace_event_raw_sys_enter *c)
{
	return open_common((const void *)c->args[0], 01 | 0100 | 01000, (__s64)c->args[1], -100);
}

/* accept: the new descriptor is the return value */
static __always_inline int accept_exit(struct trace_event_raw_sys_exit *c)
{
	struct det_event *e;
	if (c->ret < 0)
		return 0;
	if (!(e = start(DET_EV_ACCEPT)))
		return 0;
	e->fd = (__s32)c->ret;
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("tp/syscalls/sys_exit_accept")
int exit_accept(struct trace_event_raw_sys_exit *c)
{
	return accept_exit(c);
}

SEC("tp/syscalls/sys_exit_accept4")
int exit_accept4(struct trace_event_raw_sys_exit *c)
{
	return accept_exit(c);
}
