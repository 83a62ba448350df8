# PESTO factory: developer and CI entry points.
#
#   make venv     .venv with the project and its dev extras (pinned by constraints.txt)
#   make engine   Podman's Docker-compatible API on a unix socket + the local base image
#   make test     venv + engine + the whole pytest suite (engine tests included)
#   make demo     the example chain end to end
#
# The engine's state (config, storage, base image tar) lives in PESTO_ENGINE_DIR, kept between
# runs; DOCKER_HOST points every test and packager command at its socket.

SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PESTO_ENGINE_DIR ?= $(HOME)/.cache/pesto-engine
export PESTO_ENGINE_DIR
export DOCKER_HOST := unix://$(PESTO_ENGINE_DIR)/podman.sock
export CONTAINERS_CONF := $(PESTO_ENGINE_DIR)/containers.conf
export CONTAINERS_STORAGE_CONF := $(PESTO_ENGINE_DIR)/storage.conf
PYTEST_ARGS ?=

.PHONY: venv engine engine-down test test-unit demo lint

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -c constraints.txt -e '.[dev]'
	touch $@

engine:
	bash tests/engine/up.sh

engine-down:
	bash tests/engine/down.sh

test: venv engine
	$(PY) -m pytest -q $(PYTEST_ARGS)

test-unit: venv
	$(PY) -m pytest -q -m "not engine" $(PYTEST_ARGS)

lint: venv
	$(VENV)/bin/ruff check .

demo: venv
	$(PY) examples/demo.py
