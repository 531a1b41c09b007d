# SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
#
# make            build build/lbpf (and friends)
# make run        install missing dependencies, build, run an example for a few seconds
# make test       install missing dependencies, build, run unit, fuzz, lua, integration and vm tests
# make check      ASan+UBSan build; unit and lua tests under it (leaks fail)
# make bench      benchmarks, printed as tables (scripts/bench/)
# make image      the OCI image localhost/lbpf, from Debian 12's packages (scripts/image.sh)
# make fuzz       libFuzzer harnesses (tests/fuzz/), each for FUZZ_TIME seconds (root)
# make install    PREFIX=/usr/local DESTDIR=

PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/bin
DATADIR ?= $(PREFIX)/share/lbpf
MANDIR  ?= $(PREFIX)/share/man
BUILD   ?= build
ARCH    ?= x86

CC      ?= gcc
CLANG   ?= clang
LLVM_STRIP ?= llvm-strip
BPFTOOL ?= bpftool
PKGS    := lua5.4 libbpf libelf zlib libpcap

CFLAGS  ?= -O2 -g
CFLAGS  += -std=gnu11 -Wall -Wextra -Wno-unused-parameter -Werror=implicit-function-declaration
CFLAGS  += -fno-omit-frame-pointer -D_GNU_SOURCE -Iinclude -Iuser -I$(BUILD)
CFLAGS  += -DLBPF_DATADIR='"$(DATADIR)"'
CFLAGS  += $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS  += $(shell pkg-config --libs $(PKGS) 2>/dev/null || echo -llua5.4 -lbpf -lelf -lz -lpcap) -lpthread -lm -ldl
ifneq ($(SAN),)
CFLAGS  += -fsanitize=address,undefined -fno-sanitize-recover=undefined -O1
LDFLAGS += -fsanitize=address,undefined
endif

# The multiarch folder last: libbpf's usdt.bpf.h includes <linux/errno.h>, whose
# <asm/errno.h> lives there.
BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -Wall -Wno-unused-function \
	-Iinclude -Ivmlinux/$(ARCH) -I$(BUILD) \
	-idirafter /usr/include/$(shell $(CC) -dumpmachine 2>/dev/null)

