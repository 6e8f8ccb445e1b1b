"""Loading the PKCS#11 module, finding and initialising tokens, opening sessions.

Nothing here knows which module it talks to: limits, flags and mechanisms are asked of the
token. The one exception, the practice token's private configuration, lives in
:mod:`vault.hsm.practice_token`.

Threading: python-pkcs11 calls ``C_Initialize(NULL)``, after which some modules run without
mutexes, and it releases the GIL around every call; two threads inside the module crash the
process. :data:`HSM_LOCK` (one ``RLock`` for the whole process) is held around every PKCS#11
call in vault.hsm, including ``Token.open`` and ``Session.close``. The vault runtime also
runs HSM work on one owner thread; the lock makes misuse safe, not fast.

Staleness: a token's slot id changes when the library is re-initialised, and python-pkcs11
``Token`` objects cache what they read. Nothing here keeps either: every call selects the
token again by label and serial (or URI). Re-initialising the library (loading another
practice conf, wiping a scratch token) bumps a generation counter; an :class:`HsmModule` or
:class:`HsmSession` from an older generation refuses to run instead of touching whatever
token now sits in its old slot.
"""

from __future__ import annotations

import ctypes
import functools
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pkcs11
from pkcs11 import TokenFlag

from vault.errors import (
    HsmError,
    LabelExists,
    ModuleLoadError,
    TokenAmbiguous,
    TokenInUse,
    TokenNotFound,
    TokenNotInitialised,
)
from vault.hsm import practice_token as practice
from vault.hsm.errors import check_rv, translated
from vault.hsm.library_quirks import StaleDescriptorAfterFinalize, descriptors_of, reseat, stale_descriptor_quirk
from vault.hsm.model import TokenInfo, WrapMechanism
from vault.hsm.uri import TokenUri, parse_token_uri
from vault.secret import Secret
from vault.types import TokenSelector

if TYPE_CHECKING:
    from vault.hsm.session import HsmSession

#: Held around every PKCS#11 call in the process (see module doc).
HSM_LOCK = threading.RLock()

Selector = TokenSelector | TokenUri | TokenInfo | str
F = TypeVar("F", bound=Callable[..., Any])



