# vigil — the only build entry. `make help` lists the targets.
.DELETE_ON_ERROR:
.SECONDARY:
.DEFAULT_GOAL := all

CC ?= cc
CLANG ?= clang
BPFTOOL ?= $(shell command -v bpftool 2>/dev/null || echo /usr/sbin/bpftool)
PYTHON ?= /usr/bin/python3
BTF ?= /sys/kernel/btf/vmlinux
ARCH := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')
PREFIX ?= /usr
DESTDIR ?=
VERSION := 0.1.0

B := build
V ?= 0
ifeq ($(V),1)
Q :=
msg =
else
Q := @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

# Debian 12 packages for building and testing (make deps).
DEPS_PKGS := clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev libseccomp-dev \
	libcurl4-openssl-dev libjansson-dev libyaml-dev libssl-dev libcmocka-dev pkg-config \
	python3 python3-jsonschema auditd iproute2 procps clang-format strace libclang-rt-14-dev \
	openssl debhelper lintian adduser nats-server libnats-dev
LIBS := libbpf libseccomp libcurl libnats jansson yaml-0.1 libcrypto
DEPS_OK := $(shell pkg-config --exists $(LIBS) 2>/dev/null && command -v $(CLANG) >/dev/null \
	&& test -x $(BPFTOOL) && test -f /usr/include/cmocka.h && test -x $(PYTHON) && echo yes)

CFLAGS ?= -O2 -g
CFLAGS += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wno-unused-parameter -Wno-missing-field-initializers -Iinclude -Iagent -Ibuild \
	-MMD -MP -DVIGIL_VERSION='"$(VERSION)"'
# libcurl, libnats: headers only; vigild loads them with dlopen when a webhook or
# output.nats exists (webhook.c, ship/natslib.c)
LDLIBS := $(shell pkg-config --libs $(filter-out libcurl libnats,$(LIBS)) 2>/dev/null) -lelf -lz
SAN ?= 0
ifeq ($(SAN),1)
B := build/san
CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
endif

BPF_CFLAGS := -O2 -g -target bpf -D__TARGET_ARCH_$(ARCH) -Wall -Werror -Iinclude -Ibpf -Ibuild
BPF_OBJS := process file net probe contain record
# Kernels without bpf_rdonly_cast (< 6.2) load these built again with probe reads
# (VGL_TYPED=0, bpf/lib/common.bpf.h); vigild opens the typed skeleton on the
# compat bytes, so the build checks that both declare the same maps, programs
# and globals (tests/layout/compat_skel.sh).
COMPAT_OBJS := process file net
SKELS := $(patsubst %,build/%.skel.h,$(BPF_OBJS)) $(patsubst %,build/%.compat.skel.h,$(COMPAT_OBJS))
BPF_DEPS := build/vmlinux.h bpf/lib/common.bpf.h bpf/lib/contain.bpf.h bpf/lib/seccomp.bpf.h bpf/lib/cstate.bpf.h bpf/lib/pin.bpf.h bpf/lib/file_kind.bpf.h include/vigil/abi.h

# the agent, stage by stage (agent/<stage>/<module>.c; docs/design.md)
AGENT_CORE := core/log core/config core/util core/ytree core/fileio \
	sense/proc_tree sense/decode sense/proc_cache sense/cgroup sense/enrich sense/sniff sense/devices sense/workload_watch \
	inventory/byte_src inventory/model_header inventory/model_safetensors inventory/model_container \
	inventory/pickle_stream inventory/pickle_scan inventory/pickle_ops inventory/pickle_classify \
	inventory/inspect inventory/inventory inventory/hasher inventory/approvals \
	stream/json_writer stream/ecs stream/ecs_process stream/redact stream/sink stream/file_sink stream/chain stream/metrics \
	detect/fields detect/cond detect/rule_read detect/rule_compile detect/rule_build detect/rule_select detect/rule_eval detect/rule_seq detect/json_view detect/event_view detect/alert detect/replay detect/derive detect/derive_proc detect/detect \
	confine/sockdiag confine/egress confine/contain confine/contain_state confine/contain_load confine/seccomp_profile confine/seccomp_filter confine/launch confine/record \
	respond/webhook_sign respond/spool respond/playbook respond/playbook_read respond/act respond/incident respond/webhook respond/webhook_deliver respond/respond respond/respond_steps respond/respond_cmd \
	ship/natslib ship/subject ship/cursor ship/ship_conn ship/ship ship/cmd_sign ship/fleet ship/hunt \
	daemon/control daemon/heap
