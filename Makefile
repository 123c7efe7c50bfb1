# civicwatch: the two commands are `make demo` and `make test`.
# Both create the virtual environment they need and install what is missing,
# including Debian packages (when run as root).

PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
APT_RUNTIME := mosquitto fonts-dejavu-core
APT_TEST := $(APT_RUNTIME) chromium fonts-droid-fallback gir1.2-gst-rtsp-server-1.0 \
	gstreamer1.0-rtsp gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad \
	gstreamer1.0-plugins-ugly gstreamer1.0-libav python3-gi postgresql

.PHONY: demo test lint typecheck layers lock check system-deps-runtime system-deps-test \
	venv-runtime venv-test clean screenshots

demo: system-deps-runtime venv-runtime
	$(VENV)/bin/civicwatch demo

test: system-deps-test venv-test
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy .
	$(VENV)/bin/lint-imports --no-cache --no-logo
	$(PY) -m pytest -p no:cacheprovider $(PYTEST_ARGS)

# The README's pictures of the pages (docs/*.png): real server, seeded cases, Chromium.
screenshots: system-deps-test venv-test
	$(PY) scripts/screenshots.py --out docs

lint:
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck:
	$(VENV)/bin/mypy .

# The one-way layers (contracts in pyproject.toml, [tool.importlinter]).
layers:
	$(VENV)/bin/lint-imports --no-cache --no-logo

system-deps-runtime:
	@./scripts/ensure-debian-packages $(APT_RUNTIME)

system-deps-test:
	@./scripts/ensure-debian-packages $(APT_TEST)

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

# Dependencies come from the lock files (exact versions the tests pass with), then civicwatch
# itself without dependencies. Stamps record what is installed; a changed lock or pyproject.toml
# reinstalls.
$(VENV)/.runtime-stamp: pyproject.toml setup.py requirements/runtime.lock | $(PY)
	$(PIP) install -q -r requirements/runtime.lock
	$(PIP) install -q --no-deps -e .
	touch $@

$(VENV)/.test-stamp: pyproject.toml setup.py requirements/dev.lock | $(PY)
	$(PIP) install -q -r requirements/dev.lock
	$(PIP) install -q --no-deps -e .
	touch $@ $(VENV)/.runtime-stamp

venv-runtime: $(VENV)/.runtime-stamp
venv-test: $(VENV)/.test-stamp

# Re-resolve the locks after a change of dependencies in pyproject.toml (needs uv on PATH:
# pip install uv). dev.lock keeps its pins unless UPGRADE=--upgrade; the others take dev.lock's
# versions, so every image and venv runs the versions the tests passed with.
UV ?= uv
UV_COMPILE = $(UV) pip compile -q pyproject.toml --python-version 3.11 \
	--python-platform x86_64-manylinux_2_28 --annotation-style line --custom-compile-command 'make lock'
lock:
	$(UV_COMPILE) --all-extras $(UPGRADE) -o requirements/dev.lock
	$(UV_COMPILE) --extra edge --extra server --extra broker -c requirements/dev.lock \
		-o requirements/runtime.lock
	$(UV_COMPILE) --extra edge -c requirements/dev.lock -o requirements/edge.lock
	$(UV_COMPILE) --extra server --extra s3 -c requirements/dev.lock -o requirements/server.lock

clean:
	rm -rf $(VENV) var build *.egg-info
