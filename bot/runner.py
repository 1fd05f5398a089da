"""Starting things: the Discord bot (``digestbot run``) and one polling round (``digestbot poll``)."""

from __future__ import annotations

import logging
import sys

import discord
import yarl

from knowledge import Settings

log = logging.getLogger(__name__)


class RedactToken(logging.Filter):
    """Replaces the bot token in any log record, wherever it comes from."""

    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token

    def filter(self, record: logging.LogRecord) -> bool:
        if self.token:
            message = record.getMessage()
            if self.token in message:
                record.msg = message.replace(self.token, "[token]")
                record.args = ()
            traceback = record.exc_text or (logging.Formatter().formatException(record.exc_info) if record.exc_info else "")
            if self.token in traceback:
                # Keep only the redacted traceback text, so no formatter can render the original.
                record.exc_text = traceback.replace(self.token, "[token]")
                record.exc_info = None
            if record.stack_info and self.token in record.stack_info:
                record.stack_info = record.stack_info.replace(self.token, "[token]")
        return True


def install_token_redaction(token: str | None) -> None:
    """Make sure the token can never reach a log handler."""
    if not token:
        return
    redact = RedactToken(token)
    for handler in logging.getLogger().handlers:
        handler.addFilter(redact)


def configure_discord_endpoints(settings: Settings) -> None:
    """Point discord.py at DISCORD_API_BASE / DISCORD_GATEWAY_URL (a local fake, a proxy).

    discord.py ignores the REST base for its gateway and dials
    ``DiscordWebSocket.DEFAULT_GATEWAY``, so both are set.
    """
    if settings.discord_api_base:
        discord.http.Route.BASE = settings.discord_api_base.rstrip("/")
    if settings.discord_gateway_url:
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.discord_gateway_url)


def run_bot(settings: Settings) -> int:
    """Run the Discord bot until stopped; without DISCORD_TOKEN, the terminal chat instead."""
    if not settings.discord_token:
        print("DISCORD_TOKEN is not set, so here is the terminal chat (set it in .env to run the Discord bot).", file=sys.stderr)
        from bot.chat import run_chat

        return run_chat(settings)
    install_token_redaction(settings.discord_token)
    from knowledge import open_knowledge

    # The knowledge process loads the model while this one imports discord.py. The feeds are
    # caught up with after connecting (the announcement loop's first round, in a worker
    # thread): a slow source or a large first Substack backfill never delays the start.
    print("Loading the knowledge base…", file=sys.stderr)
    kb = open_knowledge(settings, wait=False)
    state = None
    try:
        from bot.client import create_bot
        from bot.state import BotState
        from knowledge import Poller

        state = BotState(settings.state_db)
        poller = Poller(kb, state, settings)
        if hasattr(kb, "wait_ready"):
            kb.wait_ready()  # a store built with another model, say, stops here with its reason
        configure_discord_endpoints(settings)
        bot = create_bot(settings, kb, state, poller)
        print("Connecting to Discord (the watched digests are brought up to date in the background)…", file=sys.stderr)
        bot.run(settings.discord_token, log_handler=None)
    except discord.LoginFailure:
        print("error: Discord rejected DISCORD_TOKEN (check the token in .env)", file=sys.stderr)
        return 1
    finally:
        kb.close()
        if state is not None:
            state.close()
    return 0


def poll_once(settings: Settings, *, dry_run: bool = False) -> int:
    """One polling round from the command line (indexes; announcing happens in the bot)."""
    from bot.state import BotState
    from knowledge import KnowledgeBase, Poller

    kb = KnowledgeBase(settings)
    state = BotState(settings.state_db)
    poller = Poller(kb, state, settings)
    report = poller.poll_once(dry_run=dry_run, force=True)
    for name in report.checked:
        status = f"error: {report.errors[name]}" if name in report.errors else "ok"
        print(f"{name}: {status}")
    if dry_run:
        for line in report.would_index:
            print(f"  new: {line}")
        print(f"{len(report.would_index)} new entries (dry run: nothing indexed or recorded)")
    else:
        for name, n in report.seeded.items():
            print(f"  first run of {name}: recorded {n} existing entries, nothing to announce")
        for what, reason in report.entry_errors.items():
            print(f"  not indexed yet: {what}: {reason}")
        print(f"{report.new_entries} new entries, {report.indexed} indexed, {report.reindexed} re-indexed after edits; "
              f"{len(poller.pending())} waiting to be announced by the bot")
        from bot.watch_cli import matches_text, take_terminal_matches

        matches = matches_text(take_terminal_matches(poller.watch_store))  # the terminal's watches: matched after the round
        if matches:
            print(matches)
    kb.close()
    state.close()
    return 1 if report.errors and len(report.errors) == len(report.checked) and report.checked else 0
