# Two commands for a newcomer on Debian: `make run` serves the demo, `make test` runs every test.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
FLASK := $(VENV)/bin/flask --app app
PG_TEST_DB ?= reporting_test
# the demo `make run` loads: jiangmen (江门市, semi-monthly) or ninghe (宁河区, weekly, with departments)
DEMO ?= jiangmen
PG_TEST_URL ?= postgresql://postgres@127.0.0.1:5432/$(PG_TEST_DB)
RUNTIME_DEBS := libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-noto-cjk python3-venv
TEST_DEBS := $(RUNTIME_DEBS) chromium poppler-utils postgresql redis-server

.PHONY: run test test-sqlite test-postgres test-travel bench load system-deps system-deps-test postgres redis fonts clean

# Install Debian packages that are missing: with apt-get as root, else print the exact command.
define need_debs
	@missing=$$(for p in $(1); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "安装系统软件包：$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else \
	    echo "缺少系统软件包，请先执行：sudo apt-get install -y $$missing"; exit 1; \
	  fi; \
	fi
endef

$(VENV)/.installed-runtime: requirements.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@ $(VENV)/.installed-runtime

# The free 仿宋 and 楷体 of the 通报 (FandolFang, FandolKai: GPL with the font exception) come from
# Debian's texlive-lang-chinese .deb without installing TeX: download it, take only the two fonts.
# fc-cache writes fontconfig's cache of the folder once, so that no render has to scan it.
FONTS_FOLDER := fonts
FANDOL := FandolFang-Regular.otf FandolKai-Regular.otf
FANDOL_IN_DEB := ./usr/share/texlive/texmf-dist/fonts/opentype/public/fandol
FANDOL_FETCH := apt-get download texlive-lang-chinese && dpkg-deb --fsys-tarfile texlive-lang-chinese_*.deb | tar -x $(addprefix $(FANDOL_IN_DEB)/,$(FANDOL))

fonts: $(FONTS_FOLDER)/FandolFang-Regular.otf

$(FONTS_FOLDER)/FandolFang-Regular.otf:
	@mkdir -p $(FONTS_FOLDER)
	@work=$$(mktemp -d) && trap 'rm -rf "$$work"' EXIT && cd "$$work" && \
	if { $(FANDOL_FETCH); } >/dev/null 2>&1; then \
	  cp $(addprefix $(FANDOL_IN_DEB)/,$(FANDOL)) "$(abspath $(FONTS_FOLDER))/" && \
	  { fc-cache "$(abspath $(FONTS_FOLDER))" 2>/dev/null || true; } && \
	  echo "已安装通报字体：$(FANDOL) → $(FONTS_FOLDER)/"; \
	else \
	  echo "未能下载通报字体，请执行（无需 root；先以 root 执行 apt-get update）："; \
	  echo "  cd \$$(mktemp -d) && $(FANDOL_FETCH) && cp $(addprefix $(FANDOL_IN_DEB)/,$(FANDOL)) $(abspath $(FONTS_FOLDER))/"; \
	  exit 1; \
	fi

system-deps:
	$(call need_debs,$(RUNTIME_DEBS))

system-deps-test:
	$(call need_debs,$(TEST_DEBS))

run: system-deps fonts $(VENV)/.installed-runtime
	$(FLASK) db upgrade
	$(FLASK) demo --set $(DEMO)
	COOKIE_SECURE=0 $(FLASK) run --host 127.0.0.1 --port 5000  # plain http on loopback

# PostgreSQL for the second test run: start the local cluster if it is down, make the database.
postgres:
	@pg_isready -q -h 127.0.0.1 -p 5432 || pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql | sort -V | tail -1) main start
	@for i in $$(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
	@psql -h 127.0.0.1 -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname='$(PG_TEST_DB)'" | grep -q 1 \
	  || psql -h 127.0.0.1 -U postgres -c "CREATE DATABASE $(PG_TEST_DB)" >/dev/null \
	  || su postgres -c "psql -c \"CREATE ROLE postgres SUPERUSER LOGIN\"; createdb -O postgres $(PG_TEST_DB)"

# Redis for the job queue tests, and for the shared rate-limit store of the PostgreSQL run.
redis:
	@redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 || redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
	@for i in $$(seq 1 20); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break; sleep 0.5; done

test-sqlite: $(VENV)/.installed-dev redis
	$(PY) -m pytest

test-postgres: $(VENV)/.installed-dev postgres redis
	TEST_DATABASE_URL=$(PG_TEST_URL) RATELIMIT_STORAGE_URI=redis://127.0.0.1:6379/14 $(PY) -m pytest

# the suite with every Python process's clock moved to TRAVEL_TO: nothing may read the machine's date
TRAVEL_TO ?= 2027-03-15T08:30:00
test-travel: system-deps-test fonts $(VENV)/.installed-dev redis
	TRAVEL_TO=$(TRAVEL_TO) PYTHONPATH=tests/travel $(PY) -m pytest

test: system-deps-test fonts
	$(MAKE) test-sqlite
	$(MAKE) test-postgres

bench: system-deps-test fonts $(VENV)/.installed-dev postgres
	$(PY) bench/run.py

load: system-deps-test $(VENV)/.installed-dev postgres redis
	$(PY) bench/load.py

clean:
	rm -rf $(VENV) instance .pytest_cache