AGENT_OBJS := $(patsubst %,$(B)/agent/%.o,$(AGENT_CORE))
# vigild alone: the probes (their skeletons) and the manager that runs them
VIGILD_OBJS := $(AGENT_OBJS) $(patsubst %,$(B)/agent/%.o,sense/probes sense/probe_select sense/watches sense/watch_bits daemon/manager daemon/commands daemon/health daemon/models daemon/fleet_cmd vigild)
# the CLI: one file per command area (agent/cli/), vigil.c holds the top table
CLI_MODS := cli/cli cli/cmd_stream cli/cmd_rules cli/cmd_respond cli/cmd_seccomp cli/cmd_bom cli/cmd_fleet cli/cmd_hunt
VIGIL_OBJS := $(AGENT_OBJS) $(patsubst %,$(B)/agent/%.o,$(CLI_MODS)) $(B)/agent/vigil.o

UNIT_TESTS := egress decode ecs proc_cache enrich cgroup config chain redact cond rules json_view sniff playbook \
	webhook_sign spool seccomp devices metrics fileio proc_tree control derive workload_watch contain_state alert incident \
	webhook respond model_header pickle_scan inventory natslib subject cursor ship cmd_sign heap \
	probe_select watch_bits
UNIT_BINS := $(patsubst %,$(B)/tests/test_%,$(UNIT_TESTS))

.PHONY: all deps run test test-kernels unit integration bench fuzz deb install format format-check clean help

all: $(B)/vigild $(B)/vigil

help:
	@echo "make            build build/vigild and build/vigil"
	@echo "make deps       install build and test dependencies (apt, Debian 12)"
	@echo "sudo make run   build, then run vigild in the foreground, stream to stdout"
	@echo "sudo make test  unit + integration tests (real kernel, root); SAN=1 for ASan/UBSan"
	@echo "sudo make test-kernels  which probes load on Debian 12's own 6.1 kernel (qemu; docs/testing.md)"
	@echo "sudo make bench overhead benchmarks (bench/RESULTS.md)"
	@echo "make deb        build/vigil_<version>_<arch>.deb (dpkg-buildpackage), checked by lintian"
	@echo "make install    install under DESTDIR/PREFIX (what the package ships)"

deps:
	@if [ "$$(id -u)" != 0 ]; then echo "make deps: run as root (apt-get install)" >&2; exit 1; fi
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $(DEPS_PKGS) || \
	{ apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $(DEPS_PKGS); }

# Install what is missing so `sudo make run` / `sudo make test` work on a fresh
# host: the stamp is an included makefile, so once `make deps` has run, make
# restarts and re-reads the library flags (MAKE_RESTARTS guards against a loop).
ifneq ($(MAKE_RESTARTS),)
$(shell rm -f build/.deps-stamp)
endif
ifneq ($(DEPS_OK),yes)
ifeq ($(MAKE_RESTARTS),)
ifeq ($(filter deps clean help format format-check,$(MAKECMDGOALS)),)
build/.deps-stamp:
	@echo "build dependencies missing: running make deps" >&2
	$(Q)$(MAKE) --no-print-directory deps
	@mkdir -p build && touch $@
-include build/.deps-stamp
endif
endif
endif

build/vmlinux.h:
	@test -r $(BTF) || { echo "error: $(BTF) not readable: this kernel has no BTF (CONFIG_DEBUG_INFO_BTF=y is required)" >&2; exit 1; }
	@command -v $(CLANG) >/dev/null || { echo "error: $(CLANG) not found: run 'sudo make deps'" >&2; exit 1; }
	@mkdir -p $(@D)
	$(call msg,GEN,$@)
	$(Q)$(BPFTOOL) btf dump file $(BTF) format c > $@

build/%.bpf.o: bpf/%.bpf.c $(BPF_DEPS)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

build/%.compat.bpf.o: bpf/%.bpf.c $(BPF_DEPS)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -DVGL_TYPED=0 -c $< -o $@

