"""Routing (ACD): the pure, in-memory engine that offers every waiting contact of every
channel to the right agent. See `engine.RoutingEngine`; the rules live in `model`."""

from hotline.domains.routing.engine import RoutingEngine
from hotline.domains.routing.model import (
    ActivateGroup,
    AddQueueAgents,
    Agent,
    AgentState,
    Channel,
    Contact,
    ContactStatus,
    LowerSkillLevel,
    MaxWaitAction,
    NotReadyReason,
    QueueConfig,
    QueueState,
    QueueStats,
    SkillRequirement,
    Strategy,
)

__all__ = [
    "ActivateGroup",
    "AddQueueAgents",
    "Agent",
    "AgentState",
    "Channel",
    "Contact",
    "ContactStatus",
    "LowerSkillLevel",
    "MaxWaitAction",
    "NotReadyReason",
    "QueueConfig",
    "QueueState",
    "QueueStats",
    "RoutingEngine",
    "SkillRequirement",
    "Strategy",
]
