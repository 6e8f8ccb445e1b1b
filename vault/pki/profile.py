"""Certificate and CRL profiles: ``ceremonies/profiles/*.toml`` (and ``<home>/ceremonies/profiles/``),
one profile per file, strictly parsed like the ceremony definitions (unknown keys, missing keys,
wrong types and unknown names are refused with file, line and key).

A profile says everything that goes into a certificate besides its subject key and serial: the
subject (fixed, or the attributes that may be copied from a CSR), validity, key usage, extended
key usage, basic constraints and path length, name constraints, policies, CRL distribution
points, authority information access, the serial's size (drawn from the HSM RNG) and the
signature algorithm; and the linter's validation level. Its SHA-256 (of the file's bytes) is
printed on the paper script, read aloud at review and recorded with every certificate.
The format is documented for users in ceremonies/README.md.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from vault.ceremony.definitions import BUILTIN_DIR, _line_map, _locate
from vault.errors import MechanismUnsupported, ProfileInvalid, RecordNotFound
from vault.inputs import TOML_BYTES, read_bounded
from vault.types import KeyAlgorithm, SignatureScheme

FORMAT = 1
BUILTIN_PROFILES = BUILTIN_DIR / "profiles"

CERT_KINDS = ("root-ca", "intermediate", "cross-sign", "ocsp-signer", "leaf")
KINDS = CERT_KINDS + ("crl",)
VALIDATIONS = ("rfc5280", "cabf-serverauth")
#: Subject attribute names a profile may use, in the order they are usually written.
SUBJECT_ATTRIBUTES = ("C", "ST", "L", "O", "OU", "CN", "DC", "serialNumber", "organizationIdentifier")
KEY_USAGES = ("digital_signature", "content_commitment", "key_encipherment", "data_encipherment",
              "key_agreement", "key_cert_sign", "crl_sign")
EXTENDED_KEY_USAGES = ("server_auth", "client_auth", "code_signing", "email_protection", "time_stamping",
                       "ocsp_signing", "any")
CABF_TYPES = ("ROOT-CA", "INTERNAL-CROSS-CA", "EXTERNAL-CROSS-CA", "NON-TLS-CA", "INTERNAL-UNCONSTRAINED-TLS-CA",
              "INTERNAL-CONSTRAINED-TLS-CA", "EXTERNAL-UNCONSTRAINED-TLS-CA", "EXTERNAL-CONSTRAINED-TLS-CA",
              "DV-FINAL-CERTIFICATE", "OV-FINAL-CERTIFICATE", "OCSP-RESPONDER")
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,60}$")
_OID_RE = re.compile(r"^[0-2](\.(0|[1-9][0-9]*))+$")
_URI_RE = re.compile(r"^(https?|ldap)://[^\s]+$")
_DNS_RE = re.compile(r"^\.?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$", re.I)
SERIAL_BITS_MIN, SERIAL_BITS_MAX = 64, 159  # >= 64 bits from the RNG; a positive INTEGER of <= 20 octets


@dataclass(frozen=True, slots=True)
class SubjectSpec:
    fixed: tuple[tuple[str, str], ...] = ()  # (attribute, value) in order
    from_csr: tuple[str, ...] = ()  # attributes that may be copied from a CSR's subject


@dataclass(frozen=True, slots=True)
class NameConstraintsSpec:
    permitted_dns: tuple[str, ...] = ()
    excluded_dns: tuple[str, ...] = ()
    permitted_ip: tuple[str, ...] = ()
    excluded_ip: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Profile:
    name: str
    kind: str
    description: str
    validation: str
    signatures: tuple[SignatureScheme, ...]  # one per issuer key type at most
    source: Path
    sha256: str
    text: str
    # certificates
    cabf_type: str | None = None
    serial_bits: int = 128
    validity_days: int = 0
    subject: SubjectSpec = SubjectSpec()
    ca: bool = False
    path_length: int | None = None
    key_usage: tuple[str, ...] = ()
    extended_key_usage: tuple[str, ...] = ()
    policies: tuple[str, ...] = ()
    crl_distribution_points: tuple[str, ...] = ()
    ocsp_urls: tuple[str, ...] = ()
    ca_issuers_urls: tuple[str, ...] = ()
    name_constraints: NameConstraintsSpec | None = None
    ocsp_no_check: bool = False
    # CRLs
    next_update_days: int = 0
    crl_type: str = "crl"

    @property
    def is_crl(self) -> bool:
        return self.kind == "crl"

    def scheme_for(self, algorithm: KeyAlgorithm) -> SignatureScheme:
        """The signature this profile makes with an issuer key of ``algorithm``."""
        for scheme in self.signatures:
            if scheme.fits(algorithm):
                return scheme
        raise MechanismUnsupported(
            f"The profile {self.name} signs with {', '.join(s.value for s in self.signatures)}; none of them "
            f"is made by the issuer's {algorithm.value} key.",
            next_step="Choose a profile whose signature fits the issuing key.")

    def describe(self) -> str:
        return (f"{self.name} ({self.kind}, {self.validation}, {'/'.join(s.value for s in self.signatures)}) "
                f"sha256:{self.sha256}")


class _P:
    def __init__(self, path: Path, text: str) -> None:
        self.path, self.lines = path, _line_map(text)

    def fail(self, keypath: tuple, problem: str) -> ProfileInvalid:
        shown = ".".join(str(p) for p in keypath) or "(top)"
        return ProfileInvalid(f"{self.path}:{_locate(self.lines, keypath)}: key '{shown}': {problem}.")

    def keys(self, table: dict, where: tuple, allowed: dict[str, type], required: tuple[str, ...] = ()) -> None:
        for key, value in table.items():
            if key not in allowed:
                raise self.fail(where + (key,), f"unknown key (allowed: {', '.join(sorted(allowed))})")
            typ = allowed[key]
            if (isinstance(value, bool) and typ is not bool) or not isinstance(value, typ):
                raise self.fail(where + (key,), f"must be {typ.__name__}, not {type(value).__name__}")
        for key in required:
            if key not in table:
                raise self.fail(where or (key,), f"missing required key '{key}'")

    def strings(self, value: list, where: tuple, check=None, what: str = "value") -> tuple[str, ...]:
        out = []
        for v in value:
            if not isinstance(v, str):
                raise self.fail(where, "must be a list of strings")
            if check is not None and not check(v):
                raise self.fail(where, f"{v!r} is not a valid {what}")
            out.append(v)
        if len(set(out)) != len(out):
            raise self.fail(where, "lists a value twice")
        return tuple(out)

    def choice(self, value: str, where: tuple, allowed) -> str:
        if value not in allowed:
            raise self.fail(where, f"{value!r} is not one of {', '.join(allowed)}")
        return value


_COMMON = {"format": int, "name": str, "kind": str, "description": str, "validation": str, "signature": object}
_CERT = {"cabf_type": str, "serial_bits": int, "validity_days": int, "subject": dict, "basic_constraints": dict,
         "key_usage": list, "extended_key_usage": list, "policies": list, "crl_distribution_points": list,
         "authority_info_access": dict, "name_constraints": dict, "ocsp_no_check": bool}
_CRL = {"next_update_days": int, "crl_type": str}


def _ip_network(text: str) -> bool:
    try:
        ipaddress.ip_network(text, strict=True)
        return True
    except ValueError:
        return False


def _signatures(p: _P, raw) -> tuple[SignatureScheme, ...]:
    """``signature = "ecdsa-sha384"``, or one per issuer key type:
    ``signature = { ec = "ecdsa-sha384", rsa = "rsa-pkcs1-sha256", ed25519 = "ed25519" }``."""
    if isinstance(raw, str):
        items = [(None, raw)]
    elif isinstance(raw, dict):
        p.keys(raw, ("signature",), {"ec": str, "rsa": str, "ed25519": str})
        items = list(raw.items())
    else:
        raise p.fail(("signature",), "must be a string or a table (ec, rsa, ed25519)")
    if not items:
        raise p.fail(("signature",), "names no signature algorithm")
    out = []
    for family, value in items:
        where = ("signature",) + ((family,) if family else ())
        try:
            scheme = SignatureScheme(value)
        except ValueError:
            raise p.fail(where, f"{value!r} is not one of {', '.join(s.value for s in SignatureScheme)}") from None
        if family and not scheme.family.startswith({"ec": "ecdsa", "rsa": "rsa", "ed25519": "ed25519"}[family]):
            raise p.fail(where, f"{value} is not a signature an {family} key makes")
        out.append(scheme)
    return tuple(out)


def parse_profile(path: Path, text: str | None = None) -> Profile:
    path = Path(path)
    if text is None:
        try:
            raw = read_bounded(path, TOML_BYTES)
        except OSError as exc:
            raise ProfileInvalid(f"{path}: cannot be read ({exc.strerror}).") from None
    else:
        raw = text.encode("utf-8")
    try:
        text = raw.decode("utf-8")
        data = tomllib.loads(text)
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ProfileInvalid(f"{path}: not valid TOML: {exc}.") from None
    p = _P(path, text)
    kind = data.get("kind")
    extra = _CRL if kind == "crl" else _CERT
    p.keys(data, (), {**_COMMON, **extra}, ("format", "name", "kind", "validation", "signature"))
    if data["format"] != FORMAT:
        raise p.fail(("format",), f"unsupported format {data['format']} (this console reads format {FORMAT})")
    if data["name"] != path.stem or not _NAME_RE.match(data["name"]):
        raise p.fail(("name",), f"must equal the file name '{path.stem}' (lower-case letters, digits, dashes)")
    p.choice(kind, ("kind",), KINDS)
    validation = p.choice(data["validation"], ("validation",), VALIDATIONS)
    base = dict(name=data["name"], kind=kind, description=data.get("description", "").strip(), validation=validation,
                signatures=_signatures(p, data["signature"]), source=path, sha256=hashlib.sha256(raw).hexdigest(), text=text)
    if kind == "crl":
        p.keys(data, (), {**_COMMON, **_CRL}, ("next_update_days",))
        days = data["next_update_days"]
        if not 1 <= days <= 3660:
            raise p.fail(("next_update_days",), "must be between 1 and 3660")
        return Profile(**base, next_update_days=days,
                       crl_type=p.choice(data.get("crl_type", "crl"), ("crl_type",), ("crl", "arl")))
    return _certificate_profile(p, data, base)


def _certificate_profile(p: _P, data: dict, base: dict) -> Profile:
    kind = base["kind"]
    p.keys(data, (), {**_COMMON, **_CERT}, ("validity_days", "basic_constraints", "key_usage"))
    cabf_type = data.get("cabf_type")
    if cabf_type is not None:
        if base["validation"] != "cabf-serverauth":
            raise p.fail(("cabf_type",), "is only meaningful with validation = \"cabf-serverauth\"")
        p.choice(cabf_type, ("cabf_type",), CABF_TYPES)
    bits = data.get("serial_bits", 128)
    if not SERIAL_BITS_MIN <= bits <= SERIAL_BITS_MAX:
        raise p.fail(("serial_bits",), f"must be between {SERIAL_BITS_MIN} and {SERIAL_BITS_MAX}")
    days = data["validity_days"]
    if not 1 <= days <= 36500:
        raise p.fail(("validity_days",), "must be between 1 and 36500")

    subject = _subject(p, data.get("subject"), kind)
    bc = data["basic_constraints"]
    p.keys(bc, ("basic_constraints",), {"ca": bool, "path_length": int}, ("ca",))
    path_length = bc.get("path_length")
    if path_length is not None and (not bc["ca"] or path_length < 0):
        raise p.fail(("basic_constraints", "path_length"), "needs ca = true and a value of 0 or more")
    if bc["ca"] != (kind in ("root-ca", "intermediate", "cross-sign")):
        raise p.fail(("basic_constraints", "ca"), f"a {kind} profile must have ca = "
                                                  f"{'true' if kind in ('root-ca', 'intermediate', 'cross-sign') else 'false'}")
    key_usage = p.strings(data["key_usage"], ("key_usage",), lambda v: v in KEY_USAGES, "key usage "
                          f"(known: {', '.join(KEY_USAGES)})")
    if not key_usage:
        raise p.fail(("key_usage",), "must name at least one usage")
    eku = p.strings(data.get("extended_key_usage", []), ("extended_key_usage",), lambda v: v in EXTENDED_KEY_USAGES,
                    f"extended key usage (known: {', '.join(EXTENDED_KEY_USAGES)})")
    policies = p.strings(data.get("policies", []), ("policies",), lambda v: v == "any" or bool(_OID_RE.match(v)),
                         "policy OID (dotted, or \"any\")")
    cdp = p.strings(data.get("crl_distribution_points", []), ("crl_distribution_points",),
                    lambda v: bool(_URI_RE.match(v)), "URI")
    aia = data.get("authority_info_access", {})
    p.keys(aia, ("authority_info_access",), {"ocsp": list, "ca_issuers": list})
    ocsp = p.strings(aia.get("ocsp", []), ("authority_info_access", "ocsp"), lambda v: bool(_URI_RE.match(v)), "URI")
    issuers = p.strings(aia.get("ca_issuers", []), ("authority_info_access", "ca_issuers"),
                        lambda v: bool(_URI_RE.match(v)), "URI")
    nc = None
    if "name_constraints" in data:
        raw = data["name_constraints"]
        where = ("name_constraints",)
        p.keys(raw, where, {"permitted_dns": list, "excluded_dns": list, "permitted_ip": list, "excluded_ip": list})
        if kind not in ("intermediate", "cross-sign"):
            raise p.fail(where, "name constraints belong in CA certificates below a root (intermediate, cross-sign)")
        nc = NameConstraintsSpec(
            p.strings(raw.get("permitted_dns", []), where + ("permitted_dns",), lambda v: bool(_DNS_RE.match(v)), "DNS name"),
            p.strings(raw.get("excluded_dns", []), where + ("excluded_dns",), lambda v: bool(_DNS_RE.match(v)), "DNS name"),
            p.strings(raw.get("permitted_ip", []), where + ("permitted_ip",), _ip_network, "IP network"),
            p.strings(raw.get("excluded_ip", []), where + ("excluded_ip",), _ip_network, "IP network"))
        if not any((nc.permitted_dns, nc.excluded_dns, nc.permitted_ip, nc.excluded_ip)):
            raise p.fail(where, "must permit or exclude at least one name")
    no_check = data.get("ocsp_no_check", False)
    if no_check and kind != "ocsp-signer":
        raise p.fail(("ocsp_no_check",), "is only for ocsp-signer profiles")
    return Profile(**base, cabf_type=cabf_type, serial_bits=bits, validity_days=days, subject=subject, ca=bc["ca"],
                   path_length=path_length, key_usage=key_usage, extended_key_usage=eku, policies=policies,
                   crl_distribution_points=cdp, ocsp_urls=ocsp, ca_issuers_urls=issuers, name_constraints=nc,
                   ocsp_no_check=no_check)


def _subject(p: _P, raw: dict | None, kind: str) -> SubjectSpec:
    where = ("subject",)
    if kind == "cross-sign":
        if raw:
            raise p.fail(where, "a cross-certificate's subject is the other root's, exactly: leave it out")
        return SubjectSpec()
    if not raw:
        raise p.fail(where, "missing: give the subject's attributes (and from_csr for a CSR)")
    fixed = []
    from_csr: tuple[str, ...] = ()
    for key, value in raw.items():
        if key == "from_csr":
            if kind not in ("intermediate", "leaf"):
                raise p.fail(where + (key,), f"a {kind} certificate's subject is fixed by the profile")
            if not isinstance(value, list):
                raise p.fail(where + (key,), "must be a list of attribute names")
            from_csr = p.strings(value, where + (key,), lambda v: v in SUBJECT_ATTRIBUTES,
                                 f"attribute (known: {', '.join(SUBJECT_ATTRIBUTES)})")
            continue
        if key not in SUBJECT_ATTRIBUTES:
            raise p.fail(where + (key,), f"unknown attribute (known: {', '.join(SUBJECT_ATTRIBUTES)}, from_csr)")
        if not isinstance(value, str) or not value.strip() or len(value) > 64:
            raise p.fail(where + (key,), "must be a string of 1 to 64 characters")
        if key == "C" and not re.match(r"^[A-Z]{2}$", value):
            raise p.fail(where + (key,), "must be a two-letter country code")
        fixed.append((key, value))
    if not fixed and not from_csr:
        raise p.fail(where, "names no attribute")
    return SubjectSpec(tuple(fixed), from_csr)


def profile_dirs(home_path: Path | None) -> list[Path]:
    dirs = [BUILTIN_PROFILES]
    if home_path is not None:
        dirs.append(Path(home_path) / "ceremonies" / "profiles")
    return dirs


def load_profile(name: str, home_path: Path | None = None) -> Profile:
    """The profile ``name``: built-in first, else the home's own (a home may not shadow a built-in)."""
    if not _NAME_RE.match(name or ""):
        raise ProfileInvalid(f"{name!r} is not a profile name (lower-case letters, digits and dashes).")
    for d in profile_dirs(home_path):
        path = d / f"{name}.toml"
        if path.is_file():
            return parse_profile(path)
    raise RecordNotFound(f"There is no certificate profile named {name!r}.",
                         next_step=f"Add ceremonies/profiles/{name}.toml or name an existing profile.")


def list_profiles(home_path: Path | None = None) -> dict[str, Profile]:
    out: dict[str, Profile] = {}
    for d in profile_dirs(home_path):
        for path in sorted(d.glob("*.toml")) if d.is_dir() else ():
            out.setdefault(path.stem, parse_profile(path))
    return out
