#!/usr/bin/env bash
# Installs what fluxo's demo or tests need on a Debian/Ubuntu machine that
# has Go, and nothing that is already there (run it as often as you like).
#
#   scripts/deps.sh demo   # make demo: a throwaway MariaDB server
#   scripts/deps.sh test   # make test (the default): MariaDB, PostgreSQL 15,
#                          # the independent readers, promtool, DuckDB
#
# As root it installs the missing Debian packages with apt-get; otherwise it
# prints the exact command to run and fails.
set -euo pipefail
cd "$(dirname "$0")/.."

what=${1:-test}
case "$what" in
demo | test) ;;
*)
  echo "usage: scripts/deps.sh [demo|test]" >&2
  exit 2
  ;;
esac

need=()
# A package is needed when the file or command it provides is missing.
has() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/usr/bin/$1" ]; }
pyhas() { /usr/bin/python3 -I -c "import $1" 2>/dev/null; }

has mariadbd || need+=(mariadb-server)
has mariadb || has mysql || need+=(mariadb-client)
if [ "$what" = test ]; then
  [ -x /usr/lib/postgresql/15/bin/postgres ] || need+=(postgresql-15)
  has kcat || need+=(kcat)
  [ -x /usr/bin/python3 ] || need+=(python3)
  pyhas confluent_kafka || need+=(python3-confluent-kafka)
  pyhas avro || need+=(python3-avro)
  pyhas requests || need+=(python3-requests)
  pyhas snappy || need+=(python3-snappy)
  pyhas zstandard || need+=(python3-zstandard)
  has node || need+=(nodejs)
  has npm || need+=(npm)
  has mariadb-dump || has mysqldump || need+=(mariadb-client)
  # make deploy-check runs systemd-analyze verify/security on deploy/systemd.
  has systemd-analyze || need+=(systemd)
  # promtool checks deploy/prometheus/alerts.yaml and the dashboard's queries.
  has promtool || need+=(prometheus)
fi

if [ ${#need[@]} -gt 0 ]; then
  mapfile -t need < <(printf '%s\n' "${need[@]}" | sort -u)
  if [ "$(id -u)" -ne 0 ]; then
    echo "fluxo's $what needs these Debian packages, which are missing. Install them as root:" >&2
    echo >&2
    echo "    sudo apt-get update && sudo apt-get install -y --no-install-recommends ${need[*]}" >&2
    echo >&2
    exit 1
  fi
  echo "installing: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  # Debian starts the servers it installs; fluxo's tests and demo start
  # their own on free ports and never use these.
fi

if [ "$what" = test ]; then
  # DuckDB (through npm @duckdb/node-api) reads the Parquet files back in tests.
  [ -d tools/duckdb/node_modules/@duckdb/node-api ] || npm ci --prefix tools/duckdb --no-audit --no-fund
  # s3rver, an S3 implementation fluxo did not write, for the lake's tests.
  [ -f tools/s3rver/node_modules/s3rver/bin/s3rver.js ] || npm ci --prefix tools/s3rver --no-audit --no-fund
fi
