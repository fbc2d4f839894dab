# sdloop — two commands: `make demo` and `make test`. Everything else is meson.
#
# Both install what is missing (Debian 12 packages, via apt-get when run as root; otherwise the exact
# apt-get line is printed), configure and build with meson, then run.

BUILD      ?= build
BUILD_SAN  ?= build-sanitize
BUILD_FUZZ ?= build-fuzz
MESON      ?= meson
# Seconds per fuzz target for `make fuzz`.
FUZZ_TIME  ?= 300

# Build and test dependencies, by Debian package name.
DEB_PACKAGES = \
	meson ninja-build pkg-config gcc libc6-dev \
	libsystemd-dev libjson-c-dev libprotobuf-c-dev protobuf-c-compiler check \
	libsodium-dev libsqlite3-dev libcurl4-openssl-dev libmicrohttpd-dev sqlite3 prometheus \
	systemd systemd-container dbus python3 python3-dbus python3-gi openssl \
	dpkg-dev debhelper lintian

.PHONY: all deps build test test-fast demo bench fuzz clean

all: build

deps:
	@missing=$$(for p in $(DEB_PACKAGES); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; \
	done); \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ]; then \
			echo "Installing: $$missing"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
		else \
			echo "Missing packages. Run:"; echo "  sudo apt-get install $$missing"; exit 1; \
		fi; \
	fi

$(BUILD)/build.ninja:
	$(MESON) setup $(BUILD)

$(BUILD_SAN)/build.ninja:
	$(MESON) setup $(BUILD_SAN) -Db_sanitize=address,undefined -Db_lundef=false

build: deps $(BUILD)/build.ninja
	$(MESON) compile -C $(BUILD)

# The whole suite, then again under AddressSanitizer and UndefinedBehaviorSanitizer (the slow suite —
# booting systemd in containers — runs once). One closing line counts both passes.
test: build $(BUILD_SAN)/build.ninja
	@rc=0; \
	$(MESON) test -C $(BUILD) --print-errorlogs --num-processes 2 || rc=1; \
	$(MESON) compile -C $(BUILD_SAN) && \
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		$(MESON) test -C $(BUILD_SAN) --print-errorlogs --num-processes 2 --no-suite slow || rc=1; \
	python3 tools/test-summary.py $(BUILD) $(BUILD_SAN) || rc=1; \
	exit $$rc

demo: build
	./tools/demo.sh $(BUILD)

bench: build
	./bench/run.sh $(BUILD)

# Each libFuzzer target (fuzz/) for FUZZ_TIME seconds, one after the other, in a clang build of its own;
# crashes are kept in $(BUILD_FUZZ)/fuzz-crashes/ and printed. `make test` replays the committed corpora.
fuzz: deps
	@command -v clang >/dev/null || { echo "clang is missing. Run:"; echo "  sudo apt-get install clang"; exit 1; }
	FUZZ_TIME=$(FUZZ_TIME) FUZZ_BUILD=$(abspath $(BUILD_FUZZ)) ./tools/fuzz.sh

clean:
	rm -rf $(BUILD) $(BUILD_SAN) $(BUILD_FUZZ)
