# eBPF Hub: the two commands are `make demo` and `make test`; the rest are steps.
SHELL := /bin/bash
.ONESHELL:
.SILENT:
.SHELLFLAGS := -euo pipefail -c

PYTHON      ?= python3
VENV        := .venv
BIN         := $(VENV)/bin
RUN         := .run
REGISTRY    ?= 127.0.0.1:5000
SITE_PORT   ?= 8000
SITE        := $(RUN)/site
# The demo keeps ecli's cache, config and state inside the checkout.
export ECLI_HOME ?= $(CURDIR)/$(RUN)/ecli-home

APT_PACKAGES := clang gcc llvm libbpf-dev libbpf1 bpftool docker-registry skopeo chromium \
	bpftrace iproute2 python3-venv ca-certificates curl procps apache2-utils openssl podman runc busybox-static \
	e2fsprogs zsh fish man-db groff-base openjdk-17-jdk-headless maven nodejs \
	prometheus prometheus-node-exporter qemu-system-x86 qemu-system-arm \
	wasi-libc lld-14 libclang-rt-14-dev-wasm32 \
	gcc-aarch64-linux-gnu libbpf-dev:arm64 libelf-dev:arm64 zlib1g-dev:arm64
# The line before the last: wasm-bpf modules built with clang for wasm32-wasi. The last
# line: C and Rust bundles cross-built for arm64 (docs/templates.md), with rustup's
# aarch64-unknown-linux-gnu target ($(RUST_ARM64_STAMP)).
# npm: part of the nodejs package where Node comes from NodeSource, Debian's own package otherwise.
APT_STAMP := $(RUN)/apt.stamp
# cosign, the reference the signature tests compare ecli with: built once from the Go
# module proxy (about 8 minutes on 2 cores), kept at a path the tests know.
COSIGN_VERSION := v2.4.1
COSIGN := $(RUN)/bin/cosign
# cosign v3, whose default is the Sigstore bundle attached as an OCI referrer: the
# reference for ecli's bundles (tests/test_keyless.py); another 8 minutes, once.
COSIGN3_VERSION := v3.1.3
COSIGN3 := $(RUN)/cosign-v3/cosign
VENV_STAMP := $(VENV)/.installed
RUST_ARM64_STAMP := $(RUN)/rust-arm64.stamp

.PHONY: demo test deps cosign registry example site serve stop lint bench clean help \
	index-validate index-resolve index-build kernels screenshots

help:
	@echo "make demo   build everything, serve the hub, run opensnoop from it"
	@echo "make test   run the whole test suite (as root: it loads eBPF programs)"
	@echo "make stop   stop the registry and the site server the demo started"
	@echo "make kernels  every package's test on the kernel matrix, into index/kernels.json"

# --- setting up -------------------------------------------------------------

# Re-checked when this file changes: a package added to APT_PACKAGES is installed.
$(APT_STAMP): Makefile
	mkdir -p $(RUN)
	# the arm64 guest of the kernel matrix: Debian's arm64 kernel, Python and busybox
	dpkg --print-foreign-architectures | grep -qx arm64 || { dpkg --add-architecture arm64; apt-get update -q; }
	missing=$$(for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null \
		| grep -q '^install ok installed' || echo $$p; done)
	if [ -n "$$missing" ]; then
		echo "==> installing Debian packages:" $$missing
		apt-get update -q
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing
	fi
	command -v npm >/dev/null || { apt-get update -q \
		&& DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends npm; }
	touch $@

$(VENV_STAMP): pyproject.toml | $(APT_STAMP)
	echo "==> Python virtual environment in $(VENV) (log: $(RUN)/pip.log)"
	$(PYTHON) -m venv $(VENV)
	if ! { $(BIN)/pip install --upgrade pip && $(BIN)/pip install -e '.[dev]'; } >$(RUN)/pip.log 2>&1; then
		tail -30 $(RUN)/pip.log; exit 1
	fi
	touch $@

deps: $(APT_STAMP) $(VENV_STAMP) $(RUST_ARM64_STAMP)

# Rust's standard library for arm64, so that Rust bundles cross-build (the linker and
# libelf/zlib for arm64 are Debian's, in APT_PACKAGES).
$(RUST_ARM64_STAMP): | $(APT_STAMP)
	export PATH="$$PATH:$$HOME/.cargo/bin"
	command -v rustup >/dev/null || { echo "Rust bundles need rustup (rustup.rs)"; exit 1; }
	rustup target add aarch64-unknown-linux-gnu >$(RUN)/rustup.log 2>&1 || { tail -5 $(RUN)/rustup.log; exit 1; }
	touch $@

