# drydock — one entry per task. Every target installs .venv/ first when needed.
PY      := .venv/bin/python
STAMP   := .venv/.installed
SHARED  ?= ../shared

.PHONY: install test test-e2e demo conformance bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	python3 -m venv .venv
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[ml,dev]'
	touch $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -q -x -p no:cacheprovider

test-e2e: $(STAMP)
	$(PY) -m pytest -q -p no:cacheprovider -m 'e2e or docker'

demo: $(STAMP)
	$(PY) -m harness.cli demo

conformance: $(STAMP)
	$(PY) scripts/conformance.py $(SHARED)/conformance/cases

bench: $(STAMP)
	$(PY) benchmarks/asl_throughput.py

clean:
	rm -rf .venv build *.egg-info
