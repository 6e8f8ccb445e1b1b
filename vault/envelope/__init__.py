"""Envelope-encrypted files: the format (vault.envelope.format); the operations are in
vault.operations.envelope and the HSM side in vault.hsm.envelope."""
