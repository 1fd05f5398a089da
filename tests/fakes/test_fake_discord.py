"""Tests proving :mod:`tests.fakes.discord` works with the real discord.py client."""

from __future__ import annotations

import asyncio
import io
import json
import math
import zlib
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import discord
import discord.gateway
import discord.http
import pytest
import pytest_asyncio
from discord import app_commands
from discord.ext import commands

from tests.fakes.discord import (
    ADMIN_ID,
    ADMIN_ROLE_ID,
    BOT_ID,
    GUILD_ID,
    OTHER_CHANNEL_ID,
    OWNER_ID,
    TEXT_CHANNEL_ID,
    USER_ID,
    FakeDiscord,
)

ORIGINAL_BASE = discord.http.Route.BASE
ORIGINAL_GATEWAY = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
GUILD = discord.Object(GUILD_ID)


def make_bot(
    *, message_content: bool = True, cls: type[commands.Bot] = commands.Bot
) -> commands.Bot:
    """A real discord.py bot configured for fast tests.

    Args:
        message_content: Request the privileged MESSAGE_CONTENT intent.
        cls: Bot class (``commands.Bot`` or ``commands.AutoShardedBot``).

    Returns:
        The (not yet started) bot.
    """
    intents = discord.Intents.default()
    intents.message_content = message_content
    return cls(command_prefix="!", intents=intents, guild_ready_timeout=0.05)


@pytest_asyncio.fixture(loop_scope="function")
async def fake() -> AsyncIterator[FakeDiscord]:
    """A started fake with a short heartbeat; checks discord.py is restored afterwards."""
    async with FakeDiscord(heartbeat_interval_ms=50) as server:
        assert server.api_base == discord.http.Route.BASE
        yield server
    assert discord.http.Route.BASE == ORIGINAL_BASE
    assert discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY == ORIGINAL_GATEWAY


async def test_bot_reaches_on_ready(fake: FakeDiscord) -> None:
    bot = make_bot()
    ready = asyncio.Event()

    @bot.event
    async def on_ready() -> None:
        ready.set()

    async with fake.running(bot):
        await asyncio.wait_for(ready.wait(), 5)
        assert bot.user is not None and bot.user.id == BOT_ID
        assert bot.application_id == BOT_ID
        guild = bot.get_guild(GUILD_ID)
        assert guild is not None and guild.name == "Test Guild"
        assert guild.owner_id == OWNER_ID
        assert {c.id for c in guild.text_channels} == {TEXT_CHANNEL_ID, OTHER_CHANNEL_ID}
        assert guild.me is not None and guild.me.id == BOT_ID
        assert guild.get_role(GUILD_ID) is not None  # @everyone

    paths = [(r.method, r.path) for r in fake.requests]
    assert ("GET", "/users/@me") in paths
    assert ("GET", "/oauth2/applications/@me") in paths
    ready_frame = next(f for f in fake.gateway_log if f.t == "READY")
    assert ready_frame.d["resume_gateway_url"] == fake.gateway_url
    assert ready_frame.d["guilds"] == [{"id": str(GUILD_ID), "unavailable": True}]


async def test_gateway_uses_zlib_stream(fake: FakeDiscord) -> None:
    bot = make_bot()
    async with fake.running(bot):
        assert [c.compress for c in fake.connections] == ["zlib-stream"]
        identify = next(f for f in fake.gateway_log if f.direction == "recv" and f.op == 2)
        assert identify.d["intents"] == bot.intents.value


async def test_plain_json_gateway_without_compress(fake: FakeDiscord) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(f"{fake.gateway_url}?v=10&encoding=json") as ws,
    ):
        hello = await ws.receive(timeout=5)
        assert hello.type is aiohttp.WSMsgType.TEXT
        assert json.loads(hello.data) == {
            "op": 10,
            "d": {"heartbeat_interval": 50, "_trace": ["fake"]},
            "s": None,
            "t": None,
        }
        await ws.send_json({"op": 2, "d": {"token": "t", "intents": 513, "properties": {}}})
        ready = json.loads((await ws.receive(timeout=5)).data)
        guild_create = json.loads((await ws.receive(timeout=5)).data)
        assert (ready["t"], ready["s"]) == ("READY", 1)
        assert (guild_create["t"], guild_create["s"]) == ("GUILD_CREATE", 2)
        # Without GUILD_PRESENCES only the bot member is listed, like Discord.
        assert [m["user"]["id"] for m in guild_create["d"]["members"]] == [str(BOT_ID)]
        await ws.send_json({"op": 1, "d": 2})
        ack = json.loads((await ws.receive(timeout=5)).data)
        assert ack["op"] == 11


