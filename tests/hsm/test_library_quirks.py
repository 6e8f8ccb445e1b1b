"""Library bugs that touch this process (vault.hsm.library_quirks), on the real modules here.

opencryptoki 3.8.1 forgets to forget the number of its process-lock descriptor at C_Finalize:
the next C_Initialize adopts whatever file now has that number and the next C_Finalize closes
it. These tests open a file in exactly that window, as any other part of the console may (the
SQLite database, a bundle being written), and check the library never closes it."""

from __future__ import annotations

import os

import pytest

from tests.support import opencryptoki
from vault.errors import ModuleLoadError
from vault.hsm import HsmModule
from vault.hsm import library_quirks as quirks


def _alive(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True


@pytest.fixture
def opencryptoki_path():
    with opencryptoki.factory_token() as path:
        yield path


def test_a_file_opened_between_two_loads_survives_the_next_close(opencryptoki_path, tmp_path):
    module = HsmModule.load(opencryptoki_path)
    module.close()  # C_Finalize: the library closes its lock file and keeps the number
    with open(tmp_path / "vault.db", "wb") as victim:  # any file the console opens now
        module = HsmModule.load(opencryptoki_path)  # C_Initialize: adopts the remembered number
        assert module.slots()  # the library works on the adopted number
        module.close()  # C_Finalize: closes the remembered number
        assert _alive(victim.fileno()), "the library closed a file it does not own"
        victim.write(b"still mine")


def test_the_quirk_is_chosen_by_the_library_info_and_version(hsm_module, pkcs11_backend):
    lib = hsm_module._library.lib
    quirk = quirks.stale_descriptor_quirk(lib)
    if pkcs11_backend == "softhsm":
        assert quirk is None
        return
    assert quirk is not None and hsm_module._library.stale_descriptor == quirk  # opencryptoki 3.8.1

    class Fixed:  # the same library as a version with the upstream fix reports itself
        manufacturer_id = lib.manufacturer_id
        library_description = lib.library_description
        library_version = quirk.fixed_in

    assert quirks.stale_descriptor_quirk(Fixed()) is None


def test_a_taken_number_is_never_reseated(tmp_path):
    """If another file has the number by the time of the re-seat, it is left alone."""
    with open(tmp_path / "other", "wb") as other, open(tmp_path / "lock", "wb"):
        assert quirks.reseat(other.fileno(), str(tmp_path / "lock")) is False
        assert os.readlink(f"/proc/self/fd/{other.fileno()}") == str(tmp_path / "other")


def test_a_library_whose_number_was_taken_is_refused_with_the_reason(opencryptoki_path, tmp_path, monkeypatch):
    import vault.hsm.module as module_code

    module = HsmModule.load(opencryptoki_path)
    library = module._library
    [(number, lock_file)] = quirks.descriptors_of(library.stale_descriptor.lock_file).items()
    taken: list[int] = []

    def another_thread_first(n: int, path: str) -> bool:  # a file opened in the window after C_Finalize
        taken.append(os.open(tmp_path / "someone-elses", os.O_WRONLY | os.O_CREAT, 0o600))
        return quirks.reseat(n, path)

    monkeypatch.setattr(module_code, "reseat", another_thread_first)
    module.close()
    monkeypatch.undo()
    try:
        assert taken == [number]  # the other file got the library's remembered number
        with pytest.raises(ModuleLoadError) as refused:
            HsmModule.load(opencryptoki_path)
        assert "cannot be initialised again in this process" in str(refused.value)
        assert "Restart the console" in str(refused.value)
        assert not module_code._LIBRARIES[library.path].lib.initialized  # refused before C_Initialize
    finally:
        os.close(taken[0])
        library.unusable = None  # later tests load this module again: give the number back its file
        assert quirks.reseat(number, lock_file)


def test_where_descriptors_cannot_be_listed_the_library_is_not_initialised_again(opencryptoki_path, tmp_path,
                                                                                 monkeypatch):
    """No /proc (another system): the remembered number cannot be found, so the module is refused
    for re-initialisation rather than left to close some other file later."""
    import vault.hsm.module as module_code

    assert quirks.descriptors_of("*", fd_dir=str(tmp_path / "no-proc")) is None
    module = HsmModule.load(opencryptoki_path)
    library = module._library
    [(number, lock_file)] = quirks.descriptors_of(library.stale_descriptor.lock_file).items()
    monkeypatch.setattr(module_code, "descriptors_of", lambda pattern: None)
    module.close()
    monkeypatch.undo()
    try:
        with pytest.raises(ModuleLoadError, match="does not list a process's descriptors"):
            HsmModule.load(opencryptoki_path)
    finally:
        library.unusable = None  # later tests load this module again: give the number back its file
        assert quirks.reseat(number, lock_file)
