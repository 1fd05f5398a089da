"""The 👎 modal: "what was wrong?" — stored with the question, its confidence and citations."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord

from bot.client import send_ephemeral
from bot.embeds import NO_MENTIONS

if TYPE_CHECKING:
    from bot.client import DigestBot
    from knowledge import Answer

log = logging.getLogger(__name__)

#: The reasons a 👎 can give; free text is folded onto one of them (see :func:`reason_of`).
REASONS = ("wrong paper", "outdated", "not in the archive", "other")
_CUES = (
    ("not in the archive", ("not in", "missing", "archive", "absent", "없")),
    ("outdated", ("outdated", "out of date", "old", "stale", "newer", "오래")),
    ("wrong paper", ("wrong", "paper", "citation", "cited", "잘못")),
)


def reason_of(text: str) -> str:
    """One of :data:`REASONS` for what the user typed ("wrong paper", "it's outdated", "other: …")."""
    t = " ".join(text.casefold().split())
    for reason, cues in _CUES:
        if t == reason or any(cue in t for cue in cues):
            return reason
    return "other"


class FeedbackModal(discord.ui.Modal, title="What was wrong?"):
    """Asked after 👎; what the user says is stored with the answer it is about."""

    reason = discord.ui.TextInput(
        label="What was wrong?", custom_id="reason", placeholder="wrong paper · outdated · not in the archive · other",
        max_length=100, required=True,
    )
    details = discord.ui.TextInput(
        label="Anything else? (optional)", custom_id="details", style=discord.TextStyle.paragraph,
        placeholder="e.g. the right paper, or what the archive should have", max_length=1000, required=False,
    )

    def __init__(self, bot: DigestBot, answer: Answer) -> None:
        super().__init__(custom_id="digestbot:feedback", timeout=900)
        self.bot = bot
        self.answer = answer

    async def on_submit(self, interaction: discord.Interaction) -> None:
        reason = reason_of(self.reason.value or "")
        await self.bot.run_blocking(
            self.bot.state.add_feedback_reason,
            user_id=interaction.user.id,
            guild_id=interaction.guild_id,
            question=self.answer.question,
            confidence=self.answer.confidence,
            citations=[c.to_json() for c in self.answer.citations],
            reason=reason,
            details=" ".join(filter(None, [(self.reason.value or "").strip(), (self.details.value or "").strip()]))[:1200],
        )
        await interaction.response.send_message(f"Thanks — noted ({reason}). It helps us fill the gaps.", ephemeral=True, allowed_mentions=NO_MENTIONS)

    async def on_error(self, interaction: discord.Interaction, error: Exception, /) -> None:
        log.error("feedback modal failed", exc_info=error)
        await send_ephemeral(interaction, "Sorry, something went wrong while saving that. The error has been logged.")
