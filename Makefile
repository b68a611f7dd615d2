# tsrunc: `make` sets up and builds; `make demo` runs a container; `make test` runs every test.
PREFIX ?= /usr/local
NODE ?= node
TSRUNC := $(NODE) dist/bundle/tsrunc.cjs
APT_PACKAGES := busybox-static libseccomp2 runc gcc libc6-dev containerd podman conmon bsdutils procps iproute2 iptables nftables
EXAMPLE_ROOTFS := bundle-examples/busybox/rootfs bundle-examples/readonly-bind/rootfs

.PHONY: all deps build rootfs systemd-rootfs demo test test-host test-vm unit install uninstall conformance bench clean check

all: build rootfs

# Debian packages the runtime, the examples and the tests need (runc is the side-by-side reference;
# containerd, podman and conmon are the real clients conformance/clients drives; bsdutils has `script`;
# procps has ps(1), which `tsrunc ps <id> [ps options]` runs and its tests use).
.deps-apt: Makefile
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi
	@touch $@

node_modules/.package-lock.json: package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

deps: .deps-apt node_modules/.package-lock.json

# The native stage (runtime/native/): built from source with the machine's compiler, static, so
# that the sealed copy tsrunc execs from a memfd needs nothing from the host's filesystem.
NATIVE_STAGE := dist/native/tsrunc-stage
NATIVE_SOURCES := $(wildcard runtime/native/*.c) runtime/native/stage.h
$(NATIVE_STAGE): $(NATIVE_SOURCES) .deps-apt
	mkdir -p $(dir $@)
	rm -f dist/native/libtsrunc-stage.so
	gcc -O2 -Wall -Wextra -Werror -static -o $@ $(filter %.c,$^)

build: deps $(NATIVE_STAGE)
	$(NODE) tools/gen-schemas.mjs
	npx tsc -p .
	chmod +x dist/runtime/cli/main.js
	$(NODE) tools/bundle.mjs

check: build
	npx tsc --noEmit -p .

bundle-examples/%/rootfs: bundle-examples/make-rootfs.sh .deps-apt
	bundle-examples/make-rootfs.sh $@

rootfs: $(EXAMPLE_ROOTFS)

# Debian bookworm with systemd for conformance/linux/systemd-container.test.ts (systemd as PID 1).
# Built once with debootstrap and cached in /var/cache/tsrunc-systemd-rootfs (keyed by a hash of
# the script); the script does nothing when the copy here is current, so it always runs.
SYSTEMD_ROOTFS := bundle-examples/systemd/rootfs
systemd-rootfs:
	tools/systemd-rootfs.sh $(SYSTEMD_ROOTFS)

demo: build rootfs
	@root=$$(mktemp -d); \
	echo "== tsrunc run --bundle bundle-examples/busybox demo"; \
	$(TSRUNC) --root $$root run --bundle bundle-examples/busybox demo; s1=$$?; \
	echo "== tsrunc run --bundle bundle-examples/readonly-bind demo-ro"; \
	$(TSRUNC) --root $$root run --bundle bundle-examples/readonly-bind demo-ro; s2=$$?; \
	rmdir $$root; test $$s1 -eq 0 -a $$s2 -eq 0

# Every test: the host suite, then the tests that need a cgroup v2 + systemd host, in a VM (one
# after the other, not two make prerequisites that -j would run at once; the VM runs even when
# the host suite failed, and either failing fails the whole).
test: build rootfs systemd-rootfs
	@tools/run-tests.sh; host=$$?; tools/vm/run.sh; vm=$$?; \
	echo "make test: host suite status $$host, VM status $$vm"; test $$host -eq 0 -a $$vm -eq 0

test-host: build rootfs systemd-rootfs
	tools/run-tests.sh

# conformance/v2host in a QEMU VM (tools/vm/run.sh; the guest image is cached in /var/cache/tsrunc-vm).
test-vm: build rootfs
	tools/vm/run.sh

unit: build
	tools/run-tests.sh dist/conformance/unit/*.test.js

# tsrunc next to runc on the same bundle (issue 6): BENCH_RUNS=N, BENCH_OUT=FILE; prints where the JSON went.
bench: build rootfs
	$(NODE) dist/conformance/bench/bench.js

# OCI runtime-tools validation, built by you in RUNTIME_TOOLS (see conformance/runtime-tools/README.md).
conformance: build rootfs
	@test -n "$(RUNTIME_TOOLS)" || { echo "usage: make conformance RUNTIME_TOOLS=DIR"; exit 2; }
	RUNTIME_TOOLS=$(RUNTIME_TOOLS) bash conformance/runtime-tools/run.sh

install: build
	rm -rf $(DESTDIR)$(PREFIX)/lib/tsrunc
	mkdir -p $(DESTDIR)$(PREFIX)/lib/tsrunc $(DESTDIR)$(PREFIX)/bin
	cp -r dist package.json package-lock.json $(DESTDIR)$(PREFIX)/lib/tsrunc/
	cd $(DESTDIR)$(PREFIX)/lib/tsrunc && npm ci --omit=dev --no-audit --no-fund >/dev/null
	printf '#!/bin/sh\nexec %s %s/lib/tsrunc/dist/bundle/tsrunc.cjs "$$@"\n' "$$(command -v $(NODE))" "$(PREFIX)" > $(DESTDIR)$(PREFIX)/bin/tsrunc
	chmod 755 $(DESTDIR)$(PREFIX)/bin/tsrunc

uninstall:
	rm -rf $(DESTDIR)$(PREFIX)/lib/tsrunc $(DESTDIR)$(PREFIX)/bin/tsrunc

clean:
	rm -rf dist runtime/spec/generated $(EXAMPLE_ROOTFS) $(SYSTEMD_ROOTFS) .deps-apt
