"""What the review before the HSM signs a certificate, a CRL or a batch shows (vault.ceremony.review).

Every review names the TBS's SHA-256 (hex and PGP words): the exact bytes the HSM will sign,
built and linted before the review. After signing, the certificate's (or CRL's) TBS is checked
byte for byte against them (vault.pki.assemble), so what was confirmed is what was signed; the
ledger's ``review.confirmed`` event keeps the digest next to ``certificate.issued``.

A batch's review shows the batch digest: SHA-256 over the concatenated 32-byte SHA-256 digests
of every TBS, in the order the certificates are signed (the CSR files' sorted names), and the
first certificates one by one with their own TBS digest.
"""

from __future__ import annotations

import hashlib
from collections import Counter

from vault.ceremony.prompts import ReviewItem
from vault.ceremony.review import digest_item, fingerprint_item, item

CERTIFICATE_REVIEW = ("the profile and its SHA-256, the subject, the subject key's fingerprint, the issuer and its "
                      "HSM key, serial, validity, signature, every extension, the TBS's SHA-256 (hex and PGP words) "
                      "and pkilint's level and warnings")
CRL_REVIEW = ("the issuer and its HSM key, the profile and its SHA-256, the CRL number, this and next update, every "
              "serial revoked now with its reason, the TBS's SHA-256 (hex and PGP words) and pkilint's warnings")
BATCH_REVIEW = ("the profile and its SHA-256, the issuer, how many certificates, the batch digest over every TBS's "
                "SHA-256, the first certificates' subjects, key fingerprints and TBS digests, pkilint's warnings")
BATCH_LISTED = 20  # certificates shown one by one in a batch's review


def tbs_sha256(tbs: bytes) -> str:
    return hashlib.sha256(tbs).hexdigest()


def batch_sha256(tbs_list) -> str:
    """SHA-256 over the concatenated SHA-256 digests of each TBS, in signing order (module doc)."""
    return hashlib.sha256(b"".join(hashlib.sha256(t).digest() for t in tbs_list)).hexdigest()


def _lint_items(report) -> list[ReviewItem]:
    out = [item("Lint", report.summary())]
    out += [item(f"Lint warning {i}", f.describe() + (f" ({f.where})" if f.where else ""))
            for i, f in enumerate(report.warnings, 1)]
    return out


def certificate_items(prepared) -> list[ReviewItem]:
    from cryptography import x509

    from vault.pki.issue import describe_extension, iso

    p, subject, issuer = prepared.profile, prepared.subject, prepared.issuer
    draft = x509.load_der_x509_certificate(prepared.placeholder_der)
    items = [
        item("Certificate", f"{p.kind}, profile {p.name}"),
        digest_item("Profile SHA-256", p.sha256),
        item("Subject", subject.name.rfc4514_string() or "(empty)"),
        fingerprint_item("Subject key", prepared.spki_sha256),
    ]
    if subject.key_label:
        items.append(item("Subject's HSM key", subject.key_label))
    if subject.source:
        items.append(item("From", subject.source))
    items += [
        item("Issuer", issuer.name.rfc4514_string() + (" (self-signed)" if issuer.self_signed else "")),
        item("Signed by HSM key", issuer.key_label),
        item("Serial", f"{prepared.serial_hex} ({p.serial_bits} bits from the HSM RNG)"),
        item("Validity", f"{iso(prepared.not_before)} to {iso(prepared.not_after)} ({p.validity_days} days)"),
        item("Signature", prepared.scheme.value),
        item("Extensions", "; ".join(describe_extension(e) for e in draft.extensions)),
    ]
    if subject.dropped:
        items.append(item("Not copied from the CSR", ", ".join(subject.dropped)))
    if subject.requested_extensions:
        items.append(item("CSR asked for (ignored)", ", ".join(subject.requested_extensions)))
    items.append(digest_item("TBS SHA-256", tbs_sha256(prepared.tbs)))
    return items + _lint_items(prepared.lint)


def crl_items(prepared) -> list[ReviewItem]:
    from vault.pki.issue import iso

    p = prepared.profile
    revoked = ", ".join(f"{r.certificate.serial_hex} ({r.reason})" for r in prepared.new) or "none"
    items = [
        item("CRL", f"number {prepared.crl_number} of {prepared.issuer.name.rfc4514_string()}"),
        item("Signed by HSM key", prepared.issuer.key_label),
        item("Profile", p.name), digest_item("Profile SHA-256", p.sha256),
        item("Signature", prepared.scheme.value),
        item("This update", iso(prepared.this_update)), item("Next update", iso(prepared.next_update)),
        item("Revoked now", revoked),
        item("Listed in all", f"{len(prepared.entries)} revoked certificate(s)"),
        digest_item("TBS SHA-256", tbs_sha256(prepared.tbs)),
    ]
    return items + _lint_items(prepared.lint)


def batch_items(profile, issuer, prepared: list) -> list[ReviewItem]:
    """``prepared``: (csr path, Prepared) in signing order."""
    from vault.pki.issue import iso

    first = prepared[0][1]
    items = [
        item("Certificates", f"{len(prepared)}, profile {profile.name} ({profile.kind})"),
        digest_item("Profile SHA-256", profile.sha256),
        item("Issuer", issuer.name.rfc4514_string()), item("Signed by HSM key", issuer.key_label),
        item("Validity", f"{iso(first.not_before)} to {iso(first.not_after)} ({profile.validity_days} days)"),
        item("Signature", first.scheme.value),
        digest_item("Batch TBS digest", batch_sha256(pr.tbs for _, pr in prepared)),
    ]
    for path, pr in prepared[:BATCH_LISTED]:
        items.append(item(path.name, f"{pr.subject.name.rfc4514_string()} key {pr.spki_sha256} "
                                     f"serial {pr.serial_hex} TBS {tbs_sha256(pr.tbs)[:16]}"))
    if len(prepared) > BATCH_LISTED:
        items.append(item("And", f"{len(prepared) - BATCH_LISTED} more (every one is in the ledger once signed)"))
    warnings = Counter(f.describe() for _, pr in prepared for f in pr.lint.warnings)
    items.append(item("Lint", f"pkilint {first.lint.level}: 0 errors, {sum(warnings.values())} warnings/notices "
                                 f"over {len(prepared)} certificates"))
    items += [item(f"Lint warning {i}", f"{text} (x{n})") for i, (text, n) in enumerate(sorted(warnings.items()), 1)]
    return items
