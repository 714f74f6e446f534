#!/usr/bin/env bash
# Install the pinned front-end packages (package-lock.json) and copy the files the pages
# use into aliasdesk/static/vendor/, where whitenoise serves them. No bundler, no CDN.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -d node_modules/htmx.org ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
dest=aliasdesk/static/vendor
mkdir -p "$dest"
cp node_modules/htmx.org/dist/htmx.min.js "$dest/htmx.min.js"
cp node_modules/chart.js/dist/chart.umd.min.js "$dest/chart.umd.min.js"
cp node_modules/@picocss/pico/css/pico.min.css "$dest/pico.min.css"
