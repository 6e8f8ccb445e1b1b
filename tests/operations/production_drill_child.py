"""Child process of test_production_drill: a production home on a vendor-named PKCS#11 module.

Run as ``python production_drill_child.py ROOT MODULE SCENARIO`` with SOFTHSM2_CONF set by the
parent (the "vendor's" configuration: the console never writes it). A fresh process, so that
``/proc/self/maps`` shows exactly the PKCS#11 libraries the production path loaded. Prints one
JSON object: what the parent asserts.

Scenarios: ``session`` (no drill token: the drill runs inside the production HSM; then the
production token is lost and a replacement restored, the pre-check having nowhere to unwrap
before it exists), ``drill-token`` (``[drill]`` names a spare token on the module given as
argv[4]; drilled, then the share set changes), ``drill-token-foreign`` (the spare token was
initialised by someone else), ``restore-lost-forged`` (as the restore of ``session``, with a
forged last blob), ``drill-token-short-pins`` (as ``drill-token``, the spare HSM taking PINs of at
most 8 characters; drilled twice), ``restore-short-pins`` (as ``session``, the replacement
token taking at most 8) and ``drill-token-adopt`` (``[drill]`` adopts the factory token of the
module argv[4], given its current SO PIN by reference: opencryptoki's software token).

The PIN limits of the short-PIN scenarios are injected at the adapter boundary: SoftHSM reports
ulMaxPinLen 255 and cannot be configured otherwise, so vault.hsm.module._pin_limits reports 8
for the named module (:func:`limit_pins`). Everything else is real: SoftHSM takes the 8-character
PINs, and the console's own check refuses a 32-character one before any call, as the token would.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import sys
from pathlib import Path

from vault import shares
from vault.backup.format import inspect_bundle, write_bundle
from vault.errors import VaultError
from vault.home import create_production_home
from vault.operations import ActiveQuorum, generate_key, initialise_token, open_token_session, run_drill, write_backup
from vault.operations.restore import preflight_restore, restore_backup
from vault.secret import Secret
from vault.types import KeyAlgorithm, Mode
from vault.vault import Vault

CEREMONY = "production-drill-test"


def mapped_libraries() -> list[str]:
    """Every shared object mapped into this process whose name says PKCS#11 / HSM (python-pkcs11's
    own extension, in site-packages, is not a module)."""
    paths = {line.split()[-1] for line in Path("/proc/self/maps").read_text().splitlines() if "/" in line}
    return sorted(p for p in paths if p.endswith(".so") and "site-packages" not in p
                  and any(w in Path(p).name.lower() for w in ("hsm", "pkcs11")))


def files_under(path: Path) -> dict[str, str]:
    return {str(p.relative_to(path)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(path.rglob("*")) if p.is_file()}


def tokendir() -> Path:
    for line in Path(os.environ["SOFTHSM2_CONF"]).read_text().splitlines():
        key, _, value = line.partition("=")
        if key.strip() == "directories.tokendir":
            return Path(value.strip())
    raise SystemExit("no tokendir")


def spy_on_stores() -> list[int]:
    """How often a restore began storing token objects (HsmSession.unwrap_all with store=True):
    our own API observed, PKCS#11 untouched."""
    from vault.hsm.session import HsmSession

    calls: list[int] = []
    real = HsmSession.unwrap_all

    def unwrap_all(self, wkey, items, *args, **kwargs):
        if kwargs.get("store", True):
            calls.append(1)
        return real(self, wkey, items, *args, **kwargs)

    HsmSession.unwrap_all = unwrap_all
    return calls


def limit_pins(module_path: str, max_len: int = 8) -> None:
    """The token(s) of ``module_path`` report ulMaxPinLen ``max_len`` (see the module doc)."""
    from vault.hsm import module as hsm_module

    real, target = hsm_module._pin_limits, os.path.realpath(module_path)

    def limited(dll, slot_id):
        low, high = real(dll, slot_id)
        return (low, min(high, max_len)) if os.path.realpath(dll._name) == target else (low, high)

    hsm_module._pin_limits = limited


