#!/usr/bin/env bash
# Installs the server binaries that the integration tests start by themselves (PostgreSQL).
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

if bin_dir="$(find_pg_bin)"; then
    echo "PostgreSQL server binaries: $bin_dir"
    exit 0
fi

if ! command -v apt-get >/dev/null; then
    echo "PostgreSQL server binaries not found and apt-get is unavailable;" \
        "install PostgreSQL (initdb, pg_ctl) with your package manager" >&2
    exit 1
fi

sudo=()
if [[ "$(id -u)" != 0 ]]; then
    if ! command -v sudo >/dev/null; then
        echo "installing PostgreSQL needs root (or sudo)" >&2
        exit 1
    fi
    sudo=(sudo)
fi

echo "installing Debian's postgresql package ..."
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends postgresql >/dev/null

if ! bin_dir="$(find_pg_bin)"; then
    echo "postgresql was installed but initdb/pg_ctl are still missing" >&2
    exit 1
fi
echo "PostgreSQL server binaries: $bin_dir"