async def test_zlib_stream_frames_decompress_with_one_context(fake: FakeDiscord) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(f"{fake.gateway_url}?v=10&encoding=json&compress=zlib-stream") as ws,
    ):
        inflator = zlib.decompressobj()
        hello = await ws.receive(timeout=5)
        assert hello.type is aiohttp.WSMsgType.BINARY
        assert hello.data.endswith(b"\x00\x00\xff\xff")
        assert json.loads(inflator.decompress(hello.data))["op"] == 10
        await ws.send_json({"op": 1, "d": None})
        ack = await ws.receive(timeout=5)
        assert json.loads(inflator.decompress(ack.data))["op"] == 11


async def test_heartbeats_are_acked(fake: FakeDiscord) -> None:
    bot = make_bot()
    async with fake.running(bot):
        await fake.wait_for_gateway(lambda f: f.direction == "recv" and f.op == 1, timeout=5)
        await asyncio.sleep(0.3)  # interval is 50 ms: several more beats
        assert fake.heartbeats_received >= 3
        acks = [f for f in fake.gateway_log if f.direction == "send" and f.op == 11]
        assert len(acks) >= 3
        assert math.isfinite(bot.latency)
        assert bot.latency < 1


async def test_tree_sync_to_guild_hits_bulk_overwrite(fake: FakeDiscord) -> None:
    bot = make_bot()

    @bot.tree.command(name="ask", description="Ask the archive", guild=GUILD)
    @app_commands.describe(question="What to ask")
    async def ask(interaction: discord.Interaction, question: str, limit: int = 3) -> None:
        await interaction.response.send_message(question)

    async with fake.running(bot):
        synced = await bot.tree.sync(guild=GUILD)
        fetched = await bot.tree.fetch_commands(guild=GUILD)

    put = next(r for r in fake.requests if r.method == "PUT")
    assert put.path == f"/applications/{BOT_ID}/guilds/{GUILD_ID}/commands"
    assert [c["name"] for c in put.json] == ["ask"]
    [command] = fake.guild_commands[GUILD_ID].values()
    assert [(o["name"], o["type"]) for o in command["options"]] == [("question", 3), ("limit", 4)]
    assert [c.id for c in synced] == [int(command["id"])] == [c.id for c in fetched]


async def test_message_create_reaches_on_message_and_reply_is_recorded(fake: FakeDiscord) -> None:
    bot = make_bot()
    received: asyncio.Future[discord.Message] = asyncio.get_running_loop().create_future()

    @bot.event
    async def on_message(message: discord.Message) -> None:
        if message.author.bot:
            return
        if not received.done():
            received.set_result(message)
        await message.channel.send(
            f"echo: {message.content}", allowed_mentions=discord.AllowedMentions.none()
        )

    async with fake.running(bot):
        injected = await fake.inject_message(TEXT_CHANNEL_ID, f"<@{BOT_ID}> hello")
        message = await asyncio.wait_for(received, 5)
        assert message.id == int(injected["id"])
        assert message.content == f"<@{BOT_ID}> hello"
        assert isinstance(message.author, discord.Member) and message.author.id == USER_ID
        assert message.guild is not None and message.guild.id == GUILD_ID
        assert bot.user in message.mentions
        sent = await fake.wait_for_message(lambda m: m.kind == "channel")

    assert sent.channel_id == TEXT_CHANNEL_ID
    assert sent.content == f"echo: <@{BOT_ID}> hello"
    assert sent.allowed_mentions == {"parse": []}
    assert sent.message["author"]["id"] == str(BOT_ID)
    assert fake.messages[sent.message_id]["content"] == sent.content


