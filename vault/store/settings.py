"""Non-secret settings as text key/value pairs."""

from __future__ import annotations

from vault.store.base import StoreBase


class SettingsRepository(StoreBase):
    def get_setting(self, key: str, default: str | None = None) -> str | None:
        row = self.conn.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
        return default if row is None else row[0]

    def set_setting(self, key: str, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError("settings are text; never pass a Secret or other object")
        with self.atomic():
            self._write(
                "INSERT INTO settings (key, value, updated_at) VALUES (?, ?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                (key, value, self.now()),
            )

    def settings(self) -> dict[str, str]:
        return dict(self.conn.execute("SELECT key, value FROM settings ORDER BY key").fetchall())

    def delete_setting(self, key: str) -> bool:
        """Remove a setting; False when there was none."""
        with self.atomic():
            return self._write("DELETE FROM settings WHERE key = ?", (key,)).rowcount > 0