def add_share_set(vault, name: str, p):
    return vault.store.add_share_set(name, identifier=p.identifier, group_threshold=p.group_threshold,
                                     groups=tuple((g.threshold, g.count) for g in p.groups),
                                     iteration_exponent=p.iteration_exponent, passphrase=p.passphrase,
                                     commitment_salt=p.commitment_salt, check_value=p.check_value)


def refused_drill(vault, quorum) -> list[str]:
    from vault.errors import DrillFailed

    try:
        run_drill(vault, quorum, ceremony_id=CEREMONY)
    except DrillFailed as exc:
        return [exc.code, exc.message]
    raise SystemExit("the drill was not refused")


def lose_and_restore(vault, quorum, home: Path, bundle: Path, out: dict):
    """The vault's token is lost (its directory removed); pre-check, replacement, restore."""
    serial = vault.hsm().find_token(vault.token).serial
    vault.hsm().close()
    for d in tokendir().iterdir():
        if serial.encode() in (d / "token.object").read_bytes():
            shutil.rmtree(d)
    vault.close()
    vault = Vault.open(home)  # a new process would: the lost token is gone from the slot list
    check = preflight_restore(vault, quorum, bundle)
    out.update(preflight_unwrapped=check.keys_unwrapped,
               preflight_where=check.unwrapped_in.to_ledger() if check.unwrapped_in else None)
    if out.get("scenario") == "restore-short-pins":  # the replacement HSM takes at most 8 characters
        limit_pins(vault.home.config.module)
    initialise_token(vault, quorum, "vault-hsm", replacement=True, ceremony_id=CEREMONY)
    out["pin_max_len_after_replacement"] = quorum.pin_max_len
    out["pin_fitted"] = [e.details for e in vault.ledger.events() if e.action == "token.pin_fitted"]
    stores = spy_on_stores()
    with open_token_session(vault, quorum) as session:
        try:
            restored = restore_backup(vault, session, quorum, bundle, ceremony_id=CEREMONY,
                                      expected_sha256=check.sha256, test_unwrap_first=check.unwrapped_in is None)
            out["restored"] = list(restored.restored)
        except VaultError as exc:
            out["error"] = [exc.code, exc.message]
        out["keys_on_replacement"] = sorted((k.label, k.fingerprint) for k in session.list_keys())
    out["store_passes"] = stores
    return vault


