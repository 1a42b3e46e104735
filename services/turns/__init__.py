"""The reply turn: one path from the user's message to the stored reply (see DESIGN.md, "The reply turn").

    result = await turns.run_turn(ctx, conversation_id, parent_id, "openai/gpt-4o-mini",
                                  on_text=show, should_stop=stopped, user=turns.UserMessage(...))
    result.reply      # the stored reply (None if it could not be stored)
    result.error      # what to tell the user ("" on success)

This package must not import reflex, state, components or app.
"""

from services.turns.reply import INTERRUPTED, STOPPED, AgentRun, TurnResult, UserMessage, run_turn
from services.turns.steps import ToolRun
from services.turns.title import name_conversation

__all__ = [
    "INTERRUPTED", "STOPPED", "AgentRun", "ToolRun", "TurnResult", "UserMessage", "name_conversation", "run_turn",
]  # fmt: skip
