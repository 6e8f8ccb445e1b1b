"""The console's home directory and its configuration file, ``custodian.toml``.

Layout::

    HOME/custodian.toml     configuration (no secrets)
    HOME/custodian.db       SQLite metadata and ledger (vault.store)
    HOME/<practice conf>    practice only: the practice token's private configuration
    HOME/tokens/            practice only: the practice token's directory
                            (both written by vault.hsm.practice_token, which names the module)
    HOME/logs/              console logs (no secrets)

The home is chosen by ``--home DIR``, else ``$CUSTODIAN_HOME``, else the platform's user data
directory (``$XDG_DATA_HOME/custodian-console`` or ``~/.local/share/custodian-console``). Only
``custodian home init`` and the console's (TUI's) first run create a home: every other command
refuses a directory that is not a home (``NoVault``) and creates nothing, so a mistyped
``--home`` never becomes a new, empty vault. A production home is only ever created
explicitly, naming its PKCS#11 module and token. The home is 0700 and every file in it 0600.
"""

from __future__ import annotations

import json
import os
import tomllib
from typing import Any
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from vault import __version__
from vault.errors import ConfigError, HomeError, NoVault
from vault.hsm.practice_token import LEGACY_CONF_KEY, PRACTICE_CONF_NAME, PRACTICE_MODULE
from vault.types import Mode

CONFIG_NAME = "custodian.toml"
DB_NAME = "custodian.db"
PRACTICE_TOKEN_LABEL = "custodian-practice"
CONFIG_FORMAT = 1

_KNOWN = {
    "": {"format", "mode", "created_at", "software_version"},
    "hsm": {"module", "token", "wrap_mechanism", "practice_conf", LEGACY_CONF_KEY, "profile", "profile_override",
            "adopt_token", "current_so_pin", "pin_policy"},
    # production only: the spare partition or HSM drills restore into (adopted as the vendor left it)
    "drill": {"module", "token", "adopt_token", "current_so_pin"},
    "identity": {"kdf_profile"},
    "ceremony": {"idle_timeout_seconds"},
}


@dataclass(frozen=True, slots=True)
class HomeConfig:
    mode: Mode
    module: str
    token: str  # a PKCS#11 URI (RFC 7512) or a token label
    wrap_mechanism: str = "AES_KEY_WRAP_PAD"
    practice_conf: str | None = None  # the practice token's conf, relative to the home; practice only
    profile: str | None = None  # an HSM profile by name (vault/hsm/profiles); None: by manufacturer+model
    profile_override: tuple[tuple[str, Any], ...] = ()  # [hsm.profile_override]: fields of the profile replaced
    # adoption (production): init takes over the token the vendor's tools left, given its current SO PIN
    adopt_token: str | None = None  # that token as it is now (URI or label; may be uninitialised)
    current_so_pin: str | None = None  # a REFERENCE to its current SO PIN: "env:NAME" or "file:PATH", never the PIN
    pin_policy: str = "quorum"  # "quorum" | "hsm" (PED) | "hsm-procedure" (vault.operations.pin_policy)
    drill_module: str | None = None  # [drill]: a production drill's own token (vault.operations.drill_place)
    drill_token: str | None = None
    drill_adopt_token: str | None = None  # [drill] adopt_token + current_so_pin: as [hsm]'s, for the drill token
    drill_current_so_pin: str | None = None
    kdf_profile: str = "default"
    idle_timeout_seconds: int = 300
    created_at: str = ""
    software_version: str = __version__

    def to_toml(self) -> str:
        q = json.dumps  # a JSON string is a valid TOML basic string
        lines = [
            "# Custodian console home. No secrets are kept in this file.",
            f"format = {CONFIG_FORMAT}",
            f"mode = {q(self.mode.value)}",
            f"created_at = {q(self.created_at)}",
            f"software_version = {q(self.software_version)}",
            "",
            "[hsm]",
            f"module = {q(self.module)}",
            f"token = {q(self.token)}",
            f"wrap_mechanism = {q(self.wrap_mechanism)}",
        ]
        if self.practice_conf:
            lines.append(f"practice_conf = {q(self.practice_conf)}")
        if self.profile:
            lines.append(f"profile = {q(self.profile)}")
        if self.adopt_token:
            lines.append(f"adopt_token = {q(self.adopt_token)}")
        if self.current_so_pin:
            lines.append(f"current_so_pin = {q(self.current_so_pin)}")
        if self.pin_policy != "quorum":
            lines.append(f"pin_policy = {q(self.pin_policy)}")
        if self.profile_override:
            lines += ["", "[hsm.profile_override]"] + [f"{k} = {q(v)}" for k, v in self.profile_override]
        if self.drill_module:
            lines += ["", "[drill]", f"module = {q(self.drill_module)}", f"token = {q(self.drill_token)}"]
            if self.drill_adopt_token:
                lines += [f"adopt_token = {q(self.drill_adopt_token)}", f"current_so_pin = {q(self.drill_current_so_pin)}"]
        lines += [
            "",
            "[identity]",
            f"kdf_profile = {q(self.kdf_profile)}",
            "",
            "[ceremony]",
            f"idle_timeout_seconds = {self.idle_timeout_seconds}",
            "",
        ]
        return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class Home:
    path: Path
    config: HomeConfig
    created_now: bool = field(default=False, compare=False)

    @property
    def mode(self) -> Mode:
        return self.config.mode

    @property
    def db_path(self) -> Path:
        return self.path / DB_NAME

    @property
    def config_path(self) -> Path:
        return self.path / CONFIG_NAME

    @property
    def logs_dir(self) -> Path:
        return self.path / "logs"

    @property
    def pending_outputs_dir(self) -> Path:
        """Markers of output files being written (vault.backup.outfile): a crash leaves one."""
        return self.path / "pending-outputs"

    @property
    def practice_conf(self) -> Path | None:
        return self.path / self.config.practice_conf if self.config.practice_conf else None

    @property
    def token_dir(self) -> Path | None:
        return self.path / "tokens" if self.config.practice_conf else None

    @property
    def is_practice(self) -> bool:
        return self.config.mode is Mode.PRACTICE