$(COSIGN):
	export PATH="$$PATH:/usr/local/go/bin"
	command -v go >/dev/null || { echo "cosign is built with Go (1.22 or later): install it"; exit 1; }
	echo "==> building cosign $(COSIGN_VERSION) from the Go module proxy (log: $(RUN)/cosign.log)"
	mkdir -p $(RUN)/bin
	if ! GOBIN=$(CURDIR)/$(RUN)/bin go install \
			github.com/sigstore/cosign/v2/cmd/cosign@$(COSIGN_VERSION) >$(RUN)/cosign.log 2>&1; then
		tail -30 $(RUN)/cosign.log; exit 1
	fi

$(COSIGN3):
	export PATH="$$PATH:/usr/local/go/bin"
	command -v go >/dev/null || { echo "cosign is built with Go (1.22 or later): install it"; exit 1; }
	echo "==> building cosign $(COSIGN3_VERSION) from the Go module proxy (log: $(RUN)/cosign-v3.log)"
	mkdir -p $(RUN)/cosign-v3
	if ! GOBIN=$(CURDIR)/$(RUN)/cosign-v3 go install \
			github.com/sigstore/cosign/v3/cmd/cosign@$(COSIGN3_VERSION) >$(RUN)/cosign-v3.log 2>&1; then
		tail -30 $(RUN)/cosign-v3.log; exit 1
	fi

cosign: $(COSIGN) $(COSIGN3)

# --- the demo: registry -> example -> index -> site -> ecli run -------------

registry: deps
	echo "==> OCI registry (CNCF distribution) on $(REGISTRY)"
	mkdir -p $(RUN)/registry
	if curl -fsS http://$(REGISTRY)/v2/ >/dev/null 2>&1; then echo "registry already up on $(REGISTRY)"; exit 0; fi
	REGISTRY_HTTP_ADDR=$(REGISTRY) REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY=$(CURDIR)/$(RUN)/registry \
		setsid docker-registry serve tests/registry/config.yml >$(RUN)/registry.log 2>&1 &
	echo $$! > $(RUN)/registry.pid
	for i in $$(seq 50); do curl -fsS http://$(REGISTRY)/v2/ >/dev/null 2>&1 && break; sleep 0.2; done
	curl -fsS http://$(REGISTRY)/v2/ >/dev/null
	echo "registry up on $(REGISTRY) (storage $(RUN)/registry)"