async def test_dm_message_and_message_content_intent(fake: FakeDiscord) -> None:
    bot = make_bot(message_content=False)
    seen: asyncio.Queue[discord.Message] = asyncio.Queue()

    @bot.event
    async def on_message(message: discord.Message) -> None:
        if not message.author.bot:
            await seen.put(message)

    async with fake.running(bot):
        await fake.inject_message(TEXT_CHANNEL_ID, "secret guild text")
        guild_msg = await asyncio.wait_for(seen.get(), 5)
        assert guild_msg.content == ""  # no MESSAGE_CONTENT intent, bot not mentioned
        await fake.inject_message(fake.dm_channel_id(USER_ID), "hello in DM")
        dm = await asyncio.wait_for(seen.get(), 5)
        assert isinstance(dm.channel, discord.DMChannel)
        assert dm.guild is None and dm.content == "hello in DM"
        await dm.channel.send("dm reply")
        sent = await fake.wait_for_message(lambda m: m.content == "dm reply")
        assert sent.channel_id == fake.dm_channel_id(USER_ID)


async def test_slash_command_defer_then_followup(fake: FakeDiscord) -> None:
    bot = make_bot()
    calls: list[tuple[str, int, Any]] = []

    @bot.tree.command(name="ask", description="Ask", guild=GUILD)
    async def ask(
        interaction: discord.Interaction,
        question: str,
        limit: int,
        channel: discord.TextChannel,
    ) -> None:
        calls.append((question, limit, channel))
        await interaction.response.defer()
        await interaction.followup.send(f"answer to {question!r}")

    async with fake.running(bot):
        await bot.tree.sync(guild=GUILD)
        inter = await fake.inject_slash_command(
            "ask", {"question": "what is RLHF?", "limit": 2, "channel": OTHER_CHANNEL_ID}
        )
        followup = await fake.wait_for_message(lambda m: m.kind == "followup")

    [command] = fake.guild_commands[GUILD_ID].values()
    assert inter["data"]["id"] == command["id"]
    assert inter["data"]["guild_id"] == str(GUILD_ID)
    assert [o["type"] for o in inter["data"]["options"]] == [3, 4, 7]
    question, limit, channel = calls[0]
    assert (question, limit, channel.id) == ("what is RLHF?", 2, OTHER_CHANNEL_ID)
    assert followup.content == "answer to 'what is RLHF?'"
    assert followup.interaction_id == int(inter["id"])
    kinds = [(r.kind, r.type) for r in fake.interaction_responses(inter["id"])]
    assert kinds == [("callback", 5), ("followup", None)]
    callback = next(r for r in fake.requests if r.path.endswith("/callback"))
    assert callback.query == {"with_response": "1"}
    # The first follow-up replaces the "thinking" message, as on Discord.
    deferred = fake.interaction_responses(inter["id"])[0].message
    assert deferred is not None and deferred["flags"] == 128  # loading
    assert followup.message_id == int(deferred["id"])
    assert followup.flags == 0


async def test_send_message_ephemeral_records_flag_64(fake: FakeDiscord) -> None:
    bot = make_bot()
    checked: list[bool] = []

    @bot.tree.command(name="settings", description="Admin only", guild=GUILD)
    async def settings(interaction: discord.Interaction) -> None:
        checked.append(interaction.permissions.manage_guild)
        await interaction.response.send_message("only you can see this", ephemeral=True)

    async with fake.running(bot):
        await bot.tree.sync(guild=GUILD)
        await fake.inject_slash_command("settings", {}, user=ADMIN_ID)
        sent = await fake.wait_for_message(lambda m: m.kind == "interaction_response")
        await fake.inject_slash_command("settings", {}, user=USER_ID)
        await fake.wait_for_message(lambda m: m.kind == "interaction_response", after=1)

    assert sent.flags == 64 and sent.ephemeral
    assert sent.content == "only you can see this"
    assert checked == [True, False]  # admin role grants MANAGE_GUILD, regular user lacks it
    assert int(sent.message["id"]) not in {
        int(f.d["id"]) for f in fake.gateway_log if f.t == "MESSAGE_CREATE"
    }  # ephemeral messages are not echoed on the gateway


