/* SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only) */
/* features.c: what the kernel supports, probed once at start (lbpf status). */
#ifndef LBPFD_FEATURES_H
#define LBPFD_FEATURES_H

#include "protocol/json.h"

void features_probe(void);
/* "kernel":RELEASE,"features":{NAME:BOOL...} into the object w is writing. */
void features_write(struct json_writer *w);

#endif /* LBPFD_FEATURES_H */
