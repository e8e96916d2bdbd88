# hgq - one non-recursive Makefile.
#
#   make              build the library, the programs and the unit tests
#   make check        build and run every test; installs nothing
#                     (sh scripts/deps.sh does, and .ci/run runs both)
#   make asan=1 check the same under AddressSanitizer + UBSan (own build dir)
#   make bench        benchmarks (never part of check)
#   make install      PREFIX=/usr/local DESTDIR=
#
# Build outputs go to $(B) (build/ or build/asan/), so that a sanitizer
# build never mixes its objects with a normal one.

CC	?= cc
CFLAGS	?= -O2 -g
STD	= -std=c11
WARN	= -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	  -Wpointer-arith -Wvla
CPPFLAGS += -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -Ilib -Icmd
PKGS	= yaml-0.1 zlib
LIBS	= $(shell pkg-config --libs $(PKGS) 2>/dev/null || echo -lyaml -lz) \
	  -lm -pthread
CHECK_LIBS = $(shell pkg-config --libs check 2>/dev/null || echo -lcheck -lsubunit -lrt -lm)
PREFIX	?= /usr/local
MANDIR	?= $(PREFIX)/share/man

B	= build
ifeq ($(asan),1)
B	= build/asan
CFLAGS	+= -fsanitize=address,undefined -fno-omit-frame-pointer \
	   -fno-sanitize-recover=undefined
LDFLAGS	+= -fsanitize=address,undefined
endif
ifeq ($(werror),1)
WARN	+= -Werror
endif
ALL_CFLAGS = $(STD) $(WARN) $(CFLAGS) -pthread -MMD -MP

