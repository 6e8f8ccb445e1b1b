"""Key transport between vaults: pinned peer vaults, this vault's import requests, and every
key received (the transfer id is unique: a transport file imports once)."""

from __future__ import annotations

from dataclasses import dataclass

from vault.errors import RecordExists, RecordNotFound
from vault.store.base import StoreBase

TRANSPORT_STATEMENTS = (
    """CREATE TABLE peer_vaults (
        name TEXT PRIMARY KEY,
        signer_fingerprint TEXT NOT NULL UNIQUE,
        public_key_pem TEXT NOT NULL,
        pinned_at TEXT NOT NULL,
        ceremony_id TEXT REFERENCES ceremonies(id)
    )""",
    """CREATE TABLE import_requests (
        request_id TEXT PRIMARY KEY,
        transport_key_id INTEGER NOT NULL REFERENCES keys(id),
        created_at TEXT NOT NULL,
        ceremony_id TEXT REFERENCES ceremonies(id)
    )""",
    """CREATE TABLE key_imports (
        transfer_id TEXT PRIMARY KEY,
        request_id TEXT NOT NULL REFERENCES import_requests(request_id),
        key_id INTEGER NOT NULL REFERENCES keys(id),
        peer TEXT NOT NULL REFERENCES peer_vaults(name),
        transport_sha256 TEXT NOT NULL,
        imported_at TEXT NOT NULL,
        ceremony_id TEXT REFERENCES ceremonies(id)
    )""",
    *(f"""CREATE TRIGGER {t}_append_only_{op} BEFORE {op.upper()} ON {t}
          BEGIN SELECT RAISE(ABORT, '{t} is append-only'); END"""
      for t in ("peer_vaults", "import_requests", "key_imports") for op in ("update", "delete")),
)


@dataclass(frozen=True, slots=True)
class PeerVault:
    name: str
    signer_fingerprint: str
    public_key_pem: str
    pinned_at: str
    ceremony_id: str | None


class TransportRepository(StoreBase):
    def pin_peer(self, name: str, fingerprint: str, public_key_pem: str, *, ceremony_id: str | None) -> PeerVault:
        with self._refusals(exists=f"A peer vault named {name!r} (or with that signing key) is already pinned."), \
                self.atomic():
            self._write("INSERT INTO peer_vaults (name, signer_fingerprint, public_key_pem, pinned_at, ceremony_id) "
                        "VALUES (?, ?, ?, ?, ?)", (name, fingerprint, public_key_pem, self.now(), ceremony_id))
        return self.peer(name)

    def peer(self, name: str) -> PeerVault:
        return PeerVault(*self._row("SELECT name, signer_fingerprint, public_key_pem, pinned_at, ceremony_id FROM "
                                    "peer_vaults WHERE name = ?", (name,), f"No peer vault named {name!r} is pinned."))

    def peers(self) -> list[PeerVault]:
        return [PeerVault(*r) for r in self._rows("SELECT name, signer_fingerprint, public_key_pem, pinned_at, "
                                                  "ceremony_id FROM peer_vaults ORDER BY name")]

    def add_import_request(self, request_id: str, transport_key_id: int, *, ceremony_id: str | None) -> None:
        with self.atomic():
            self._write("INSERT INTO import_requests (request_id, transport_key_id, created_at, ceremony_id) "
                        "VALUES (?, ?, ?, ?)", (request_id, transport_key_id, self.now(), ceremony_id))

    def import_request(self, request_id: str) -> tuple[str, int, str]:
        return self._row("SELECT request_id, transport_key_id, created_at FROM import_requests WHERE request_id = ?",
                         (request_id,), f"This vault made no import request {request_id!r}.")

    def imported(self, transfer_id: str) -> tuple | None:
        rows = self._rows("SELECT transfer_id, key_id, peer, imported_at FROM key_imports WHERE transfer_id = ?",
                          (transfer_id,))
        return rows[0] if rows else None

    def record_import(self, transfer_id: str, request_id: str, key_id: int, peer: str, sha256: str, *,
                      ceremony_id: str | None) -> None:
        with self._refusals(exists=f"Transfer {transfer_id} was already imported."):
            self._write("INSERT INTO key_imports (transfer_id, request_id, key_id, peer, transport_sha256, "
                        "imported_at, ceremony_id) VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (transfer_id, request_id, key_id, peer, sha256, self.now(), ceremony_id))
