"""Injecting user activity: messages, slash commands, autocomplete, context menus, components, modals."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ._base import FakeDiscordBase
from .constants import (
    _AUTO,
    _CALLBACK_AUTOCOMPLETE,
    _INTERACTION_APP_COMMAND,
    _INTERACTION_AUTOCOMPLETE,
    _INTERACTION_COMPONENT,
    _INTERACTION_MODAL_SUBMIT,
    GUILD_ID,
    USER_ID,
    _Auto,
    _log,
)


class InjectMixin(FakeDiscordBase):
    """Injecting user activity: messages, slash commands, autocomplete, context menus, components, modals."""

    # ------------------------------------------------------------------ injection

    async def inject_message(
        self,
        channel_id: int,
        content: str,
        author: int | Mapping[str, Any] = USER_ID,
        mentions: Sequence[int] | None = None,
        guild_id: int | None | _Auto = _AUTO,
        message_reference: int | Mapping[str, Any] | None = None,
        message_id: int | None = None,
        *,
        embeds: Sequence[Mapping[str, Any]] = (),
        attachments: Sequence[tuple[str, bytes | str]] = (),
    ) -> dict[str, Any]:
        """Dispatch ``MESSAGE_CREATE`` as if a user posted a message.

        Args:
            channel_id: Channel id. A guild channel registered with the fake makes a
                guild message; any other id is treated as a DM channel with ``author``
                (see :meth:`dm_channel_id`).
            content: Message content. Mentions like ``<@BOT_ID>`` are parsed into
                ``mentions`` unless ``mentions`` is given.
            author: User id (registered users) or a user object.
            mentions: Explicit mentioned user ids.
            guild_id: Guild id; by default taken from the channel. Pass ``None`` to
                force a DM.
            message_reference: Message id (or reference object) this replies to.
            message_id: Explicit id; a new snowflake by default.
            embeds: Embeds of the message.
            attachments: ``(filename, data)`` pairs, served by the fake.

        Returns:
            The stored message object (as REST would return it).
        """
        author_obj = self._user(author)
        if guild_id is _AUTO:
            guild_id = self._guild_of_channel(channel_id)
        if guild_id is None:
            if self._guild_of_channel(channel_id) is not None:
                raise ValueError(
                    f"channel {channel_id} is a guild channel; use fake.dm_channel_id(user) for DMs"
                )
            if channel_id not in self.channels:
                self.channels[channel_id] = {
                    "id": str(channel_id),
                    "type": 1,
                    "last_message_id": None,
                    "flags": 0,
                    "recipients": [author_obj],
                }
            self._dm_channels.setdefault(int(author_obj["id"]), channel_id)
        payload: dict[str, Any] = {"content": content, "embeds": list(embeds)}
        if message_reference is not None:
            ref = (
                {"message_id": str(message_reference)}
                if isinstance(message_reference, int | str)
                else dict(message_reference)
            )
            payload["message_reference"] = ref
        msg = self._build_message(
            channel_id=channel_id,
            author=author_obj,
            payload=payload,
            message_id=message_id,
            mentions=mentions,
        )
        if guild_id is None:
            msg.pop("guild_id", None)
        else:
            msg["guild_id"] = str(guild_id)
        if attachments:
            msg["attachments"] = [
                self._make_attachment(
                    channel_id,
                    name,
                    data,
                    "text/plain" if isinstance(data, str) else "application/octet-stream",
                )
                for name, data in attachments
            ]
        self.messages[int(msg["id"])] = msg
        if channel_id in self.channels:
            self.channels[channel_id]["last_message_id"] = msg["id"]
        await self.wait_for_session(guild_id)
        sent = await self.dispatch(
            "MESSAGE_CREATE",
            self._gateway_message(msg),
            guild_id=guild_id,
            transform=self._message_visibility(msg),
        )
        if not sent:
            _log.warning("MESSAGE_CREATE not delivered (intents?) for channel %s", channel_id)
        return msg

    async def inject_slash_command(
        self,
        name: str,
        options: Mapping[str, Any] | None = None,
        user: int | Mapping[str, Any] = USER_ID,
        guild_id: int | None = GUILD_ID,
        channel_id: int | None = None,
        permissions: int | None = None,
        subcommand: str | None = None,
        *,
        locale: str = "en-US",
        command_guild_id: int | None | _Auto = _AUTO,
    ) -> dict[str, Any]:
        """Dispatch ``INTERACTION_CREATE`` type 2 (chat input command).

        Option types come from the command payload the bot registered (bulk
        overwrite / upsert); unregistered options are typed from their Python value
        (``bool`` 5, ``int`` 4, ``float`` 10, ``str`` 3) or a :class:`TypedOption`.
        User/channel/role/attachment options get ``resolved`` data.

        Args:
            name: Top-level command name.
            options: Option name -> value (of the leaf subcommand if ``subcommand``).
            user: Invoking user id or user object.
            guild_id: Guild, or ``None`` for a DM with the bot.
            channel_id: Channel (default: first text channel / the user's DM channel).
            permissions: ``member.permissions``; default computed from the member's
                roles (owner and ADMINISTRATOR get all).
            subcommand: ``"sub"`` or ``"group sub"``.
            locale: User locale.
            command_guild_id: ``data.guild_id``; by default the guild the command was
                registered in (``None`` for global commands).

        Returns:
            The interaction payload that was dispatched.
        """
        data = self._command_data(
            name,
            options,
            guild_id=guild_id,
            channel_id=channel_id,
            subcommand=subcommand,
            focused=None,
            command_guild_id=command_guild_id,
            with_resolved=True,
        )
        inter = self._base_interaction(
            _INTERACTION_APP_COMMAND,
            user=user,
            guild_id=guild_id,
            channel_id=channel_id,
            permissions=permissions,
            locale=locale,
            data=data,
        )
        return await self._send_interaction(inter)

    async def inject_autocomplete(
        self,
        name: str,
        options: Mapping[str, Any] | None,
        focused: str,
        user: int | Mapping[str, Any] = USER_ID,
        guild_id: int | None = GUILD_ID,
        channel_id: int | None = None,
        permissions: int | None = None,
        subcommand: str | None = None,
        *,
        locale: str = "en-US",
        command_guild_id: int | None | _Auto = _AUTO,
    ) -> dict[str, Any]:
        """Dispatch ``INTERACTION_CREATE`` type 4 (autocomplete).

        Like Discord, the focused value is sent as typed text (a string) and no
        ``resolved`` data is included.

        Args:
            name: Command name.
            options: Option values typed so far.
            focused: Name of the focused option (added with ``""`` if missing).
            user: Invoking user.
            guild_id: Guild or ``None`` for DM.
            channel_id: Channel.
            permissions: ``member.permissions`` override.
            subcommand: ``"sub"`` or ``"group sub"``.
            locale: User locale.
            command_guild_id: See :meth:`inject_slash_command`.

        Returns:
            The interaction payload. Use :meth:`wait_for_autocomplete` for the choices.
        """
        data = self._command_data(
            name,
            options,
            guild_id=guild_id,
            channel_id=channel_id,
            subcommand=subcommand,
            focused=focused,
            command_guild_id=command_guild_id,
            with_resolved=False,
        )
        inter = self._base_interaction(
            _INTERACTION_AUTOCOMPLETE,
            user=user,
            guild_id=guild_id,
            channel_id=channel_id,
            permissions=permissions,
            locale=locale,
            data=data,
        )
        return await self._send_interaction(inter)

    async def wait_for_autocomplete(
        self, interaction: Mapping[str, Any] | int, timeout: float = 10
    ) -> list[dict[str, Any]]:
        """Wait for the autocomplete callback of an injected interaction.

        Args:
            interaction: The payload returned by :meth:`inject_autocomplete` or its id.
            timeout: Seconds to wait.

        Returns:
            The choices (``{"name", "value"}`` dicts).
        """
        iid = int(interaction["id"]) if isinstance(interaction, Mapping) else int(interaction)
        record = await self.wait_for_interaction_response(
            iid, lambda r: r.kind == "callback" and r.type == _CALLBACK_AUTOCOMPLETE, timeout
        )
        return record.choices

    async def inject_context_menu(
        self,
        name: str,
        target: int | Mapping[str, Any],
        user: int | Mapping[str, Any] = USER_ID,
        guild_id: int | None = GUILD_ID,
        channel_id: int | None = None,
        permissions: int | None = None,
        *,
        locale: str = "en-US",
        command_guild_id: int | None | _Auto = _AUTO,
    ) -> dict[str, Any]:
        """Dispatch a user (type 2) or message (type 3) context menu command.

        Args:
            name: Command name.
            target: A message object (message command) or a user id (user command).
            user: Invoking user.
            guild_id: Guild or ``None``.
            channel_id: Channel (defaults to the target message's channel).
            permissions: ``member.permissions`` override.
            locale: User locale.
            command_guild_id: See :meth:`inject_slash_command`.

        Returns:
            The interaction payload.
        """
        is_message = isinstance(target, Mapping)
        ctype = 3 if is_message else 2
        command, registered_guild = self._find_command(name, guild_id, ctype)
        if command_guild_id is _AUTO:
            command_guild_id = registered_guild
        resolved: dict[str, Any] = {}
        if is_message:
            msg = dict(target)  # type: ignore[arg-type]
            target_id = msg["id"]
            resolved["messages"] = {target_id: self.messages.get(int(target_id), msg)}
            channel_id = channel_id or int(msg["channel_id"])
        else:
            target_id = str(target)
            self._option_value(6, target, resolved, guild_id, channel_id, False)
        data: dict[str, Any] = {
            "id": command["id"] if command else str(self._stable_id(f"ctx:{ctype}:{name}")),
            "name": name,
            "type": ctype,
            "target_id": target_id,
            "resolved": resolved,
        }
        if command_guild_id is not None:
            data["guild_id"] = str(command_guild_id)
        inter = self._base_interaction(
            _INTERACTION_APP_COMMAND,
            user=user,
            guild_id=guild_id,
            channel_id=channel_id,
            permissions=permissions,
            locale=locale,
            data=data,
        )
        return await self._send_interaction(inter)

    async def inject_component(
        self,
        message: Mapping[str, Any] | int,
        custom_id: str,
        component_type: int = 2,
        values: Sequence[str] | None = None,
        user: int | Mapping[str, Any] = USER_ID,
        permissions: int | None = None,
        *,
        locale: str = "en-US",
    ) -> dict[str, Any]:
        """Dispatch ``INTERACTION_CREATE`` type 3 for a component on a bot message.

        Args:
            message: The bot's message (object or id); the stored version is used.
            custom_id: The component's custom id.
            component_type: 2 button, 3 string select, 5 user select, ...
            values: Selected values for select menus.
            user: Clicking user.
            permissions: ``member.permissions`` override.
            locale: User locale.

        Returns:
            The interaction payload.
        """
        mid = int(message["id"]) if isinstance(message, Mapping) else int(message)
        stored = self.messages.get(mid)
        if stored is None:
            if not isinstance(message, Mapping):
                raise KeyError(f"unknown message {mid}")
            stored = dict(message)
        channel_id = int(stored["channel_id"])
        guild_id = int(stored["guild_id"]) if stored.get("guild_id") else None
        data: dict[str, Any] = {"custom_id": custom_id, "component_type": component_type}
        if values is not None:
            data["values"] = list(values)
        inter = self._base_interaction(
            _INTERACTION_COMPONENT,
            user=user,
            guild_id=guild_id,
            channel_id=channel_id,
            permissions=permissions,
            locale=locale,
            data=data,
            message=stored,
        )
        return await self._send_interaction(inter)

    async def inject_button_click(
        self,
        message: Mapping[str, Any] | int,
        custom_id: str,
        user: int | Mapping[str, Any] = USER_ID,
        permissions: int | None = None,
        *,
        locale: str = "en-US",
    ) -> dict[str, Any]:
        """Click a button (component type 2) on a message the bot sent.

        Args:
            message: The bot's message (object, e.g. ``SentMessage.message``, or id).
            custom_id: The button's custom id.
            user: Clicking user.
            permissions: ``member.permissions`` override.
            locale: User locale.

        Returns:
            The interaction payload.
        """
        return await self.inject_component(
            message, custom_id, 2, None, user, permissions, locale=locale
        )

    async def inject_modal_submit(
        self,
        custom_id: str,
        values: Mapping[str, str],
        user: int | Mapping[str, Any] = USER_ID,
        guild_id: int | None = GUILD_ID,
        channel_id: int | None = None,
        permissions: int | None = None,
        *,
        locale: str = "en-US",
    ) -> dict[str, Any]:
        """Dispatch ``INTERACTION_CREATE`` type 5 (modal submit) with text inputs.

        Args:
            custom_id: The modal's custom id (see the type 9 callback data).
            values: Text input custom id -> submitted value.
            user: Submitting user.
            guild_id: Guild or ``None``.
            channel_id: Channel.
            permissions: ``member.permissions`` override.
            locale: User locale.

        Returns:
            The interaction payload.
        """
        data = {
            "custom_id": custom_id,
            "components": [
                {"type": 1, "components": [{"type": 4, "custom_id": key, "value": value}]}
                for key, value in values.items()
            ],
        }
        inter = self._base_interaction(
            _INTERACTION_MODAL_SUBMIT,
            user=user,
            guild_id=guild_id,
            channel_id=channel_id,
            permissions=permissions,
            locale=locale,
            data=data,
        )
        return await self._send_interaction(inter)
