"""Errors raised by every tlbench environment."""

from __future__ import annotations


class InvalidActionError(ValueError):
    """An action outside an environment's action space.

    Gymnasium does not check actions; tlbench's envs do, so that a bug in an agent fails loudly
    instead of moving the agent somewhere undefined. The message names the offending action, the
    action space and what a valid action looks like.
    """
