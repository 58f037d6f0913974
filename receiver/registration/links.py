"""How the items of one batch stand to each other: as if registered one after the other."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from receiver.db.messages import Link


def link(items: Iterable[tuple[int, str, str | None, Sequence[str]]]) -> dict[int, Link]:
    """How the items of one batch (item_no, provider key, client ref, provider ids; in item
    order) stand to each other, as if they were registered one after the other into a database
    that knows none of them (`stage` resolves against existing messages first).

    An item is the message of an earlier item with its provider key and client ref, else of the
    first of its provider ids an earlier message holds (a conflict instead when both have client
    refs that differ), else a new message. Items linked to an earlier one map to the item that
    makes that message (same_as, with the part numbers it adds to it: same_as_parts), or that it
    conflicts with (clash_with); the others are left out. A message takes an item's provider id
    as part number n (its place) unless another message holds the id or the message has a part
    n already, as `insert_staged_parts` does.
    """
    links: dict[int, Link] = {}
    by_ref: dict[tuple[str, str], int] = {}
    owner: dict[tuple[str, str], int] = {}
    root_ref: dict[int, str | None] = {}
    parts: dict[int, set[int]] = {}
    for item_no, provider_key, client_ref, ids in items:
        root = None if client_ref is None else by_ref.get((provider_key, client_ref))
        if root is None:
            root = next(
                (r for pid in ids if (r := owner.get((provider_key, pid))) is not None), None
            )
            other_ref = None if root is None else root_ref[root]
            if client_ref is not None and other_ref is not None and other_ref != client_ref:
                links[item_no] = (None, root, None)
                continue
        if root is None:
            root = item_no
            root_ref[root] = client_ref
            parts[root] = set()
            if client_ref is not None:
                by_ref[provider_key, client_ref] = root
        taken = parts[root]
        added = []
        for n, pid in enumerate(ids):
            if n not in taken and (provider_key, pid) not in owner:
                owner[provider_key, pid] = root
                taken.add(n)
                added.append(n)
        if root != item_no:
            links[item_no] = (root, None, added)
    return links