BPF_SRCS  := $(sort $(wildcard bpf/*.bpf.c))
SKELS     := $(patsubst bpf/%.bpf.c,$(BUILD)/%.skel.h,$(BPF_SRCS))
# user/ is one folder per part, lowest first (user/README.md, scripts/check-layers.sh):
# the library's parts, then the two faces, lbpfd and the lbpf CLI.
LIB_PARTS := core protocol trace filter object
BINDINGS  := $(sort $(wildcard $(patsubst %,user/%/l*.c,$(LIB_PARTS))))
LIB_SRCS  := $(sort $(wildcard $(patsubst %,user/%/*.c,$(LIB_PARTS))) \
	$(filter-out user/cli/main.c,$(wildcard user/cli/*.c)))
DAEMON_SRCS := $(sort $(wildcard user/daemon/*.c))
LIB_OBJS  := $(patsubst user/%.c,$(BUILD)/user/%.o,$(LIB_SRCS))
# Each binding registers itself from a constructor (LBPF_REGISTER, in lbpf.h),
# and so does the lbpf module: nothing calls them, so a static archive would
# leave them out. They are linked directly into every program, ahead of it.
BINDING_OBJS := $(patsubst user/%.c,$(BUILD)/user/%.o,$(BINDINGS))
REGISTERED_OBJS := $(BINDING_OBJS) $(BUILD)/user/core/module.o
UNIT_SRCS := $(sort $(wildcard tests/unit/*.c))
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/unit/%,$(UNIT_SRCS))
HEADERS   := $(wildcard include/lbpf/*.h user/*/*.h)

.PHONY: all run test check bench image install uninstall clean deps unit-tests fuzz fuzzers
.DELETE_ON_ERROR:
.SECONDARY:

all: $(BUILD)/lbpf $(BUILD)/lbpfd $(UNIT_BINS) $(BUILD)/tests/helpers

$(BUILD)/bpf/%.bpf.o: bpf/%.bpf.c $(HEADERS) $(wildcard bpf/*.h) | $(BUILD)/bpf
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

# The probe program again, its field paths read by loads the verifier checks
# (LBPF_DIRECT in bpf/probe.bpf.c): the same maps, programs and globals, so
# lprobe.c opens it through probe.skel.h's types; only probes that read
# paths load it, and the others open the smaller object they always have.
$(BUILD)/bpf/probe_direct.bpf.o: bpf/probe.bpf.c $(HEADERS) $(wildcard bpf/*.h) | $(BUILD)/bpf
	$(CLANG) $(BPF_CFLAGS) -DLBPF_DIRECT -c $< -o $@
SKELS += $(BUILD)/probe_direct.skel.h

# A skeleton embeds its object without DWARF (BTF and its line info stay):
# a smaller binary, and less ELF for libbpf to open at every load.
$(BUILD)/%.skel.h: $(BUILD)/bpf/%.bpf.o
	$(LLVM_STRIP) -g -o $(BUILD)/bpf/$*.stripped.o $<
	$(BPFTOOL) gen skeleton $(BUILD)/bpf/$*.stripped.o name $(subst -,_,$*)_bpf > $@

# A new capability is a new user/<part>/l<name>.c: compiled with -DLBPF_LIBRARY=<name>,
# it registers luaopen_lbpf_<name> as lbpf.<name> (the end of include/lbpf/lbpf.h).
$(BINDING_OBJS): CFLAGS += -DLBPF_LIBRARY=$(patsubst l%,%,$(basename $(notdir $@)))

$(BUILD)/user/%.o: user/%.c $(HEADERS) | $(BUILD)/user
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c $< -o $@

# An object depends on the skeletons its source includes, and only on those.
define skel_deps
$(BUILD)/user/$(1).o: $(patsubst %,$(BUILD)/%,$(shell grep -o '[a-z_]*\.skel\.h' user/$(1).c))
endef
$(foreach s,$(patsubst user/%.c,%,$(wildcard user/*/*.c)),$(eval $(call skel_deps,$(s))))

$(BUILD)/liblbpf.a: $(LIB_OBJS)
	$(AR) rcs $@ $^

$(BUILD)/lbpf: $(BUILD)/user/cli/main.o $(REGISTERED_OBJS) $(BUILD)/liblbpf.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/lbpfd: $(patsubst user/%.c,$(BUILD)/user/%.o,$(DAEMON_SRCS)) $(REGISTERED_OBJS) \
		$(BUILD)/liblbpf.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/unit/%: tests/unit/%.c tests/unit/unit.h $(REGISTERED_OBJS) $(BUILD)/liblbpf.a \
		| $(BUILD)/tests/unit
	$(CC) $(CFLAGS) $(LDFLAGS) -Itests/unit -o $@ $< $(REGISTERED_OBJS) $(BUILD)/liblbpf.a \
		$(LDLIBS)