async def test_button_click_triggers_view_callback(fake: FakeDiscord) -> None:
    bot = make_bot()
    clicked: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    class Confirm(discord.ui.View):
        @discord.ui.button(label="Confirm", custom_id="confirm", style=discord.ButtonStyle.green)
        async def confirm(
            self, interaction: discord.Interaction, button: discord.ui.Button
        ) -> None:
            clicked.set_result(interaction.user.id)
            await interaction.response.edit_message(content="confirmed", view=None)

    async with fake.running(bot):
        channel = bot.get_channel(TEXT_CHANNEL_ID)
        assert isinstance(channel, discord.TextChannel)
        await channel.send("Proceed?", view=Confirm(timeout=30))
        sent = await fake.wait_for_message(lambda m: m.content == "Proceed?")
        assert sent.components[0]["components"][0]["custom_id"] == "confirm"
        inter = await fake.inject_button_click(sent.message, "confirm", user=ADMIN_ID)
        assert await asyncio.wait_for(clicked, 5) == ADMIN_ID
        update = await fake.wait_for_message(lambda m: m.kind == "interaction_update")

    assert update.message_id == sent.message_id
    assert update.content == "confirmed" and update.components == []
    assert fake.interaction_responses(inter["id"])[0].type == 7


async def test_autocomplete_choices_are_recorded(fake: FakeDiscord) -> None:
    bot = make_bot()
    topics = ["alignment", "agents", "benchmarks", "diffusion"]

    @bot.tree.command(name="topic", description="Browse a topic", guild=GUILD)
    async def topic(interaction: discord.Interaction, name: str) -> None:
        await interaction.response.send_message(name)

    @topic.autocomplete("name")
    async def topic_autocomplete(
        interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return [app_commands.Choice(name=t, value=t) for t in topics if t.startswith(current)]

    async with fake.running(bot):
        await bot.tree.sync(guild=GUILD)
        inter = await fake.inject_autocomplete("topic", {"name": "a"}, focused="name")
        choices = await fake.wait_for_autocomplete(inter)

    assert choices == [
        {"name": "alignment", "value": "alignment"},
        {"name": "agents", "value": "agents"},
    ]
    callback = next(r for r in fake.requests if r.path.endswith("/callback"))
    assert callback.json["type"] == 8
    assert callback.json["data"]["choices"] == choices
    assert inter["data"]["options"] == [{"name": "name", "type": 3, "value": "a", "focused": True}]


async def test_overlong_message_is_rejected_like_discord(fake: FakeDiscord) -> None:
    bot = make_bot()
    async with fake.running(bot):
        channel = bot.get_channel(TEXT_CHANNEL_ID)
        assert isinstance(channel, discord.TextChannel)
        with pytest.raises(discord.HTTPException) as excinfo:
            await channel.send("x" * 2001)
    assert excinfo.value.status == 400 and excinfo.value.code == 50035
    assert "2000 or fewer" in str(excinfo.value)
    assert fake.sent_messages() == []


async def test_sends_to_a_channel_can_be_refused_at_run_time(fake: FakeDiscord) -> None:
    bot = make_bot()
    async with fake.running(bot):
        channel = bot.get_channel(TEXT_CHANNEL_ID)
        assert isinstance(channel, discord.TextChannel)
        fake.fail_sends(TEXT_CHANNEL_ID, 403)
        with pytest.raises(discord.Forbidden) as forbidden:
            await channel.send("hello")
        fake.fail_sends(TEXT_CHANNEL_ID, 400)
        with pytest.raises(discord.HTTPException) as invalid:
            await channel.send("hello")
        fake.fail_sends(TEXT_CHANNEL_ID, 503)
        with pytest.raises(discord.DiscordServerError):
            await channel.send("hello")
        await bot.get_channel(OTHER_CHANNEL_ID).send("elsewhere is fine")
        fake.fail_sends(TEXT_CHANNEL_ID, None)
        await channel.send("works again")
    assert forbidden.value.code == 50013 and invalid.value.status == 400 and invalid.value.code == 50035
    assert [m.content for m in fake.sent_messages(TEXT_CHANNEL_ID)] == ["works again"]


async def test_embed_url_that_is_not_http_is_rejected_like_discord(fake: FakeDiscord) -> None:
    bot = make_bot()
    async with fake.running(bot):
        channel = bot.get_channel(TEXT_CHANNEL_ID)
        with pytest.raises(discord.HTTPException) as excinfo:
            await channel.send(embed=discord.Embed(title="t", url="javascript:alert(1)"))
        await channel.send(embed=discord.Embed(title="t", url="https://example.org/p"))
    assert excinfo.value.status == 400 and "well formed URL" in str(excinfo.value)
    assert len(fake.sent_messages(TEXT_CHANNEL_ID)) == 1


async def test_unknown_route_returns_404_and_is_recorded(fake: FakeDiscord) -> None:
    bot = make_bot()
    async with fake.running(bot):
        with pytest.raises(discord.NotFound):
            await bot.http.request(discord.http.Route("GET", "/voice/regions"))
    record = next(r for r in fake.requests if r.path == "/voice/regions")
    assert record.route is None and record.status == 404
    assert record.response == {"message": "Unknown route", "code": 0}


async def test_reconnect_resumes_session(fake: FakeDiscord) -> None:
    bot = make_bot()
    resumed = asyncio.Event()

    @bot.event
    async def on_resumed() -> None:
        resumed.set()

    async with fake.running(bot):
        await fake.send_reconnect()
        await asyncio.wait_for(resumed.wait(), 5)
        resume = next(f for f in fake.gateway_log if f.direction == "recv" and f.op == 6)
        assert resume.d["session_id"] in fake.sessions
        seqs = [f.s for f in fake.gateway_log if f.direction == "send" and f.op == 0]
        assert seqs == list(range(1, len(seqs) + 1))  # sequence continues across RESUME
        await fake.inject_message(TEXT_CHANNEL_ID, "after resume")
        await fake.wait_for_gateway(lambda f: f.t == "MESSAGE_CREATE")


class _FastShardedBot(commands.AutoShardedBot):
    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        """Skip discord.py's 5 s pause between shard IDENTIFYs."""


async def test_auto_sharded_bot_gets_one_ready_per_shard() -> None:
    async with FakeDiscord(shards=2) as fake:
        second_guild = GUILD_ID + (1 << 22)  # lands on the other shard of 2
        fake.add_guild(second_guild, "Second Guild", owner_id=OWNER_ID)
        fake.add_channel(second_guild, second_guild + 1, "general")
        bot = make_bot(cls=_FastShardedBot)
        async with fake.running(bot):
            assert bot.shard_count == 2
            assert {g.id for g in bot.guilds} == {GUILD_ID, second_guild}
            shard_of = {g.id: g.shard_id for g in bot.guilds}
            assert shard_of[GUILD_ID] != shard_of[second_guild]
            inter_done = asyncio.Event()

            @bot.tree.command(name="ping", description="ping")
            async def ping(interaction: discord.Interaction) -> None:
                await interaction.response.send_message(f"pong {interaction.guild_id}")
                inter_done.set()

            await fake.inject_slash_command("ping", guild_id=second_guild)
            await asyncio.wait_for(inter_done.wait(), 5)
        readies = [f for f in fake.gateway_log if f.t == "READY"]
        assert sorted(tuple(f.d["shard"]) for f in readies) == [(0, 2), (1, 2)]
        for frame in readies:
            [guild] = frame.d["guilds"]
            assert (int(guild["id"]) >> 22) % 2 == frame.d["shard"][0]
        assert any(r.path == "/gateway/bot" for r in fake.requests)


async def test_subcommand_group_with_resolved_options_and_edit_original(fake: FakeDiscord) -> None:
    bot = make_bot()
    seen: list[tuple[str, discord.Member, discord.Role]] = []
    admin = app_commands.Group(name="admin", description="Admin tools", guild_ids=[GUILD_ID])
    feeds = app_commands.Group(name="feeds", description="Feeds", parent=admin)

    @feeds.command(name="add", description="Add a feed")
    async def add(
        interaction: discord.Interaction, url: str, who: discord.Member, role: discord.Role
    ) -> None:
        seen.append((url, who, role))
        await interaction.response.defer(ephemeral=True)
        await interaction.edit_original_response(content=f"added {url}")

    bot.tree.add_command(admin)
    async with fake.running(bot):
        await bot.tree.sync(guild=GUILD)
        inter = await fake.inject_slash_command(
            "admin",
            {"url": "https://example.com/feed", "who": ADMIN_ID, "role": ADMIN_ROLE_ID},
            subcommand="feeds add",
            user=ADMIN_ID,
        )
        edited = await fake.wait_for_message(lambda m: m.kind == "edit_original")

    [(url, who, role)] = seen
    assert url == "https://example.com/feed"
    assert isinstance(who, discord.Member) and who.id == ADMIN_ID
    assert role.id == ADMIN_ROLE_ID
    [group] = inter["data"]["options"]
    assert (group["name"], group["type"]) == ("feeds", 2)
    assert [(o["name"], o["type"]) for o in group["options"][0]["options"]] == [
        ("url", 3),
        ("who", 6),
        ("role", 8),
    ]
    assert edited.content == "added https://example.com/feed" and edited.ephemeral


async def test_reply_with_file_history_fetch_and_reaction(fake: FakeDiscord) -> None:
    bot = make_bot()
    done: asyncio.Future[list[str]] = asyncio.get_running_loop().create_future()

    @bot.event
    async def on_message(message: discord.Message) -> None:
        if message.author.bot:
            return
        reply = await message.reply("report", file=discord.File(io.BytesIO(b"abc"), "r.txt"))
        await reply.add_reaction("\N{THUMBS UP SIGN}")
        async with message.channel.typing():
            history = [m.content async for m in message.channel.history(limit=10)]
        fetched = await message.channel.fetch_message(reply.id)
        assert await fetched.attachments[0].read() == b"abc"
        done.set_result(history)

    async with fake.running(bot):
        await fake.inject_message(TEXT_CHANNEL_ID, "send the report")
        history = await asyncio.wait_for(done, 5)

    assert history == ["report", "send the report"]
    [sent] = fake.sent_messages(TEXT_CHANNEL_ID)
    assert sent.message["type"] == 19 and sent.attachments[0]["filename"] == "r.txt"
    upload = next(r for r in fake.requests if r.files)
    assert upload.json["content"] == "report" and upload.files[0]["data"] == b"abc"
    assert any(r.method == "PUT" and "/reactions/" in r.path for r in fake.requests)
    assert any(r.path.endswith("/typing") and r.status == 204 for r in fake.requests)


async def test_modal_submit_reaches_modal_callback(fake: FakeDiscord) -> None:
    bot = make_bot()
    submitted: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    class Feedback(discord.ui.Modal, title="Feedback"):
        text: discord.ui.TextInput[Feedback] = discord.ui.TextInput(label="Text", custom_id="text")

        async def on_submit(self, interaction: discord.Interaction) -> None:
            submitted.set_result(self.text.value)
            await interaction.response.send_message("thanks", ephemeral=True)

    @bot.tree.command(name="feedback", description="Send feedback", guild=GUILD)
    async def feedback(interaction: discord.Interaction) -> None:
        await interaction.response.send_modal(Feedback(custom_id="feedback-modal"))

    async with fake.running(bot):
        await bot.tree.sync(guild=GUILD)
        inter = await fake.inject_slash_command("feedback")
        modal = await fake.wait_for_interaction_response(inter["id"])
        assert (modal.type, modal.data["custom_id"]) == (9, "feedback-modal")
        await fake.inject_modal_submit("feedback-modal", {"text": "great digest"})
        assert await asyncio.wait_for(submitted, 5) == "great digest"
        await fake.wait_for_message(lambda m: m.content == "thanks" and m.ephemeral)


async def test_wrong_token_fails_login() -> None:
    async with FakeDiscord(token="right-token") as fake:
        with pytest.raises(discord.LoginFailure):
            async with fake.running(make_bot(), token="wrong-token"):
                pass
    assert discord.http.Route.BASE == ORIGINAL_BASE
