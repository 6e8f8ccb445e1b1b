"""Benchmark: issuing N certificates from CSRs in one ceremony (the issue-batch ceremony).

    .venv/bin/python bench/bench_pki_batch.py [--count 1000]

On a fresh practice workspace (the example scripts: init, then root-ca with an EC P-384 root in
SoftHSM) it writes N CSRs (EC P-256 keys made in software; not timed), then:

1. runs the ``issue-batch`` ceremony from its script over the N CSRs, end to end (quorum,
   review, every certificate checked, linted before and after signing, written, recorded);
2. on the same vault and issuer, issues another N certificates through the same vault.pki
   functions, timing each phase: CSR check, TBS build (serial from the HSM RNG), pkilint before,
   HSM sign (the token call alone), software verify (the signer's check and the assembled
   certificate's), pkilint after, record (serial reservation, file, store row, ledger event);
3. as the baseline, ``cryptography`` signs the same N TBS with a software P-384 key.

Results (ms per certificate, ratios to the baseline measured in the same run) go to
bench/results/pki_batch.txt.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from cryptography.x509.oid import NameOID  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "pki_batch.txt"


class _Env:
    def setenv(self, name: str, value: str) -> None:
        os.environ[name] = value


def write_csrs(directory: Path, count: int, prefix: str) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        key = ec.generate_private_key(ec.SECP256R1())
        csr = (x509.CertificateSigningRequestBuilder()
               .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{prefix}-{i:05d}.practice")]))
               .sign(key, hashes.SHA256()))
        (directory / f"{prefix}-{i:05d}.csr").write_bytes(csr.public_bytes(serialization.Encoding.PEM))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=1000)
    args = parser.parse_args()
    n = args.count

    from support.ceremony_workspace import Workspace
    from vault.hsm.module import HSM_LOCK
    from vault.hsm.x509sign import software_verify
    from vault.operations.quorum import ActiveQuorum, open_token_session
    from vault.pki import assemble, build
    from vault.pki.csr import read_csr
    from vault.pki.issue import Issued, Subject, draw_serial, issuer_from_record, record_issued
    from vault.pki.lint import lint_certificate
    from vault.pki.profile import load_profile
    from vault.secret import Secret

    with tempfile.TemporaryDirectory(prefix="bench-pki-") as tmp:
        ws = Workspace(Path(tmp) / "ws", _Env())
        ws.run_ok("init")
        ws.run_ok("root-ca")
        fleet = ws.root / "pki" / "fleet"
        for old in fleet.glob("*.csr"):
            old.unlink()
        write_csrs(fleet, n, "device")
        write_csrs(ws.root / "pki" / "loop", n, "loop")

        # 1. the ceremony, end to end
        t0 = time.perf_counter()
        ws.run_ok("issue-batch")
        ceremony_s = time.perf_counter() - t0
        with ws.vault() as v:
            issued_in_ceremony = len([c for c in v.store.list_certificates() if c.kind == "leaf"])
        assert issued_in_ceremony == n, issued_in_ceremony

        # 2. the same functions, phase by phase
        phases = {k: 0.0 for k in ("csr_check", "build_tbs", "lint_before", "hsm_sign", "software_verify",
                                   "lint_after", "record")}
        baseline = 0.0
        software_key = ec.generate_private_key(ec.SECP384R1())
        profile = load_profile("leaf")
        out_dir = ws.root / "media" / "loop"
        out_dir.mkdir()
        with ws.vault() as v:
            quorum = ActiveQuorum(Secret(ws.quorum_secret()), v.store.active_share_set())
            with open_token_session(v, quorum) as session:
                root = next(c for c in v.store.list_certificates() if c.kind == "root-ca")
                issuer = issuer_from_record(v, root, now=datetime.now(timezone.utc))
                scheme = profile.scheme_for(issuer.key_algorithm)
                signer = session.x509_signer(session.get_key(issuer.key_label))
                for path in sorted((ws.root / "pki" / "loop").glob("*.csr")):
                    t = time.perf_counter()
                    csr = read_csr(path)
                    t1 = time.perf_counter()
                    name, _ = build.subject_name(profile, csr.subject)
                    serial = draw_serial(v, profile.serial_bits, session.random)
                    now = datetime.now(timezone.utc).replace(microsecond=0)
                    from datetime import timedelta

                    draft = build.certificate_draft(profile, scheme, subject=name, subject_public_key=csr.public_key,
                                                    issuer=issuer.name, issuer_public_key=issuer.public_key,
                                                    serial=serial, not_before=now,
                                                    not_after=now + timedelta(days=profile.validity_days, seconds=-1))
                    t2 = time.perf_counter()
                    report = lint_certificate(draft.placeholder_der, profile)
                    report.require_no_errors("bench")
                    t3 = time.perf_counter()
                    v.store.reserve_serial(format(serial, "x"), bits=profile.serial_bits)
                    t4 = time.perf_counter()
                    with HSM_LOCK:
                        signature = signer._token_sign(draft.tbs, scheme)
                    t5 = time.perf_counter()
                    software_verify(signer.public_key, scheme, draft.tbs, signature)
                    der = assemble.certificate_der(draft.tbs, signature)
                    cert = assemble.check_certificate(der, draft.tbs, issuer.public_key, scheme)
                    t6 = time.perf_counter()
                    after = lint_certificate(der, profile)
                    t7 = time.perf_counter()
                    from vault.pki.issue import Prepared

                    prepared = Prepared(profile, scheme, issuer, Subject(name, csr.public_key), serial, now,
                                        now + timedelta(days=profile.validity_days, seconds=-1), draft.tbs,
                                        draft.placeholder_der, report)
                    record_issued(v, Issued(prepared, der, cert, after), out_dir / f"{path.stem}.pem",
                                  ceremony_id=None, actor="bench")
                    t8 = time.perf_counter()
                    software_key.sign(draft.tbs, ec.ECDSA(hashes.SHA384()))
                    t9 = time.perf_counter()
                    for key, dt_ in zip(phases, (t1 - t, t2 - t1, t3 - t2, t5 - t4, t6 - t5, t7 - t6, t8 - t7 + t4 - t3)):
                        phases[key] += dt_
                    baseline += t9 - t8
            quorum.wipe()

    ms = {k: v_ * 1000 / n for k, v_ in phases.items()}
    base_ms = baseline * 1000 / n
    total = sum(ms.values())
    lines = [
        f"# bench_pki_batch.py --count {n}  ({datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, "
        f"{platform.python_version()}, {os.cpu_count()} cores, SoftHSM EC P-384 issuer, shared machine)",
        f"issue-batch ceremony, {n} certificates end to end: {ceremony_s:.1f} s = {ceremony_s * 1000 / n:.2f} ms "
        "per certificate",
        f"phase split over another {n} certificates, ms per certificate:",
        *[f"  {k:16} {v_:8.3f}  ({v_ / base_ms:6.1f}x the baseline)" for k, v_ in ms.items()],
        f"  {'total':16} {total:8.3f}  ({total / base_ms:6.1f}x the baseline)",
        f"baseline: cryptography signs the same TBS with a software P-384 key: {base_ms:.3f} ms per certificate",
        f"HSM sign / baseline: {ms['hsm_sign'] / base_ms:.2f}x; lint (before + after) is "
        f"{(ms['lint_before'] + ms['lint_after']) / total:.0%} of the total",
    ]
    text = "\n".join(lines) + "\n"
    print(text, end="")
    RESULTS.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
