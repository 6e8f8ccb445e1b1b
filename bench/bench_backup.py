"""Benchmark: backup and restore of 10,000 AES-256 + 500 EC P-256 keys, vault.operations vs raw python-pkcs11.

    .venv/bin/python bench/bench_backup.py [--aes N] [--ec N] [--repeat R] [--no-memory] [--rebuild]

Setup (cached in bench/.cache/backup-<aes>-<ec>/, git-ignored): a practice vault home whose
token holds N AES-256 and M EC P-256 keys made with the vault's own templates, recorded in
its database, and a share set made from a fixed *practice* quorum secret (a bench value in
the repository, like the tests' PINs). Every measurement runs on a fresh copy of that home.

Measured in the same process, on the same sessions, interleaved, best of R:

* backup:  ``vault.operations.write_backup`` (token/db check, one-pass wrap under a session
  KEK, bundle streamed, written once, read back, every blob test-unwrapped into a session
  object and checked, rows + ledger) against a raw loop doing the same HSM work: one pass
  over the objects, KEK import, a wrap per key, a JSON-lines file with an HMAC, fsync, read
  back, a test unwrap per key into a session object with the same check (KCV for AES, a
  signature verified in software for EC) and its destruction by handle;
* restore: ``vault.operations.restore_backup`` onto a fresh token against a raw loop that
  unwraps every blob into a token object with the vault's templates, checks it the same way
  and re-creates each EC public key.

Memory: tracemalloc peak of the vault backup and restore at the full size and at a quarter of
it, next to the bundle size (what is bounded by the bundle itself is allowed to grow with it).
Results go to bench/results/backup.txt.
"""

from __future__ import annotations

import argparse
import base64
import gc
import hashlib
import hmac
import json
import os
import platform
import shutil
import sys
import time
import tracemalloc
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import pkcs11  # noqa: E402  (the raw baseline talks to python-pkcs11 directly)
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature  # noqa: E402
from pkcs11 import Attribute as A  # noqa: E402
from pkcs11 import KeyType, Mechanism, ObjectClass  # noqa: E402

from vault import shares  # noqa: E402
from vault.errors import RecordNotFound  # noqa: E402
from vault.hsm import HSM_LOCK, templates  # noqa: E402
from vault.hsm.objects import SEARCH_BATCH  # noqa: E402
from vault.operations import ActiveQuorum, initialise_token, open_token_session, restore_backup, write_backup  # noqa: E402
from vault.secret import Secret  # noqa: E402
from vault.store.records import BackupDecision  # noqa: E402
from vault.types import KeyAlgorithm, KeyState  # noqa: E402
from vault.vault import Vault  # noqa: E402

CACHE = ROOT / "bench" / ".cache"
RESULTS = ROOT / "bench" / "results" / "backup.txt"
# Practice value only, in the repository on purpose: it protects nothing but bench tokens.
BENCH_QS = hashlib.sha256(b"custodian-console bench practice quorum secret").digest()
WRAP = Mechanism.AES_KEY_WRAP_PAD
CHECK_MESSAGE = b"bench unwrap check"
ZERO_BLOCK = bytes(16)


# --- setup -----------------------------------------------------------------------------------------
def bench_quorum(vault: Vault) -> ActiveQuorum:
    qs = Secret(BENCH_QS, "quorum-secret")
    try:
        record = vault.store.get_share_set_by_name("bench")
    except RecordNotFound:
        public = shares.split(qs, shares.QuorumPolicy.simple(2, 3, iteration_exponent=0), None).public
        record = vault.store.add_share_set(
            "bench", identifier=public.identifier, group_threshold=1, groups=((2, 3),), iteration_exponent=0,
            passphrase=False, commitment_salt=public.commitment_salt, check_value=public.check_value,
        )  # fmt: skip
    return ActiveQuorum(qs, record)