build/%.compat.skel.h: build/%.compat.bpf.o build/%.skel.h tests/layout/compat_skel.sh
	$(call msg,SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name vigil_$*_compat > $@.tmp
	$(Q)tests/layout/compat_skel.sh build/$*.skel.h $@.tmp vigil_$* && mv $@.tmp $@

build/%.skel.h: build/%.bpf.o
	$(call msg,SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name vigil_$* > $@

$(B)/agent/sense/probes.o $(B)/agent/sense/watches.o $(B)/agent/sense/watch_bits.o $(B)/agent/confine/contain.o $(B)/agent/confine/contain_state.o \
	$(B)/agent/confine/contain_load.o $(B)/agent/confine/record.o: $(SKELS)

$(B)/agent/%.o: agent/%.c
	@mkdir -p $(@D)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(B)/vigild: $(VIGILD_OBJS)
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) $^ -o $@ $(LDLIBS)

$(B)/vigil: $(VIGIL_OBJS)
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) $^ -o $@ $(LDLIBS)

# the fleet tests' JetStream client (tests/tools/natsjs.c): no nats CLI on Debian
$(B)/tests/natsjs: tests/tools/natsjs.c $(B)/agent/ship/natslib.o
	@mkdir -p $(@D)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $(filter %.c %.o,$^) -o $@ $(LDFLAGS) $(LDLIBS)

$(B)/tests/test_%: tests/unit/test_%.c $(AGENT_OBJS)
	@mkdir -p $(@D)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $(filter %.c %.o,$^) -o $@ $(LDFLAGS) $(LDLIBS) -lcmocka
# the probe families' choice, against the real BPF objects
$(B)/tests/test_probe_select: $(B)/agent/sense/probe_select.o $(SKELS)
# the watch bitmaps, as the file probe's .bss holds them
$(B)/tests/test_watch_bits: $(B)/agent/sense/watch_bits.o $(SKELS)
# test_derive also runs the CLI's rules check --portable
$(B)/tests/test_derive: | $(B)/vigil

# libFuzzer targets for the parsers (config YAML, ring-buffer records → JSON).
FUZZ_SECONDS ?= 30
FUZZ_TARGETS := config decode rules json_view playbook seccomp model_header pickle_scan inventory cursor cmd_sign
# the agent's sources are compiled once, instrumented, and shared by every target
FUZZ_CFLAGS := -g -O1 -std=c11 -D_GNU_SOURCE -DVIGIL_VERSION='"$(VERSION)"' -Iinclude -Iagent -Ibuild
FUZZ_OBJS := $(patsubst %,build/fuzz/obj/%.o,$(AGENT_CORE))
build/fuzz/obj/%.o: agent/%.c $(wildcard include/vigil/*.h agent/*/*.h) | $(SKELS)
	@mkdir -p $(@D)
	$(call msg,CC,$@)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link,address,undefined -c $< -o $@
build/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_OBJS)
	@mkdir -p $(@D)
	$(call msg,FUZZ,$@)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) -fsanitize=fuzzer,address,undefined $(filter %.c %.o,$^) -o $@ $(LDLIBS)

