# SPDX-License-Identifier: Apache-2.0
# upgr: declarative, manifest-driven software upgrader.
# make              build ./upgr
# make check        install test dependencies if missing, run every test
# make SANITIZE=address,undefined check
# make demo         the main job on an embedded default
# make bench        performance table (tests/bench/)
# make install PREFIX=/usr/local DESTDIR=

PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/bin
MANDIR  ?= $(PREFIX)/share/man
DATADIR ?= $(PREFIX)/share/upgr
CC      ?= cc
PKGS     = libcurl libarchive yaml-0.1 libgcrypt
VERSION  = 0.1.0

CFLAGS  ?= -O2 -g
WARN     = -std=c11 -Wall -Wextra -Werror -Wpedantic -Wvla -Wshadow \
           -Wstrict-prototypes -Wmissing-prototypes -Wformat=2
DEFS     = -D_XOPEN_SOURCE=700 -DUPGR_VERSION='"$(VERSION)"'
ifneq ($(SANITIZE),)
SANFLAGS = -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
endif
ALL_CFLAGS  = $(WARN) $(DEFS) $(CFLAGS) $(SANFLAGS) $(shell pkg-config --cflags $(PKGS))
ALL_LDFLAGS = $(LDFLAGS) $(SANFLAGS)
LIBS        = $(shell pkg-config --libs $(PKGS)) -ldl

