"""placeholder"""
from vault.store.store import Store