fuzz: $(patsubst %,build/fuzz/fuzz_%,$(FUZZ_TARGETS))
	$(Q)for t in $(FUZZ_TARGETS); do \
		mkdir -p build/fuzz/corpus_$$t; cp -n tests/fuzz/corpus_$$t/* build/fuzz/corpus_$$t/ 2>/dev/null; \
		echo "fuzz_$$t: $(FUZZ_SECONDS) s"; \
		build/fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=1024 \
			build/fuzz/corpus_$$t >build/fuzz/fuzz_$$t.log 2>&1 || \
			{ tail -40 build/fuzz/fuzz_$$t.log; exit 1; }; \
		tail -1 build/fuzz/fuzz_$$t.log; \
	done

run: all
	@if [ "$$(id -u)" != 0 ]; then echo "make run: vigild loads eBPF programs; run as root (sudo make run)" >&2; exit 1; fi
	@./$(B)/vigild --stdout

unit: $(UNIT_BINS)
	$(Q)B=$(B) tests/run-unit.sh $(UNIT_BINS)

test: all $(UNIT_BINS) $(B)/tests/natsjs
	$(Q)B=$(B) PYTHON=$(PYTHON) tests/run.sh $(UNIT_BINS)

# vigild on another kernel: Debian's own, booted under qemu with this root
# filesystem shared read-only (tests/kernels/run.sh); KERNEL=6.1 (the default)
KERNEL ?= 6.1
test-kernels: all
	$(Q)tests/kernels/run.sh --kernel $(KERNEL) -- env B=$(B) tests/kernels/smoke.sh

bench: all
	$(Q)bench/run.sh
	$(Q)B=$(B) $(PYTHON) bench/helper_cost.py 100000 3
	$(Q)$(PYTHON) bench/rss.py
	$(Q)bench/rules.sh
	$(Q)$(PYTHON) bench/response.py

install: all
	install -D -m 0755 $(B)/vigild $(DESTDIR)$(PREFIX)/sbin/vigild
	install -D -m 0755 $(B)/vigil $(DESTDIR)$(PREFIX)/bin/vigil
	install -D -m 0644 packaging/vigil.yaml $(DESTDIR)/etc/vigil/vigil.yaml
	install -D -m 0644 packaging/vigil.service $(DESTDIR)/lib/systemd/system/vigil.service
	install -D -m 0644 -t $(DESTDIR)$(PREFIX)/share/vigil/rules rules/*.yaml
	install -D -m 0644 -t $(DESTDIR)$(PREFIX)/share/vigil/playbooks playbooks/*.yaml
	install -D -m 0644 -t $(DESTDIR)$(PREFIX)/share/vigil/seccomp packaging/seccomp/*.json
	install -D -m 0644 -t $(DESTDIR)$(PREFIX)/share/vigil/nats packaging/nats/*.conf
	install -D -m 0644 -t $(DESTDIR)$(PREFIX)/share/man/man8 packaging/man/vigild.8 packaging/man/vigil.8
	install -D -m 0644 -t $(DESTDIR)$(PREFIX)/share/man/man5 packaging/man/vigil.yaml.5 \
		packaging/man/vigil-rules.5 packaging/man/vigil-playbooks.5
	install -D -m 0644 packaging/vigil.bash-completion \
		$(DESTDIR)$(PREFIX)/share/bash-completion/completions/vigil
	ln -sf vigil $(DESTDIR)$(PREFIX)/share/bash-completion/completions/vigild
	install -d -m 0755 $(DESTDIR)/etc/vigil/rules.d \
		$(DESTDIR)/etc/vigil/playbooks.d $(DESTDIR)/etc/vigil/models.d

# The Debian package: dpkg-buildpackage on a copy of the tree that gets
# packaging/debian as its debian/, so the tree itself stays clean; then lintian.
DEB_ARCH := $(shell dpkg --print-architecture 2>/dev/null)
DEB_SRC := build/deb/vigil-$(VERSION)
deb:
	@grep -q '^vigil ($(VERSION))' packaging/debian/changelog || \
		{ echo "packaging/debian/changelog: the top entry is not version $(VERSION)" >&2; exit 1; }
	@command -v dpkg-buildpackage >/dev/null && command -v dh >/dev/null || \
		{ echo "make deb: dpkg-dev and debhelper are missing: run 'sudo make deps'" >&2; exit 1; }
	$(Q)rm -rf build/deb && mkdir -p $(DEB_SRC)
	$(Q)tar --exclude=./build --exclude=./.git -cf - . | tar -xf - -C $(DEB_SRC)
	$(Q)cp -r packaging/debian $(DEB_SRC)/debian
	$(call msg,DEB,build/vigil_$(VERSION)_$(DEB_ARCH).deb)
	$(Q)cd $(DEB_SRC) && dpkg-buildpackage -b -uc -us >../build.log 2>&1 || \
		{ tail -40 ../build.log; exit 1; }
	$(Q)mv build/deb/vigil_$(VERSION)_$(DEB_ARCH).deb build/
	$(Q)lintian --fail-on error --info build/vigil_$(VERSION)_$(DEB_ARCH).deb

FORMATTED := agent/*.c agent/*/*.[ch] include/vigil/*.h bpf/*.c bpf/lib/*.h tests/unit/*.c
format:
	clang-format -i $(FORMATTED)

format-check:
	clang-format --dry-run -Werror $(FORMATTED)
	$(PYTHON) tests/layout/check_arrows.py

clean:
	rm -rf build

-include $(wildcard $(B)/agent/*.d $(B)/agent/*/*.d $(B)/tests/*.d)
