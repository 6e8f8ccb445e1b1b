"""A logged-in session on one token: the public face of every key operation.

:class:`HsmSession` is a thin facade. Each public method takes :data:`HSM_LOCK`, checks that
the session is still current, translates PKCS#11 errors (:func:`vault.hsm.module.hsm_call`)
and hands over to the module that owns the concern:

* :mod:`vault.hsm.objects`     key objects: grouping, recognising, fingerprints, lookups
* :mod:`vault.hsm.generation`  generating master keys and the post-generation checks
* :mod:`vault.hsm.signing`     signatures, re-verified in software
* :mod:`vault.hsm.wrap`        the backup KEK in a session; wrapping (single and streaming)
* :mod:`vault.hsm.unwrap`      restoring from blobs, each key checked
* :mod:`vault.hsm.restored`    undoing a bulk restore by handle
* :mod:`vault.hsm.probe`       the capability probe and the wrap self-test

A new HSM operation goes into a new module of its own under ``vault/hsm/`` with functions
that take the session (``def op(session: HsmSession, ...)``) and use its module-facing
members: :attr:`p11` (the python-pkcs11 session), :attr:`token`, :attr:`wrap_mechanism`,
:meth:`capabilities`, :meth:`raw` (the ctypes bulk paths), and the helpers of
:mod:`vault.hsm.objects` (``find``, ``label_taken``, ``destroy_quietly``...). Then add a
thin method here, decorated with ``@hsm_call("operation")``, that calls it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from pkcs11 import Attribute as A

from vault.errors import HsmCheckFailed, HsmError, KeyNotFound
from vault.hsm import bulk, generation, objects, signing, software
from vault.hsm import probe as probing
from vault.hsm import unwrap as unwrapping
from vault.hsm import wrap as wrapping
from vault.hsm.errors import translated
from vault.hsm.model import AUDIT_KEY_LABEL, Capabilities, KeyObject, TokenInfo, WrapMechanism, WrappingKey
from vault.hsm.module import HSM_LOCK, hsm_call
from vault.hsm.restored import RestoredObjects
from vault.secret import Secret
from vault.types import KeyAlgorithm

if TYPE_CHECKING:
    from vault.hsm.module import HsmModule

__all__ = ["HsmSession", "RestoredObjects"]


class HsmSession:
    """A read-write session logged in as the user on one token. Close it (or use ``with``):
    closing logs out (every session of this process on the token, as PKCS#11 does)."""

    def __init__(
        self, module: HsmModule, session: Any, token: TokenInfo, wrap_mechanism: WrapMechanism | None
    ) -> None:
        self.token = token
        self._wrap_mechanism = wrap_mechanism
        self._module = module
        self._library = module._library
        self._session = session
        self._generation = module._library.generation
        self._closed = False
        self._wrapping_keys: set[int] = set()
        # Backed-up keys made or restored in this session carry CKA_WRAP_WITH_TRUSTED, and only a
        # KEK the SO made (import_trusted_wrapping_key) wraps them (vault.hsm.trusted). Set by the
        # opener from the token's profile (vault.operations.trusted_policy).
        self.trusted_wrapping = False

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<HsmSession {state} token={self.token.label!r} serial={self.token.serial}>"

    def __enter__(self) -> HsmSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _check_current(self) -> None:
        if self._closed or self._generation != self._library.generation:
            raise HsmError("The HSM session is closed.", next_step="Open a new session on the token.")

    def close(self) -> None:
        with HSM_LOCK:
            if self._closed:
                return
            self._closed = True
            self._module._forget(self)
            self._wrapping_keys.clear()
            if self._generation == self._library.generation:
                with translated("logout"):
                    self._session.close()  # C_Logout + C_CloseSession

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def wrap_mechanism(self) -> WrapMechanism:
        """The configured wrap mechanism, or (``auto``) the first the token offers that passes
        the self-test, chosen once per session (vault.hsm.probe.choose_wrap_mechanism)."""
        if self._wrap_mechanism is None:
            with HSM_LOCK:
                self._check_current()
                with translated("probe"):
                    self._wrap_mechanism = probing.choose_wrap_mechanism(self)
        return self._wrap_mechanism

    # --- for the modules of vault.hsm (called with HSM_LOCK held) ---------------------------------
    @property
    def p11(self) -> Any:
        """The python-pkcs11 session (vault.hsm modules only)."""
        return self._session

    @property
    def module_path(self) -> str:
        return self._module.module_path

    def raw(self) -> bulk.RawSession:
        """The same session through ctypes, for the bulk paths of :mod:`vault.hsm.bulk`."""
        return bulk.RawSession(self._library.dll, self._session.handle)

    def capabilities(self) -> Capabilities:
        """The (cached) probe for this session's wrap mechanism."""
        return self.probe(self.wrap_mechanism)

    # --- keys ---------------------------------------------------------------------------------
    @hsm_call("random")
    def random(self, n: int) -> bytes:
        return bytes(self._session.generate_random(n * 8))

    @hsm_call("list_keys")
    def list_keys(self) -> list[KeyObject]:
        """Every vault key on the token (token objects), in one pass over its objects.

        Objects that are not AES-256, EC P-256/P-384, RSA-3072/4096 or Ed25519 keys are
        skipped, and so is the ledger audit key (:data:`AUDIT_KEY_LABEL`: see :meth:`audit_keys`).
        Pairs are joined by (label, CKA_ID).
        """
        groups = objects.group(objects.walk(self._session, objects.LIST_ATTRIBUTES, {A.TOKEN: True}))
        keys = (objects.key_object(g) for g in groups.values())
        return sorted((k for k in keys if k is not None and k.label != AUDIT_KEY_LABEL),
                      key=lambda k: (k.label, k.key_id))

    @hsm_call("list_keys")
    def audit_keys(self) -> list[KeyObject]:
        """The ledger audit key pairs on the token (label :data:`AUDIT_KEY_LABEL`), by CKA_ID."""
        groups = objects.group(objects.walk(self._session, objects.LIST_ATTRIBUTES, {A.LABEL: AUDIT_KEY_LABEL}))
        keys = (objects.key_object(g) for g in groups.values())
        return sorted((k for k in keys if k is not None), key=lambda k: k.key_id)

    @hsm_call("get_key")
    def get_key(self, label: str) -> KeyObject:
        groups = objects.group(objects.walk(self._session, objects.LIST_ATTRIBUTES, {A.LABEL: label}))
        keys = [k for g in groups.values() if (k := objects.key_object(g)) is not None]
        if not keys:
            raise KeyNotFound(f"No key labelled '{label}' on token {self.token.describe()}.")
        if len(keys) > 1:
            raise HsmCheckFailed(f"{len(keys)} keys are labelled '{label}' on token {self.token.describe()}.")
        return keys[0]

    @hsm_call("generate")
    def generate(self, label: str, algorithm: KeyAlgorithm, *, backup: bool = True, purpose=None) -> KeyObject:
        """Generate a master key as a token object (see vault.hsm.templates for every attribute).

        backup=True: sensitive and extractable, so that it can be wrapped under the backup KEK;
        refused with KeyNotWrappable before anything is created when the probe says this token
        cannot wrap and unwrap the algorithm. backup=False: never extractable. CKA_ID is 16
        bytes from the HSM RNG. LabelExists if any object already has the label. After
        generation the key's parameters are checked; on a failed check the new objects are
        destroyed and HsmCheckFailed is raised. ``purpose`` (vault.types.KeyPurpose, default by
        algorithm) sets the capability attributes (vault.hsm.purposes), checked after generation.
        """
        return generation.generate(self, label, algorithm, backup=backup, purpose=purpose)

    def x509_signer(self, key: KeyObject):
        """A signer of certificate and CRL TBS data with ``key`` (vault.hsm.x509sign)."""
        from vault.hsm.x509sign import X509Signer

        return X509Signer(self, key)

    @hsm_call("export_public_key")
    def public_key_pem(self, key: KeyObject) -> str:
        """The public key as PEM SubjectPublicKeyInfo (key pairs only)."""
        if key.algorithm.is_secret_key:
            raise ValueError("an AES key has no public key")
        return software.spki_to_pem(objects.public_spki(key, objects.find(self._session, key, self.token)))

    @hsm_call("export_public_key")
    def public_keys_pem(self, keys: Iterable[KeyObject]) -> dict[str, str]:
        """label -> PEM SubjectPublicKeyInfo for the key pairs among ``keys``, from one pass
        over the token's public keys. KeyNotFound if a pair's public half is missing."""
        return wrapping.public_keys_pem(self, keys)

    @hsm_call("sign")
    def sign(self, key: KeyObject, data: bytes) -> bytes:
        """Sign ``data``; the signature is verified in software before it is returned."""
        return signing.sign(self._session, self.token, key, data)

    @hsm_call("destroy")
    def destroy(self, key: KeyObject) -> None:
        """Destroy every object of ``key`` (both halves of a pair) and confirm with a fresh
        search that nothing with its label and CKA_ID is left."""
        for obj in objects.find(self._session, key, self.token).objects():
            obj.destroy()
        template = {A.LABEL: key.label, A.ID: bytes.fromhex(key.key_id)}
        left = sum(1 for _ in self._session.get_objects(template))
        if left:
            raise HsmCheckFailed(f"{left} objects of '{key.label}' are still on the token after destruction.")

    # --- wrapping -------------------------------------------------------------------------------
    @hsm_call("import_kek")
    def import_wrapping_key(self, kek: Secret) -> WrappingKey:
        """Import the backup KEK as a session object that can only wrap and unwrap."""
        return wrapping.import_wrapping_key(self, kek)

    def import_trusted_wrapping_key(self, kek: Secret, *, so_pin: Secret, user_pin: Secret) -> WrappingKey:
        """The backup KEK made trusted by the SO, as a public session object (vault.hsm.trusted)."""
        from vault.hsm.trusted import import_trusted_wrapping_key

        return import_trusted_wrapping_key(self, kek, so_pin=so_pin, user_pin=user_pin)

    @hsm_call("destroy_kek")
    def destroy_wrapping_key(self, wkey: WrappingKey) -> None:
        wrapping.destroy_wrapping_key(self, wkey)

    @hsm_call("wrap")
    def wrap(self, wkey: WrappingKey, key: KeyObject) -> bytes:
        """The RFC 5649 blob of ``key`` under the KEK (some tokens zero-pad private keys first;
        :func:`vault.hsm.software.unwrap_offline` trims that)."""
        return wrapping.wrap(self, wkey, key)

    @hsm_call("wrap")
    def wrap_many(self, wkey: WrappingKey, keys: Iterable[KeyObject]) -> Iterator[tuple[KeyObject, bytes]]:
        """Wrap ``keys`` with one pass over the token's objects; see :meth:`wrap_with_public`."""
        return ((key, blob) for key, blob, _ in wrapping.wrap_stream(self, wkey, keys, public=False))

    @hsm_call("wrap")
    def wrap_with_public(
        self, wkey: WrappingKey, keys: Iterable[KeyObject]
    ) -> Iterator[tuple[KeyObject, bytes, bytes | None]]:
        """(key, blob, SPKI DER of a pair's public half or None) for every key, in the order of ``keys``.

        One pass over the token's objects (reading class, label and CKA_ID only) builds a
        compact index (:class:`vault.hsm.bulk.HandleTable`, at most 32 bytes per object); then
        ``keys``, which may be a generator, is consumed lazily: each key is wrapped (and a
        pair's public value read) when the caller asks for it, so nothing here grows with the
        number of keys but the index. Wrapping changes nothing on the token: a caller that
        stops half-way leaves nothing to undo. KeyNotFound for a key that is not on the token;
        HsmCheckFailed when two objects claim the same key.
        """
        return wrapping.wrap_stream(self, wkey, keys, public=True)

    # --- unwrapping -----------------------------------------------------------------------------
    @hsm_call("unwrap")
    def unwrap(
        self, wkey: WrappingKey, blob: bytes, key: KeyObject, *, public_der: bytes | None, store: bool = True
    ) -> KeyObject:
        """Restore ``key`` from its blob with the same label and CKA_ID.

        Pairs need ``public_der`` (the SPKI DER from the backup): the public half is
        re-created from it. The result is checked before it is returned: AES by its KCV,
        pairs by the SPKI fingerprint and a signature of the unwrapped private key that must
        verify under ``public_der``; on a failed check the new objects are destroyed.
        ``store=False`` makes session objects (drills that leave nothing behind).
        """
        return unwrapping.unwrap(self, wkey, blob, key, public_der=public_der, store=store)

    @hsm_call("unwrap")
    def unwrap_many(
        self, wkey: WrappingKey, items: Iterable[tuple[KeyObject, bytes, bytes | None]], *, store: bool = True
    ) -> list[KeyObject]:
        """Restore several keys: ``items`` are (key, blob, public_der); see :meth:`unwrap_all`.
        Returns the restored keys (one small record per key: for restores of any size use
        :meth:`unwrap_all`)."""
        restored: list[KeyObject] = []
        unwrapping.unwrap_stream(self, wkey, items, store, restored.append)
        return restored

    @hsm_call("unwrap")
    def unwrap_all(
        self, wkey: WrappingKey, items: Iterable[tuple[KeyObject, bytes, bytes | None]], *, store: bool = True
    ) -> RestoredObjects:
        """Restore every (key, blob, public_der) of ``items`` (any iterable, read once), all or nothing.

        Each key is unwrapped and checked as :meth:`unwrap` does. Labels: one pass over the
        token before anything is created indexes the labels present (a compact hash table);
        a key whose label is already on the token (store=True), or repeats an earlier item's,
        raises LabelExists. If anything fails, every object this call created is destroyed
        again by handle (no search) and the error is raised. The result remembers the handles
        of the objects made (8 bytes each) so that the caller can undo the whole restore with
        :meth:`RestoredObjects.undo` if its own bookkeeping fails afterwards.
        """
        return unwrapping.unwrap_stream(self, wkey, items, store, None)

    @hsm_call("unwrap")
    def check_unwrap_many(self, wkey: WrappingKey, items: Iterable[tuple[KeyObject, bytes, bytes | None]]) -> int:
        """Test-restore every (key, blob, public_der) as session objects with the checks of
        :meth:`unwrap` (KCV / fingerprint and a signature), destroying each copy by handle
        at once. Raises on the first blob that fails; nothing is left behind. Returns the
        number of keys checked. ``items`` is read once, one item at a time. For drills and
        backup verification."""
        return unwrapping.check_unwrap_many(self, wkey, items)

    # --- capability probe -----------------------------------------------------------------------
    @hsm_call("probe")
    def probe(self, wrap_mechanism: WrapMechanism | None = None, *, refresh: bool = False) -> Capabilities:
        """What this token can do, found by trying it with session objects (nothing is left
        on the token; failures are recorded, never raised); see :mod:`vault.hsm.probe`.
        Cached per module, token model and firmware, and wrap mechanism (default: the
        session's)."""
        return probing.probe(self, wrap_mechanism or self.wrap_mechanism, refresh=refresh)