def prepare(aes: int, ecn: int, rebuild: bool) -> Path:
    cached = CACHE / f"backup-{aes}-{ecn}"
    home = cached / "home"
    if rebuild:
        shutil.rmtree(cached, ignore_errors=True)
    if (cached / "ready").exists():
        print(f"using cached vault with {aes} AES + {ecn} EC keys ({cached})", flush=True)
        return home
    shutil.rmtree(cached, ignore_errors=True)
    cached.mkdir(parents=True)
    print(f"creating {aes} AES-256 + {ecn} EC P-256 token keys (cached afterwards in {cached}) ...", flush=True)
    start = time.perf_counter()
    vault = Vault.open(home)
    quorum = bench_quorum(vault)
    initialise_token(vault, quorum)
    with open_token_session(vault, quorum) as session:
        # Setup only: python-pkcs11 with the vault's templates, skipping generate()'s per-key
        # label search (linear each: quadratic for 10,000 keys).
        with HSM_LOCK:
            raw = session._session
            for i in range(aes):
                label, key_id = f"aes-{i:05d}", b"A" + i.to_bytes(15, "big")
                raw.generate_key(KeyType.AES, 256, id=key_id, label=label, store=True, capabilities=0,
                                 template=templates.secret_key(label, key_id, store=True, backup=True))  # fmt: skip
                if i and i % 1000 == 0:
                    print(f"  {i} ...", flush=True)
            spec = templates.SPECS[KeyAlgorithm.EC_P256]
            for i in range(ecn):
                label, key_id = f"ec-{i:05d}", b"E" + i.to_bytes(15, "big")
                raw.generate_keypair(
                    spec.key_type, spec.bits, id=key_id, label=label, store=True, capabilities=0,
                    mechanism=spec.generate_mechanism,
                    public_template=templates.public_key(KeyAlgorithm.EC_P256, label, key_id, store=True),
                    private_template=templates.private_key(KeyAlgorithm.EC_P256, label, key_id, store=True, backup=True),
                )  # fmt: skip
        keys = session.list_keys()
        with vault.store.atomic():
            for key in keys:
                vault.store.add_key(
                    key.label, cka_id=key.key_id, algorithm=key.algorithm, fingerprint=key.fingerprint,
                    token_serial=session.token.serial, actor="bench", backup=BackupDecision.BACKED_UP,
                    state=KeyState.ACTIVE, reason="bench setup",
                )  # fmt: skip
    vault.hsm().close()
    vault.close()
    (cached / "ready").write_text(f"{aes} {ecn}\n")
    print(f"setup took {time.perf_counter() - start:.1f} s", flush=True)
    return home


@dataclass
class Work:
    """A fresh copy of the cached home, opened, with the bench quorum and a session on its token."""

    dir: Path
    vault: Vault
    quorum: ActiveQuorum
    session: object

    @classmethod
    def open(cls, home: Path, name: str) -> "Work":
        work = CACHE / f"work-{name}"
        shutil.rmtree(work, ignore_errors=True)
        shutil.copytree(home, work / "home")
        (work / "home" / "softhsm2.conf").unlink()  # re-written to point at the copy's tokens
        vault = Vault.open(work / "home")
        quorum = bench_quorum(vault)
        session = open_token_session(vault, quorum)
        session.probe(session.wrap_mechanism)  # once per process and token model, as a ceremony's preflight does
        return cls(work, vault, quorum, session)

    def fresh_token(self, label: str):
        info = initialise_token(self.vault, self.quorum, label, replacement=True)
        with self.quorum.user_pin() as pin:
            return self.vault.hsm().open_session(info, pin)

    def close(self) -> None:
        self.vault.hsm().close()
        self.vault.close()
        shutil.rmtree(self.dir, ignore_errors=True)


# --- the raw python-pkcs11 baseline ------------------------------------------------------------------
def _pem_of_point(ec_point: bytes) -> str:
    point = ec_point[2:] if len(ec_point) == 67 else ec_point  # DER OCTET STRING 04 41 || point
    key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def _check_ec(private, pem: str) -> None:
    raw = private.sign(hashlib.sha256(CHECK_MESSAGE).digest(), mechanism=Mechanism.ECDSA)
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    serialization.load_pem_public_key(pem.encode()).verify(der, CHECK_MESSAGE, ec.ECDSA(hashes.SHA256()))


