"""The one table that maps PKCS#11 exceptions to vault errors.

Every PKCS#11 call in ``vault.hsm`` runs inside :func:`translated`, which turns a
``pkcs11.exceptions.PKCS11Error`` into a :class:`vault.errors.VaultError`:

* a class listed in :data:`ERROR_TABLE` becomes the vault error named there, with the
  table's message (which never includes anything the module said: python-pkcs11 puts
  search templates and other data into some exception arguments);
* the table is keyed by ``(exception class, operation)``; ``operation`` ``None`` is the
  default row and a row for a named operation (``"unwrap"``, ``"login"``...) overrides it,
  because the same return value means different things in different calls (the practice token
  answers a tampered wrapped blob with ``CKR_GENERAL_ERROR``);
* anything else becomes a plain :class:`~vault.errors.HsmError` that names the exception
  class only, never its arguments.

The original exception is not chained (``from None``) so that no argument of it reaches a
log through ``__cause__``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from pkcs11 import exceptions as p11

from vault import errors as ve

# (vault error class, message). The message is shown to people and written to the ledger.
Row = tuple[type[ve.VaultError], str]

ERROR_TABLE: dict[tuple[type[p11.PKCS11Error], str | None], Row] = {
    # --- PINs and login ---------------------------------------------------------------------
    (p11.PinIncorrect, None): (ve.PinIncorrect, "The token refused the PIN."),
    (p11.PinInvalid, None): (ve.PinIncorrect, "The token refused the PIN (invalid characters)."),
    (p11.PinLenRange, None): (ve.PinIncorrect, "The token refused the PIN (length out of range)."),
    (p11.PinIncorrect, "init_token"): (
        ve.PinIncorrect,
        "The token refused the SO PIN (the practice token also answers this for SO PINs shorter than 4).",
    ),
    (p11.PinLocked, None): (ve.PinLocked, "The token has locked this PIN (CKR_PIN_LOCKED)."),
    (p11.PinExpired, None): (ve.HsmError, "The token says this PIN has expired; it must be changed first."),
    (p11.UserPinNotInitialized, None): (
        ve.TokenNotInitialised,
        "The token has no user PIN yet (it was initialised but the PIN step did not finish).",
    ),
    (p11.UserAlreadyLoggedIn, None): (
        ve.HsmError,
        "This process is already logged in to the token; close the other session first.",
    ),
    (p11.AnotherUserAlreadyLoggedIn, None): (
        ve.HsmError,
        "Another user (SO or user) is logged in to the token; close that session first.",
    ),
    (p11.UserNotLoggedIn, None): (ve.HsmError, "The session is not logged in to the token."),
    (p11.SessionReadOnlyExists, None): (
        ve.HsmError,
        "A read-only session is open on the token, which blocks the security officer login.",
    ),
    (p11.SessionReadWriteSOExists, None): (ve.HsmError, "A security officer session is open on the token."),
    (p11.SessionExists, None): (ve.HsmError, "A session is open on the token, which blocks this step."),
    (p11.SessionHandleInvalid, None): (ve.HsmError, "The HSM session is closed."),
    (p11.SessionClosed, None): (ve.HsmError, "The HSM session is closed."),
    (p11.SessionCount, None): (ve.HsmError, "The token has no free session."),
    (p11.SessionReadOnly, None): (ve.HsmError, "The session is read-only; token objects need a read-write session."),
    # --- tokens and slots -------------------------------------------------------------------
    (p11.NoSuchToken, None): (ve.TokenNotFound, "No token matches."),
    (p11.MultipleTokensReturned, None): (ve.TokenAmbiguous, "More than one token matches."),
    (p11.TokenNotRecognised, None): (
        ve.TokenNotFound,
        "The token is no longer where it was (the library was re-initialised or the token removed).",
    ),
    (p11.TokenNotPresent, None): (ve.TokenNotFound, "The token is not present."),
    (p11.DeviceRemoved, None): (ve.TokenNotFound, "The token was removed."),
    (p11.SlotIDInvalid, None): (ve.TokenNotFound, "The slot of the token no longer exists."),
    (p11.TokenWriteProtected, None): (ve.HsmError, "The token is write-protected."),
    # --- objects ----------------------------------------------------------------------------
    (p11.NoSuchKey, None): (ve.KeyNotFound, "No key with that label on the token."),
    (p11.MultipleObjectsReturned, None): (ve.HsmCheckFailed, "More than one object matches where one was expected."),
    (p11.ObjectHandleInvalid, None): (ve.KeyNotFound, "The key no longer exists on the token."),
    (p11.KeyHandleInvalid, None): (ve.KeyNotFound, "The key no longer exists on the token."),
    (p11.AttributeSensitive, None): (ve.HsmError, "The token refused to reveal a sensitive attribute."),
    (p11.AttributeTypeInvalid, None): (ve.HsmError, "The token rejected an attribute of the key template."),
    (p11.AttributeValueInvalid, None): (ve.HsmError, "The token rejected a value in the key template."),
    (p11.AttributeReadOnly, None): (ve.HsmError, "The token refused to set a read-only attribute."),
    (p11.TemplateIncomplete, None): (ve.HsmError, "The token found the key template incomplete."),
    (p11.TemplateInconsistent, None): (ve.HsmError, "The token found the key template inconsistent."),
    # --- mechanisms -------------------------------------------------------------------------
    (p11.MechanismInvalid, None): (ve.MechanismUnsupported, "The token does not offer this mechanism."),
    (p11.MechanismParamInvalid, None): (ve.MechanismUnsupported, "The token rejected the mechanism parameters."),
    (p11.FunctionNotSupported, None): (ve.MechanismUnsupported, "The token does not implement this function."),
    (p11.KeySizeRange, None): (ve.MechanismUnsupported, "The token does not support this key size."),
    (p11.DomainParamsInvalid, None): (ve.MechanismUnsupported, "The token does not support this curve."),
    (p11.KeyTypeInconsistent, None): (ve.MechanismUnsupported, "The key type does not fit the mechanism."),
    (p11.FunctionRejected, None): (ve.HsmError, "The token refused the operation."),
    (p11.RandomNoRNG, None): (ve.MechanismUnsupported, "The token has no random number generator."),
    # --- wrap / unwrap ----------------------------------------------------------------------
    (p11.KeyNotWrappable, None): (ve.KeyNotWrappable, "The token cannot wrap this key."),
    (p11.KeyUnextractable, None): (
        ve.KeyNotWrappable,
        "The key is not extractable (it was generated without backup), so it cannot be wrapped.",
    ),
    (p11.WrappedKeyInvalid, None): (ve.WrappedKeyInvalid, "The token rejected the wrapped key."),
    (p11.WrappedKeyLenRange, None): (ve.WrappedKeyInvalid, "The wrapped key has an impossible length."),
    (p11.EncryptedDataInvalid, "unwrap"): (ve.WrappedKeyInvalid, "The token rejected the wrapped key."),
    # The practice token answers a tampered or foreign RFC 5649 blob with CKR_GENERAL_ERROR, and an
    # Ed25519 PKCS#8 with CKR_FUNCTION_FAILED (platform-facts, section 2).
    (p11.GeneralError, "unwrap"): (
        ve.WrappedKeyInvalid,
        "The token could not unwrap the blob (wrong KEK, damaged blob, or a key type it cannot import).",
    ),
    (p11.FunctionFailed, "unwrap"): (
        ve.WrappedKeyInvalid,
        "The token could not unwrap the blob (wrong KEK, damaged blob, or a key type it cannot import).",
    ),
    (p11.FunctionFailed, "wrap"): (ve.KeyNotWrappable, "The token failed to wrap this key."),
    (p11.WrappingKeyHandleInvalid, None): (ve.HsmError, "The wrapping key is gone (its session was closed)."),
    (p11.UnwrappingKeyHandleInvalid, None): (ve.HsmError, "The wrapping key is gone (its session was closed)."),
    (p11.WrappingKeyTypeInconsistent, None): (ve.MechanismUnsupported, "The wrapping key does not fit the mechanism."),
    (p11.UnwrappingKeyTypeInconsistent, None): (ve.MechanismUnsupported, "The wrapping key does not fit the mechanism."),
    (p11.WrappingKeySizeRange, None): (ve.MechanismUnsupported, "The token rejects the wrapping key size."),
    (p11.UnwrappingKeySizeRange, None): (ve.MechanismUnsupported, "The token rejects the wrapping key size."),
    # --- signatures and data ----------------------------------------------------------------
    (p11.SignatureInvalid, None): (ve.HsmCheckFailed, "The token reports that a signature does not verify."),
    (p11.SignatureLenRange, None): (ve.HsmCheckFailed, "The token reports a signature of the wrong length."),
    (p11.DataLenRange, None): (ve.HsmError, "The token rejected the data length."),
    (p11.DataInvalid, None): (ve.HsmError, "The token rejected the data."),
    # --- the device itself ------------------------------------------------------------------
    (p11.GeneralError, None): (ve.HsmError, "The token reported a general error (check its configuration and storage)."),
    (p11.FunctionFailed, None): (ve.HsmError, "The token could not complete the function."),
    (p11.DeviceError, None): (ve.HsmError, "The token reported a device error."),
    (p11.DeviceMemory, None): (ve.HsmError, "The token is out of memory."),
    (p11.HostMemory, None): (ve.HsmError, "The PKCS#11 module ran out of host memory."),
    (p11.OperationActive, None): (ve.HsmError, "Another operation is active in this session."),
    (p11.OperationNotInitialized, None): (ve.HsmError, "The operation was not started."),
    (p11.ArgumentsBad, None): (ve.HsmError, "The PKCS#11 module rejected the call's arguments."),
}


def map_exception(exc: BaseException, operation: str | None = None) -> ve.VaultError:
    """The vault error for ``exc`` (a PKCS#11 exception) raised during ``operation``."""
    for klass in type(exc).__mro__:
        row = ERROR_TABLE.get((klass, operation)) if operation else None
        row = row or ERROR_TABLE.get((klass, None))  # type: ignore[arg-type]
        if row is not None:
            error_class, message = row
            return error_class(message)
    # Unmapped: the class name only. Arguments can carry templates, labels or data.
    where = f" during {operation}" if operation else ""
    return ve.HsmError(f"The PKCS#11 module raised {type(exc).__name__}{where}.")


@contextlib.contextmanager
def translated(operation: str | None = None) -> Iterator[None]:
    """Run a block of PKCS#11 calls; re-raise PKCS#11 exceptions as vault errors."""
    try:
        yield
    except p11.PKCS11Error as exc:
        raise map_exception(exc, operation) from None


# Return values of the calls made through ctypes (C_InitToken, C_CloseAllSessions, and the
# bulk paths of vault.hsm.bulk: C_FindObjects*, C_GetAttributeValue, C_WrapKey, C_DestroyObject),
# as the python-pkcs11 classes that the table above maps. Others become HsmError.
CKR_CLASSES: dict[int, type[p11.PKCS11Error]] = {
    0x02: p11.HostMemory,
    0x03: p11.SlotIDInvalid,
    0x05: p11.GeneralError,
    0x06: p11.FunctionFailed,
    0x30: p11.DeviceError,
    0x31: p11.DeviceMemory,
    0x32: p11.DeviceRemoved,
    0x60: p11.KeyHandleInvalid,
    0x63: p11.KeyTypeInconsistent,
    0x69: p11.KeyNotWrappable,
    0x6A: p11.KeyUnextractable,
    0x70: p11.MechanismInvalid,
    0x71: p11.MechanismParamInvalid,
    0x82: p11.ObjectHandleInvalid,
    0x90: p11.OperationActive,
    0x91: p11.OperationNotInitialized,
    0xA0: p11.PinIncorrect,
    0xA1: p11.PinInvalid,
    0xA2: p11.PinLenRange,
    0xA4: p11.PinLocked,
    0xB0: p11.SessionClosed,
    0xB3: p11.SessionHandleInvalid,
    0xB6: p11.SessionExists,
    0xB7: p11.SessionReadOnlyExists,
    0xE0: p11.TokenNotPresent,
    0xE1: p11.TokenNotRecognised,
    0xE2: p11.TokenWriteProtected,
    0x101: p11.UserNotLoggedIn,
}


def check_rv(rv: int, function: str) -> None:
    """Raise the python-pkcs11 exception for a ctypes call's CK_RV (0 = OK)."""
    if rv == 0:
        return
    klass = CKR_CLASSES.get(rv)
    if klass is None:
        raise ve.HsmError(f"{function} failed with CKR 0x{rv:x}.")
    raise klass()
