"""custodian.toml: the [drill] section (production only, strictly typed), adoption, and the practice
token's conf (``[hsm] practice_conf``; older practice homes said ``softhsm_conf``)."""

from __future__ import annotations

import pytest

from vault.errors import ConfigError
from vault.home import CONFIG_NAME, HomeConfig, load_config
from vault.types import Mode


def write(tmp_path, mode: str, extra: str):
    path = tmp_path / CONFIG_NAME
    path.write_text(f'format = 1\nmode = "{mode}"\n[hsm]\nmodule = "/x.so"\ntoken = "t"\n{extra}')
    return path


def test_a_production_home_names_its_drill_token(tmp_path):
    config = load_config(write(tmp_path, "production", '[drill]\nmodule = "/spare.so"\ntoken = "drill-spare"\n'))
    assert (config.drill_module, config.drill_token) == ("/spare.so", "drill-spare")
    (tmp_path / CONFIG_NAME).write_text(config.to_toml())
    again = load_config(tmp_path / CONFIG_NAME)
    assert (again.drill_module, again.drill_token) == ("/spare.so", "drill-spare")
    assert load_config(write(tmp_path, "production", "")).drill_module is None


@pytest.mark.parametrize("extra, message", [
    ('pin_policy = "pin-pad"\n', "pin_policy must be 'quorum', 'hsm' or 'hsm-procedure'"),  # refused, never ignored
    ('pin_policy = "hsm-procedure"\nadopt_token = "t"\ncurrent_so_pin = "env:SO_PIN"\n',
     "keeps the token's PINs as the vendor's procedure set them"),
    ('[drill]\nmodule = "/spare.so"\n', "missing key [drill] 'token'"),
    ('[drill]\nmodule = "/spare.so"\ntoken = "d"\nslot = 3\n', "unknown key [drill] 'slot'"),
])
def test_bad_drill_and_pin_settings_are_refused_by_name(tmp_path, extra, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_config(write(tmp_path, "production", extra))


@pytest.mark.parametrize("extra", ['[drill]\nmodule = "/spare.so"\ntoken = "d"\n'])
def test_a_practice_home_drills_in_its_scratch_token_only(tmp_path, extra):
    with pytest.raises(ConfigError, match="a practice home drills in its scratch token"):
        load_config(write(tmp_path, "practice", extra))


def test_the_defaults_write_no_drill_section():
    text = HomeConfig(mode=Mode.PRODUCTION, module="/x.so", token="t").to_toml()
    assert "[drill]" not in text


def test_adoption_names_the_token_and_its_current_so_pin_by_reference(tmp_path):
    config = load_config(write(tmp_path, "production", 'adopt_token = "pkcs11:serial=123"\ncurrent_so_pin = "env:SO"\n'))
    assert (config.adopt_token, config.current_so_pin) == ("pkcs11:serial=123", "env:SO")
    (tmp_path / "again.toml").write_text(config.to_toml())
    again = load_config(tmp_path / "again.toml")
    assert again.adopt_token == "pkcs11:serial=123" and again.current_so_pin == "env:SO"


@pytest.mark.parametrize("mode, extra, message", [
    ("production", 'adopt_token = "t0"\ncurrent_so_pin = "87654321"\n', "must be a reference"),  # never in clear
    ("production", 'adopt_token = "t0"\ncurrent_so_pin = "env:"\n', "must be a reference"),
    ("production", 'adopt_token = "t0"\n', "go together"),
    ("production", 'current_so_pin = "env:SO"\n', "go together"),
    ("practice", 'adopt_token = "t0"\ncurrent_so_pin = "env:SO"\n', "adoption is for production homes"),
])
def test_bad_adoption_settings_are_refused(tmp_path, mode, extra, message):
    with pytest.raises(ConfigError, match=message):
        load_config(write(tmp_path, mode, extra))


def test_home_init_refuses_a_current_so_pin_given_in_clear(tmp_path):
    from vault.errors import HomeError
    from vault.home import create_production_home

    module = tmp_path / "vendor.so"
    module.write_bytes(b"")
    with pytest.raises(HomeError, match="only by reference"):
        create_production_home(tmp_path / "h", str(module), "t", adopt_token="t0", current_so_pin="87654321")
    assert not (tmp_path / "h").exists()  # nothing half-made


def test_a_new_practice_home_names_its_conf_practice_conf(tmp_path):
    from vault.home import create_practice_home

    home = create_practice_home(tmp_path / "h")
    text = (home.path / CONFIG_NAME).read_text()
    assert 'practice_conf = "softhsm2.conf"' in text and "softhsm_conf" not in text
    assert home.practice_conf == home.path / "softhsm2.conf" and home.practice_conf.is_file()
    assert load_config(home.path / CONFIG_NAME).practice_conf == "softhsm2.conf"


def test_an_existing_practice_home_with_the_old_key_still_opens_and_reaches_its_token(tmp_path):
    """A practice home written before the rename keeps working: the old key is read (and written
    back under the new name if the file is ever rewritten), the vault loads its practice token."""
    from vault.home import create_practice_home
    from vault.vault import Vault

    home = create_practice_home(tmp_path / "h")
    path = home.path / CONFIG_NAME
    path.write_text(path.read_text().replace("practice_conf =", "softhsm_conf ="))
    config = load_config(path)
    assert config.practice_conf == "softhsm2.conf"
    assert "practice_conf =" in config.to_toml() and "softhsm_conf" not in config.to_toml()
    vault = Vault.open(home.path, create_practice=False)
    try:
        assert vault.hsm().practice_conf == (home.path / "softhsm2.conf").resolve()
    finally:
        vault.close()


@pytest.mark.parametrize("mode, extra, message", [
    ("practice", 'practice_conf = "softhsm2.conf"\nsofthsm_conf = "softhsm2.conf"\n', "both practice_conf and softhsm_conf"),
    ("production", 'practice_conf = "softhsm2.conf"\n', "production home cannot use the practice token's configuration"),
    ("production", 'softhsm_conf = "softhsm2.conf"\n', r"production home cannot use the practice token's configuration \(\[hsm\] softhsm_conf\)"),
    ("practice", 'practice_conf = 3\n', "'practice_conf' must be a non-empty str"),
    ("practice", 'softhsm_conf = ""\n', "'softhsm_conf' must be a non-empty str"),
])
def test_bad_practice_conf_settings_are_refused_by_name(tmp_path, mode, extra, message):
    with pytest.raises(ConfigError, match=message):
        load_config(write(tmp_path, mode, extra))


def test_a_drill_token_can_be_adopted_given_its_current_so_pin_by_reference(tmp_path):
    extra = '[drill]\nmodule = "/spare.so"\ntoken = "d"\nadopt_token = "pkcs11:serial=123"\ncurrent_so_pin = "env:SO"\n'
    config = load_config(write(tmp_path, "production", extra))
    assert (config.drill_adopt_token, config.drill_current_so_pin) == ("pkcs11:serial=123", "env:SO")
    (tmp_path / "again.toml").write_text(config.to_toml())
    again = load_config(tmp_path / "again.toml")
    assert (again.drill_adopt_token, again.drill_current_so_pin) == ("pkcs11:serial=123", "env:SO")


@pytest.mark.parametrize("extra, message", [
    ('adopt_token = "t0"\ncurrent_so_pin = "87654321"\n', r"\[drill\] current_so_pin must be a reference"),
    ('adopt_token = "t0"\n', r"\[drill\] adopt_token and current_so_pin go together"),
    ('current_so_pin = "file:so"\n', r"\[drill\] adopt_token and current_so_pin go together"),
])
def test_bad_drill_adoption_settings_are_refused(tmp_path, extra, message):
    with pytest.raises(ConfigError, match=message):
        load_config(write(tmp_path, "production", '[drill]\nmodule = "/spare.so"\ntoken = "d"\n' + extra))
