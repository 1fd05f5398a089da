"""World state: users, guilds, roles, channels, members and permissions."""

from __future__ import annotations

import copy
import time
from collections.abc import Mapping, Sequence
from typing import Any

from ._base import FakeDiscordBase
from .constants import (
    _ADMINISTRATOR,
    ADMIN_ID,
    ADMIN_PERMISSIONS,
    ADMIN_ROLE_ID,
    ALL_PERMISSIONS,
    BOT_ID,
    BOT_ROLE_ID,
    DEFAULT_MEMBER_PERMISSIONS,
    DISCORD_EPOCH_MS,
    GUILD_ID,
    OTHER_CHANNEL_ID,
    OWNER_ID,
    TEXT_CHANNEL_ID,
    USER_ID,
)
from .models import (
    _Guild,
    _now_iso,
)


class StateMixin(FakeDiscordBase):
    """World state: users, guilds, roles, channels, members and permissions."""

    # ------------------------------------------------------------------ state setup

    def _create_defaults(self) -> None:
        self.add_user(OWNER_ID, "owner")
        self.add_user(USER_ID, "alice")
        self.add_user(ADMIN_ID, "admin")
        self.add_guild(GUILD_ID, "Test Guild", owner_id=OWNER_ID)
        self.add_role(GUILD_ID, ADMIN_ROLE_ID, "Admin", ADMIN_PERMISSIONS, position=2)
        role = self.add_role(
            GUILD_ID, BOT_ROLE_ID, "digestbot", DEFAULT_MEMBER_PERMISSIONS, position=1
        )
        role["managed"] = True
        role["tags"] = {"bot_id": str(BOT_ID)}
        self.add_channel(GUILD_ID, TEXT_CHANNEL_ID, "general", topic="General chat")
        self.add_channel(GUILD_ID, OTHER_CHANNEL_ID, "digest", topic="Newsletter digests")
        self.add_member(GUILD_ID, OWNER_ID)
        self.add_member(GUILD_ID, USER_ID)
        self.add_member(GUILD_ID, ADMIN_ID, roles=[ADMIN_ROLE_ID])
        self.add_member(GUILD_ID, BOT_ID, roles=[BOT_ROLE_ID])

    @staticmethod
    def _user_payload(
        user_id: int, username: str, *, bot: bool = False, global_name: str | None = None
    ) -> dict[str, Any]:
        return {
            "id": str(user_id),
            "username": username,
            "discriminator": "0",
            "global_name": global_name
            if global_name is not None
            else (None if bot else username.title()),
            "avatar": None,
            "bot": bot,
            "system": False,
            "public_flags": 0,
            "flags": 0,
            "banner": None,
            "accent_color": None,
            "avatar_decoration_data": None,
        }

    def add_user(
        self, user_id: int, username: str, *, bot: bool = False, global_name: str | None = None
    ) -> dict[str, Any]:
        """Register a user.

        Args:
            user_id: Snowflake.
            username: Username.
            bot: Whether the user is a bot.
            global_name: Display name (defaults to the title-cased username).

        Returns:
            The stored user object.
        """
        user = self._user_payload(user_id, username, bot=bot, global_name=global_name)
        self.users[user_id] = user
        return user

    def add_guild(self, guild_id: int, name: str, *, owner_id: int) -> _Guild:
        """Register a guild with its ``@everyone`` role (call before the bot connects).

        Args:
            guild_id: Snowflake; also the ``@everyone`` role id.
            name: Guild name.
            owner_id: Owner user id.

        Returns:
            The internal guild record.
        """
        guild = _Guild(id=guild_id, name=name, owner_id=owner_id, joined_at=_now_iso())
        self.guilds[guild_id] = guild
        self.add_role(guild_id, guild_id, "@everyone", DEFAULT_MEMBER_PERMISSIONS, position=0)
        if BOT_ID not in guild.members:
            self.add_member(guild_id, BOT_ID)
        return guild

    def add_role(
        self, guild_id: int, role_id: int, name: str, permissions: int, *, position: int = 1
    ) -> dict[str, Any]:
        """Register a role in a guild.

        Args:
            guild_id: Guild id.
            role_id: Role id.
            name: Role name.
            permissions: Permission bits.
            position: Role position.

        Returns:
            The stored role object.
        """
        role = {
            "id": str(role_id),
            "name": name,
            "color": 0,
            "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
            "hoist": False,
            "icon": None,
            "unicode_emoji": None,
            "position": position,
            "permissions": str(permissions),
            "managed": False,
            "mentionable": False,
            "flags": 0,
        }
        self.guilds[guild_id].roles[role_id] = role
        return role

    def add_channel(
        self,
        guild_id: int,
        channel_id: int,
        name: str,
        *,
        type: int = 0,
        topic: str | None = None,
        parent_id: int | None = None,
    ) -> dict[str, Any]:
        """Register a guild channel.

        Args:
            guild_id: Guild id.
            channel_id: Channel id.
            name: Channel name.
            type: Channel type (0 text, 2 voice, 4 category, 5 news, 15 forum).
            topic: Channel topic.
            parent_id: Category id.

        Returns:
            The stored channel object.
        """
        guild = self.guilds[guild_id]
        channel = {
            "id": str(channel_id),
            "type": type,
            "guild_id": str(guild_id),
            "name": name,
            "position": len(guild.channel_ids),
            "permission_overwrites": [],
            "nsfw": False,
            "parent_id": str(parent_id) if parent_id else None,
            "topic": topic,
            "last_message_id": None,
            "rate_limit_per_user": 0,
            "flags": 0,
        }
        if type in (2, 13):
            channel.update({"bitrate": 64000, "user_limit": 0, "rtc_region": None})
        self.channels[channel_id] = channel
        guild.channel_ids.append(channel_id)
        return channel

    def add_member(
        self, guild_id: int, user_id: int, *, roles: Sequence[int] = (), nick: str | None = None
    ) -> dict[str, Any]:
        """Add a registered user to a guild.

        Args:
            guild_id: Guild id.
            user_id: User id (must be registered with :meth:`add_user`).
            roles: Role ids (``@everyone`` is implicit).
            nick: Nickname.

        Returns:
            The stored member object (with ``user``).
        """
        member = {
            "user": self.users[user_id],
            "nick": nick,
            "avatar": None,
            "banner": None,
            "roles": [str(r) for r in roles],
            "joined_at": _now_iso(),
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": False,
            "communication_disabled_until": None,
        }
        self.guilds[guild_id].members[user_id] = member
        return member

    def dm_channel_id(self, user_id: int) -> int:
        """Return (creating if needed) the DM channel id between the bot and a user.

        Args:
            user_id: The other user.

        Returns:
            The DM channel id.
        """
        if user_id in self._dm_channels:
            return self._dm_channels[user_id]
        channel_id = self._snowflake()
        self._dm_channels[user_id] = channel_id
        self.channels[channel_id] = {
            "id": str(channel_id),
            "type": 1,
            "last_message_id": None,
            "flags": 0,
            "recipients": [self._user(user_id)],
        }
        return channel_id

    def member_permissions(self, guild_id: int, user_id: int) -> int:
        """Compute a member's guild-level permissions (owner/ADMINISTRATOR -> all).

        Args:
            guild_id: Guild id.
            user_id: User id.

        Returns:
            Permission bits.
        """
        guild = self.guilds[guild_id]
        if user_id == guild.owner_id:
            return ALL_PERMISSIONS
        perms = int(guild.roles[guild_id]["permissions"])
        member = guild.members.get(user_id)
        for role_id in member["roles"] if member else []:
            role = guild.roles.get(int(role_id))
            if role:
                perms |= int(role["permissions"])
        if perms & _ADMINISTRATOR:
            return ALL_PERMISSIONS
        return perms

    # ------------------------------------------------------------------ helpers

    def _snowflake(self) -> int:
        now = int(time.time() * 1000) - DISCORD_EPOCH_MS
        value = (now << 22) | (1 << 17)
        if value <= self._last_snowflake:
            value = self._last_snowflake + 1
        self._last_snowflake = value
        return value

    def _user(self, user: int | Mapping[str, Any]) -> dict[str, Any]:
        if isinstance(user, Mapping):
            return dict(user)
        if user not in self.users:
            self.add_user(user, f"user{user}")
        return self.users[user]

    def _guild_of_channel(self, channel_id: int | None) -> int | None:
        channel = self.channels.get(channel_id) if channel_id is not None else None
        if channel and channel.get("guild_id"):
            return int(channel["guild_id"])
        return None

    def _member_payload(
        self, guild_id: int, user_id: int, *, with_user: bool = True
    ) -> dict[str, Any]:
        guild = self.guilds[guild_id]
        member = guild.members.get(user_id)
        if member is None:
            member = self.add_member(guild_id, user_id)
        data = copy.deepcopy(member)
        if not with_user:
            data.pop("user", None)
        return data

    def _shard_of(self, guild_id: int | None, shard_count: int | None) -> int:
        if guild_id is None or not shard_count:
            return 0
        return (guild_id >> 22) % shard_count