def main() -> None:
    root, module, scenario = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
    home = root / "home"
    create_production_home(home, module, "vault-hsm")
    if scenario.startswith("drill-token"):
        with (home / "custodian.toml").open("a") as fh:
            fh.write(f'\n[drill]\nmodule = "{sys.argv[4]}"\ntoken = "drill-spare"\n')
            if scenario == "drill-token-adopt":
                fh.write(f'adopt_token = "{sys.argv[5]}"\ncurrent_so_pin = "env:DRILL_SO_PIN"\n')
    vault = Vault.open(home)
    vault.store.start_ceremony(CEREMONY, definition_name="test", definition_sha256="0" * 64, mode=Mode.PRODUCTION)
    qs = shares.new_quorum_secret(os.urandom(32))
    split = shares.split(qs, shares.QuorumPolicy.simple(2, 3, iteration_exponent=0), None)
    quorum = ActiveQuorum(qs, add_share_set(vault, "set-1", split.public))
    initialise_token(vault, quorum, ceremony_id=CEREMONY)
    bundle = root / "backup.ccb"
    with open_token_session(vault, quorum) as session:
        generate_key(vault, session, "aes", KeyAlgorithm.AES_256)
        generate_key(vault, session, "p256", KeyAlgorithm.EC_P256)
        write_backup(vault, session, quorum, bundle)
        keys_before = sorted((k.label, k.fingerprint) for k in session.list_keys())
    out: dict = {"libraries_before": mapped_libraries(), "scenario": scenario}
    if scenario == "drill-token-short-pins":
        limit_pins(sys.argv[4])
    tokens_before = [(t.label, t.serial) for t in vault.hsm().tokens()]
    token_files_before = files_under(tokendir())
    home_files_before = sorted(files_under(home))
    if scenario == "drill-token-foreign":  # the spare token was initialised by someone else
        from vault.hsm import HsmModule

        with Secret(os.urandom(8).hex()) as so, Secret(os.urandom(8).hex()) as user:
            HsmModule.load(sys.argv[4]).init_token("drill-spare", so, user)
        out["error"] = refused_drill(vault, quorum)
    if scenario in ("session", "drill-token", "drill-token-short-pins", "restore-short-pins"):
        result = run_drill(vault, quorum, ceremony_id=CEREMONY)
        event = [e for e in vault.ledger.events() if e.action == "drill.passed"][-1]
        with open_token_session(vault, quorum) as session:
            keys_after = sorted((k.label, k.fingerprint) for k in session.list_keys())
        tokens_after = [(t.label, t.serial) for t in vault.hsm().tokens()]
        token_files_after = files_under(tokendir())
        out.update(
            compared=result.keys_compared, where=event.details["where"], detail=result.detail,
            keys_unchanged=keys_before == keys_after,
            tokens_before=tokens_before, tokens_after=tokens_after,
            # key objects' files (token.object is SoftHSM's own token state, rewritten at each login)
            production_key_files_changed=sorted(
                k for k in set(token_files_before) | {k for k in token_files_after if k.split("/")[0] in
                                                      {b.split("/")[0] for b in token_files_before}}
                if not k.endswith("/token.object") and token_files_after.get(k) != token_files_before.get(k)),
            new_token_files=sorted({k.split("/")[0] for k in token_files_after} - {k.split("/")[0] for k in token_files_before}),
            new_home_files=sorted(set(files_under(home)) - set(home_files_before)),
            initialised=[e.details for e in vault.ledger.events() if e.action == "drill_token.initialised"],
        )  # fmt: skip
    if scenario == "drill-token-adopt":  # the drill token is adopted and its PINs fitted; whether the
        # drill can then unwrap there is the token's (opencryptoki has no AES key wrap: named)
        out["error"] = refused_drill(vault, quorum)
        out.update({action: [e.details for e in vault.ledger.events() if e.action == action]
                    for action in ("drill_token.initialised", "drill_token.adopted", "drill_token.pin_fitted")})
        out["toml"] = (home / "custodian.toml").read_text()
    if scenario == "drill-token-short-pins":  # a second drill logs in with the PIN fitted at the first
        again = run_drill(vault, quorum, ceremony_id=CEREMONY)
        out.update(again_compared=again.keys_compared, again_detail=again.detail,
                   again_where=[e for e in vault.ledger.events() if e.action == "drill.passed"][-1].details["where"],
                   drill_pin_fitted=[e.details for e in vault.ledger.events() if e.action == "drill_token.pin_fitted"],
                   vault_pin_fitted=[e.details for e in vault.ledger.events() if e.action == "token.pin_fitted"])
    if scenario == "drill-token":  # then the share set changed (what a reshare leaves behind: the
        # vault's token re-keyed, the drill token not): its PINs are another set's than the quorum's
        from vault.operations.drill_place import SETTING_DRILL_SHARE_SET

        with vault.store.atomic():
            vault.store.set_setting(SETTING_DRILL_SHARE_SET, "0")
        out["error"] = refused_drill(vault, quorum)
    if scenario in ("session", "restore-lost-forged", "restore-short-pins"):  # the production HSM is lost; a replacement is restored
        if scenario == "restore-lost-forged":
            contents = inspect_bundle(bundle)
            entries = list(contents.entries)
            # the last blob replaced: a store pass would have made the first key before failing on it
            entries[-1] = dataclasses.replace(entries[-1], wrapped=os.urandom(len(entries[-1].wrapped)))
            forged = root / "forged.ccb"
            with shares.derive_bundle_mac_key(qs) as mac_key:
                write_bundle(forged, contents.header, entries, mac_key)
            bundle = forged
        vault = lose_and_restore(vault, quorum, home, bundle, out)
        out["keys_before"] = keys_before
    out["libraries_after"] = mapped_libraries()
    quorum.wipe()
    vault.close()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
