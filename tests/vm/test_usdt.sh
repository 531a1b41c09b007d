#!/usr/bin/env bash
# SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
#
# USDT probes inside the guests of scripts/vmtest.sh (6.12 and 6.1): the tests
# of tests/integration/test_usdt.sh on tests/helpers/usdt_target, run as they
# are (values by size and sign, aggregations, globs, opts.pid, errors); those
# that need bpftrace or python3, which the guests lack, skip with the reason.
if [ -z "${LBPF_VM:-}" ]; then
	echo "SKIP usdt: runs only inside the guest of scripts/vmtest.sh"
	exit 0
fi
bash "$(dirname "$0")/../integration/test_usdt.sh"
rc=$?
echo "# the USDT tests took $SECONDS s on $(uname -r)" # against LBPF_VM_TEST_TIMEOUT
exit $rc
