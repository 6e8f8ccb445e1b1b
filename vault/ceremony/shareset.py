"""Share sets between vault.shares (ShareSetPublic) and vault.store (records), for the steps."""

from __future__ import annotations

from vault.errors import PreconditionFailed
from vault.shares import GroupSpec, KnownShareSet, QuorumPolicy, ShareRef, ShareSetPublic, SplitResult


def public_of(store, record) -> ShareSetPublic:
    holders = store.share_holders(record.id)
    return ShareSetPublic(
        identifier=record.identifier,
        iteration_exponent=record.iteration_exponent,
        group_threshold=record.group_threshold,
        groups=tuple(GroupSpec(m, n) for m, n in record.groups),
        commitment_salt=record.commitment_salt,
        commitments=tuple((ShareRef(h.group_index, h.member_index), h.commitment) for h in holders),
        check_value=record.check_value,
        passphrase=record.passphrase,
    )


def known_sets(store) -> list[KnownShareSet]:
    return [KnownShareSet(r.id, public_of(store, r), r.name, r.status.value, r.retired_at,
                          tuple(holder_names(store, r.id).items()))
            for r in store.list_share_sets()]


def active(store):
    record = store.active_share_set()
    if record is None:
        raise PreconditionFailed("This vault has no active share set.", next_step="Run the init ceremony first.")
    return record


def holder_names(store, share_set_id: int) -> dict[ShareRef, str]:
    return {ShareRef(h.group_index, h.member_index): h.custodian_name for h in store.share_holders(share_set_id)}


def record(vault, *, split: SplitResult, policy: QuorumPolicy, drill_interval_days: int,
           holders: list[tuple[ShareRef, str]], ceremony_id: str, name: str):
    """Record policy, set and holders (each verified back) as a *pending* set, in one transaction."""
    store = vault.store
    public = split.public
    with store.atomic():
        pol = store.add_policy(policy.group_threshold, [(g.threshold, g.count) for g in policy.groups],
                               passphrase=policy.passphrase, iteration_exponent=policy.iteration_exponent,
                               drill_interval_days=drill_interval_days, ceremony_id=ceremony_id)
        record = store.add_share_set(name, identifier=public.identifier, group_threshold=public.group_threshold,
                                     groups=[(g.threshold, g.count) for g in public.groups],
                                     iteration_exponent=public.iteration_exponent, passphrase=public.passphrase,
                                     commitment_salt=public.commitment_salt, check_value=public.check_value,
                                     ceremony_id=ceremony_id, policy_id=pol.id)
        for ref, custodian in holders:
            c = store.get_custodian(custodian)
            h = store.add_share_holder(record.id, c.id, group_index=ref.group, member_index=ref.member,
                                       commitment=public.commitment(ref))
            store.mark_share_distributed(h.id)
            store.mark_share_verified(h.id)
        return record


def commit(vault, **kwargs):
    """``record`` and activate the set, in one transaction.

    Activating retires the previously active set: its shares then open nothing new.
    """
    with vault.store.atomic():
        return vault.store.activate_share_set(record(vault, **kwargs).id)
