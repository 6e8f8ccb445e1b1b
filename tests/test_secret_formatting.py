"""A ``vault.secret.Secret`` never shows its value: not in an f-string, ``format()``, ``%``,
``str()``, ``repr()``, ``str.format``, a container's or a dataclass's repr, an exception message
or a log record (message, arguments, ``%r``, ``exc_info``). Only ``reveal()`` gives it."""

from __future__ import annotations

import json
import logging
import pickle
from dataclasses import dataclass

import pytest

from vault.secret import Secret

VALUE = "correct-horse-battery-staple-7731"


@pytest.fixture
def secret():
    s = Secret(VALUE, "passphrase")
    yield s
    s.wipe()


@dataclass
class Holder:
    name: str
    secret: Secret


def renderings(s: Secret) -> dict[str, str]:
    return {
        "f-string": f"{s}",
        "f-string !r": f"{s!r}",
        "f-string !s": f"{s!s}",
        "f-string spec": f"{s:>60}",
        "format()": format(s),
        "format() spec": format(s, "s"),
        "%s": "%s" % s,
        "%r": "%r" % s,
        "%s tuple": "%s %s" % (s, s),
        "str()": str(s),
        "repr()": repr(s),
        "str.format": "{}".format(s),
        "str.format !r": "{0!r}".format(s),
        "list repr": repr([s]),
        "dict repr": repr({"pin": s}),
        "dataclass repr": repr(Holder("alice", s)),
        "exception": str(ValueError(s)),
        "exception repr": repr(RuntimeError("failed with", s)),
    }


def test_no_formatting_shows_the_value(secret):
    for how, text in renderings(secret).items():
        assert VALUE not in text, how
        assert "redacted" in text, how


def test_logging_never_shows_the_value(secret, caplog):
    log = logging.getLogger("custodian.test")
    with caplog.at_level(logging.DEBUG, logger="custodian.test"):
        log.info("passphrase %s", secret)
        log.info("passphrase %r", secret)
        log.info(secret)
        log.info("values %s", {"pin": secret})
        log.warning("in %(who)s: %(pin)s", {"who": "alice", "pin": secret})
        try:
            raise ValueError(secret)
        except ValueError:
            log.exception("step failed")
    text = caplog.text + "".join(r.getMessage() for r in caplog.records)
    assert len(caplog.records) == 6 and VALUE not in text
    formatted = "\n".join(logging.Formatter("%(message)s %(args)s").format(r) for r in caplog.records)
    assert VALUE not in formatted


def test_serialising_is_refused(secret):
    with pytest.raises(TypeError):
        json.dumps({"pin": secret})
    with pytest.raises(TypeError):
        pickle.dumps(secret)


def test_only_reveal_gives_the_value_and_a_wiped_secret_gives_nothing(secret):
    assert secret.reveal_text() == VALUE
    secret.wipe()
    assert VALUE not in repr(secret) and "wiped" in repr(secret)
    with pytest.raises(ValueError):
        secret.reveal()
