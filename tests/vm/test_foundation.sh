#!/usr/bin/env bash
# SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
# The foundation's integration tests (tests/integration/test_foundation.sh),
# run unchanged inside the guest kernel.
. "$(dirname "$0")/../lib.sh"
if [ -z "${LBPF_VM:-}" ]; then
	echo "SKIP foundation-in-vm: runs only inside the guest of scripts/vmtest.sh"
	exit 0
fi
exec bash "$(dirname "$0")/../integration/test_foundation.sh"