# The demo signs what it pushes with a key of its own, made on first use, and its index
# with a hub key beside it ($(DEMO_HUB_KEYS)), which ecli pins with `sources add --key`.
DEMO_KEYS := $(RUN)/demo-keys
DEMO_HUB_KEYS := $(DEMO_KEYS)/hub
example: registry
	echo "==> building the examples, pushing them to $(REGISTRY) and signing them"
	[ -f $(DEMO_KEYS)/ecli.key ] || $(BIN)/ecli -q sign --generate-key $(DEMO_KEYS) >/dev/null
	for dir in examples/*/; do
		[ -f $$dir/ecli.toml ] || continue  # wasm-execsnoop: a wasm module its own Makefile builds
		name=$$(basename $$dir)
		version=$$($(BIN)/python -c 'import sys, tomllib; print(tomllib.load(open(sys.argv[1], "rb"))["package"]["version"])' $$dir/ecli.toml)
		$(BIN)/ecli -q build $$dir >/dev/null
		$(BIN)/ecli -q push $(REGISTRY)/ebpfhub/$$name:$$version --dir $$dir >/dev/null
		$(BIN)/ecli -q sign $(REGISTRY)/ebpfhub/$$name:$$version --key $(DEMO_KEYS)/ecli.key >/dev/null
		echo "    $$name $$version (signed)"
	done

# The demo's registry holds what `example` just pushed and signed. The demo publishes a
# copy of index/ ($(DEMO_INDEX)) whose entries name the demo's key as their signer, so
# the generator verifies every version and ecli verifies again before running. Tags are
# resolved afresh into a lock of the demo's own ($(DEMO_LOCK)), never index/lock.json:
# that file holds the hub's pins and is committed by the publish workflow. Inspecting
# the artifacts gives the pages their permissions and api/v1 its `inspection`.
DEMO_INDEX := $(RUN)/demo-index
DEMO_LOCK := $(RUN)/demo-lock.json
DEMO := --index $(DEMO_INDEX) --lock $(DEMO_LOCK)
site: example
	echo "==> validating, resolving, verifying and inspecting the index, building the hub into $(SITE)"
	rm -rf $(DEMO_INDEX) && cp -r index $(DEMO_INDEX) && rm -f $(DEMO_INDEX)/lock.json
	$(BIN)/python -c 'import sys, pathlib; pem = pathlib.Path(sys.argv[2]).read_text().strip(); \
		block = "signer:\n  key: |\n" + "".join(f"    {line}\n" for line in pem.splitlines()); \
		[p.write_text(p.read_text().rstrip("\n") + "\n" + block) \
		 for p in pathlib.Path(sys.argv[1], "packages").glob("*.yaml")]' $(DEMO_INDEX) $(DEMO_KEYS)/ecli.pub
	$(PY) -m generator validate --index $(DEMO_INDEX)
	$(PY) -m generator resolve $(DEMO) --refresh
	$(PY) -m generator inspect $(DEMO) --store $(RUN)/hub-artifacts
	[ -f $(DEMO_HUB_KEYS)/ecli.key ] || $(BIN)/ecli -q sign --generate-key $(DEMO_HUB_KEYS) >/dev/null
	$(PY) -m generator build $(DEMO) --offline --out $(SITE) --config mkdocs.yml \
		--hub-key $(DEMO_HUB_KEYS)/ecli.key

# The hub's steps, as a person runs them (the workflows run .github/scripts/*.sh and
# the generator directly after `pip install .[hub]`).
PY ?= $(BIN)/python
index-validate:
	$(PY) -m generator validate
index-resolve:
	$(PY) -m generator resolve $(RESOLVE_FLAGS)
index-build:
	$(PY) -m generator build --out $(SITE) $(RESOLVE_FLAGS)

# The kernel matrix (generator/kernels.toml): every package version's test on the host's
# kernel and on Debian's kernels booted under qemu TCG (docs/developer-guide.md "Kernels").
# Results are merged into index/kernels.json; KERNELS="--kernel debian-6.1-amd64" picks some.
KERNELS_WORK := $(RUN)/kernels
kernels: example
	echo "==> the kernel matrix: every package's test on each kernel (work: $(KERNELS_WORK))"
	$(PY) -m generator resolve --lock $(KERNELS_WORK)/lock.json --refresh
	$(PY) -m generator kernels --lock $(KERNELS_WORK)/lock.json --work $(KERNELS_WORK) $(KERNELS)

# docs/screenshots/: the home page and three package pages of the demo's site, desktop and
# phone, light and dark, in headless Chromium; look at them before committing them.
screenshots: site
	$(PY) -m generator.screenshots --site $(SITE) --out docs/screenshots

serve: site
	if [ -f $(RUN)/site.pid ] && kill -0 $$(cat $(RUN)/site.pid) 2>/dev/null; then kill $$(cat $(RUN)/site.pid); fi
	setsid $(BIN)/python -m generator serve --port $(SITE_PORT) --dir $(SITE) \
		>$(RUN)/site.log 2>&1 &
	echo $$! > $(RUN)/site.pid
	for i in $$(seq 50); do curl -fsS http://127.0.0.1:$(SITE_PORT)/ >/dev/null 2>&1 && break; sleep 0.1; done
	echo "hub served on http://127.0.0.1:$(SITE_PORT)/"

# The demo uses only the hub it serves itself, not the public default source.
demo: export ECLI_DEFAULT_SOURCE =
demo: serve
	echo "==> ecli: add the hub as a source (its hub key pinned, signatures required), update, search"
	$(BIN)/ecli sources add demo http://127.0.0.1:$(SITE_PORT)/api/v1/ --signatures require \
		--key $(DEMO_HUB_KEYS)/ecli.pub
	$(BIN)/ecli update
	$(BIN)/ecli search open
	echo "==> ecli run opensnoop --duration 5 (this shell opens some files meanwhile)"
	( sleep 2; cat /etc/hostname README.md >/dev/null ) &
	$(BIN)/ecli run opensnoop --duration 5
	echo
	echo "The hub is still served on http://127.0.0.1:$(SITE_PORT)/ and the registry on $(REGISTRY)."
	echo "Try: ECLI_HOME=$(ECLI_HOME) ECLI_DEFAULT_SOURCE= $(BIN)/ecli run execsnoop --failed"
	echo "(make stop ends the servers)"

stop:
	for f in $(RUN)/site.pid $(RUN)/registry.pid; do
		[ -f $$f ] && kill $$(cat $$f) 2>/dev/null || true
		rm -f $$f
	done

# --- tests and checks -------------------------------------------------------

test: deps cosign
	echo "==> ruff"
	$(BIN)/ruff check ecli generator tests bench
	echo "==> pytest"
	$(BIN)/pytest -q -ra

lint: deps
	$(BIN)/ruff check ecli generator tests bench

bench: deps
	$(BIN)/python bench/startup.py

clean: stop
	rm -rf $(RUN) site build examples/*/build
