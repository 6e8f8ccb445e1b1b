#!/usr/bin/env bash
# One-time, idempotent set-up on Debian/Ubuntu: SoftHSM2 (the practice token) and opencryptoki
# (the second PKCS#11 module the HSM tests run on) from the system package manager when
# missing, a virtual environment in .venv, the console installed into it with its test tools.
# Safe with no standard input (CI); quiet when everything is already in place.
set -euo pipefail
cd "$(dirname "$0")/.."

SOFTHSM_MODULE=/usr/lib/softhsm/libsofthsm2.so

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "setup: need root to run: $*" >&2; exit 1; fi
}

need_apt=()
[ -e "$SOFTHSM_MODULE" ] || need_apt+=(softhsm2)
# opencryptoki's software token: tests/hsm and the production-home tests also run on it
[ -x /usr/sbin/pkcsslotd ] || need_apt+=(opencryptoki)
ls /usr/lib/*/libopencryptoki.so.0 >/dev/null 2>&1 || need_apt+=(libopencryptoki0)
# tpm2-pkcs11 on the swtpm simulator: the third module the probe is tested on (tests/support/tpm2.py)
command -v swtpm >/dev/null || need_apt+=(swtpm)
ls /usr/lib/*/libtpm2_pkcs11.so.1 >/dev/null 2>&1 || need_apt+=(libtpm2-pkcs11-1)
ls /usr/lib/*/libtss2-tcti-swtpm.so.0 >/dev/null 2>&1 || need_apt+=(libtss2-tcti-swtpm0)
ls /usr/lib/*/libtss2-tcti-tabrmd.so.0 >/dev/null 2>&1 || need_apt+=(libtss2-tcti-tabrmd0)
command -v tpm2-abrmd >/dev/null || need_apt+=(tpm2-abrmd)
command -v dbus-send >/dev/null || need_apt+=(dbus)
command -v pdftoppm >/dev/null || need_apt+=(poppler-utils)  # tests render PDF pages to PNG
python3 -c 'import venv, ensurepip' 2>/dev/null || need_apt+=(python3-venv)
command -v python3 >/dev/null || need_apt+=(python3)
command -v openssl >/dev/null || need_apt+=(openssl)  # the independent verifier of the PKI tests
command -v ssh-keygen >/dev/null || need_apt+=(openssh-client)  # converts exported OpenSSH keys in the export tests
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing system packages: ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update -qq
  as_root apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

# opencryptoki: one slot, its software token (the package's default lists five, four of them
# for IBM hardware). The tests start and reset pkcsslotd themselves (tests/support/opencryptoki.py).
OCK_CONF=/etc/opencryptoki/opencryptoki.conf
OCK_WANT=$'version opencryptoki-3.1\n\nslot 3\n{\nstdll = libpkcs11_sw.so\n}'
if [ -d /etc/opencryptoki ] && [ "$(cat "$OCK_CONF" 2>/dev/null)" != "$OCK_WANT" ]; then
  echo "setup: writing the one-slot $OCK_CONF (the package's file kept as $OCK_CONF.package)"
  [ -e "$OCK_CONF.package" ] || as_root cp -p "$OCK_CONF" "$OCK_CONF.package" 2>/dev/null || true
  printf '%s\n' "$OCK_WANT" | as_root tee "$OCK_CONF" >/dev/null
fi

python3 - <<'PY'
import sys
if sys.version_info < (3, 11):
    sys.exit(f"setup: Python 3.11 or newer is needed, found {sys.version.split()[0]}")
PY

if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  python3 -m venv .venv
fi
stamp=.venv/.custodian-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "setup: installing the console and its test tools into .venv"
  .venv/bin/python -m pip install -q --disable-pip-version-check -e '.[dev]'
  touch "$stamp"
fi
