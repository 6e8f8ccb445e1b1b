"""vault.pki: certificate profiles, CSRs, TBS building, linting (pkilint), issuing and CRLs.

``profile`` (strictly parsed profiles), ``csr`` (reading and checking CSRs), ``build`` (TBS with
cryptography's builders), ``lint`` (pkilint at the profile's validation level), ``assemble``
(signature around the TBS, software check), ``issue`` (certificates: prepare -> sign -> record),
``crl`` (CRLs), ``writeout`` (write-once files). The HSM signs through vault.hsm.x509sign.
"""
