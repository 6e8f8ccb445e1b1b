"""A policy SLIP-39 cannot express is refused with a clear message before anything is created."""

from __future__ import annotations

import pytest

from vault.errors import PolicyInvalid
from vault.secret import Secret
from vault.shares import GroupSpec, QuorumPolicy, split

from .conftest import QS

G = GroupSpec


@pytest.mark.parametrize(
    ("policy", "says"),
    [
        (QuorumPolicy.simple(3, 17), "SLIP-39 allows 1 to 16 shares per group"),
        (QuorumPolicy.simple(4, 3), "threshold must be between 1 and the number of shares"),
        (QuorumPolicy.simple(0, 3), "threshold must be between 1 and the number of shares"),
        (QuorumPolicy.simple(1, 3), "Group 1 (1-of-3) is not allowed by SLIP-39"),
        (QuorumPolicy.simple(0, 0), "SLIP-39 allows 1 to 16 shares per group"),
        (QuorumPolicy(1, tuple(G(1, 1) for _ in range(17))), "17 groups is not possible"),
        (QuorumPolicy(3, (G(2, 3), G(2, 3))), "group threshold of 3 is not possible with 2 group(s)"),
        (QuorumPolicy(0, (G(2, 3),)), "group threshold of 0 is not possible"),
        (QuorumPolicy(1, ()), "no groups"),
        (QuorumPolicy(2, (G(2, 3), G(1, 2))), "Group 2 (1-of-2) is not allowed"),
        (QuorumPolicy.simple(2, 3, iteration_exponent=16), "iteration exponent of 16 is not possible"),
        (QuorumPolicy.simple(2, 3, iteration_exponent=-1), "iteration exponent of -1 is not possible"),
    ],
)
def test_policies_beyond_slip39_are_refused_before_any_split(policy, says):
    drawn = []
    with pytest.raises(PolicyInvalid) as err:
        split(QS, policy, None, random_bytes=lambda n: drawn.append(n) or bytes(n))
    assert says in err.value.message
    assert drawn == []  # no commitment salt drawn: nothing was made


@pytest.mark.parametrize(
    ("policy", "passphrase", "says"),
    [
        (QuorumPolicy.simple(2, 3, passphrase=True), None, "asks for a passphrase but none was given"),
        (QuorumPolicy.simple(2, 3, passphrase=True), "", "asks for a passphrase but none was given"),
        (QuorumPolicy.simple(2, 3), "hunter2", "policy has none"),
        (QuorumPolicy.simple(2, 3, passphrase=True), "naïve café", "not printable ASCII (first at position 3)"),
        (QuorumPolicy.simple(2, 3, passphrase=True), "tab\there", "not printable ASCII"),
    ],
)
def test_a_passphrase_must_fit_the_policy_and_slip39(policy, passphrase, says):
    with pytest.raises(PolicyInvalid) as err:
        split(QS, policy, None if passphrase is None else Secret(passphrase, "passphrase"))
    assert says in err.value.message
    if passphrase:
        assert passphrase not in str(err.value)


@pytest.mark.parametrize(
    "policy",
    [
        QuorumPolicy.simple(1, 1),
        QuorumPolicy.simple(16, 16),
        QuorumPolicy(16, tuple(G(1, 1) for _ in range(16))),
        QuorumPolicy(1, (G(2, 3), G(1, 1))),
    ],
)
def test_policies_at_the_limits_are_valid(policy):
    policy.validate()


def test_a_policy_describes_itself_for_the_ceremony_script():
    assert QuorumPolicy.simple(3, 5).describe() == "3-of-5"
    assert QuorumPolicy.simple(2, 3, passphrase=True).describe() == "2-of-3 + passphrase"
    assert QuorumPolicy(2, (G(2, 3), G(3, 5), G(1, 1))).describe() == "2 of 3 groups (2-of-3, 3-of-5, 1-of-1)"


def test_misuse_is_a_type_error_not_a_policy_message():
    with pytest.raises(TypeError):
        QuorumPolicy(True, (G(2, 3),)).validate()
    with pytest.raises(TypeError):
        QuorumPolicy(1, [G(2, 3)]).validate()
