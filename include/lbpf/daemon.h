/* SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only) */
/*
 * lbpfd, the policy daemon: its control protocol. The records of the two BPF
 * maps it pins are in <lbpf/pin.h>, shared with the BPF programs.
 *
 * The control protocol
 * --------------------
 * A unix stream socket (default LBPF_DAEMON_SOCKET, mode 0600, or 0660 with
 * lbpfd --group). Peers must be root, the daemon's user, or in the socket's
 * group (SO_PEERCRED, SO_PEERGROUPS); only root (uid 0) may load a trusted
 * policy, every other one runs sandboxed (lbpfd(8), SECURITY). Each
 * message is one JSON object on one line (UTF-8, '\n'-terminated, at most
 * LBPF_DAEMON_MAX_LINE bytes). A client sends a request, the daemon answers
 * with one reply line; requests on one connection are answered in order.
 *
 * Requests ("op" selects; other fields as listed, optional ones in []):
 *   {"op":"load","file":PATH,"code":SOURCE,["name":NAME],["args":[STR...]],
 *    ["memory":BYTES],["trusted":BOOL]}
 *       Starts a runtime for the policy and runs its body: SOURCE, the Lua
 *       source the client read (not bytecode); PATH, absolute, only names
 *       it (the daemon opens no path a client names). "trusted":true (root
 *       only) gives it the whole standard library. Replies once the body ran:
 *       {"ok":true,"name":NAME,"state":"running"|"stopped","generation":N},
 *       or failed:
 *       {"ok":false,"error":"file.lua:LINE: message..."} with nothing left
 *       attached. NAME defaults to the file's base name without ".lua".
 *   {"op":"unload","name":NAME}              -> {"ok":true,"name":NAME}
 *   {"op":"reload","name":NAME,["file":PATH,"code":SOURCE]}
 *       Make-before-break: starts a new runtime (with SOURCE, or the code
 *       that runs now) and only when its body succeeded stops the old one;
 *       it stays trusted or sandboxed, and only root may reload a trusted one. On failure the old
 *       one keeps running and the reply is {"ok":false,"error":...}; on
 *       success it is the load reply.
 *   {"op":"list"} -> {"ok":true,"policies":[{"name","state" ("loading",
 *       "running", "stopped" or "failed"),"reason","file","trusted",
 *       "uptime_s","generation","attach":[STR...],"events","errors","lost",
 *       "memory","memory_limit","log_lines","log_dropped","log_cut"}...]}
 *   {"op":"logs","name":NAME,["follow":true],["format":"json"]}
 *       -> {"ok":true,"lines":[STR...]} (the last LBPF_DAEMON_LOG_LINES lines;
 *       with format json, the JSON line of each record they hold, as
 *       `lbpf run --format json` writes it plus "policy" and "time");
 *       with follow, then one {"ok":true,"line":STR} per new line, and
 *       {"ok":true,"end":true,"reason":STR} when the policy goes away.
 *   {"op":"status"} -> {"ok":true,"version","pid","uptime_s","policies",
 *       "workers","kernel","socket","state_dir","bpffs",
 *       "features":{NAME:BOOL...}}
 * Errors: {"ok":false,"error":MESSAGE}. A line that is not a JSON object, an
 * unknown op or a bad field gets an error reply and the connection stays
 * usable. A connection is closed, after an error reply that says why, when
 * a line is over the limit, when it has not ended a line within
 * LBPF_DAEMON_IDLE_S seconds (lbpfd --timeout) of the previous one (or of
 * connecting) while no load or unload of its own is under way and it is not
 * following a log, or when more than LBPF_DAEMON_MAX_OUTPUT bytes of its
 * replies are unread as another one is queued (lbpfd --max-output); beyond
 * LBPF_DAEMON_MAX_CLIENTS connections (lbpfd --max-clients) a new one gets
 * the error line and is closed at once.
 *
 * State: STATE_DIR/policies/NAME.lua (the source that runs) and NAME.json
 * ({"name","file","args","memory","generation","trusted"}); loaded again at
 * start.
 *
 * Packet filters are fail-static: the N-th filter a policy attaches is pinned
 * in BPFFS/filters/NAME/N (see user/filter_core.c for the names), so it
 * keeps enforcing while lbpfd is down; its outcome counters are pinned
 * there too ("stats") and the next runtime counts on in them. The
 * next runtime of the policy (restart, reload) adopts it once its rules are
 * committed: XDP swaps the link's program, netfilter links the new program
 * at a neighbouring priority before the old links go. Unload, or a policy
 * that ends, removes them; with lbpfd --fail-open, a stop does too, and a
 * start removes what a crashed lbpfd left before restoring the policies.
 */
#ifndef LBPF_DAEMON_H
#define LBPF_DAEMON_H

#include <stdint.h>

#include <lbpf/pin.h>

#define LBPF_DAEMON_SOCKET    "/run/lbpf/lbpfd.sock"
#define LBPF_DAEMON_STATE_DIR "/var/lib/lbpf"
#define LBPF_DAEMON_BPFFS     "/sys/fs/bpf/lbpf"
#define LBPF_DAEMON_MAX_LINE  (1 << 20)
#define LBPF_DAEMON_LOG_LINES 1000
#define LBPF_DAEMON_LOG_LINE_MAX 4096 /* bytes of a log line kept; the rest is cut */
#define LBPF_DAEMON_IDLE_S    10        /* lbpfd --timeout's default */
#define LBPF_DAEMON_MAX_CLIENTS 64      /* lbpfd --max-clients's default */
#define LBPF_DAEMON_MAX_OUTPUT (1 << 20) /* lbpfd --max-output's default */

#endif /* LBPF_DAEMON_H */