# Small workload programs the tests and benchmarks drive (tests/helpers/*.c).
$(BUILD)/tests/helpers: $(wildcard tests/helpers/*.c) | $(BUILD)/tests
	@mkdir -p $@
	@for f in $(wildcard tests/helpers/*.c); do \
	  $(CC) -O2 -g -Wall -Wextra -o $@/$$(basename $$f .c) $$f || exit 1; done
	@touch $@

$(BUILD) $(BUILD)/bpf $(BUILD)/user $(BUILD)/tests $(BUILD)/tests/unit:
	@mkdir -p $@

deps:
	./scripts/deps.sh

run: deps all
	$(BUILD)/lbpf run lua/examples/hello.lua

test: deps all fuzzers
	./tests/run.sh

# Leaks, memory errors and undefined behaviour make a test program exit non-zero,
# which run.sh counts as a failure; tests/unit/test_sanitizer.c proves that
# LeakSanitizer works here (it needs ptrace) or says with a SKIP that it cannot.
check:
	$(MAKE) BUILD=build/san SAN=1 all
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
	LBPF=build/san/lbpf BUILD=build/san ./tests/run.sh unit lua

# Fuzzing (tests/fuzz/README.md): the library's sources again, built by clang
# with ASan, UBSan and libFuzzer's coverage into build/fuzz/, and one program
# per tests/fuzz/fuzz_*.c. `make fuzz FUZZ_TIME=600` runs each for 10 minutes
# on its committed corpus (new inputs go to build/fuzz/corpus/); `make test`
# runs each briefly (tests/run.sh's fuzz layer).
FUZZ_BUILD  := build/fuzz
FUZZ_TIME   ?= 60
FUZZ_CC     ?= clang
FUZZ_SAN    := -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_CFLAGS  = $(filter-out -O2,$(CFLAGS)) -O1 -gline-tables-only $(FUZZ_SAN) \
	-fsanitize=fuzzer-no-link -Itests/fuzz
FUZZ_LIB_OBJS := $(patsubst user/%.c,$(FUZZ_BUILD)/user/%.o,$(LIB_SRCS))
FUZZ_REG_OBJS := $(patsubst user/%.c,$(FUZZ_BUILD)/user/%.o,$(BINDINGS) user/core/module.c)
# lbpfd without its sockets and main loop: the requests are driven directly
FUZZ_DAEMON_OBJS := $(patsubst user/%.c,$(FUZZ_BUILD)/user/%.o,\
	$(filter-out user/daemon/main.c user/daemon/server.c user/daemon/conns.c,$(DAEMON_SRCS)))
FUZZ_COMMON := tests/fuzz/harness.c tests/fuzz/reference.c
FUZZERS     := $(patsubst tests/fuzz/%.c,$(FUZZ_BUILD)/%,$(wildcard tests/fuzz/fuzz_*.c))

fuzzers: $(FUZZERS)

fuzz: deps fuzzers
	FUZZ_TIME=$(FUZZ_TIME) BUILD=$(BUILD) ./tests/fuzz/run.sh

$(FUZZ_BUILD)/user/%.o: user/%.c $(HEADERS) $(SKELS)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(if $(filter $<,$(BINDINGS)),-DLBPF_LIBRARY=$(patsubst \
		l%,%,$(basename $(notdir $<)))) -c $< -o $@

$(FUZZ_BUILD)/liblbpf.a: $(FUZZ_LIB_OBJS)
	$(AR) rcs $@ $^

$(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_COMMON) tests/fuzz/fuzz.h \
		$(FUZZ_REG_OBJS) $(FUZZ_DAEMON_OBJS) $(FUZZ_BUILD)/liblbpf.a
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_COMMON) \
		$(if $(filter control,$*),$(FUZZ_DAEMON_OBJS) $(FUZZ_REG_OBJS)) \
		$(FUZZ_BUILD)/liblbpf.a $(LDLIBS)

bench: deps all
	./scripts/bench/run.sh

# Rebuilt only when its inputs changed; scripts/image.sh --force takes Debian's updates.
image: deps
	./scripts/image.sh

install: $(BUILD)/lbpf $(BUILD)/lbpfd
	install -Dm755 $(BUILD)/lbpf $(DESTDIR)$(BINDIR)/lbpf
	install -Dm755 $(BUILD)/lbpfd $(DESTDIR)$(BINDIR)/lbpfd
	install -d $(DESTDIR)$(DATADIR)/lua/lbpf $(DESTDIR)$(DATADIR)/examples
	install -m644 lua/lbpf/*.lua $(DESTDIR)$(DATADIR)/lua/lbpf/
	install -m644 lua/examples/*.lua $(DESTDIR)$(DATADIR)/examples/
	install -Dm644 user/cli/lbpf.1 $(DESTDIR)$(MANDIR)/man1/lbpf.1
	install -Dm644 user/daemon/lbpfd.8 $(DESTDIR)$(MANDIR)/man8/lbpfd.8
	install -Dm644 scripts/lbpfd.service $(DESTDIR)$(DATADIR)/lbpfd.service

uninstall:
	rm -rf $(DESTDIR)$(BINDIR)/lbpf $(DESTDIR)$(BINDIR)/lbpfd $(DESTDIR)$(DATADIR)
	rm -f $(DESTDIR)$(MANDIR)/man1/lbpf.1 $(DESTDIR)$(MANDIR)/man8/lbpfd.8

clean:
	rm -rf $(BUILD) build
