#!/usr/bin/env bash
# Installs what the integration and browser tests start by themselves: PostgreSQL's server
# binaries, Redis's server (shared guard rate limits), Debian's Chromium (headless, for
# opening HTML reports), wrk (the load generator of the guard proxy benchmark), Pango for
# WeasyPrint (the audit's PDF) and pdftoppm from poppler-utils (renders audit PDF pages to
# PNG in the audit test).
# Idempotent: when initdb and pg_ctl are already present it only says where they are.
set -euo pipefail

find_pg_bin() {
    local dir
    local -a dirs=()
    shopt -s nullglob
    dirs=(/usr/lib/postgresql/*/bin)
    shopt -u nullglob
    while IFS= read -r dir; do
        if [[ -n "$dir" && -x "$dir/initdb" && -x "$dir/pg_ctl" ]]; then
            echo "$dir"
            return 0
        fi
    done < <(printf '%s\n' "${dirs[@]}" | sort -V -r)
    if command -v initdb >/dev/null && command -v pg_ctl >/dev/null; then
        dirname "$(command -v pg_ctl)"
        return 0
    fi
    return 1
}

packages=()
if bin_dir="$(find_pg_bin)"; then
    echo "PostgreSQL server binaries: $bin_dir"
else
    packages+=(postgresql)
fi
if command -v chromium >/dev/null; then
    echo "Chromium (browser tests): $(command -v chromium)"
else
    packages+=(chromium)
fi
if command -v redis-server >/dev/null; then
    echo "Redis server: $(command -v redis-server)"
else
    packages+=(redis-server)
fi
if command -v wrk >/dev/null; then
    echo "wrk (load generator): $(command -v wrk)"
else
    packages+=(wrk)
fi
if command -v curl >/dev/null; then
    echo "curl (docs examples of the service API): $(command -v curl)"
else
    packages+=(curl)
fi
if command -v pdftoppm >/dev/null; then
    echo "pdftoppm (audit PDF pages to PNG): $(command -v pdftoppm)"
else
    packages+=(poppler-utils)
fi
# WeasyPrint (the audit's PDF) loads Pango and HarfBuzz through ctypes at import time
if ldconfig -p | grep -q "libpangoft2-1.0.so.0"; then
    echo "Pango (WeasyPrint): present"
else
    packages+=(libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz0b libfontconfig1 fonts-dejavu-core)
fi
[[ ${#packages[@]} -eq 0 ]] && exit 0

if ! command -v apt-get >/dev/null; then
    echo "missing ${packages[*]} and apt-get is unavailable; install them with your" \
        "package manager (PostgreSQL needs initdb and pg_ctl)" >&2
    exit 1
fi

sudo=()
if [[ "$(id -u)" != 0 ]]; then
    if ! command -v sudo >/dev/null; then
        echo "installing ${packages[*]} needs root (or sudo)" >&2
        exit 1
    fi
    sudo=(sudo)
fi

echo "installing Debian packages: ${packages[*]} ..."
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null

if ! bin_dir="$(find_pg_bin)"; then
    echo "postgresql was installed but initdb/pg_ctl are still missing" >&2
    exit 1
fi
echo "PostgreSQL server binaries: $bin_dir"
command -v chromium >/dev/null || { echo "chromium was installed but is not on PATH" >&2; exit 1; }
command -v redis-server >/dev/null || { echo "redis-server was installed but is not on PATH" >&2; exit 1; }
command -v wrk >/dev/null || { echo "wrk was installed but is not on PATH" >&2; exit 1; }
command -v pdftoppm >/dev/null || { echo "pdftoppm was installed but is not on PATH" >&2; exit 1; }
