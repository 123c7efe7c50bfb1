# civicwatch: the two commands are `make demo` and `make test`.
# Both create the virtual environment they need and install what is missing,
# including Debian packages (when run as root).

PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
APT_RUNTIME := mosquitto fonts-dejavu-core
APT_TEST := $(APT_RUNTIME) chromium gir1.2-gst-rtsp-server-1.0 gstreamer1.0-rtsp \
	gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad \
	gstreamer1.0-plugins-ugly gstreamer1.0-libav python3-gi postgresql

.PHONY: demo test lint typecheck check system-deps-runtime system-deps-test venv-runtime venv-test clean

demo: system-deps-runtime venv-runtime
	$(VENV)/bin/civicwatch demo

test: system-deps-test venv-test
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy .
	$(PY) -m pytest -p no:cacheprovider $(PYTEST_ARGS)

lint:
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck:
	$(VENV)/bin/mypy .

system-deps-runtime:
	@./scripts/ensure-debian-packages $(APT_RUNTIME)

system-deps-test:
	@./scripts/ensure-debian-packages $(APT_TEST)

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

# Stamps record which extras are installed; a change of pyproject.toml reinstalls.
$(VENV)/.runtime-stamp: pyproject.toml | $(PY)
	$(PIP) install -q -e '.[edge,server,broker]'
	touch $@

$(VENV)/.test-stamp: pyproject.toml | $(PY)
	$(PIP) install -q -e '.[edge,server,broker,train,dev]'
	touch $@ $(VENV)/.runtime-stamp

venv-runtime: $(VENV)/.runtime-stamp
venv-test: $(VENV)/.test-stamp

clean:
	rm -rf $(VENV) var build *.egg-info
