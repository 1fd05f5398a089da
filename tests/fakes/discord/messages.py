"""Message building (mentions, attachments, visibility, echoes) and payload validation."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ._base import FakeDiscordBase
from .constants import (
    _FLAG_COMPONENTS_V2,
    _FLAG_EPHEMERAL,
    _FLAG_LOADING,
    _INTENT_DIRECT_MESSAGES,
    _INTENT_GUILD_MESSAGES,
    _INTENT_MESSAGE_CONTENT,
    _MENTION_ROLE_RE,
    _MENTION_USER_RE,
    BOT_ID,
    _log,
)
from .models import (
    SentMessage,
    _error,
    _field_error,
    _GatewaySession,
    _Interaction,
    _now_iso,
    _Reply,
)


class MessagesMixin(FakeDiscordBase):
    """Message building (mentions, attachments, visibility, echoes) and payload validation."""

    # ------------------------------------------------------------------ message building

    def _mentions_from(
        self, content: str, allowed: Mapping[str, Any] | None
    ) -> tuple[list[int], list[int], bool]:
        users = [int(u) for u in _MENTION_USER_RE.findall(content or "")]
        roles = [int(r) for r in _MENTION_ROLE_RE.findall(content or "")]
        everyone = "@everyone" in (content or "") or "@here" in (content or "")
        if allowed is not None:
            parse = allowed.get("parse") or []
            allowed_users = {int(u) for u in allowed.get("users") or []}
            allowed_roles = {int(r) for r in allowed.get("roles") or []}
            users = [u for u in users if "users" in parse or u in allowed_users]
            roles = [r for r in roles if "roles" in parse or r in allowed_roles]
            everyone = everyone and "everyone" in parse
        return list(dict.fromkeys(users)), list(dict.fromkeys(roles)), everyone

    def _build_message(
        self,
        *,
        channel_id: int,
        author: Mapping[str, Any],
        payload: Mapping[str, Any],
        message_id: int | None = None,
        mentions: Sequence[int] | None = None,
        type: int = 0,
        files: Sequence[Mapping[str, Any]] = (),
        extra: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        content = payload.get("content") or ""
        allowed = payload.get("allowed_mentions")
        user_mentions, role_mentions, everyone = self._mentions_from(content, allowed)
        if mentions is not None:
            user_mentions = [int(m) for m in mentions]
        guild_id = self._guild_of_channel(channel_id)
        mid = message_id if message_id is not None else self._snowflake()
        msg: dict[str, Any] = {
            "id": str(mid),
            "channel_id": str(channel_id),
            "author": dict(author),
            "content": content,
            "timestamp": _now_iso(),
            "edited_timestamp": None,
            "tts": bool(payload.get("tts", False)),
            "mention_everyone": everyone,
            "mentions": [self._user(u) for u in user_mentions],
            "mention_roles": [str(r) for r in role_mentions],
            "attachments": self._attachments_for(channel_id, payload, files),
            "embeds": list(payload.get("embeds") or []),
            "reactions": [],
            "pinned": False,
            "type": type,
            "flags": int(payload.get("flags") or 0),
            "components": list(payload.get("components") or []),
        }
        if payload.get("nonce") is not None:
            msg["nonce"] = payload["nonce"]
        if guild_id is not None:
            msg["guild_id"] = str(guild_id)
        ref = payload.get("message_reference")
        if ref:
            ref = {k: str(v) if k.endswith("_id") and v is not None else v for k, v in ref.items()}
            ref.setdefault("channel_id", str(channel_id))
            if guild_id is not None:
                ref.setdefault("guild_id", str(guild_id))
            ref.setdefault("type", 0)
            msg["message_reference"] = ref
            referenced = (
                self.messages.get(int(ref["message_id"])) if ref.get("message_id") else None
            )
            if referenced is not None:
                nested = {k: v for k, v in referenced.items() if k != "referenced_message"}
                msg["referenced_message"] = copy.deepcopy(nested)
            else:
                msg["referenced_message"] = None
            if type == 0:
                msg["type"] = 19
        if extra:
            msg.update(extra)
        return msg

    def _attachments_for(
        self, channel_id: int, payload: Mapping[str, Any], files: Sequence[Mapping[str, Any]]
    ) -> list[dict[str, Any]]:
        meta = {
            str(a.get("id")): a for a in payload.get("attachments") or [] if isinstance(a, Mapping)
        }
        result: list[dict[str, Any]] = []
        for index, file in enumerate(files):
            aid = self._snowflake()
            data: bytes = file.get("data", b"")
            self.attachment_data[aid] = data
            filename = file.get("filename") or f"file{index}"
            info = meta.get(str(index), {})
            url = f"{self.base_url}/attachments/{channel_id}/{aid}/{filename}"
            result.append(
                {
                    "id": str(aid),
                    "filename": filename,
                    "size": len(data),
                    "url": url,
                    "proxy_url": url,
                    "content_type": file.get("content_type") or "application/octet-stream",
                    "description": info.get("description"),
                    "flags": 0,
                }
            )
        return result

    def _make_attachment(
        self, channel_id: int, filename: str, data: bytes | str, content_type: str
    ) -> dict[str, Any]:
        raw = data.encode() if isinstance(data, str) else data
        return self._attachments_for(
            channel_id, {}, [{"filename": filename, "data": raw, "content_type": content_type}]
        )[0]

    def _gateway_message(self, msg: Mapping[str, Any]) -> dict[str, Any]:
        data = copy.deepcopy(dict(msg))
        guild_id = int(data["guild_id"]) if data.get("guild_id") else None
        if guild_id is not None and guild_id in self.guilds:
            author_id = int(data["author"]["id"])
            if not data.get("webhook_id") or author_id == BOT_ID:
                data["member"] = self._member_payload(guild_id, author_id, with_user=False)
            for mention in data.get("mentions", []):
                if int(mention["id"]) in self.guilds[guild_id].members:
                    mention["member"] = self._member_payload(
                        guild_id, int(mention["id"]), with_user=False
                    )
        return data

    def _message_visibility(
        self, msg: Mapping[str, Any], *, blank_content: bool = True
    ) -> Callable[[dict[str, Any], _GatewaySession], dict[str, Any] | None]:
        in_guild = bool(msg.get("guild_id"))

        def transform(data: dict[str, Any], session: _GatewaySession) -> dict[str, Any] | None:
            needed = _INTENT_GUILD_MESSAGES if in_guild else _INTENT_DIRECT_MESSAGES
            if not session.intents & needed:
                return None
            if not blank_content:
                return data
            author_id = int(data["author"]["id"]) if "author" in data else None
            mentioned = any(int(m["id"]) == BOT_ID for m in data.get("mentions", []))
            if (
                in_guild
                and not session.intents & _INTENT_MESSAGE_CONTENT
                and author_id != BOT_ID
                and not mentioned
            ):
                data.update({"content": "", "embeds": [], "attachments": [], "components": []})
                data.pop("poll", None)
            return data

        return transform

    async def _echo(self, event: str, msg: Mapping[str, Any]) -> None:
        if not self.echo_bot_messages or int(msg.get("flags") or 0) & _FLAG_EPHEMERAL:
            return
        guild_id = int(msg["guild_id"]) if msg.get("guild_id") else None
        deleting = event == "MESSAGE_DELETE"
        if deleting:
            data: dict[str, Any] = {"id": msg["id"], "channel_id": msg["channel_id"]}
            if guild_id is not None:
                data["guild_id"] = str(guild_id)
        else:
            data = self._gateway_message(msg)
        transform = self._message_visibility(msg, blank_content=not deleting)
        await self.dispatch(event, data, guild_id=guild_id, transform=transform)

    def _record_sent(
        self,
        kind: str,
        msg: dict[str, Any],
        payload: Mapping[str, Any],
        interaction: _Interaction | None = None,
    ) -> SentMessage:
        record = SentMessage(
            kind=kind,
            channel_id=int(msg["channel_id"]) if msg.get("channel_id") else None,
            message_id=int(msg["id"]),
            content=msg.get("content") or "",
            embeds=copy.deepcopy(msg.get("embeds") or []),
            components=copy.deepcopy(msg.get("components") or []),
            flags=int(msg.get("flags") or 0),
            allowed_mentions=copy.deepcopy(payload.get("allowed_mentions")),
            attachments=copy.deepcopy(msg.get("attachments") or []),
            interaction_id=interaction.id if interaction else None,
            payload=copy.deepcopy(dict(payload)),
            message=copy.deepcopy(msg),
        )
        self._sent.append(record)
        _log.debug("bot message (%s) in %s: %r", kind, record.channel_id, record.content[:80])
        return record

    def _apply_edit(
        self, msg: dict[str, Any], payload: Mapping[str, Any], files: Sequence[Mapping[str, Any]]
    ) -> None:
        for key in ("content", "embeds", "components"):
            if key in payload:
                value = payload[key]
                msg[key] = value if value is not None else ("" if key == "content" else [])
        if "flags" in payload and payload["flags"] is not None:
            # Only SUPPRESS_EMBEDS / components-v2 can be changed; keep ephemeral.
            msg["flags"] = (int(payload["flags"]) & ~(_FLAG_EPHEMERAL | _FLAG_LOADING)) | (
                int(msg.get("flags") or 0) & _FLAG_EPHEMERAL
            )
        if "attachments" in payload or files:
            kept_ids = {
                str(a.get("id")) for a in payload.get("attachments") or [] if isinstance(a, Mapping)
            }
            kept = [a for a in msg.get("attachments", []) if a["id"] in kept_ids]
            msg["attachments"] = kept + self._attachments_for(
                int(msg["channel_id"]), payload, files
            )
        if "content" in payload:
            users, roles, everyone = self._mentions_from(
                msg["content"], payload.get("allowed_mentions")
            )
            msg["mentions"] = [self._user(u) for u in users]
            msg["mention_roles"] = [str(r) for r in roles]
            msg["mention_everyone"] = everyone
        msg["flags"] = int(msg.get("flags") or 0) & ~_FLAG_LOADING
        msg["edited_timestamp"] = _now_iso()

    # ------------------------------------------------------------------ validation

    def _validate(
        self, payload: Mapping[str, Any], *, files: int = 0, creating: bool = True
    ) -> _Reply | None:
        if not self.validate_messages:
            return None
        errors: dict[str, Any] = {}
        content = payload.get("content")
        if content is not None and len(str(content)) > 2000:
            errors["content"] = _field_error(
                "BASE_TYPE_MAX_LENGTH", "Must be 2000 or fewer in length."
            )
        embeds = payload.get("embeds") or []
        if len(embeds) > 10:
            errors["embeds"] = _field_error(
                "BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length."
            )
        total = 0
        embed_errors: dict[str, Any] = {}
        limits = {"title": 256, "description": 4096}
        for i, embed in enumerate(embeds):
            errs: dict[str, Any] = {}
            for key, limit in limits.items():
                value = embed.get(key) or ""
                total += len(value)
                if len(value) > limit:
                    errs[key] = _field_error(
                        "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length."
                    )
            url = embed.get("url")
            if url is not None and not re.match(r"(?i)^https?://[^\s/]+", str(url)):
                errs["url"] = _field_error("URL_TYPE_INVALID_URL", "Not a well formed URL.")
            footer = (embed.get("footer") or {}).get("text") or ""
            author = (embed.get("author") or {}).get("name") or ""
            total += len(footer) + len(author)
            if len(footer) > 2048:
                errs["footer"] = {
                    "text": _field_error("BASE_TYPE_MAX_LENGTH", "Must be 2048 or fewer in length.")
                }
            if len(author) > 256:
                errs["author"] = {
                    "name": _field_error("BASE_TYPE_MAX_LENGTH", "Must be 256 or fewer in length.")
                }
            fields = embed.get("fields") or []
            if len(fields) > 25:
                errs["fields"] = _field_error(
                    "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length."
                )
            field_errs: dict[str, Any] = {}
            for j, f in enumerate(fields):
                name, value = str(f.get("name") or ""), str(f.get("value") or "")
                total += len(name) + len(value)
                ferr: dict[str, Any] = {}
                if not name:
                    ferr["name"] = _field_error("BASE_TYPE_REQUIRED", "This field is required")
                elif len(name) > 256:
                    ferr["name"] = _field_error(
                        "BASE_TYPE_MAX_LENGTH", "Must be 256 or fewer in length."
                    )
                if not value:
                    ferr["value"] = _field_error("BASE_TYPE_REQUIRED", "This field is required")
                elif len(value) > 1024:
                    ferr["value"] = _field_error(
                        "BASE_TYPE_MAX_LENGTH", "Must be 1024 or fewer in length."
                    )
                if ferr:
                    field_errs[str(j)] = ferr
            if field_errs:
                errs["fields"] = field_errs
            if errs:
                embed_errors[str(i)] = errs
        if embed_errors:
            errors["embeds"] = embed_errors
        elif total > 6000:
            errors["embeds"] = _field_error(
                "MAX_EMBED_SIZE_EXCEEDED", "Embed size exceeds maximum size of 6000"
            )
        components = payload.get("components") or []
        flags = int(payload.get("flags") or 0)
        if not flags & _FLAG_COMPONENTS_V2:
            if len(components) > 5:
                errors["components"] = _field_error(
                    "BASE_TYPE_MAX_LENGTH", "Must be 5 or fewer in length."
                )
            else:
                comp_errors: dict[str, Any] = {}
                for i, row in enumerate(components):
                    children = row.get("components") or []
                    if row.get("type") == 1 and not 1 <= len(children) <= 5:
                        comp_errors[str(i)] = {
                            "components": _field_error(
                                "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 5 in length."
                            )
                        }
                    for j, child in enumerate(children):
                        custom_id = child.get("custom_id")
                        if custom_id is not None and len(custom_id) > 100:
                            comp_errors.setdefault(str(i), {}).setdefault("components", {})[
                                str(j)
                            ] = {
                                "custom_id": _field_error(
                                    "BASE_TYPE_MAX_LENGTH", "Must be 100 or fewer in length."
                                )
                            }
                        label = child.get("label")
                        if label is not None and len(label) > 80:
                            comp_errors.setdefault(str(i), {}).setdefault("components", {})[
                                str(j)
                            ] = {
                                "label": _field_error(
                                    "BASE_TYPE_MAX_LENGTH", "Must be 80 or fewer in length."
                                )
                            }
                if comp_errors:
                    errors["components"] = comp_errors
        if errors:
            return _error(400, "Invalid Form Body", 50035, errors)
        if creating and not (
            content
            or embeds
            or components
            or files
            or payload.get("sticker_ids")
            or payload.get("poll")
        ):
            return _error(400, "Cannot send an empty message", 50006)
        return None
