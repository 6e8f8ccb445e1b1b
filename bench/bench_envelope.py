"""Benchmark: envelope encryption through the HSM next to `cryptography`'s AESGCM on the same data.

    .venv/bin/python bench/bench_envelope.py [--records N] [--mib M] [--repeat R]

A practice vault in a temporary directory (its own SoftHSM token, a fresh practice quorum), one
AES-256 master key with purpose wrap. Measured in the same process, interleaved, best of R:

* records: N records of 1 KiB, each its own envelope (vault.operations.envelope.encrypt_record:
  a data key generated in the HSM, wrapped under the master key, AES-256-GCM in the HSM), then
  each decrypted (unwrap + GCM); the software reference does the same per record with
  ``cryptography`` (fresh random data key, RFC 5649 key wrap, AESGCM);
* file: one M MiB file through encrypt_file / decrypt_file (1 MiB chunks streamed, written once
  and read back as the product does) against AESGCM over the same 1 MiB chunks, read from and
  written to files the same way.

Memory: tracemalloc peak of encrypt_file and decrypt_file at M/4 and M MiB (flat = streaming).
The HSM path is the product; the software path is this machine's physical-limit reference.
Results go to bench/results/envelope.txt.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
import tracemalloc
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # noqa: E402
from cryptography.hazmat.primitives.keywrap import aes_key_wrap_with_padding  # noqa: E402

from vault import shares  # noqa: E402
from vault.envelope import format as fmt  # noqa: E402
from vault.operations import ActiveQuorum, generate_key, initialise_token, open_token_session  # noqa: E402
from vault.operations.envelope import RecordCipher, decrypt_file, encrypt_file  # noqa: E402
from vault.types import KeyAlgorithm, KeyPurpose, Mode  # noqa: E402
from vault.vault import Vault  # noqa: E402

MIB = 1 << 20


def practice(home: Path):
    vault = Vault.open(home)
    vault.store.start_ceremony("bench", definition_name="bench", definition_sha256="0" * 64, mode=Mode.PRACTICE)
    qs = shares.new_quorum_secret(os.urandom(32))
    public = shares.split(qs, shares.QuorumPolicy.simple(2, 3, iteration_exponent=0), None).public
    record = vault.store.add_share_set("bench", identifier=public.identifier, group_threshold=public.group_threshold,
                                       groups=tuple((g.threshold, g.count) for g in public.groups),
                                       iteration_exponent=public.iteration_exponent, passphrase=public.passphrase,
                                       commitment_salt=public.commitment_salt, check_value=public.check_value)
    quorum = ActiveQuorum(qs, record)
    initialise_token(vault, quorum, ceremony_id="bench")
    session = open_token_session(vault, quorum)
    key = generate_key(vault, session, "bench-dek", KeyAlgorithm.AES_256, purpose=KeyPurpose.WRAP)
    return vault, session, key


def software_record(master: bytes, data: bytes) -> tuple[bytes, bytes, bytes]:
    dek = os.urandom(32)
    nonce = os.urandom(12)
    return aes_key_wrap_with_padding(master, dek), nonce, AESGCM(dek).encrypt(nonce, data, b"aad")


def software_file(src: Path, dst: Path, back: Path) -> None:
    dek = AESGCM(os.urandom(32))
    with open(src, "rb") as i, open(dst, "wb") as o:
        n = 0
        while block := i.read(MIB):
            o.write(dek.encrypt(n.to_bytes(12, "big"), block, b"aad"))
            n += 1
        os.fsync(o.fileno())
    with open(dst, "rb") as i, open(back, "wb") as o:
        n = 0
        while block := i.read(MIB + 16):
            o.write(dek.decrypt(n.to_bytes(12, "big"), block, b"aad"))
            n += 1
        os.fsync(o.fileno())


def best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--mib", type=int, default=256)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    lines = [f"# bench_envelope {datetime.now(timezone.utc).isoformat(timespec='seconds')} "
             f"{platform.machine()} {os.cpu_count()} cores, python {platform.python_version()}"]
    with tempfile.TemporaryDirectory(prefix="bench-envelope-") as tmp:
        tmp = Path(tmp)
        vault, session, key = practice(tmp / "home")
        records = [os.urandom(1024) for _ in range(args.records)]
        master = os.urandom(32)
        blobs: list[bytes] = []

        def hsm_records():
            cipher = RecordCipher(vault, session, "bench-dek")
            blobs.clear()
            blobs.extend(cipher.encrypt(r) for r in records)
            for blob, r in zip(blobs, records):
                assert cipher.decrypt(blob) == r

        def sw_records():
            for r in records:
                wrapped, nonce, ct = software_record(master, r)
                assert len(ct) == len(r) + 16

        hsm_t = min(best(hsm_records, 1) for _ in range(args.repeat))
        sw_t = best(sw_records, args.repeat)
        lines.append(f"records: {args.records} x 1 KiB, encrypt + decrypt each (own data key): "
                     f"HSM {hsm_t:.2f} s ({args.records / hsm_t:,.0f} records/s), software AESGCM+KW "
                     f"{sw_t:.3f} s ({args.records / sw_t:,.0f} records/s); HSM/software time ratio "
                     f"{hsm_t / sw_t:.1f}x; overhead per record {len(blobs[0]) - 1024} bytes")
        src = tmp / "big.bin"
        with open(src, "wb") as f:
            for _ in range(args.mib):
                f.write(os.urandom(MIB))
        counter = [0]

        def hsm_file():
            counter[0] += 1
            enc, back = tmp / f"big-{counter[0]}.cce", tmp / f"big-{counter[0]}.out"
            encrypt_file(vault, session, "bench-dek", src, enc)
            decrypt_file(vault, session, enc, back)
            assert back.stat().st_size == src.stat().st_size
            enc.unlink()
            back.unlink()

        def sw_file():
            software_file(src, tmp / "sw.enc", tmp / "sw.out")
            (tmp / "sw.enc").unlink()
            (tmp / "sw.out").unlink()

        from vault.hsm import envelope as hsm_envelope

        def raw_hsm():  # the token's own GCM speed: the same chunks in memory, no files, no format
            dek = hsm_envelope.new_data_key(session)
            try:
                block = os.urandom(MIB)
                for i in range(args.mib):
                    ct = hsm_envelope.encrypt(dek, i.to_bytes(12, "big"), b"aad", block)
                    hsm_envelope.decrypt(dek, i.to_bytes(12, "big"), b"aad", ct)
            finally:
                dek.destroy()

        hsm_f, sw_f, raw_f = [], [], []
        for _ in range(args.repeat):
            hsm_f.append(best(hsm_file, 1))
            sw_f.append(best(sw_file, 1))
            raw_f.append(best(raw_hsm, 1))
        h, s, r = min(hsm_f), min(sw_f), min(raw_f)
        size = args.mib * MIB
        lines.append(f"file: {args.mib} MiB, encrypt + decrypt, 1 MiB chunks: HSM {h:.2f} s "
                     f"({2 * size / h / MIB:,.0f} MiB/s through the HSM), software AESGCM {s:.2f} s "
                     f"({2 * size / s / MIB:,.0f} MiB/s); HSM/software time ratio {h / s:.2f}x; the token's own "
                     f"GCM on the same chunks in memory {r:.2f} s, so the product is {h / r:.2f}x the HSM's limit")
        peaks = []
        for mib in (args.mib // 4, args.mib):
            part = tmp / f"part-{mib}.bin"
            with open(src, "rb") as i, open(part, "wb") as o:
                o.write(i.read(mib * MIB))
            tracemalloc.start()
            encrypt_file(vault, session, "bench-dek", part, tmp / f"part-{mib}.cce")
            decrypt_file(vault, session, tmp / f"part-{mib}.cce", tmp / f"part-{mib}.out")
            peaks.append(tracemalloc.get_traced_memory()[1])
            tracemalloc.stop()
        lines.append(f"memory: tracemalloc peak of encrypt_file + decrypt_file {peaks[0] / MIB:.1f} MiB at "
                     f"{args.mib // 4} MiB, {peaks[1] / MIB:.1f} MiB at {args.mib} MiB "
                     f"(ratio {peaks[1] / peaks[0]:.2f}: flat in the file size; chunk {fmt.DEFAULT_CHUNK // MIB} MiB)")
        session.close()
        vault.hsm().close()
        vault.close()
    out = ROOT / "bench" / "results" / "envelope.txt"
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