def hsm_call(operation: str | None = None) -> Callable[[F], F]:
    """Decorator: hold HSM_LOCK, check the handle is current, translate PKCS#11 errors."""

    def decorate(fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            with HSM_LOCK:
                self._check_current()
                with translated(operation or fn.__name__):
                    return fn(self, *args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


@dataclass(eq=False)
class _Library:
    """One loaded module (per real path) and what this process did with it."""

    path: str
    lib: Any
    dll: ctypes.CDLL
    conf: Path | None
    generation: int = 1
    # serial -> the open HsmSession on that token (one logged-in session per token: a
    # second login would raise UserAlreadyLoggedIn, and closing any session logs all out)
    sessions: dict[str, HsmSession] = field(default_factory=dict)
    # a library bug that reuses a closed descriptor's number (vault.hsm.library_quirks)
    stale_descriptor: StaleDescriptorAfterFinalize | None = None
    # why this library must not be initialised again in this process (None: it may)
    unusable: str | None = None


_LIBRARIES: dict[str, _Library] = {}


class _CkTokenInfo(ctypes.Structure):
    """CK_TOKEN_INFO (PKCS#11 2.40 section 3.2): python-pkcs11 drops the PIN length limits."""

    _fields_ = [
        ("label", ctypes.c_char * 32),
        ("manufacturer", ctypes.c_char * 32),
        ("model", ctypes.c_char * 16),
        ("serial", ctypes.c_char * 16),
        ("flags", ctypes.c_ulong),
        ("max_sessions", ctypes.c_ulong),
        ("sessions", ctypes.c_ulong),
        ("max_rw_sessions", ctypes.c_ulong),
        ("rw_sessions", ctypes.c_ulong),
        ("max_pin_len", ctypes.c_ulong),
        ("min_pin_len", ctypes.c_ulong),
        ("total_public", ctypes.c_ulong),
        ("free_public", ctypes.c_ulong),
        ("total_private", ctypes.c_ulong),
        ("free_private", ctypes.c_ulong),
        ("hardware_version", ctypes.c_ubyte * 2),
        ("firmware_version", ctypes.c_ubyte * 2),
        ("utc_time", ctypes.c_char * 16),
    ]


def _ctypes_dll(path: str) -> ctypes.CDLL:
    """The module through ctypes, for the calls python-pkcs11 lacks (C_InitToken,
    C_CloseAllSessions, the PIN limits of C_GetTokenInfo). ``dlopen`` returns the handle
    python-pkcs11 already initialised."""
    dll = ctypes.CDLL(path)
    dll.C_InitToken.argtypes = [ctypes.c_ulong, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
    dll.C_InitToken.restype = ctypes.c_ulong
    dll.C_CloseAllSessions.argtypes = [ctypes.c_ulong]
    dll.C_CloseAllSessions.restype = ctypes.c_ulong
    dll.C_GetTokenInfo.argtypes = [ctypes.c_ulong, ctypes.POINTER(_CkTokenInfo)]
    dll.C_GetTokenInfo.restype = ctypes.c_ulong
    return dll


def _pin_limits(dll: ctypes.CDLL, slot_id: int) -> tuple[int, int]:
    """(ulMinPinLen, ulMaxPinLen) of the token in ``slot_id``."""
    info = _CkTokenInfo()
    check_rv(dll.C_GetTokenInfo(slot_id, ctypes.byref(info)), "C_GetTokenInfo")
    return int(info.min_pin_len), int(info.max_pin_len)


def _token_info(token: Any, dll: ctypes.CDLL) -> TokenInfo:
    flags = TokenFlag(token.flags)
    slot_id = token.slot.slot_id
    low, high = _pin_limits(dll, slot_id)
    return TokenInfo(
        label=token.label,
        manufacturer=token.manufacturer_id,
        model=token.model,
        serial=token.serial.decode("ascii", "replace").strip(),
        firmware="{}.{}".format(*token.firmware_version),
        flags=tuple(f.name for f in TokenFlag if f.name and f in flags),
        initialised=bool(flags & TokenFlag.TOKEN_INITIALIZED),
        user_pin_initialised=bool(flags & TokenFlag.USER_PIN_INITIALIZED),
        slot_id=slot_id,
        min_pin_len=low,
        max_pin_len=high,
        protected_authentication_path=bool(flags & TokenFlag.PROTECTED_AUTHENTICATION_PATH),
    )


def _describe(selector: Selector) -> str:
    if isinstance(selector, str):
        return selector if selector.startswith("pkcs11:") else f"label={selector!r}"
    if isinstance(selector, TokenInfo):
        return f"label={selector.label!r} serial={selector.serial!r}"
    return selector.describe()


def _fields(info: TokenInfo) -> dict[str, Any]:
    return {f: getattr(info, f) for f in TokenInfo.__dataclass_fields__}


def _parsed(selector: Selector) -> Selector:
    return parse_token_uri(selector) if isinstance(selector, str) and selector.startswith("pkcs11:") else selector


def _matcher(selector: Selector) -> Callable[[TokenInfo], bool]:
    selector = _parsed(selector)
    if isinstance(selector, str):
        return lambda info: info.label == selector
    if isinstance(selector, TokenInfo):
        # a TokenInfo is stale by nature: re-select by label and serial (serials alone are
        # not unique on every module), the slot only breaks a tie (see _slot_of)
        label, serial = selector.label, selector.serial
        return lambda info: info.label == label and info.serial == serial
    if isinstance(selector, TokenUri):
        uri = selector
        return lambda info: uri.matches(info.label, info.serial, info.manufacturer, info.model)
    if isinstance(selector, TokenSelector):
        sel = selector
        return lambda info: (sel.label is None or info.label == sel.label) and (
            sel.serial is None or info.serial == sel.serial
        )
    raise TypeError(f"not a token selector: {type(selector).__name__}")


def _slot_of(selector: Selector) -> int | None:
    """The slot a selector names to tell apart tokens that are otherwise alike (or None)."""
    selector = _parsed(selector)
    if isinstance(selector, TokenInfo):
        return selector.slot_id if selector.slot_id >= 0 else None
    if isinstance(selector, TokenUri):
        return selector.slot_id
    if isinstance(selector, TokenSelector):
        return selector.slot
    return None


def _one(hits: list[tuple[Any, TokenInfo]], selector: Selector) -> tuple[Any, TokenInfo]:
    """The single hit, or TokenNotFound / TokenAmbiguous naming every slot that matched."""
    if len(hits) > 1 and (slot := _slot_of(selector)) is not None:
        hits = [(t, i) for t, i in hits if i.slot_id == slot]
    if not hits:
        raise TokenNotFound(f"No initialised token matches {_describe(selector)}.")
    if len(hits) > 1:
        alike = "; ".join(i.describe_slot() for _, i in hits)
        raise TokenAmbiguous(
            f"{len(hits)} tokens match {_describe(selector)} and cannot be told apart: {alike}.",
            next_step="Give each token its own label, or add the slot to the token URI "
            "(pkcs11:token=<label>;serial=<serial>;slot-id=<slot>).",
        )
    return hits[0]


class HsmModule:
    """A loaded PKCS#11 module. Get one with :meth:`load`; it is valid until the library is
    re-initialised (another :meth:`load` with another practice conf, a wipe) or closed."""

    def __init__(self, library: _Library) -> None:
        self._library = library
        self._generation = library.generation
        self._conf = library.conf
        self.module_path = library.path

    # --- loading ------------------------------------------------------------------------------
    @classmethod
    def load(cls, module_path: str, *, practice_conf: Path | None = None) -> HsmModule:
        """Load (or re-use) the module at ``module_path``.

        ``practice_conf``: the practice token's private conf
        (vault.hsm.practice_token), set before C_Initialize; when the library is
        already initialised with another conf it is finalised and initialised again (every
        earlier HsmModule and HsmSession of it becomes stale). The same conf re-uses the
        running library. The path is resolved first, because loading the same .so through a
        symlink and through its real path fails in python-pkcs11.
        """
        real = os.path.realpath(module_path)
        if not os.path.isfile(real):
            raise ModuleLoadError(f"The PKCS#11 module {module_path} does not exist.")
        conf = practice.checked_conf(practice_conf) if practice_conf is not None else None
        with HSM_LOCK:
            library = _LIBRARIES.get(real)
            if library is None:
                if conf is not None:
                    practice.point_at(conf)
                try:
                    lib = pkcs11.lib(real)
                except pkcs11.PKCS11Error as exc:
                    raise ModuleLoadError(
                        f"The PKCS#11 module {module_path} could not be initialised ({type(exc).__name__})."
                    ) from None
                library = _LIBRARIES[real] = _Library(real, lib, _ctypes_dll(real), conf,
                                                      stale_descriptor=stale_descriptor_quirk(lib))
            elif (conf is not None and conf != library.conf) or not library.lib.initialized:
                _reinitialise(library, conf if conf is not None else library.conf)
            return cls(library)

    def close(self) -> None:
        """Close this module's sessions and finalise the library (a later load re-initialises)."""
        with HSM_LOCK:
            if self._generation != self._library.generation:
                return
            for session in list(self._library.sessions.values()):
                session.close()
            with translated("close"):
                if self._library.lib.initialized:
                    _finalize(self._library)
            self._library.generation += 1

    def __enter__(self) -> HsmModule:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<HsmModule {self.module_path} conf={self._library.conf}>"

    @property
    def practice_conf(self) -> Path | None:
        """The practice token's conf this handle was loaded with (None for every other module)."""
        return self._conf

    def _check_current(self) -> None:
        if self._generation != self._library.generation:
            raise HsmError(
                "This HSM module handle is stale: the library was re-initialised or closed since it was loaded.",
                next_step="Load the module again (HsmModule.load).",
            )

    # --- tokens -------------------------------------------------------------------------------
    def _scan(self) -> list[tuple[Any, TokenInfo]]:
        found = []
        for slot in self._library.lib.get_slots(token_present=True):
            try:
                token = slot.get_token()
            except (pkcs11.TokenNotPresent, pkcs11.TokenNotRecognised):
                continue
            found.append((token, _token_info(token, self._library.dll)))
        return found

    def _select(self, selector: Selector) -> tuple[Any, TokenInfo]:
        """The one initialised token that ``selector`` matches, freshly read (never cached)."""
        match = _matcher(selector)
        return _one([(t, i) for t, i in self._scan() if i.initialised and match(i)], selector)

    @hsm_call("list_tokens")
    def tokens(self) -> list[TokenInfo]:
        """Initialised tokens only (some modules always show one more, free, slot)."""
        return [info for _, info in self._scan() if info.initialised]

    @hsm_call("list_tokens")
    def slots(self) -> list[TokenInfo]:
        """Every token present, initialised or not (a factory-fresh token, a free slot)."""
        return [info for _, info in self._scan()]

    @hsm_call("find_token")
    def find_token(self, selector: Selector) -> TokenInfo:
        """The token ``selector`` names: a label, a PKCS#11 URI (``pkcs11:...``), a
        TokenSelector, or a TokenInfo (re-read by serial). TokenNotFound / TokenAmbiguous."""
        return self._select(selector)[1]

    @hsm_call("find_slot")
    def find_slot(self, selector: Selector) -> TokenInfo:
        """Like find_token, but an uninitialised (factory-fresh) token matches too: what init
        adopts, and its PIN limits before the first C_InitToken."""
        match = _matcher(selector)
        return _one([(t, i) for t, i in self._scan() if match(i)], selector)[1]

    @hsm_call("init_token")
    def init_token(
        self,
        label: str,
        so_pin: Secret,
        user_pin: Secret,
        *,
        current_so_pin: Secret | None = None,
        target: Selector | None = None,
    ) -> TokenInfo:
        """C_InitToken (through ctypes), then the SO PIN and the user PIN; returns the token.

        Which token: ``target`` (a selector that may also match uninitialised tokens), else
        the first free (uninitialised) slot. C_InitToken takes the token's CURRENT SO PIN:
        ``current_so_pin`` where the token has one already (a factory PIN, a token the vendor's
        tools initialised), else ``so_pin`` (tokens whose first C_InitToken sets the SO PIN).
        After C_InitToken the SO logs in with that PIN, changes it to ``so_pin`` (C_SetPIN)
        when they differ, and sets the user PIN (C_InitPIN). Re-initialising an initialised
        token destroys its objects, so it needs both ``target`` and ``current_so_pin``.

        Refused before any call: a label another initialised token has (LabelExists), PINs
        outside the token's own limits (PinLengthInvalid), an initialised target without its
        current SO PIN (TokenInUse).
        """
        encoded = label.encode("utf-8")
        if not label or len(encoded) > 32 or label != label.strip():
            raise ValueError("a token label is 1..32 bytes of UTF-8 without surrounding spaces")
        scanned = self._scan()
        target_slot = None
        if target is not None:
            match = _matcher(target)
            target_slot = _one([(t, i) for t, i in scanned if match(i)], target)[1].slot_id
        if any(i.initialised and i.label == label and i.slot_id != target_slot for _, i in scanned):
            raise LabelExists(f"A token labelled '{label}' already exists; token labels must be unique.")
        if target is None:
            chosen = next(((t, i) for t, i in scanned if not i.initialised), None)
            if chosen is None:
                raise TokenNotFound(
                    "No free (uninitialised) token slot is available.",
                    next_step="Name the token to initialise (it must be empty or yours to wipe) with its "
                    "current SO PIN, or adopt the token the vendor's tools initialised.",
                )
        else:
            match = _matcher(target)
            chosen = _one([(t, i) for t, i in scanned if match(i)], target)
        token, info = chosen
        if info.initialised and current_so_pin is None:
            raise TokenInUse(
                f"Token {info.describe_slot()} is initialised already; re-initialising it destroys its objects.",
                next_step="Give its current SO PIN to re-initialise it, or adopt it as it is.",
            )
        info.check_pin_length(len(so_pin), "SO PIN")
        info.check_pin_length(len(user_pin), "user PIN")
        login_pin = current_so_pin if current_so_pin is not None else so_pin
        info.check_pin_length(len(login_pin), "current SO PIN")
        slot_id = info.slot_id
        current = login_pin.reveal()
        check_rv(self._library.dll.C_InitToken(slot_id, current, len(current), encoded.ljust(32, b" ")), "C_InitToken")
        fresh = _token_info(token.slot.get_token(), self._library.dll)
        token, _ = self._select(TokenInfo(**{**_fields(fresh), "label": label}))
        try:
            so_session = token.open(rw=True, so_pin=login_pin.reveal_text())
        except pkcs11.PKCS11Error:
            self._reap(token.slot.slot_id)
            raise
        try:
            if current_so_pin is not None and current_so_pin.reveal() != so_pin.reveal():
                so_session.set_pin(current_so_pin.reveal_text(), so_pin.reveal_text())
            so_session.init_pin(user_pin.reveal_text())
        finally:
            so_session.close()
        return self._select(TokenInfo(**{**_fields(fresh), "label": label}))[1]

    @hsm_call("random")
    def random(self, selector: Selector, n: int) -> bytes:
        """``n`` bytes from the token's RNG (C_GenerateRandom; no login needed)."""
        token, _ = self._select(selector)
        session = token.open()
        try:
            return bytes(session.generate_random(n * 8))
        finally:
            session.close()

    @hsm_call("set_pins")
    def set_pins(self, selector: Selector, *, so_pin_old: Secret, so_pin_new: Secret, user_pin_new: Secret) -> TokenInfo:
        """Re-key a token's PINs: SO login with ``so_pin_old`` → C_SetPIN (SO) → C_InitPIN (user).

        Init uses it to replace the transient PINs it initialised the token with by the ones
        derived from the new quorum secret; reshare uses it so that the old shares open nothing
        new. No session of this process may be open on the token (an SO login needs the user
        logged out). A wrong ``so_pin_old`` raises PinIncorrect and changes nothing (the session
        python-pkcs11 leaks on a failed login is reaped). If C_InitPIN fails after the SO PIN
        changed, the SO PIN is set back to ``so_pin_old`` before the error is raised, so a
        failure leaves the token's PINs as they were.
        """
        token, info = self._select(selector)
        info.check_pin_length(len(so_pin_new), "new SO PIN")
        info.check_pin_length(len(user_pin_new), "new user PIN")
        if info.serial in self._library.sessions:
            raise HsmError(
                f"A session is open on token {info.describe()}; its PINs change only with every session closed.",
                next_step="Close the session first.",
            )
        try:
            so_session = token.open(rw=True, so_pin=so_pin_old.reveal_text())
        except pkcs11.PKCS11Error:
            self._reap(token.slot.slot_id)
            raise
        try:
            so_session.set_pin(so_pin_old.reveal_text(), so_pin_new.reveal_text())
            try:
                so_session.init_pin(user_pin_new.reveal_text())
            except pkcs11.PKCS11Error:
                so_session.set_pin(so_pin_new.reveal_text(), so_pin_old.reveal_text())  # back to the old SO PIN
                raise
        finally:
            so_session.close()
        return self._select(info)[1]

    # --- sessions -----------------------------------------------------------------------------
    @hsm_call("login")
    def open_session(
        self,
        selector: Selector,
        user_pin: Secret,
        *,
        wrap_mechanism: WrapMechanism | None = None,
    ) -> HsmSession:
        """A read-write session logged in as the user.

        ``wrap_mechanism`` None (custodian.toml ``auto``): chosen from the token's mechanism
        list and self-tested (:func:`vault.hsm.probe.choose_wrap_mechanism`) when first needed.

        One logged-in session per token and process (PKCS#11 login state is per token, and
        closing any session logs every session out): a second one is refused. A failed login
        leaks the session python-pkcs11 opened (platform-facts, pitfall 5); it is reaped with
        C_CloseAllSessions on that slot, which is safe because no other session of ours is
        open there.
        """
        from vault.hsm.session import HsmSession

        token, info = self._select(selector)
        if info.serial in self._library.sessions:
            raise HsmError(
                f"A session is already open on token {info.describe()}.",
                next_step="Use the open session, or close it first.",
            )
        if not info.user_pin_initialised:
            raise TokenNotInitialised(f"Token {info.describe()} has no user PIN yet.")
        try:
            session = token.open(rw=True, user_pin=user_pin.reveal_text())
        except pkcs11.PKCS11Error:
            self._reap(token.slot.slot_id)
            raise
        hsm_session = HsmSession(self, session, info, wrap_mechanism)
        self._library.sessions[info.serial] = hsm_session
        return hsm_session

    @hsm_call("open_session")
    def open_public_session(
        self,
        selector: Selector,
        *,
        wrap_mechanism: WrapMechanism | None = None,
    ) -> HsmSession:
        """A read-only session WITHOUT login: it sees public objects only (the public halves
        of key pairs). ``custodian doctor`` uses it to compare the token with the database
        when no quorum is present; anything private needs :meth:`open_session`."""
        from vault.hsm.session import HsmSession

        token, info = self._select(selector)
        if info.serial in self._library.sessions:
            raise HsmError(
                f"A session is already open on token {info.describe()}.",
                next_step="Use the open session, or close it first.",
            )
        session = token.open(rw=False)
        hsm_session = HsmSession(self, session, info, wrap_mechanism)
        self._library.sessions[info.serial] = hsm_session
        return hsm_session

    def _reap(self, slot_id: int) -> None:
        """Close every session of this process on ``slot_id`` (the leaked one included)."""
        check_rv(self._library.dll.C_CloseAllSessions(slot_id), "C_CloseAllSessions")

    def _forget(self, session: HsmSession) -> None:
        if self._library.sessions.get(session.token.serial) is session:
            del self._library.sessions[session.token.serial]

    # --- the practice token ---------------------------------------------------------------------
    @hsm_call("wipe_token")
    def wipe_practice_token(self, selector: Selector, *, user_pin: Secret | None = None) -> None:
        """Destroy a practice scratch token; see :func:`vault.hsm.practice_token.wipe_token`."""
        practice.wipe_token(self, selector, user_pin)


def _reinitialise(library: _Library, conf: Path | None) -> None:
    """C_Finalize, (practice token) point the module at ``conf``, C_Initialize: a fresh slot list."""
    _refuse_if_unusable(library)
    with translated("initialise"):
        if library.lib.initialized:
            _finalize(library)
            _refuse_if_unusable(library)
        if conf is not None:
            practice.point_at(conf)
        library.lib.initialize()
    library.conf = conf
    library.sessions.clear()
    library.generation += 1


def _finalize(library: _Library) -> None:
    """C_Finalize; for a library that keeps a closed descriptor's number, re-seat that number
    on the same file at once (vault.hsm.library_quirks), or mark the library unusable."""
    quirk = library.stale_descriptor
    remembered = descriptors_of(quirk.lock_file) if quirk else {}
    library.lib.finalize()
    if remembered is None:  # which number it remembers cannot be known here: never initialise it again
        library.unusable = (f"The PKCS#11 module {library.path} cannot be initialised again in this process: this "
                            "version would close a descriptor it no longer owns, and this system does not list a "
                            "process's descriptors (docs/hsm-support.md, library quirks).")
        return
    for number, path in remembered.items():
        if not reseat(number, path):
            library.unusable = (
                f"The PKCS#11 module {library.path} cannot be initialised again in this process: this version "
                f"would close descriptor {number}, which another file now uses (docs/hsm-support.md, library quirks)."
            )


def _refuse_if_unusable(library: _Library) -> None:
    if library.unusable:
        raise ModuleLoadError(library.unusable, next_step="Restart the console (a new process loads the module afresh).")
