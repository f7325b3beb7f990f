# Big Compute: the three commands a newcomer needs.
#
#   make book   build the website into _build/html (every notebook executed) and say where it is
#   make test   run the whole test suite (README's test command), as CI does
#   make lab    open the notebooks in JupyterLab
#   make clean  remove the built site and caches (keeps .venv)
#
# and two for the website's own checks:
#   make browser     install Chromium (Debian/Ubuntu, apt) for the real-browser site test
#   make site-check  build the book, then open every page of _build/html in Chromium
#
# Each target first makes sure .venv exists and has requirements.txt installed. That step
# runs once per version of requirements.txt and pyproject.toml (a stamp file records it).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

# The command CI runs (keep in step with README.md, "Testing").
TEST_COMMAND := OMP_NUM_THREADS=1 $(BIN)/python -m pytest -n 2 --dist loadfile --nbval-lax --nbval-current-env tests notebooks

# Hashes of files' names and contents (cksum is POSIX: Linux and macOS alike).
hash = $(shell cksum $(1) 2>/dev/null | cksum | cut -d' ' -f1)
REQUIREMENTS_HASH := $(call hash,requirements.txt pyproject.toml)
SETUP_STAMP := $(VENV)/.installed-$(REQUIREMENTS_HASH)
NPM_STAMP := site/node_modules/.package-lock.json
# What the notebooks' outputs depend on besides their own cells: the library and its data,
# and the pinned packages. Jupyter Book's cache sees only the cells, so when this changes
# `make book` starts from an empty _build.
SOURCE_FILES = $(shell find src -type f \( -name '*.py' -o -path '*/data/*' \) | LC_ALL=C sort)
SOURCE_HASH = $(call hash,$(SOURCE_FILES) requirements.txt pyproject.toml)

.PHONY: setup book test lab clean browser site-check

setup: $(SETUP_STAMP) $(NPM_STAMP)

# The website's own copies of third-party scripts (MathJax, pyodide), pinned in
# site/package-lock.json; the site build also installs them when they are missing.
$(NPM_STAMP): site/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
	  cd site && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error; \
	else echo "warning: no npm (Node.js): the website cannot be built offline"; fi

$(SETUP_STAMP):
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -r requirements.txt
	@rm -f $(VENV)/.installed-*
	@touch $@

book: setup
	@if [ "$$(cat _build/.source-hash 2>/dev/null)" != "$(SOURCE_HASH)" ]; then \
	  echo "src/ or requirements changed since the last build: building from scratch"; \
	  rm -rf _build; mkdir -p _build; echo "$(SOURCE_HASH)" > _build/.source-hash; \
	fi
	$(BIN)/jupyter-book build -W -n --keep-going .
	@echo
	@echo "The book is built. Open it in a browser:"
	@echo "    file://$(CURDIR)/_build/html/index.html"

test: setup browser
	$(TEST_COMMAND)

# The site test (tests/site/) drives Debian's Chromium with the playwright package (never a
# browser that playwright downloads). Installed with apt when missing; elsewhere (macOS, no
# root) the test says how to point it at a Chrome or Chromium (CHROMIUM=/path/to/chrome).
# The WenQuanYi font draws the glossary's Chinese (a headless Chromium has no CJK font).
BROWSER_PACKAGES := chromium fonts-wqy-microhei
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

browser:
	@if command -v chromium >/dev/null 2>&1 && fc-list :lang=zh 2>/dev/null | grep -q .; then \
	  :; \
	elif command -v apt-get >/dev/null 2>&1; then \
	  echo "installing $(BROWSER_PACKAGES) for the site's browser test (apt-get)"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends \
	    $(BROWSER_PACKAGES) >/dev/null || \
	  echo "warning: could not install $(BROWSER_PACKAGES); tests/site/ will be skipped"; \
	else \
	  echo "note: no chromium and no apt-get: tests/site/ will be skipped (set CHROMIUM=...)"; \
	fi

# The browser test over the site `make book` just built (quicker than `make test`, which
# builds a fresh site of its own). Screenshots go to _build/screenshots/.
site-check: book browser
	BIGCOMPUTE_SITE_HTML=$(CURDIR)/_build/html $(BIN)/python -m pytest tests/site -q

# Jupyter refuses to run as root unless asked (containers often run as root).
LAB_FLAGS := $(if $(filter 0,$(shell id -u)),--allow-root)

lab: setup
	$(BIN)/jupyter lab $(LAB_FLAGS) notebooks/

clean:
	rm -rf _build .pytest_cache .hypothesis
	find . -path ./.venv -prune -o -type d \( -name __pycache__ -o -name .ipynb_checkpoints \) -print | xargs rm -rf

# The website for a class, without solutions (book/instructor_guide.md): a copy of the book
# whose exercises notebooks are their student versions, built into _build/students/_build/html.
# The coursework commands themselves: python -m bigcompute.coursework.grading release CH | grade DIR | list
.PHONY: book-students
book-students: setup
	$(BIN)/python -m bigcompute.coursework.grading site

# make bench  run the speed, accuracy and comparison benchmarks and time every notebook;
#             writes benchmarks/results/*.json, *.md and SUMMARY.md (see benchmarks/README.md)
.PHONY: bench
bench: setup
	$(BIN)/python benchmarks/run_all.py
