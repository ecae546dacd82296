#!/usr/bin/env bash
# Bootstrap everything `make demo` and `make test` need on a fresh machine:
# a .venv with the project installed editable (dev extras) and a Chromium for
# Playwright. Quick no-op when already done (a stamp file tracks pyproject.toml).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
VENV=.venv
STAMP="$VENV/.installed"

if [ ! -x "$VENV/bin/python" ]; then
  echo "[bootstrap] creating $VENV"
  "$PYTHON" -m venv "$VENV"
fi

if [ ! -f "$STAMP" ] || [ pyproject.toml -nt "$STAMP" ]; then
  echo "[bootstrap] installing the project (editable, dev extras)"
  "$VENV/bin/python" -m pip install --quiet --upgrade pip >/dev/null 2>&1 || true
  "$VENV/bin/python" -m pip install --quiet -e '.[dev]'
  touch "$STAMP"
fi

# Chromium: HUB_CHROMIUM_PATH wins; else Debian's /usr/bin/chromium (installed
# with apt when we are root); else Playwright's own download where that works.
CHROMIUM="${HUB_CHROMIUM_PATH:-/usr/bin/chromium}"
if [ ! -x "$CHROMIUM" ]; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = "0" ]; then
    echo "[bootstrap] installing Debian chromium and a CJK font"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null
  fi
fi
if [ ! -x "$CHROMIUM" ] && [ ! -x /usr/bin/chromium ]; then
  echo "[bootstrap] no system chromium; trying 'playwright install chromium'"
  "$VENV/bin/playwright" install chromium
fi
mkdir -p var
chmod 700 var