def raw_backup(session, kek_bytes: bytes, mac_key: bytes, path: Path) -> int:
    raw = session._session
    with HSM_LOCK:
        secrets, privates, pems, kcvs = [], {}, {}, {}
        for obj in raw.get_objects({A.TOKEN: True}, batch_size=SEARCH_BATCH):
            attrs = obj.get_attributes([A.CLASS, A.LABEL, A.ID, A.EC_POINT, A.CHECK_VALUE])
            ident = (attrs[A.LABEL], attrs[A.ID])
            if attrs[A.CLASS] == ObjectClass.SECRET_KEY:
                secrets.append((ident, obj))
                kcvs[ident] = attrs[A.CHECK_VALUE]
            elif attrs[A.CLASS] == ObjectClass.PRIVATE_KEY:
                privates[ident] = obj
            elif attrs[A.CLASS] == ObjectClass.PUBLIC_KEY:
                pems[ident] = _pem_of_point(attrs[A.EC_POINT])
        kek = raw.create_object(templates.wrapping_key(kek_bytes))
        mac = hmac.new(mac_key, digestmod="sha256")
        with open(path, "xb") as out:
            for ident, obj in secrets + list(privates.items()):
                blob = kek.wrap_key(obj, mechanism=WRAP)
                line = json.dumps({"label": ident[0], "id": ident[1].hex(), "pem": pems.get(ident),
                                   "wrapped": base64.b64encode(blob).decode()}, sort_keys=True).encode() + b"\n"  # fmt: skip
                mac.update(line)
                out.write(line)
            out.write(mac.hexdigest().encode() + b"\n")
            out.flush()
            os.fsync(out.fileno())
        entries = _read_raw_bundle(path, mac_key)
        for label, key_id, pem, blob in entries:  # test unwrap into session objects, destroyed by handle
            if pem is None:
                obj = kek.unwrap_key(ObjectClass.SECRET_KEY, KeyType.AES, blob, id=key_id, label=label, mechanism=WRAP,
                                     store=False, capabilities=0,
                                     template=templates.unwrapped_secret_key(label, key_id, store=False, extractable=True))  # fmt: skip
                assert obj.encrypt(ZERO_BLOCK, mechanism=Mechanism.AES_ECB)[:3] == kcvs[(label, key_id)]
            else:
                obj = kek.unwrap_key(ObjectClass.PRIVATE_KEY, KeyType.EC, blob, id=key_id, label=label, mechanism=WRAP,
                                     store=False, capabilities=0,
                                     template=templates.unwrapped_private_key(KeyAlgorithm.EC_P256, label, key_id,
                                                                              store=False, extractable=True))  # fmt: skip
                _check_ec(obj, pem)
            obj.destroy()
        kek.destroy()
    return len(entries)


def _read_raw_bundle(path: Path, mac_key: bytes) -> list[tuple[str, bytes, str | None, bytes]]:
    mac = hmac.new(mac_key, digestmod="sha256")
    entries = []
    with open(path, "rb") as fh:
        lines = fh.read().split(b"\n")[:-1]
    for line in lines[:-1]:
        mac.update(line + b"\n")
        e = json.loads(line)
        entries.append((e["label"], bytes.fromhex(e["id"]), e["pem"], base64.b64decode(e["wrapped"])))
    assert hmac.compare_digest(mac.hexdigest().encode(), lines[-1]), "raw bundle MAC"
    return entries


