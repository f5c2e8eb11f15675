/* kcsi detonate — the record the eBPF tracer sends to user space (shared by
 * bpf/detonate.bpf.c and lib/bpf_trace.c; plain fixed-size types only). */
#ifndef KCSI_DETONATE_EVENT_H
#define KCSI_DETONATE_EVENT_H

enum det_ev_type {
	DET_EV_EXEC = 1,
	DET_EV_FORK,
	DET_EV_EXIT,
	DET_EV_CONNECT,
	DET_EV_ACCEPT,
	DET_EV_BIND,
	DET_EV_LISTEN,
	DET_EV_OPEN,
	DET_EV_UNLINK,
	DET_EV_RENAME,
	DET_EV_CHMOD,
	DET_EV_MEMFD,
	DET_EV_PTRACE,
	DET_EV_SETUID,
};

struct det_event {
	__u64 ts_ns;      /* CLOCK_BOOTTIME */
	__u32 type;
	__u32 tgid, tid, ppid, vpid, uid;
	__s32 fd;
	__s64 a1, a2;
	__u16 family, port;
	__u8 addr[16];
	char comm[16], pcomm[16];
	char path[256];
	char path2[256];  /* rename target; exec: argv (NUL-separated, a1 bytes) */
};

#endif
