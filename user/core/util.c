// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/* Errors, capabilities, file systems and libbpf's logging. */
#include <linux/capability.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "internal.h"

#define TRACEFS_MAGIC 0x74726163
#define BPF_FS_MAGIC 0xcafe4a11

int lbpf_parse_size(const char *text, size_t *bytes)
{
	char *end;
	unsigned long long n;

	if (!text || *text < '0' || *text > '9')
		return -EINVAL;
	n = strtoull(text, &end, 10);
	switch (*end) {
	case 'k': case 'K': n <<= 10; end++; break;
	case 'm': case 'M': n <<= 20; end++; break;
	case 'g': case 'G': n <<= 30; end++; break;
	}
	if (*end == 'B' || *end == 'b')
		end++;
	if (*end || !n)
		return -EINVAL;
	*bytes = n;
	return 0;
}

/* libbpf's own error codes (enum libbpf_errno), which strerror does not know */
static const char *const libbpf_names[] = {
	"LIBBPF_ERRNO__LIBELF", "LIBBPF_ERRNO__FORMAT", "LIBBPF_ERRNO__KVERSION",
	"LIBBPF_ERRNO__ENDIAN", "LIBBPF_ERRNO__INTERNAL", "LIBBPF_ERRNO__RELOC",
	"LIBBPF_ERRNO__LOAD", "LIBBPF_ERRNO__VERIFY", "LIBBPF_ERRNO__PROG2BIG",
	"LIBBPF_ERRNO__KVER", "LIBBPF_ERRNO__PROGTYPE", "LIBBPF_ERRNO__WRNGPID",
	"LIBBPF_ERRNO__INVSEQ", "LIBBPF_ERRNO__NLPARSE",
};

const char *lbpf_errname(int err)
{
	static __thread char unknown[32];
	const char *name;

	err = err < 0 ? -err : err;
	if (err >= __LIBBPF_ERRNO__START && err < __LIBBPF_ERRNO__START + (int)ARRAY_SIZE(libbpf_names))
		return libbpf_names[err - __LIBBPF_ERRNO__START];
	name = strerrorname_np(err);
	if (name)
		return name;
	snprintf(unknown, sizeof(unknown), "errno %d", err);
	return unknown;
}

const char *lbpf_strerror(int err)
{
	static __thread char text[128];

	err = err < 0 ? -err : err;
	if (err < __LIBBPF_ERRNO__START)
		return strerror(err);
	libbpf_strerror(err, text, sizeof(text));
	return text;
}

int lbpf_throw(lua_State *L, int err, const char *fmt, ...)
{
	char context[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(context, sizeof(context), fmt, ap);
	va_end(ap);
	luaL_error(L, "%s: %s: %s", lbpf_errname(err), context, lbpf_strerror(err));
	__builtin_unreachable();
}

/* Mounts type on dir unless it is there. 0 or -errno (logged). */
static int mount_if_absent(const char *dir, const char *type, long magic)
{
	struct statfs st;
	int err;

	if (statfs(dir, &st) == 0 && st.f_type == magic)
		return 0;
	/* bpffs is 1777 by default: anyone could pre-create lbpf's folders */
	if (mount(type, dir, type, 0, magic == BPF_FS_MAGIC ? "mode=0700" : NULL) == 0)
		return 0;
	err = -errno;
	/* what lbpf_log(NULL, ...) prints: the one file below every runtime
	 * has no runtime's log to write to */
	fprintf(stderr, "lbpf: cannot mount %s on %s: %s\n", type, dir, strerror(-err));
	return err;
}

int lbpf_mount_filesystems(void)
{
	int err = mount_if_absent("/sys/kernel/tracing", "tracefs", TRACEFS_MAGIC);
	int err2 = mount_if_absent("/sys/fs/bpf", "bpf", BPF_FS_MAGIC);

	return err ? err : err2;
}

const char *lbpf_missing_capability(void)
{
	static const struct { int cap; const char *name; } needed[] = {
		{ 39, "CAP_BPF" }, { 38, "CAP_PERFMON" }, { CAP_NET_ADMIN, "CAP_NET_ADMIN" },
	};
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2] = { 0 };
	size_t i;

	if (syscall(SYS_capget, &hdr, data) < 0)
		return "CAP_BPF";
	for (i = 0; i < ARRAY_SIZE(needed); i++) {
		int cap = needed[i].cap;

		if (!(data[cap / 32].effective & (1u << (cap % 32))))
			return needed[i].name;
	}
	return NULL;
}

/* libbpf's warnings are kept (the tail of them) for the error message of
 * the failing call, which names the operation; LBPF_DEBUG=1 prints them. */
static __thread char libbpf_log[16384];
static __thread size_t libbpf_log_len;

const char *lbpf_libbpf_log(void)
{
	return libbpf_log;
}

uint32_t lbpf_bpf_id(int fd)
{
	/* bpf_prog_info, bpf_map_info and bpf_link_info all begin {type, id} */
	struct { uint32_t type, id; } info = { 0 };
	uint32_t len = sizeof(info);

	if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &len) < 0)
		return 0;
	return info.id;
}

int lbpf_errmsg(char *buf, size_t len, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
	return err;
}

const char *lbpf_libbpf_log_tail(int n)
{
	const char *log = lbpf_libbpf_log(), *p = log + strlen(log);

	while (p > log && n >= 0)
		if (*--p == '\n')
			n--;
	return p == log ? p : p + 1;
}

void lbpf_libbpf_log_clear(void)
{
	libbpf_log[0] = '\0';
	libbpf_log_len = 0;
}

static int debug_level(void)
{
	static int debug = -1;

	if (debug < 0)
		debug = getenv("LBPF_DEBUG") ? atoi(getenv("LBPF_DEBUG")) : 0;
	return debug;
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	int debug = debug_level();
	char *text = NULL;
	size_t n, keep;

	if (level == LIBBPF_DEBUG && debug < 2)
		return 0;
	if (vasprintf(&text, fmt, ap) < 0)
		return 0;
	if (debug)
		fputs(text, stderr);
	if (level == LIBBPF_WARN) {
		/* keep the tail: a verifier log ends with the reason */
		n = strlen(text);
		keep = n < sizeof(libbpf_log) - 1 ? n : sizeof(libbpf_log) - 1;
		if (libbpf_log_len + keep >= sizeof(libbpf_log)) { /* drop the oldest */
			size_t drop = libbpf_log_len + keep - (sizeof(libbpf_log) - 1);

			memmove(libbpf_log, libbpf_log + drop, libbpf_log_len - drop);
			libbpf_log_len -= drop;
		}
		memcpy(libbpf_log + libbpf_log_len, text + n - keep, keep + 1);
		libbpf_log_len += keep;
	}
	free(text);
	return 0;
}

void lbpf_verifier_stats(struct bpf_object *obj)
{
	struct bpf_program *prog;

	if (debug_level() < 3)
		return;
	/* BPF_LOG_STATS: libbpf prints the log of a load that succeeded at its
	 * debug level, which LBPF_DEBUG >= 2 shows */
	bpf_object__for_each_program(prog, obj)
		bpf_program__set_log_level(prog, 4);
}

void lbpf_libbpf_logging(void)
{
	libbpf_set_print(libbpf_print);
}
