# shellcheck shell=bash
# Helpers shared by scripts/test and scripts/demo (sourced, not run).

MOTO_VERSION="5.2.1"

# Bold/colour escapes only when stderr is a terminal (CYAN is used by scripts/demo).
# shellcheck disable=SC2034
if [ -t 2 ] && [ -z "${NO_COLOR:-}" ]; then
    BOLD=$'\033[1m' CYAN=$'\033[1;36m' RESET=$'\033[0m'
else
    BOLD="" CYAN="" RESET=""
fi

say() {
    printf '\n%s==> %s%s\n' "$BOLD" "$*" "$RESET" >&2
}

die() {
    printf 'error: %s\n' "$*" >&2
    exit 1
}

# Puts the directory holding moto_server on PATH when pip installed it somewhere
# that is not (a pyenv version without a shim yet, ~/.local/bin, ...).
moto_works() {
    command -v moto_server >/dev/null 2>&1 && moto_server --help >/dev/null 2>&1
}

find_moto_server() {
    moto_works && return 0
    if command -v pyenv >/dev/null 2>&1; then
        pyenv rehash >/dev/null 2>&1 || true
        hash -r
        moto_works && return 0
    fi
    local dirs dir
    dirs="$(python3 -c 'import os, sysconfig
print(sysconfig.get_path("scripts"))
print(sysconfig.get_path("scripts", os.name + "_user"))' 2>/dev/null || true)"
    while IFS= read -r dir; do
        if [ -n "$dir" ] && [ -x "$dir/moto_server" ]; then
            export PATH="$dir:$PATH"
            return 0
        fi
    done <<<"$dirs"
    return 1
}

# Makes sure `moto_server` (moto's stand-alone AWS emulator) is on PATH, installing
# moto[server]==$MOTO_VERSION with pip if needed (and pip itself with apt as root).
ensure_moto() {
    if find_moto_server; then
        echo "moto_server: $(command -v moto_server)" >&2
        return 0
    fi
    say "Installing moto[server]==$MOTO_VERSION (local AWS emulator for the tests)"
    if ! command -v python3 >/dev/null 2>&1 || ! python3 -m pip --version >/dev/null 2>&1; then
        if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
            say "Installing python3-pip with apt-get"
            apt-get update
            DEBIAN_FRONTEND=noninteractive apt-get install -y python3-pip
        else
            die "python3 with pip is needed to install moto; install it (e.g. apt-get install python3-pip) or put moto_server on PATH"
        fi
    fi
    local spec="moto[server]==$MOTO_VERSION"
    local log
    log="$(mktemp)"
    if ! python3 -m pip install --disable-pip-version-check "$spec" 2>&1 | tee "$log"; then
        if grep -q externally-managed-environment "$log"; then
            # Debian/Ubuntu's system Python refuses plain pip installs (PEP 668).
            say "System Python is externally managed: retrying with --break-system-packages"
            python3 -m pip install --disable-pip-version-check --break-system-packages "$spec"
        else
            rm -f "$log"
            die "pip install $spec failed"
        fi
    fi
    rm -f "$log"
    find_moto_server || die "moto was installed but moto_server is not on PATH"
    echo "moto_server: $(command -v moto_server)" >&2
}

# Prints a loopback TCP port that was free a moment ago.
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# Waits until the moto server on port $1 (process $2) answers, at most $3 seconds.
wait_for_moto() {
    local port="$1" pid="$2" deadline=$((SECONDS + ${3:-60}))
    while [ "$SECONDS" -lt "$deadline" ]; do
        kill -0 "$pid" 2>/dev/null || return 1
        if python3 -c 'import sys, urllib.request
urllib.request.urlopen("http://127.0.0.1:%s/moto-api/" % sys.argv[1], timeout=2).read()' "$port" 2>/dev/null; then
            return 0
        fi
        sleep 0.2
    done
    return 1
}