def default_home(env: dict[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    if env.get("CUSTODIAN_HOME"):
        return Path(env["CUSTODIAN_HOME"]).expanduser()
    base = env.get("XDG_DATA_HOME") or str(Path(env.get("HOME", "~")).expanduser() / ".local" / "share")
    return Path(base) / "custodian-console"


def resolve_home(cli_home: str | os.PathLike[str] | None, env: dict[str, str] | None = None) -> Path:
    return Path(cli_home).expanduser() if cli_home else default_home(env)


def now_utc() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def load_config(path: Path) -> HomeConfig:
    """Strictly parse ``custodian.toml``: unknown keys and wrong types are refused by name."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise HomeError(f"No {CONFIG_NAME} in {path.parent}.", next_step="Create the home with `custodian home init`.")
    except OSError as exc:
        raise HomeError(f"{path} cannot be read ({exc.strerror or exc}).",
                        next_step="Check the home's permissions (it is yours, mode 0700).") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path} is not UTF-8 text (byte {exc.start}).",
                          next_step="Fix the file by hand or restore it from the binder copy.") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML ({exc}).", next_step="Fix the file by hand or restore it from the binder copy.")

    def check_section(name: str, table: dict) -> None:
        for key in table:
            if name == "" and key in _KNOWN and isinstance(table[key], dict):
                continue
            if key not in _KNOWN[name]:
                where = f"[{name}] " if name else ""
                raise ConfigError(f"{path}: unknown key {where}{key!r}.", next_step="Remove it; see docs/configuration in the README.")

    check_section("", data)
    for section in ("hsm", "identity", "ceremony", "drill"):
        check_section(section, data.get(section, {}))

    def get(table: dict, key: str, typ: type, section: str, default=None):
        if key not in table:
            if default is None:
                raise ConfigError(f"{path}: missing key [{section}] {key!r}.", next_step="Add it to the file.")
            return default
        value = table[key]
        if not isinstance(value, typ) or isinstance(value, bool) and typ is int:
            raise ConfigError(f"{path}: [{section}] {key!r} must be {typ.__name__}.", next_step="Correct its value.")
        return value

    if data.get("format") != CONFIG_FORMAT:
        raise ConfigError(f"{path}: config format {data.get('format')!r} is not supported (expected {CONFIG_FORMAT}).",
                          next_step="Use the console version that created this home.")
    try:
        mode = Mode(get(data, "mode", str, "top level"))
    except ValueError:
        raise ConfigError(f"{path}: mode must be 'practice' or 'production'.", next_step="Correct the mode.")
    hsm = data.get("hsm", {})
    ident = data.get("identity", {})
    cer = data.get("ceremony", {})
    drill = data.get("drill")
    config = HomeConfig(
        mode=mode,
        module=get(hsm, "module", str, "hsm"),
        token=get(hsm, "token", str, "hsm"),
        wrap_mechanism=get(hsm, "wrap_mechanism", str, "hsm", "AES_KEY_WRAP_PAD"),
        practice_conf=_practice_conf(path, mode, hsm),
        profile=get(hsm, "profile", str, "hsm", "") or None,
        profile_override=_profile_override(path, hsm.get("profile_override", {})),
        adopt_token=get(hsm, "adopt_token", str, "hsm", "") or None,
        current_so_pin=get(hsm, "current_so_pin", str, "hsm", "") or None,
        pin_policy=get(hsm, "pin_policy", str, "hsm", "quorum"),
        drill_module=get(drill, "module", str, "drill") if drill is not None else None,
        drill_token=get(drill, "token", str, "drill") if drill is not None else None,
        drill_adopt_token=get(drill, "adopt_token", str, "drill", "") or None if drill is not None else None,
        drill_current_so_pin=get(drill, "current_so_pin", str, "drill", "") or None if drill is not None else None,
        kdf_profile=get(ident, "kdf_profile", str, "identity", "default"),
        idle_timeout_seconds=get(cer, "idle_timeout_seconds", int, "ceremony", 300),
        created_at=get(data, "created_at", str, "top level", ""),
        software_version=get(data, "software_version", str, "top level", __version__),
    )
    if config.mode is Mode.PRACTICE and drill is not None:
        raise ConfigError(f"{path}: a practice home drills in its scratch token; [drill] is for production homes.",
                          next_step="Remove it, or use a production home.")
    for section, token, so_pin in (("hsm", config.adopt_token, config.current_so_pin),
                                   ("drill", config.drill_adopt_token, config.drill_current_so_pin)):
        if so_pin is not None and not (so_pin.startswith(("env:", "file:")) and len(so_pin) > 5):
            raise ConfigError(f"{path}: [{section}] current_so_pin must be a reference ('env:NAME' or 'file:PATH'), "
                              "never the PIN itself.", next_step="Replace it by a reference and remove the PIN from the file.")
        if (token is None) != (so_pin is None):
            raise ConfigError(f"{path}: [{section}] adopt_token and current_so_pin go together.",
                              next_step="Give both (the token the vendor's tools left and a reference to its SO PIN), "
                                        "or neither.")
    if config.pin_policy not in ("quorum", "hsm", "hsm-procedure"):
        raise ConfigError(f"{path}: [hsm] pin_policy must be 'quorum', 'hsm' or 'hsm-procedure', not "
                          f"{config.pin_policy!r}.",
                          next_step="Use 'quorum' (PINs derived from the quorum), 'hsm' (the HSM's PIN entry device) or "
                                    "'hsm-procedure' (a user PIN the HSM vendor's own procedure set).")
    if config.mode is Mode.PRACTICE and config.pin_policy != "quorum":
        raise ConfigError(f"{path}: a practice home's token takes the quorum's PINs; pin_policy = "
                          f"{config.pin_policy!r} is for production HSMs.", next_step="Remove pin_policy.")
    if config.pin_policy == "hsm-procedure" and config.adopt_token is not None:
        raise ConfigError(f"{path}: pin_policy = 'hsm-procedure' keeps the token's PINs as the vendor's procedure set "
                          "them; adopt_token/current_so_pin take them over.",
                          next_step="Remove adopt_token and current_so_pin (init uses the configured token as it is), "
                                    "or remove pin_policy.")
    if config.mode is Mode.PRACTICE and config.adopt_token is not None:
        raise ConfigError(f"{path}: a practice home makes its own token; adoption is for production homes.",
                          next_step="Remove adopt_token and current_so_pin.")
    return config


def _practice_conf(path: Path, mode: Mode, hsm: dict) -> str | None:
    """``[hsm] practice_conf``, or the key older practice homes used for it (LEGACY_CONF_KEY):
    one of them, in a practice home only."""
    given = [key for key in ("practice_conf", LEGACY_CONF_KEY) if key in hsm]
    if len(given) == 2:
        raise ConfigError(f"{path}: [hsm] has both practice_conf and {LEGACY_CONF_KEY} (its old name).",
                          next_step=f"Keep practice_conf and remove {LEGACY_CONF_KEY}.")
    if not given:
        return None
    if mode is Mode.PRODUCTION:
        raise ConfigError(f"{path}: a production home cannot use the practice token's configuration "
                          f"([hsm] {given[0]}).", next_step=f"Remove [hsm] {given[0]}, or use a practice home.")
    value = hsm[given[0]]
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{path}: [hsm] {given[0]!r} must be a non-empty str.", next_step="Correct its value.")
    return value


def _profile_override(path: Path, table: Any) -> tuple[tuple[str, Any], ...]:
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [hsm.profile_override] must be a table.", next_step="Correct it.")
    from vault.hsm.profile import OVERRIDABLE

    unknown = sorted(set(table) - set(OVERRIDABLE))
    if unknown:
        raise ConfigError(f"{path}: [hsm.profile_override] has unknown keys: {', '.join(unknown)}.",
                          next_step=f"Keys that can be overridden: {', '.join(OVERRIDABLE)}.")
    return tuple(sorted(table.items()))


def _write_new(path: Path, text: str) -> None:
    """Write a file that must not exist yet (never overwrite), then read it back."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
    except OSError as exc:
        raise _cannot_create(path.parent, exc) from None
    if path.read_text(encoding="utf-8") != text:
        raise HomeError(f"{path} did not read back as written.", next_step="Check the disk and try again.")


def write_practice_conf(home_path: Path) -> Path:
    """The practice home's private token configuration (written by vault.hsm, which then
    knows the token directory is ours: drills may create and wipe scratch tokens there)."""
    from vault.hsm import write_practice_conf as hsm_write_conf

    return hsm_write_conf(home_path)


def _check_new_home(path: Path) -> None:
    """A new home goes into a new or empty directory; anything else is refused before writing."""
    if (path / CONFIG_NAME).exists():
        raise HomeError(f"{path} already is a console home; nothing was changed.",
                        next_step="Open it instead of creating it, or choose another --home.")
    if os.path.lexists(path) and not path.is_dir():
        raise HomeError(f"{path} is a file, not a directory; a console home is a directory.",
                        next_step="Choose a new directory for the console home.")
    try:
        if path.is_dir() and any(path.iterdir()):
            raise HomeError(f"{path} exists and is not empty, but has no {CONFIG_NAME}.",
                            next_step="Choose an empty or new directory for the console home.")
    except OSError as exc:
        raise _cannot_create(path, exc) from None


def _cannot_create(path: Path, exc: OSError) -> HomeError:
    return HomeError(f"The console home {path} cannot be created ({exc.strerror or exc}).",
                     next_step="Choose a directory you can write, for example under your own home directory.")


def _make_home_dirs(path: Path) -> None:
    """The home (0700, also when it existed empty) and its logs folder."""
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(path, 0o700)
        (path / "logs").mkdir(mode=0o700, exist_ok=True)
        probe = path / f".write-test-{os.getpid()}"  # an unwritable directory fails here, not half-way
        os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        os.unlink(probe)
    except OSError as exc:
        raise _cannot_create(path, exc) from None


def require_home(path: Path) -> None:
    """Refuse, creating nothing, a path that is not an existing console home (``NoVault``)."""
    path = Path(path)
    try:
        if os.path.lexists(path) and not path.is_dir():
            raise NoVault(f"No vault at {path}: it is a file, not a console home directory.",
                          next_step="Give the console home's directory with --home; create one with "
                                    "`custodian home init` (or open the console).")
        if not (path / CONFIG_NAME).is_file():
            raise NoVault(f"No vault at {path}; create one with `custodian home init` (or open the console).",
                          next_step="Check --home (or $CUSTODIAN_HOME): nothing was created.")
    except OSError as exc:
        raise NoVault(f"No vault at {path} ({exc.strerror or exc}).",
                      next_step="Check --home (or $CUSTODIAN_HOME): nothing was created.") from None


def create_practice_home(path: Path) -> Home:
    """Create a practice home: its own practice token directory and configuration."""
    path = Path(path)
    _check_new_home(path)
    existed = path.is_dir()
    try:
        _make_home_dirs(path)
        try:
            write_practice_conf(path)
        except OSError as exc:
            raise _cannot_create(path, exc) from None
        config = HomeConfig(
            mode=Mode.PRACTICE,
            module=PRACTICE_MODULE,
            token=f"pkcs11:token={PRACTICE_TOKEN_LABEL}",
            practice_conf=PRACTICE_CONF_NAME,
            kdf_profile="practice",
            created_at=now_utc(),
        )
        _write_new(path / CONFIG_NAME, config.to_toml())
    except HomeError:
        _undo_new_home(path, existed)
        raise
    return Home(path, config, created_now=True)


def _undo_new_home(path: Path, existed: bool) -> None:
    """A home that could not be completed leaves nothing behind (an empty directory it was given stays)."""
    import shutil

    if not existed:
        shutil.rmtree(path, ignore_errors=True)
        return
    for child in (CONFIG_NAME, PRACTICE_CONF_NAME, f"{PRACTICE_CONF_NAME}.tmp"):
        try:
            (path / child).unlink()
        except OSError:
            pass
    for child in ("tokens", "logs"):
        shutil.rmtree(path / child, ignore_errors=True)


def create_production_home(path: Path, module: str, token: str, *, adopt_token: str | None = None,
                           current_so_pin: str | None = None, pin_policy: str = "quorum") -> Home:
    """``adopt_token`` + ``current_so_pin`` (a reference, env:/file:): init adopts the token the
    vendor's tools left (initialised or factory-fresh), taking its SO and user PINs over."""
    path = Path(path)
    if (adopt_token is None) != (current_so_pin is None):
        raise HomeError("Adoption needs both the token as it is now and a reference to its current SO PIN.",
                        next_step="Give --adopt and --current-so-pin together.")
    if current_so_pin is not None and not (current_so_pin.startswith(("env:", "file:")) and len(current_so_pin) > 5):
        raise HomeError("The current SO PIN is given only by reference ('env:NAME' or 'file:PATH'), never in clear.",
                        next_step="Put the PIN in an environment variable or a file and pass env:NAME or file:PATH.")
    if pin_policy not in ("quorum", "hsm", "hsm-procedure"):
        raise HomeError(f"Unknown PIN policy {pin_policy!r}.", next_step="Use quorum, hsm or hsm-procedure.")
    if pin_policy == "hsm-procedure" and adopt_token is not None:
        raise HomeError("pin_policy hsm-procedure keeps the token's own PINs; --adopt takes them over.",
                        next_step="Give --token (the token as the vendor's procedure left it) without --adopt.")
    _check_new_home(path)
    if not Path(module).exists():
        raise HomeError(f"PKCS#11 module {module} does not exist.", next_step="Give the path of the HSM vendor's module.")
    if token.startswith("pkcs11:"):  # refused before anything is written: a pin-value would land on disk
        from vault.hsm.uri import parse_token_uri

        parse_token_uri(token)
    _make_home_dirs(path)
    config = HomeConfig(mode=Mode.PRODUCTION, module=module, token=token, created_at=now_utc(),
                        adopt_token=adopt_token, current_so_pin=current_so_pin, pin_policy=pin_policy)
    _write_new(path / CONFIG_NAME, config.to_toml())
    return Home(path, config, created_now=True)


def open_home(path: Path, *, create_practice: bool = True) -> Home:
    """Open the home at ``path``; with ``create_practice`` create a practice home there on first
    use (the TUI's first run), else refuse with ``NoVault`` and create nothing."""
    path = Path(path)
    try:
        is_home = (path / CONFIG_NAME).is_file()
    except OSError:
        is_home = False
    if not is_home:
        if not create_practice:
            require_home(path)
        return create_practice_home(path)
    return Home(path, load_config(path / CONFIG_NAME))
