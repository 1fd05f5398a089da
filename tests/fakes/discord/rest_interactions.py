"""REST routes for interaction callbacks and their webhooks (follow-ups, edits)."""

from __future__ import annotations

import copy
import time
from collections.abc import Mapping, Sequence
from typing import Any

from ._base import FakeDiscordBase
from .constants import (
    _CALLBACK_AUTOCOMPLETE,
    _CALLBACK_DEFERRED_MESSAGE,
    _CALLBACK_DEFERRED_UPDATE,
    _CALLBACK_MESSAGE,
    _CALLBACK_MODAL,
    _CALLBACK_UPDATE_MESSAGE,
    _FLAG_EPHEMERAL,
    _FLAG_LOADING,
    _INTERACTION_APP_COMMAND,
    APPLICATION_ID,
    _log,
)
from .models import (
    InteractionResponse,
    _Call,
    _error,
    _field_error,
    _Interaction,
    _Reply,
)


class InteractionRoutesMixin(FakeDiscordBase):
    """REST routes for interaction callbacks and their webhooks (follow-ups, edits)."""

    # -- interactions

    def _interaction_by_token(self, call: _Call) -> _Interaction | None:
        iid = self._tokens.get(call.params.get("token", ""))
        return self._interactions.get(iid) if iid is not None else None

    def _interaction_message(
        self,
        inter: _Interaction,
        payload: Mapping[str, Any],
        files: Sequence[Mapping[str, Any]],
        *,
        loading: bool = False,
    ) -> dict[str, Any]:
        assert inter.channel_id is not None
        user = inter.payload.get("member", {}).get("user") or inter.payload.get("user")
        data = inter.payload.get("data") or {}
        metadata: dict[str, Any] = {
            "id": str(inter.id),
            "type": inter.type,
            "user": user,
            "authorizing_integration_owners": inter.payload.get(
                "authorizing_integration_owners", {}
            ),
        }
        if inter.type == _INTERACTION_APP_COMMAND:
            metadata["name"] = data.get("name")
            metadata["command_type"] = data.get("type", 1)
        if inter.component_message_id is not None:
            metadata["interacted_message_id"] = str(inter.component_message_id)
        if inter.original_message_id is not None:
            metadata["original_response_message_id"] = str(inter.original_message_id)
        mtype = 0
        if inter.type == _INTERACTION_APP_COMMAND:
            mtype = 20 if data.get("type", 1) == 1 else 23
        payload = dict(payload)
        if loading:
            payload["flags"] = int(payload.get("flags") or 0) | _FLAG_LOADING
        return self._build_message(
            channel_id=inter.channel_id,
            author=self.bot_user,
            payload=payload,
            type=mtype,
            files=files,
            extra={
                "webhook_id": str(APPLICATION_ID),
                "application_id": str(APPLICATION_ID),
                "interaction_metadata": metadata,
            },
        )

    def _ensure_channel_known(self, channel_id: int | None) -> None:
        if channel_id is not None and channel_id not in self.channels:
            self.channels[channel_id] = {
                "id": str(channel_id),
                "type": 1,
                "last_message_id": None,
                "flags": 0,
                "recipients": [],
            }

    async def _r_callback(self, call: _Call) -> _Reply:
        inter = self._interactions.get(int(call.params["interaction_id"]))
        if inter is None or inter.token != call.params["token"]:
            return _error(404, "Unknown interaction", 10062)
        if inter.response_type is not None:
            return _error(400, "Interaction has already been acknowledged.", 40060)
        if (
            self.interaction_timeout is not None
            and time.monotonic() - inter.created > self.interaction_timeout
        ):
            return _error(404, "Unknown interaction", 10062)
        body = call.json or {}
        cb_type = int(body.get("type", 0))
        data = body.get("data") or {}
        self._ensure_channel_known(inter.channel_id)
        message: dict[str, Any] | None = None
        loading = False
        if cb_type in (_CALLBACK_MESSAGE, _CALLBACK_UPDATE_MESSAGE):
            invalid = self._validate(
                data, files=len(call.files), creating=cb_type == _CALLBACK_MESSAGE
            )
            if invalid:
                return invalid
        if cb_type == _CALLBACK_AUTOCOMPLETE and self.validate_messages:
            choices = data.get("choices") or []
            if len(choices) > 25:
                return _error(
                    400,
                    "Invalid Form Body",
                    50035,
                    {
                        "data": {
                            "choices": _field_error(
                                "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length."
                            )
                        }
                    },
                )
            for i, choice in enumerate(choices):
                name = str(choice.get("name", ""))
                if not 1 <= len(name) <= 100 or (
                    isinstance(choice.get("value"), str) and len(choice["value"]) > 100
                ):
                    return _error(
                        400,
                        "Invalid Form Body",
                        50035,
                        {
                            "data": {
                                "choices": {
                                    str(i): _field_error(
                                        "BASE_TYPE_BAD_LENGTH",
                                        "Must be between 1 and 100 in length.",
                                    )
                                }
                            }
                        },
                    )
        if cb_type not in (
            _CALLBACK_MESSAGE,
            _CALLBACK_DEFERRED_MESSAGE,
            _CALLBACK_DEFERRED_UPDATE,
            _CALLBACK_UPDATE_MESSAGE,
            _CALLBACK_AUTOCOMPLETE,
            _CALLBACK_MODAL,
        ):
            return _error(400, "Invalid interaction response type", 50035)
        if (
            cb_type in (_CALLBACK_DEFERRED_UPDATE, _CALLBACK_UPDATE_MESSAGE)
            and inter.component_message_id is None
        ):
            return _error(
                400, "Interaction response type only valid for component interactions", 40043
            )
        inter.response_type = cb_type
        if cb_type == _CALLBACK_MESSAGE:
            message = self._interaction_message(inter, data, call.files)
            inter.original_message_id = int(message["id"])
            self.messages[int(message["id"])] = message
            self._record_sent("interaction_response", message, data, inter)
            await self._echo("MESSAGE_CREATE", message)
        elif cb_type == _CALLBACK_DEFERRED_MESSAGE:
            message = self._interaction_message(
                inter, {"flags": data.get("flags", 0)}, (), loading=True
            )
            loading = True
            inter.original_message_id = int(message["id"])
            self.messages[int(message["id"])] = message
            await self._echo("MESSAGE_CREATE", message)
        elif cb_type in (_CALLBACK_DEFERRED_UPDATE, _CALLBACK_UPDATE_MESSAGE):
            inter.original_message_id = inter.component_message_id
            message = self.messages.get(inter.component_message_id or 0)
            if cb_type == _CALLBACK_UPDATE_MESSAGE and message is not None:
                self._apply_edit(message, data, call.files)
                self._record_sent("interaction_update", message, data, inter)
                await self._echo("MESSAGE_UPDATE", message)
        inter.responses.append(
            InteractionResponse(
                kind="callback",
                interaction_id=inter.id,
                type=cb_type,
                data=copy.deepcopy(data),
                message=copy.deepcopy(message),
            )
        )
        if call.query.get("with_response") not in ("1", "true", "True"):
            return 204, None
        flags = int((message or {}).get("flags") or 0)
        info: dict[str, Any] = {"id": str(inter.id), "type": inter.type}
        if message is not None:
            info.update(
                {
                    "response_message_id": message["id"],
                    "response_message_loading": loading,
                    "response_message_ephemeral": bool(flags & _FLAG_EPHEMERAL),
                }
            )
        reply: dict[str, Any] = {"interaction": info}
        if cb_type != _CALLBACK_AUTOCOMPLETE:
            reply["resource"] = {"type": cb_type}
            if message is not None:
                reply["resource"]["message"] = message
        return 200, reply

    def _webhook_target(self, call: _Call, inter: _Interaction) -> dict[str, Any] | None:
        mid_raw = call.params["message_id"]
        mid = inter.original_message_id if mid_raw == "@original" else int(mid_raw)
        return self.messages.get(mid) if mid is not None else None

    async def _r_webhook_get(self, call: _Call) -> _Reply:
        inter = self._interaction_by_token(call)
        if inter is None:
            return _error(401, "Invalid Webhook Token", 50027)
        msg = self._webhook_target(call, inter)
        return (200, msg) if msg else _error(404, "Unknown Message", 10008)

    async def _r_webhook_edit(self, call: _Call) -> _Reply:
        inter = self._interaction_by_token(call)
        if inter is None:
            return _error(401, "Invalid Webhook Token", 50027)
        msg = self._webhook_target(call, inter)
        if msg is None:
            return _error(404, "Unknown Message", 10008)
        payload = call.json or {}
        invalid = self._validate(payload, creating=False)
        if invalid:
            return invalid
        was_loading = bool(int(msg.get("flags") or 0) & _FLAG_LOADING)
        self._apply_edit(msg, payload, call.files)
        original = call.params["message_id"] == "@original"
        kind = "edit_original" if original else "edit_followup"
        self._record_sent(kind, msg, payload, inter)
        inter.responses.append(
            InteractionResponse(
                kind=kind,
                interaction_id=inter.id,
                type=None,
                data=copy.deepcopy(payload),
                message=copy.deepcopy(msg),
            )
        )
        await self._echo("MESSAGE_UPDATE", msg)
        _log.debug("webhook edit (%s, was_loading=%s)", kind, was_loading)
        return 200, msg

    async def _r_webhook_delete(self, call: _Call) -> _Reply:
        inter = self._interaction_by_token(call)
        if inter is None:
            return _error(401, "Invalid Webhook Token", 50027)
        msg = self._webhook_target(call, inter)
        if msg is None:
            return _error(404, "Unknown Message", 10008)
        del self.messages[int(msg["id"])]
        kind = "delete_original" if call.params["message_id"] == "@original" else "delete_followup"
        inter.responses.append(
            InteractionResponse(
                kind=kind, interaction_id=inter.id, type=None, data={}, message=copy.deepcopy(msg)
            )
        )
        await self._echo("MESSAGE_DELETE", msg)
        return 204, None

    async def _r_webhook_execute(self, call: _Call) -> _Reply:
        inter = self._interaction_by_token(call)
        if inter is None or int(call.params["app_id"]) != APPLICATION_ID:
            return _error(401, "Invalid Webhook Token", 50027)
        if inter.response_type is None:
            return _error(404, "Unknown Webhook", 10015)
        payload = call.json or {}
        invalid = self._validate(payload, files=len(call.files))
        if invalid:
            return invalid
        self._ensure_channel_known(inter.channel_id)
        original = self.messages.get(inter.original_message_id or 0)
        replaces_loading = (
            inter.response_type == _CALLBACK_DEFERRED_MESSAGE
            and original is not None
            and bool(int(original.get("flags") or 0) & _FLAG_LOADING)
        )
        if replaces_loading:
            # Discord: the first follow-up after a deferred "thinking" response edits
            # that loading message (keeping the defer's ephemeral state).
            assert original is not None
            self._apply_edit(
                original, {k: v for k, v in payload.items() if k != "flags"}, call.files
            )
            msg = original
            event = "MESSAGE_UPDATE"
        else:
            msg = self._interaction_message(inter, payload, call.files)
            self.messages[int(msg["id"])] = msg
            event = "MESSAGE_CREATE"
        self._record_sent("followup", msg, payload, inter)
        inter.responses.append(
            InteractionResponse(
                kind="followup",
                interaction_id=inter.id,
                type=None,
                data=copy.deepcopy(payload),
                message=copy.deepcopy(msg),
            )
        )
        await self._echo(event, msg)
        if call.query.get("wait") in ("1", "true", "True"):
            return 200, msg
        return 204, None