# Objects go to a directory per build flavour, so a sanitizer build never
# mixes with a plain one.
BUILD   = build/$(if $(SANITIZE),san,plain)
# The library is src/*.c (flat, with its prefixes); the commands are
# src/cmd/*.c. Library objects build without src/cmd on the include path,
# so a library file that includes cli.h fails to build, and the unit tests
# and fuzz targets link the library alone.
SRC     = $(sort $(wildcard src/*.c))
CMD_SRC = $(sort $(wildcard src/cmd/*.c))
LIBOBJ  = $(SRC:src/%.c=$(BUILD)/%.o)
CMDOBJ  = $(CMD_SRC:src/cmd/%.c=$(BUILD)/cmd/%.o)
OBJ     = $(LIBOBJ) $(CMDOBJ)
UNIT_SRC = $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN = $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%) $(BUILD)/tests/test_exec_fork

.PHONY: all deps check unit demo bench fuzz fuzz-build install uninstall clean

# A sanitizer build links build/san/upgr, never ./upgr, so a plain build
# is never mistaken for up to date over a sanitized binary or the reverse.
BIN     = $(if $(SANITIZE),$(BUILD)/upgr,upgr)

all: $(BIN)

$(BIN): $(OBJ)
	$(CC) $(ALL_LDFLAGS) -o $@ $(OBJ) $(LIBS)

$(BUILD)/%.o: src/%.c $(wildcard src/*.h) | $(BUILD)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/cmd/%.o: src/cmd/%.c $(wildcard src/*.h src/cmd/*.h) | $(BUILD)/cmd
	$(CC) $(ALL_CFLAGS) -Isrc -c -o $@ $<

$(BUILD)/tests/%: tests/unit/%.c $(LIBOBJ) $(wildcard src/*.h) | $(BUILD)/tests
	$(CC) $(ALL_CFLAGS) -Isrc -Wno-missing-prototypes -o $@ $< $(LIBOBJ) $(ALL_LDFLAGS) $(LIBS) -lcmocka

# exec.c's fork path, for systems without posix_spawn's chdir and
# closefrom actions: test_exec runs against it as well.
FORK_LIBOBJ = $(filter-out $(BUILD)/exec.o,$(LIBOBJ)) $(BUILD)/exec_fork.o
$(BUILD)/exec_fork.o: src/exec.c $(wildcard src/*.h) | $(BUILD)
	$(CC) $(ALL_CFLAGS) -DUPGR_EXEC_FORK -c -o $@ $<
$(BUILD)/tests/test_exec_fork: tests/unit/test_exec.c $(FORK_LIBOBJ) $(wildcard src/*.h) | $(BUILD)/tests
	$(CC) $(ALL_CFLAGS) -Isrc -Wno-missing-prototypes -o $@ $< $(FORK_LIBOBJ) $(ALL_LDFLAGS) $(LIBS) -lcmocka

# Benchmark programs (tests/bench/*.c) link the library as the unit tests do.
$(BUILD)/bench/%: tests/bench/%.c $(LIBOBJ) $(wildcard src/*.h) | $(BUILD)/bench
	$(CC) $(ALL_CFLAGS) -Isrc -Wno-missing-prototypes -o $@ $< $(LIBOBJ) $(ALL_LDFLAGS) $(LIBS)

$(BUILD) $(BUILD)/tests $(BUILD)/cmd $(BUILD)/bench:
	mkdir -p $@

# Fuzzing (libFuzzer, clang): every parser has a target in tests/fuzz/.
# `make fuzz` runs each for FUZZ_TIME seconds (by hand: make fuzz
# FUZZ_TIME=600) from its seed corpus, then replays every saved crash.
FUZZ_TIME  ?= 60
FUZZ_CC     = clang
FUZZ_FLAGS  = -std=c11 -g -O1 $(DEFS) -fno-omit-frame-pointer \
              -fsanitize=address,undefined -fno-sanitize-recover=all \
              $(shell pkg-config --cflags $(PKGS))
FUZZ_OBJ    = $(SRC:src/%.c=build/fuzz/obj/%.o)
FUZZ_BIN    = $(patsubst tests/fuzz/%.c,build/fuzz/%,$(sort $(wildcard tests/fuzz/fuzz_*.c)))

build/fuzz/obj/%.o: src/%.c $(wildcard src/*.h) | build/fuzz/obj
	$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

build/fuzz/%: tests/fuzz/%.c $(FUZZ_OBJ)
	$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer -Isrc -o $@ $< $(FUZZ_OBJ) $(LIBS)

build/fuzz/obj:
	mkdir -p $@

fuzz-build: $(FUZZ_BIN)

fuzz: deps
	@$(MAKE) --no-print-directory fuzz-build
	@sh tests/fuzz/run $(FUZZ_TIME)

deps:
	@sh tests/lib/deps.sh

unit: $(UNIT_BIN)

check: deps
	@$(MAKE) --no-print-directory $(BIN) unit fuzz-build
	@UPGR=$(CURDIR)/$(BIN) UPGR_BUILD=$(BUILD) SANITIZE=$(SANITIZE) sh tests/run

demo: deps upgr
	@sh examples/demo.sh

bench: deps upgr
	@sh tests/bench/run

# Install and package (docs/operator.md). Each part installs what the tree
# holds, so a file added later (a man page, a schema) needs no edit here.
SYSCONFDIR ?= /etc
DOCDIR     ?= $(PREFIX)/share/doc/upgr
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
MAN1       = $(wildcard docs/*.1)
MAN5       = $(wildcard docs/*.5)
SCHEMAS    = $(wildcard schema/*.json)
GUIDES     = $(wildcard docs/*.md)
AUDITFILES = $(wildcard audit/*)

# The binary to install: the build's own (./upgr, or build/san/upgr with
# SANITIZE), or any other with UPGR_BIN=PATH (the packaging test installs
# the binary it tests).
UPGR_BIN  ?= $(BIN)

install: $(UPGR_BIN)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 \
		$(DESTDIR)$(DATADIR)/schema $(DESTDIR)$(DATADIR)/audit \
		$(DESTDIR)$(DOCDIR)/examples $(DESTDIR)$(BASHCOMPDIR)
	install -m 0755 $(UPGR_BIN) $(DESTDIR)$(BINDIR)/upgr
	$(if $(MAN1),install -m 0644 $(MAN1) $(DESTDIR)$(MANDIR)/man1/)
	$(if $(MAN5),install -m 0644 $(MAN5) $(DESTDIR)$(MANDIR)/man5/)
	$(if $(SCHEMAS),install -m 0644 $(SCHEMAS) $(DESTDIR)$(DATADIR)/schema/)
	$(if $(GUIDES),install -m 0644 $(GUIDES) $(DESTDIR)$(DOCDIR)/)
	@# The auditor's verifier keeps its modes: executables stay executable.
	for f in $(AUDITFILES); do [ -f "$$f" ] || continue; \
		if [ -x "$$f" ]; then m=0755; else m=0644; fi; \
		install -m $$m "$$f" $(DESTDIR)$(DATADIR)/audit/; done
	cp -R examples/. $(DESTDIR)$(DOCDIR)/examples/
	@# The version-server recipes docs/server.md refers to: documents,
	@# so not executable (the guide runs repo-setup.sh with sh).
	install -d $(DESTDIR)$(DOCDIR)/server
	cp -R docs/server/. $(DESTDIR)$(DOCDIR)/server/
	find $(DESTDIR)$(DOCDIR)/server -type f -exec chmod 0644 {} +
	install -m 0644 completion/upgr.bash $(DESTDIR)$(BASHCOMPDIR)/upgr

# Removes exactly what install put there: the binary, our man pages and
# completion by name, and the two directories that are upgr's alone.
uninstall:
	rm -f $(DESTDIR)$(BINDIR)/upgr $(DESTDIR)$(BASHCOMPDIR)/upgr
	rm -f $(MAN1:docs/%=$(DESTDIR)$(MANDIR)/man1/%) $(MAN5:docs/%=$(DESTDIR)$(MANDIR)/man5/%)
	rm -rf $(DESTDIR)$(DATADIR) $(DESTDIR)$(DOCDIR)

# make deb: a Debian package in $(DEB_OUT)/, built by dpkg-deb from a staged
# tree (pkg/deb/ holds the files only the package has). No root needed.
# What it installs, and what purge keeps: docs/operator.md, section 1.
DEB_OUT   ?= build
DEB_ARCH  := $(shell dpkg --print-architecture 2>/dev/null || echo amd64)
DEB_STAGE  = $(DEB_OUT)/deb/root
DEB_FILE   = $(DEB_OUT)/upgr_$(VERSION)_$(DEB_ARCH).deb
DEB_DEPENDS_FALLBACK = libc6, libcurl4, libarchive13, libyaml-0-2, libgcrypt20
DEB_DOC    = $(DEB_STAGE)/usr/share/doc/upgr
DEB_UNITS  = /lib/systemd/system

.PHONY: deb
deb: $(UPGR_BIN)
	@# The changelog's newest entry is the version being packaged.
	@head -n 1 pkg/deb/changelog | grep -q '^upgr ($(VERSION)) ' || \
		{ echo "pkg/deb/changelog: newest entry is not $(VERSION)" >&2; exit 1; }
	rm -rf $(DEB_OUT)/deb
	$(MAKE) --no-print-directory install UPGR_BIN=$(abspath $(UPGR_BIN)) \
		DESTDIR=$(abspath $(DEB_STAGE)) PREFIX=/usr \
		DOCDIR=/usr/share/doc/upgr >/dev/null
	strip --strip-unneeded --remove-section=.comment --remove-section=.note \
		$(DEB_STAGE)/usr/bin/upgr
	find $(DEB_STAGE)/usr/share/man -type f -exec gzip -9n {} +
	install -m 0644 pkg/deb/copyright $(DEB_DOC)/copyright
	gzip -9nc pkg/deb/changelog > $(DEB_DOC)/changelog.gz
	install -d -m 0755 $(DEB_STAGE)/etc/upgr $(DEB_STAGE)/etc/cron.d \
		$(DEB_STAGE)$(DEB_UNITS) $(DEB_STAGE)/usr/share/lintian/overrides
	install -m 0644 examples/upgr.yaml $(DEB_STAGE)/etc/upgr/upgr.yaml
	install -m 0644 examples/cron/upgr $(DEB_STAGE)/etc/cron.d/upgr
	install -m 0644 examples/systemd/upgr.service examples/systemd/upgr.timer \
		$(DEB_STAGE)$(DEB_UNITS)/
	install -m 0644 pkg/deb/lintian-overrides \
		$(DEB_STAGE)/usr/share/lintian/overrides/upgr
	install -d -m 0700 $(DEB_STAGE)/var/lib/upgr
	install -d -m 0750 $(DEB_STAGE)/var/log/upgr
	install -d -m 0755 $(DEB_STAGE)/DEBIAN
	install -m 0644 pkg/deb/conffiles $(DEB_STAGE)/DEBIAN/conffiles
	install -m 0755 pkg/deb/postinst pkg/deb/postrm $(DEB_STAGE)/DEBIAN/
	sh pkg/deb/control.sh $(DEB_STAGE) $(VERSION) $(DEB_ARCH) \
		'$(DEB_DEPENDS_FALLBACK)' > $(DEB_STAGE)/DEBIAN/control
	cd $(DEB_STAGE) && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | \
		LC_ALL=C sort -z | xargs -0r md5sum > DEBIAN/md5sums
	dpkg-deb --root-owner-group -Zxz --build $(DEB_STAGE) $(DEB_FILE)
	@echo "built $(DEB_FILE)"

clean:
	rm -rf build upgr

# make valgrind: end-to-end tests with upgr under valgrind (memcheck); any
# error or definite leak it reports is a failed test (tests/valgrind/run).
.PHONY: valgrind
valgrind: deps upgr
	@sh tests/valgrind/run
