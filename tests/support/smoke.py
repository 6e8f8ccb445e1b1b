"""The smoke ceremony that tests of the evidence share: an administrator and a witness enrolled,
a witnessed checklist, the closing attestations. It needs no HSM and no quorum, so it runs in
milliseconds on a bare home, and its ledger holds signed heads (the attestations).

Plain TOML text, importing nothing: the outsider test (tests/test_outsider_evidence.py), which
imports nothing of the console, uses it too.
"""

DEFINITION = '''format = 1
name = "smoke"
title = "Smoke"
purpose = "Enroll two people, a witnessed step, attest."
roles = ["administrator", "witness"]
quorum = "none"

[[step]]
id = "admin"
kind = "enroll"
title = "Administrator"
[step.params]
role = "administrator"

[[step]]
id = "witness"
kind = "enroll"
title = "Witness"
[step.params]
role = "witness"

[[step]]
id = "room"
kind = "checklist"
title = "Room"
witness = true
[step.params]
items = ["door closed"]

[[step]]
id = "attest"
kind = "attest"
title = "Attest"
'''