def raw_restore(session, kek_bytes: bytes, mac_key: bytes, path: Path) -> int:
    raw = session._session
    entries = _read_raw_bundle(path, mac_key)
    with HSM_LOCK:
        kek = raw.create_object(templates.wrapping_key(kek_bytes))
        for label, key_id, pem, blob in entries:
            if pem is None:
                obj = kek.unwrap_key(ObjectClass.SECRET_KEY, KeyType.AES, blob, id=key_id, label=label, mechanism=WRAP,
                                     store=True, capabilities=0,
                                     template=templates.unwrapped_secret_key(label, key_id, store=True, extractable=True))  # fmt: skip
                obj.encrypt(ZERO_BLOCK, mechanism=Mechanism.AES_ECB)
            else:
                obj = kek.unwrap_key(ObjectClass.PRIVATE_KEY, KeyType.EC, blob, id=key_id, label=label, mechanism=WRAP,
                                     store=True, capabilities=0,
                                     template=templates.unwrapped_private_key(KeyAlgorithm.EC_P256, label, key_id,
                                                                              store=True, extractable=True))  # fmt: skip
                _check_ec(obj, pem)
                point = serialization.load_pem_public_key(pem.encode()).public_bytes(
                    serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
                raw.create_object(templates.restored_public_key(
                    KeyAlgorithm.EC_P256, label, key_id, store=True,
                    key_attributes={A.EC_PARAMS: templates.SPECS[KeyAlgorithm.EC_P256].ec_params,
                                    A.EC_POINT: b"\x04" + bytes([len(point)]) + point}))  # fmt: skip
        kek.destroy()
    return len(entries)


# --- measuring ---------------------------------------------------------------------------------------
def timed(fn, *args):
    gc.collect()
    start = time.perf_counter()
    result = fn(*args)
    return time.perf_counter() - start, result


def traced(fn, *args):
    gc.collect()
    tracemalloc.start()
    try:
        result = fn(*args)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, result


def one_round(home: Path, n: int, measure=timed) -> dict:
    """Vault and raw backup, then vault and raw restore, on one fresh copy of the home."""
    work = Work.open(home, f"round{n}")
    out: dict = {}
    try:
        with work.quorum.kek() as kek, work.quorum.mac_key() as mac:
            kek_bytes, mac_bytes = kek.reveal(), mac.reveal()
        bundle = work.dir / "vault.bundle"
        out["vault_backup"], result = measure(write_backup, work.vault, work.session, work.quorum, bundle)
        out["bundle_bytes"] = result.size
        out["keys"] = result.key_count
        if measure is timed:
            out["raw_backup"], _ = measure(raw_backup, work.session, kek_bytes, mac_bytes, work.dir / "raw.bundle")
        work.session.close()
        with work.fresh_token(f"vault-restore-{n}") as target:
            out["vault_restore"], _ = measure(restore_backup, work.vault, target, work.quorum, bundle)
        if measure is timed:
            with work.fresh_token(f"raw-restore-{n}") as target:
                out["raw_restore"], _ = measure(raw_restore, target, kek_bytes, mac_bytes, work.dir / "raw.bundle")
    finally:
        work.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--aes", type=int, default=10_000)
    parser.add_argument("--ec", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--no-memory", action="store_true", help="skip the tracemalloc runs")
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args()

    home = prepare(args.aes, args.ec, args.rebuild)
    rounds = []
    for n in range(args.repeat):
        rounds.append(one_round(home, n))
        print(f"round {n + 1}: " + ", ".join(f"{k} {v:.2f} s" for k, v in rounds[-1].items() if k.endswith(("backup", "restore"))), flush=True)
    best = {k: min(r[k] for r in rounds) for k in ("vault_backup", "raw_backup", "vault_restore", "raw_restore")}
    keys, bundle_bytes = rounds[0]["keys"], rounds[0]["bundle_bytes"]

    memory = []
    if not args.no_memory:
        small = prepare(max(1, args.aes // 4), max(1, args.ec // 4), False)
        for label, h in (("full", home), ("quarter", small)):
            m = one_round(h, 100 + len(memory), measure=traced)
            memory.append((label, m["keys"], m["bundle_bytes"], m["vault_backup"], m["vault_restore"]))
            print(f"memory {label}: {m['keys']} keys, bundle {m['bundle_bytes'] / 1e6:.2f} MB, peak backup "
                  f"{m['vault_backup'] / 1e6:.2f} MB, restore {m['vault_restore'] / 1e6:.2f} MB", flush=True)  # fmt: skip

    def ratio(a: str, b: str) -> str:
        r = best[a] / best[b]
        return f"{r:.2f}x (target <= 1.3x) {'OK' if r <= 1.3 else 'OVER'}"

    lines = [
        f"backup/restore benchmark, {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC",
        f"host: {platform.node()} {platform.machine()}, Python {platform.python_version()}, "
        f"python-pkcs11 {pkcs11.__version__ if hasattr(pkcs11, '__version__') else '0.10.1'}, SoftHSM 2.6.1 file backend",
        f"keys: {args.aes} AES-256 + {args.ec} EC P-256 ({keys} in the bundle), best of {args.repeat}",
        f"bundle: {bundle_bytes / 1e6:.2f} MB",
        f"backup   vault.operations.write_backup: {best['vault_backup']:8.2f} s ({best['vault_backup'] / keys * 1e3:.2f} ms/key)",
        f"backup   raw python-pkcs11 loop:        {best['raw_backup']:8.2f} s ({best['raw_backup'] / keys * 1e3:.2f} ms/key)",
        f"backup   ratio: {ratio('vault_backup', 'raw_backup')}",
        f"restore  vault.operations.restore_backup: {best['vault_restore']:8.2f} s ({best['vault_restore'] / keys * 1e3:.2f} ms/key)",
        f"restore  raw python-pkcs11 loop:          {best['raw_restore']:8.2f} s ({best['raw_restore'] / keys * 1e3:.2f} ms/key)",
        f"restore  ratio: {ratio('vault_restore', 'raw_restore')}",
    ]  # fmt: skip
    for label, k, size, peak_b, peak_r in memory:
        lines.append(
            f"memory ({label}, {k} keys): bundle {size / 1e6:.2f} MB ({size / k:.0f} B/key); tracemalloc peak "
            f"backup {peak_b / 1e6:.2f} MB ({peak_b / k:.0f} B/key), restore {peak_r / 1e6:.2f} MB ({peak_r / k:.0f} B/key)"
        )
    lines.append("all rounds (s): " + json.dumps([{k: round(v, 3) for k, v in r.items()} for r in rounds]))
    text = "\n".join(lines) + "\n"
    print(text)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text)


if __name__ == "__main__":
    main()
