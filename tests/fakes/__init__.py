"""Test doubles for council: a scripted model server and hermetic runtime environments."""

from .model_server import RecordedRequest, Reply, Rule, ScriptedModelServer, ToolCall, Usage

__all__ = ["RecordedRequest", "Reply", "Rule", "ScriptedModelServer", "ToolCall", "Usage"]
