"""The agent API (:class:`Agent`), loading agent files, and the Stable-Baselines3 adapter."""

from tlbench.agents.api import Agent, AgentContext, BudgetExhausted
from tlbench.agents.loader import AgentLoadError, AgentRef, parse_kwargs

__all__ = ["Agent", "AgentContext", "AgentLoadError", "AgentRef", "BudgetExhausted", "parse_kwargs"]
