"""Properties of the quorum over random policies: any threshold set of shares recovers the quorum
secret; one share fewer never does. (Iteration exponent 0 keeps each example fast.)"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pytest

from vault.errors import QuorumIncomplete
from vault.secret import Secret
from vault.shares import GroupSpec, QuorumPolicy, ShareCollector, ShareRef, split

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def group_specs(draw, max_count=16):
    count = draw(st.integers(1, max_count))
    threshold = 1 if count == 1 else draw(st.integers(2, count))
    return GroupSpec(threshold, count)


def collect(result, refs) -> ShareCollector:
    c = ShareCollector(result.public, ceremony_id="prop")
    for ref in refs:
        c.add(result.share(ref))
    return c


@SETTINGS
@given(spec=group_specs(), secret=st.binary(min_size=32, max_size=32), data=st.data())
def test_any_m_of_n_recover_and_no_m_minus_1_do(spec, secret, data):
    qs = Secret(secret, "quorum-secret")
    result = split(qs, QuorumPolicy.simple(spec.threshold, spec.count, iteration_exponent=0), None)
    order = data.draw(st.permutations(range(spec.count)))
    chosen = [ShareRef(0, m) for m in order[: spec.threshold]]

    assert collect(result, chosen).recover(None) == qs

    fewer = collect(result, chosen[:-1])
    assert not fewer.is_complete
    with pytest.raises(QuorumIncomplete):
        fewer.recover(None)


@SETTINGS
@given(
    groups=st.lists(group_specs(max_count=5), min_size=1, max_size=5),
    secret=st.binary(min_size=32, max_size=32),
    data=st.data(),
)
def test_two_level_groups_recover_with_the_group_threshold_and_not_below(groups, secret, data):
    group_threshold = data.draw(st.integers(1, len(groups)))
    qs = Secret(secret, "quorum-secret")
    result = split(qs, QuorumPolicy(group_threshold, tuple(groups), iteration_exponent=0), None)
    complete = data.draw(st.permutations(range(len(groups))))[:group_threshold]

    def members(g, k):
        order = data.draw(st.permutations(range(groups[g].count)))
        return [ShareRef(g, m) for m in order[:k]]

    enough = [ref for g in complete for ref in members(g, groups[g].threshold)]
    assert collect(result, data.draw(st.permutations(enough))).recover(None) == qs

    # One group short: every other group may bring one share less than its threshold.
    short = [ref for g in complete[:-1] for ref in members(g, groups[g].threshold)]
    short += [
        ref for g in range(len(groups)) if g not in complete[:-1] for ref in members(g, groups[g].threshold - 1)
    ]
    fewer = collect(result, short)
    assert fewer.progress().groups_complete == group_threshold - 1
    with pytest.raises(QuorumIncomplete):
        fewer.recover(None)