PROGS	= hgq-train hgq-prune hgq-ebops hgq-sim hgq-emit-verilog hgq-pareto
LIB_SRC	= $(sort $(wildcard lib/*.c))
LIB_OBJ	= $(LIB_SRC:%.c=$(B)/%.o)
CLI_OBJ	= $(B)/cmd/cli.o
PROG_SRC = $(sort $(wildcard $(PROGS:%=cmd/%.c)))
PROG_BIN = $(PROG_SRC:cmd/%.c=$(B)/bin/%)
UNIT_SRC = $(sort $(wildcard tests/unit/check_*.c))
UNIT_OBJ = $(UNIT_SRC:%.c=$(B)/%.o) $(B)/tests/unit/fixture.o
HELPER_SRC = $(sort $(wildcard tests/helpers/*.c))
HELPER_BIN = $(HELPER_SRC:tests/helpers/%.c=$(B)/bin/%)
TOOL_SRC = $(sort $(wildcard tools/*.c))
TOOL_BIN = $(TOOL_SRC:tools/%.c=$(B)/tools/%)
BENCH_SRC = $(sort $(wildcard bench/*.c))
BENCH_BIN = $(BENCH_SRC:bench/%.c=$(B)/bench/%)
DEPS	= $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(PROG_SRC:cmd/%.c=$(B)/cmd/%.d) \
	  $(UNIT_OBJ:.o=.d) $(HELPER_SRC:tests/helpers/%.c=$(B)/tests/helpers/%.d) \
	  $(BENCH_BIN:=.d) $(TOOL_BIN:=.d)

.PHONY: all check check-build-deps check-unit check-cli check-fuzz \
	check-fuzz-skipped check-slow check-valgrind deps bench fuzz install \
	clean lint-man

all: $(B)/lib/libhgq.a $(PROG_BIN) $(B)/tests/unit/check_hgq $(HELPER_BIN) \
	$(TOOL_BIN)

$(B)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -c -o $@ $<

# The programs use the public interface only: lib/internal.h refuses to
# be included under HGQ_NO_INTERNAL.
$(CLI_OBJ) $(PROG_SRC:cmd/%.c=$(B)/cmd/%.o): CPPFLAGS += -DHGQ_NO_INTERNAL

$(B)/lib/libhgq.a: $(LIB_OBJ)
	@mkdir -p $(@D)
	rm -f $@
	$(AR) rcs $@ $(LIB_OBJ)

$(B)/bin/%: $(B)/cmd/%.o $(CLI_OBJ) $(B)/lib/libhgq.a
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $< $(CLI_OBJ) $(B)/lib/libhgq.a $(LIBS)

$(B)/bin/%: $(B)/tests/helpers/%.o $(B)/lib/libhgq.a
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $< $(B)/lib/libhgq.a $(LIBS)

# tools/: data generators for the examples (built, not installed)
$(B)/tools/%: $(B)/tools/%.o
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $< -lm

$(B)/bench/%: $(B)/bench/%.o $(B)/lib/libhgq.a
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $< $(B)/lib/libhgq.a $(LIBS)

# The unit runner calls one <name>_suite() per tests/unit/check_<name>.c;
# the list is generated so that adding a suite is adding a file.
$(B)/tests/unit/suites.h: $(UNIT_SRC) Makefile
	@mkdir -p $(@D)
	for f in $(filter-out tests/unit/check_main.c,$(UNIT_SRC)); do \
	    n=$${f#tests/unit/check_}; echo "SUITE($${n%.c})"; done > $@.tmp
	mv $@.tmp $@

$(UNIT_OBJ): $(B)/tests/unit/suites.h
$(UNIT_OBJ): CPPFLAGS += -I$(B)/tests/unit -Itests/unit

$(B)/tests/unit/check_hgq: $(UNIT_OBJ) $(B)/lib/libhgq.a
	$(CC) $(LDFLAGS) -o $@ $(UNIT_OBJ) $(B)/lib/libhgq.a $(CHECK_LIBS) $(LIBS)

deps:
	@sh scripts/deps.sh

# check: the fuzz smoke test, the unit tests (Check's summary line), then
# the CLI tests, whose harness ends with "N passed, N failed".
# (the fuzz smoke test runs in the plain build only: its harnesses carry
# their own sanitizers)
#
# check installs nothing (tests/cli/t002 makes sure of it): a missing
# build dependency is an error naming it, and a missing tool that only
# some tests use (clang for the fuzz smoke test, Icarus Verilog,
# Verilator, Yosys, gnuplot, jq, mandoc) skips what needs it with a
# line that says so.
ifeq ($(asan),1)
CHECK_FUZZ =
else
CHECK_FUZZ = $(if $(shell command -v $(FUZZ_CC) 2>/dev/null),check-fuzz,\
	     check-fuzz-skipped)
endif

check: check-build-deps
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory $(CHECK_FUZZ) check-unit check-cli

check-build-deps:
	@for h in yaml.h zlib.h check.h; do \
	    echo "#include <$$h>" | $(CC) $(CPPFLAGS) -E -x c - \
	        >/dev/null 2>&1 && continue; \
	    echo "make check: cannot build the tests: <$$h> is missing" \
	        "(sh scripts/deps.sh installs what is missing)" >&2; \
	    exit 1; \
	done

check-fuzz-skipped:
	@echo "check-fuzz: skipped: $(FUZZ_CC) is not installed" \
	    "(sh scripts/deps.sh installs it)"

check-unit:
	cd tests/unit && CK_DEFAULT_TIMEOUT=120 ../../$(B)/tests/unit/check_hgq

check-cli:
	@HGQ_BIN="$(CURDIR)/$(B)/bin" sh tests/cli/run.sh

# check-valgrind: the programs under valgrind's memcheck on small models
check-valgrind: all
	@HGQ_BIN="$(CURDIR)/$(B)/bin" sh tests/valgrind.sh

# check-slow: the long runs (the full Fashion-MNIST training targets)
check-slow: all
	@for t in tests/cli/t19[0-9]-*-slow.sh; do \
	    HGQ_SLOW=1 HGQ_BIN="$(CURDIR)/$(B)/bin" TESTS_DIR="$(CURDIR)/tests/cli" \
	    ROOT="$(CURDIR)" PATH="$(CURDIR)/$(B)/bin:$$PATH" \
	    sh $$t || exit 1; done

bench: $(B)/lib/libhgq.a $(PROG_BIN) $(BENCH_BIN)
	@for b in $(BENCH_BIN); do echo "== $$b"; \
	    HGQ_BIN=$(B)/bin HGQ_BENCH_DIR=$(B)/bench $$b || exit 1; done

# Fuzzing (libFuzzer, clang): `make fuzz FUZZ_SECONDS=N` runs every
# harness for N seconds on its seed corpus (tests/fuzz/corpus-NAME) plus
# what earlier runs found (build/fuzz/corpus-NAME); check-fuzz replays the
# seeds and the regression cases (tests/fuzz/regress-NAME) and fuzzes
# each harness for a few seconds.
FUZZ_CC	= clang
FUZZ_SECONDS ?= 60
FUZZ_SAN = -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_CFLAGS = -std=c11 -g -O1 $(FUZZ_SAN) -fsanitize=fuzzer-no-link
FUZZ_NAMES = model data config
FUZZ_LIB_OBJ = $(LIB_SRC:lib/%.c=build/fuzz/lib/%.o)
FUZZ_BIN = $(FUZZ_NAMES:%=build/fuzz/fuzz_%)

build/fuzz/lib/%.o: lib/%.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_CFLAGS) -c -o $@ $<

build/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_LIB_OBJ)
	$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< \
	    $(FUZZ_LIB_OBJ) $(LIBS)

.SECONDARY: $(FUZZ_LIB_OBJ)

fuzz: $(FUZZ_BIN)
	@for n in $(FUZZ_NAMES); do \
	    mkdir -p build/fuzz/corpus-$$n; \
	    echo "== fuzz_$$n for $(FUZZ_SECONDS) s"; \
	    build/fuzz/fuzz_$$n -max_total_time=$(FUZZ_SECONDS) \
	        -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
	        -artifact_prefix=build/fuzz/ \
	        build/fuzz/corpus-$$n tests/fuzz/corpus-$$n || exit 1; \
	done

check-fuzz: $(FUZZ_BIN)
	@for n in $(FUZZ_NAMES); do \
	    for d in tests/fuzz/corpus-$$n tests/fuzz/regress-$$n; do \
	        [ -d $$d ] || continue; \
	        build/fuzz/fuzz_$$n -runs=0 -rss_limit_mb=2048 -timeout=10 \
	            $$d/* >build/fuzz/replay-$$n.log 2>&1 || \
	            { cat build/fuzz/replay-$$n.log; exit 1; }; \
	    done; \
	    mkdir -p build/fuzz/smoke-$$n; \
	    build/fuzz/fuzz_$$n -max_total_time=3 -rss_limit_mb=2048 \
	        -artifact_prefix=build/fuzz/ \
	        -timeout=10 build/fuzz/smoke-$$n tests/fuzz/corpus-$$n \
	        >build/fuzz/smoke-$$n.log 2>&1 || \
	        { tail -n 40 build/fuzz/smoke-$$n.log; exit 1; }; \
	    echo "fuzz_$$n: seeds, regressions and 3 s of fuzzing: clean"; \
	done

install: all
	mkdir -p $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(MANDIR)/man1 \
	    $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man7
	cp $(PROG_BIN) $(DESTDIR)$(PREFIX)/bin/
	for p in man/*.1; do [ -f "$$p" ] && cp "$$p" $(DESTDIR)$(MANDIR)/man1/; done; true
	for p in man/*.5; do [ -f "$$p" ] && cp "$$p" $(DESTDIR)$(MANDIR)/man5/; done; true
	for p in man/*.7; do [ -f "$$p" ] && cp "$$p" $(DESTDIR)$(MANDIR)/man7/; done; true

lint-man:
	@if command -v mandoc >/dev/null; then mandoc -Tlint -W warning man/*.[157]; \
	else echo "lint-man: mandoc not installed"; fi

clean:
	rm -rf build

include mk/demo.mk
include mk/fig3.mk

-include $(DEPS)
