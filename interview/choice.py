"""How a session shows a choice item: its options in a per-session order, and an answer given
by position as shown mapped back to the bank's option (which is what is graded and stored)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from interview.bank import Item
from interview.grading import choice_index


def option_order(seed: int, item_id: str, n_options: int) -> tuple[int, ...]:
    """The order a session shows an item's options in: position k shows option `order[k]`.

    Each option's rank is the BLAKE2 digest of (seed, item id, option index), so the order is
    the same on every reload, machine and Python version (unlike the salted `hash()`), and
    differs between sessions and between items of one session."""

    def rank(index: int) -> bytes:
        return hashlib.blake2b(f"{seed}\x1f{item_id}\x1f{index}".encode(), digest_size=16).digest()

    return tuple(sorted(range(n_options), key=rank))


def shown_choice(item: Item, response: str | int, order: Sequence[int]) -> int | None:
    """The bank's index of the option a response picks: a position among the options as shown
    in `order` (int or digits), or the option's text (which names it whatever the order)."""
    if isinstance(response, str) and not response.strip().lstrip("-").isdigit():
        return choice_index(item, response)
    position = choice_index(item, response)  # a position: in range, or None
    return None if position is None else order[position]
