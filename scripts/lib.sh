# shellcheck shell=bash
# Shared helpers for scripts/test and scripts/dev. Source, don't execute.

# Prefix for privileged commands: nothing when root, sudo when available.
_optin_priv() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        echo "error: need root or sudo to run: $*" >&2
        return 1
    fi
}

_OPTIN_APT_UPDATED=0

# ensure_packages CMD:PKG [CMD:PKG ...] [import:PYMODULE:PKG ...]
# Installs PKG with apt-get for every CMD not found on PATH, and for every
# `import:PYMODULE:PKG` whose module the system Python (/usr/bin/python3, not a
# pyenv/venv python3 on PATH) cannot import (e.g. import:aiosmtpd:python3-aiosmtpd).
# Runs `apt-get update` at most once per process, and only if something is missing.
ensure_packages() {
    local spec cmd pkg mod ok
    local missing=()
    for spec in "$@"; do
        case "$spec" in
            import:*)
                spec="${spec#import:}"
                mod="${spec%%:*}"
                pkg="${spec#*:}"
                ok=0
                [ -x /usr/bin/python3 ] && /usr/bin/python3 -c "import $mod" >/dev/null 2>&1 && ok=1
                ;;
            *)
                cmd="${spec%%:*}"
                pkg="${spec#*:}"
                ok=0
                command -v "$cmd" >/dev/null 2>&1 && ok=1
                ;;
        esac
        if [ "$ok" != 1 ]; then
            case " ${missing[*]-} " in
                *" $pkg "*) ;;
                *) missing+=("$pkg") ;;
            esac
        fi
    done
    [ "${#missing[@]}" -eq 0 ] && return 0

    if ! command -v apt-get >/dev/null 2>&1; then
        echo "error: missing ${missing[*]} and apt-get is not available; install them manually" >&2
        return 1
    fi
    echo "==> installing system packages: ${missing[*]}"
    if [ "$_OPTIN_APT_UPDATED" -eq 0 ]; then
        _optin_priv env DEBIAN_FRONTEND=noninteractive apt-get update
        _OPTIN_APT_UPDATED=1
    fi
    _optin_priv env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y --no-install-recommends "${missing[@]}"
}

# Make sure a rustup-installed cargo is on PATH for non-login shells.
ensure_cargo_on_path() {
    if ! command -v cargo >/dev/null 2>&1 && [ -x "${CARGO_HOME:-$HOME/.cargo}/bin/cargo" ]; then
        PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
        export PATH
    fi
    if ! command -v cargo >/dev/null 2>&1; then
        echo "error: cargo not found; install Rust (https://rustup.rs)" >&2
        return 1
    fi
}
