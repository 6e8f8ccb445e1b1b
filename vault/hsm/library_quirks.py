"""Quirks of a PKCS#11 *library* (not of its tokens), as data, and how the console copes.

Token quirks live in the profiles (vault/hsm/profiles); these are bugs of the module's own code
that touch this process, identified by C_GetInfo (manufacturer, description, library version).

The one known here: opencryptoki before 3.21 opens its process lock file at C_Initialize and
closes it at C_Finalize without forgetting the descriptor's number (``ProcClose`` in
usr/lib/api/apiutil.c leaves ``xplfd`` set; fixed upstream in 3.21). The next C_Initialize in
the same process then takes *whatever file now has that number* as its lock, flocks it around
calls, and closes it at the next C_Finalize. Measured here with 3.8.1: a file opened between a
finalize and the next initialise is closed behind its owner's back, so a re-initialised
library could close the vault's SQLite database or a backup being written.

The console re-initialises a library (a practice conf change, a wipe, a load after a close), so
for such a library it re-seats the number right after every C_Finalize: it opens the same lock
file again on exactly that descriptor number (``F_DUPFD`` from the number up, which is atomic),
so the library's stale number names the file it expects, and the close at the next finalize
closes that copy, never someone else's file. If another thread took the number first, the
library is marked unusable for re-initialisation in this process, and loading it again is
refused with the reason (restart the console), instead of letting it close that file later.
"""

from __future__ import annotations

import fcntl
import fnmatch
import os
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class StaleDescriptorAfterFinalize:
    """A library that keeps the number of a file it closed at C_Finalize and reuses it."""

    manufacturer: str  # C_GetInfo manufacturerID (fnmatch pattern)
    description: str  # C_GetInfo libraryDescription (fnmatch pattern)
    fixed_in: tuple[int, int]  # first library version without the bug
    lock_file: str  # fnmatch pattern of the file (as /proc/self/fd shows it) the library re-opens
    source: str  # where the fact comes from


STALE_DESCRIPTOR_QUIRKS: tuple[StaleDescriptorAfterFinalize, ...] = (
    StaleDescriptorAfterFinalize(
        manufacturer="IBM",
        description="Meta PKCS11 LIBRARY",
        fixed_in=(3, 21),
        lock_file="*/opencryptoki/LCK..APIlock",
        source="measured with opencryptoki 3.8.1 here; upstream fix 466cdc44 (3.21) resets xplfd in ProcClose",
    ),
)


def stale_descriptor_quirk(lib: Any) -> StaleDescriptorAfterFinalize | None:
    """The quirk that applies to the loaded python-pkcs11 ``lib``, or None."""
    manufacturer = str(getattr(lib, "manufacturer_id", "")).strip()
    description = str(getattr(lib, "library_description", "")).strip()
    version = tuple(getattr(lib, "library_version", (0, 0)))[:2]
    for quirk in STALE_DESCRIPTOR_QUIRKS:
        if (fnmatch.fnmatchcase(manufacturer, quirk.manufacturer)
                and fnmatch.fnmatchcase(description, quirk.description) and version < quirk.fixed_in):
            return quirk
    return None


def descriptors_of(pattern: str, fd_dir: str = "/proc/self/fd") -> dict[int, str] | None:
    """This process's open descriptors whose file matches ``pattern``: number -> path; None where
    the process's descriptors cannot be listed (no /proc), so the caller cannot know them."""
    found = {}
    try:
        names = os.listdir(fd_dir)
    except OSError:
        return None
    for name in names:
        try:
            target = os.readlink(f"/proc/self/fd/{name}")
        except OSError:
            continue  # closed meanwhile (or the listing's own descriptor)
        if fnmatch.fnmatchcase(target, pattern):
            found[int(name)] = target
    return found


def reseat(number: int, path: str) -> bool:
    """Open ``path`` on exactly descriptor ``number`` (which the library just closed and still
    remembers). False if the number is taken already: nothing is changed then."""
    try:
        copy = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return False
    if copy == number:
        return True  # the lowest free number was the one the library remembers
    try:
        got = fcntl.fcntl(copy, fcntl.F_DUPFD_CLOEXEC, number)  # lowest free number >= number
    finally:
        os.close(copy)
    if got != number:
        os.close(got)  # the number belongs to another file now: never touch it
        return False
    return True
