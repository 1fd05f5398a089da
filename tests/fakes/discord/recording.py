"""What the fake saw: request/message/interaction records and the ``wait_for_*`` API."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any

from ._base import FakeDiscordBase
from .constants import (
    _OP_HEARTBEAT,
)
from .models import (
    GatewayFrame,
    InteractionResponse,
    RecordedRequest,
    SentMessage,
)


class RecordingMixin(FakeDiscordBase):
    """What the fake saw: request/message/interaction records and the ``wait_for_*`` API."""

    def _summary(self) -> str:
        last = [f"{r.method} {r.path} -> {r.status}" for r in self.requests[-10:]]
        return f"last requests: {last}; sent messages: {len(self._sent)}"

    async def _notify(self) -> None:
        if self._cond is None:
            return
        async with self._cond:
            self._cond.notify_all()

    async def _wait_until(self, find: Callable[[], Any], timeout: float, what: str) -> Any:
        if self._cond is None:
            raise RuntimeError("FakeDiscord is not started")
        try:
            async with self._cond:
                return await asyncio.wait_for(self._cond.wait_for(find), timeout)
        except TimeoutError:
            raise TimeoutError(
                f"timed out after {timeout}s waiting for {what}; {self._summary()}"
            ) from None

    def _log_frame(self, direction: str, payload: Mapping[str, Any], shard_id: int | None) -> None:
        self.gateway_log.append(
            GatewayFrame(
                direction=direction,
                op=payload.get("op", -1),
                t=payload.get("t"),
                s=payload.get("s"),
                d=payload.get("d"),
                shard_id=shard_id,
            )
        )

    # ------------------------------------------------------------------ assertions API

    def sent_messages(self, channel_id: int | None = None) -> list[SentMessage]:
        """Messages the bot produced (channel posts, interaction responses, follow-ups, edits).

        Args:
            channel_id: Only messages of this channel.

        Returns:
            The matching records, oldest first.
        """
        return [m for m in self._sent if channel_id is None or m.channel_id == channel_id]

    def interaction_responses(self, interaction_id: int | str) -> list[InteractionResponse]:
        """Everything the bot did for one interaction (callbacks, follow-ups, edits).

        Args:
            interaction_id: Interaction id (as returned in the injected payload's ``id``).

        Returns:
            The records, oldest first.
        """
        inter = self._interactions.get(int(interaction_id))
        return list(inter.responses) if inter else []

    @property
    def heartbeats_received(self) -> int:
        """int: Number of HEARTBEAT (op 1) payloads received from clients."""
        return sum(1 for f in self.gateway_log if f.direction == "recv" and f.op == _OP_HEARTBEAT)

    async def wait_for_request(
        self, predicate: Callable[[RecordedRequest], bool], timeout: float = 10, *, after: int = 0
    ) -> RecordedRequest:
        """Wait for a recorded (already answered) REST request matching ``predicate``.

        Args:
            predicate: Called with each :class:`RecordedRequest`.
            timeout: Seconds to wait.
            after: Only consider ``requests[after:]`` (use ``len(fake.requests)``).

        Returns:
            The first matching request.

        Raises:
            TimeoutError: If none arrives in time.
        """

        def find() -> RecordedRequest | None:
            return next((r for r in self.requests[after:] if r.status and predicate(r)), None)

        return await self._wait_until(find, timeout, "request")

    async def wait_for_message(
        self,
        predicate: Callable[[SentMessage], bool] | None = None,
        timeout: float = 10,
        *,
        after: int = 0,
    ) -> SentMessage:
        """Wait for a bot-produced message matching ``predicate``.

        Args:
            predicate: Called with each :class:`SentMessage`; ``None`` matches any.
            timeout: Seconds to wait.
            after: Only consider ``sent_messages()[after:]``.

        Returns:
            The first matching message.

        Raises:
            TimeoutError: If none arrives in time.
        """

        def find() -> SentMessage | None:
            return next((m for m in self._sent[after:] if predicate is None or predicate(m)), None)

        return await self._wait_until(find, timeout, "message")

    async def wait_for_interaction_response(
        self,
        interaction_id: int | str,
        predicate: Callable[[InteractionResponse], bool] | None = None,
        timeout: float = 10,
    ) -> InteractionResponse:
        """Wait for a response record of an interaction.

        Args:
            interaction_id: Interaction id.
            predicate: Filter; ``None`` matches any.
            timeout: Seconds to wait.

        Returns:
            The first matching record.
        """

        def find() -> InteractionResponse | None:
            return next(
                (
                    r
                    for r in self.interaction_responses(interaction_id)
                    if predicate is None or predicate(r)
                ),
                None,
            )

        return await self._wait_until(find, timeout, f"response to interaction {interaction_id}")

    async def wait_for_gateway(
        self, predicate: Callable[[GatewayFrame], bool], timeout: float = 10, *, after: int = 0
    ) -> GatewayFrame:
        """Wait for a gateway frame (sent or received) matching ``predicate``.

        Args:
            predicate: Called with each :class:`GatewayFrame`.
            timeout: Seconds to wait.
            after: Only consider ``gateway_log[after:]``.

        Returns:
            The first matching frame.
        """

        def find() -> GatewayFrame | None:
            return next((f for f in self.gateway_log[after:] if predicate(f)), None)

        return await self._wait_until(find, timeout, "gateway frame")
