# drydock — one entry per task. Every target installs .venv/ first when needed.
PY      := .venv/bin/python
STAMP   := .venv/.installed
SHARED  ?= ../shared
PYTEST  := $(PY) -m pytest -p no:cacheprovider

.PHONY: install system-deps docker-images test test-e2e demo conformance bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	python3 -m venv .venv
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[ml,dev]'
	touch $(STAMP)

# Debian packages the tests use (browser, terminal, graphviz); installs only what is missing.
system-deps:
	@if [ -x scripts/setup-debian.sh ]; then scripts/setup-debian.sh; fi

# Docker engine (started when none runs) and the locally built SageMaker images.
docker-images:
	scripts/docker/setup-engine.sh
	scripts/docker/build-images.sh

test: $(STAMP) system-deps
	$(PYTEST) -q

# The full scenario, including the Docker backend. Exit code 5 (nothing collected) is not a failure.
test-e2e: $(STAMP) system-deps docker-images
	$(PYTEST) -q -m 'e2e or docker' || [ $$? -eq 5 ]

demo: $(STAMP)
	$(PY) -m harness.cli demo

conformance: $(STAMP)
	$(PY) scripts/conformance.py $(SHARED)/conformance/cases

bench: $(STAMP)
	$(PY) benchmarks/asl_throughput.py

clean:
	rm -rf .venv build *.egg-info out
