"""custodian.toml's [drill] section: production only, strictly typed."""

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
    ('pin_policy = "hsm"\n', "unknown key [hsm] 'pin_policy'"),  # not built: refused, never ignored
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
