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
LIBS        = $(shell pkg-config --libs $(PKGS))

# Objects go to a directory per build flavour, so a sanitizer build never
# mixes with a plain one.
BUILD   = build/$(if $(SANITIZE),san,plain)
SRC     = $(sort $(wildcard src/*.c))
OBJ     = $(SRC:src/%.c=$(BUILD)/%.o)
LIBOBJ  = $(filter-out $(BUILD)/main.o,$(OBJ))
UNIT_SRC = $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN = $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all deps check unit demo bench fuzz install uninstall clean

all: upgr

upgr: $(OBJ)
	$(CC) $(ALL_LDFLAGS) -o $@ $(OBJ) $(LIBS)

$(BUILD)/%.o: src/%.c $(wildcard src/*.h) | $(BUILD)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/tests/%: tests/unit/%.c $(LIBOBJ) $(wildcard src/*.h) | $(BUILD)/tests
	$(CC) $(ALL_CFLAGS) -Isrc -Wno-missing-prototypes -o $@ $< $(LIBOBJ) $(ALL_LDFLAGS) $(LIBS) -lcmocka

$(BUILD) $(BUILD)/tests:
	mkdir -p $@

# A sanitizer build must not leave its binary where a later plain `make`
# would take it for up to date.
ifneq ($(SANITIZE),)
.PHONY: upgr
endif

deps:
	@sh tests/lib/deps.sh

unit: $(UNIT_BIN)

check: deps
	@$(MAKE) --no-print-directory upgr unit
	@UPGR_BUILD=$(BUILD) SANITIZE=$(SANITIZE) sh tests/run

demo: deps upgr
	@sh examples/demo.sh

bench: deps upgr
	@sh tests/bench/run

install: upgr
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(DATADIR)/schema
	install -m 0755 upgr $(DESTDIR)$(BINDIR)/upgr
	install -m 0644 schema/*.json $(DESTDIR)$(DATADIR)/schema/

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/upgr
	rm -rf $(DESTDIR)$(DATADIR)

clean:
	rm -rf build upgr
