# The two commands a new user needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum < requirements.txt | cut -d' ' -f1)
TEST_SETTINGS := DJANGO_SETTINGS_MODULE=cqa_portal.settings.test

.PHONY: venv run run-full test lint format messages bench drills clean

$(STAMP): requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.txt
	rm -f $(VENV)/.installed-* && touch $(STAMP)

# Test-only tools from the npm registry (axe-core for the accessibility checks), pinned in
# package-lock.json; without npm the browser tests that need them are skipped (they fail in CI).
node_modules/.installed: package.json package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
	  npm ci --ignore-scripts --no-audit --no-fund --loglevel=error && touch $@; \
	else echo "npm not found: accessibility checks will be skipped"; fi

venv: $(STAMP)

## make run: embedded default (SQLite, tasks inline, mail to the console) at http://127.0.0.1:8000
run: venv
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo
	$(BIN)/python manage.py runserver 127.0.0.1:8000

## make run-full: gunicorn + Celery worker + Celery beat (needs DATABASE_URL and REDIS_URL)
run-full: venv
	@test -n "$$DATABASE_URL" -a -n "$$REDIS_URL" || (echo "Set DATABASE_URL and REDIS_URL first (see README)."; exit 1)
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py collectstatic --noinput -v0
	$(BIN)/python manage.py seed_demo
	$(BIN)/honcho start -f Procfile

## make test: lint, migrations check and the whole test suite
test: venv node_modules/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(TEST_SETTINGS) $(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: venv
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## make messages: refresh and compile the Chinese catalogues (needs GNU gettext)
# Each app keeps its own catalogue (<app>/locale); templates/ and cqa_portal/ use locale/.
APPS := members pledges surveys courses
messages: venv
	$(BIN)/python manage.py makemessages -l zh_Hans --no-obsolete $(foreach d,.venv staticfiles tests bench $(APPS),--ignore=$(d))
	for app in $(APPS); do mkdir -p $$app/locale && (cd $$app && ../$(BIN)/django-admin makemessages -l zh_Hans --no-obsolete); done
	$(BIN)/python manage.py compilemessages -l zh_Hans --ignore=.venv

## make bench: every benchmark in bench/ against DATABASE_URL and REDIS_URL (see bench/README.md)
bench: venv
	$(BIN)/python manage.py migrate --noinput -v0
	$(BIN)/python bench/run.py

## make drills: the fault drills (bench/drills/), each with a database and Redis of its own;
## DRILLS="worker_kill" runs only the named ones (see bench/README.md)
drills: venv
	$(BIN)/python bench/drills/run.py $(DRILLS)

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .ruff_cache
