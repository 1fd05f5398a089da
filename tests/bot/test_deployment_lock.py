"""The per-deployment role lock shared by the polling, watch-delivery and roundup cogs."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from bot.deployment_lock import DeploymentLock


def test_one_holder_at_a_time(tmp_path) -> None:
    first = DeploymentLock(tmp_path / "data", "poller.lock")
    second = DeploymentLock(tmp_path / "data", "poller.lock")
    assert first.acquire() and first.held
    assert first.acquire()  # taking it again is a no-op
    assert not second.acquire() and not second.held
    first.release()
    assert not first.held
    assert second.acquire()
    second.release()
    second.release()  # releasing twice is harmless


def test_locks_of_different_jobs_are_independent(tmp_path) -> None:
    polling = DeploymentLock(tmp_path, "poller.lock")
    roundup = DeploymentLock(tmp_path, "roundup.lock")
    assert polling.acquire() and roundup.acquire()
    polling.release()
    roundup.release()


def test_another_process_holding_it_wins_until_it_exits(tmp_path) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import sys
                from bot.deployment_lock import DeploymentLock
                lock = DeploymentLock({str(tmp_path)!r}, "watch-delivery.lock")
                print(lock.acquire(), flush=True)
                sys.stdin.readline()
                """
            ),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "True"
        lock = DeploymentLock(tmp_path, "watch-delivery.lock")
        assert not lock.acquire()
        holder.stdin.write("\n")
        holder.stdin.flush()
        holder.wait(timeout=30)
        assert lock.acquire()  # the kernel released the dead holder's lock
        lock.release()
    finally:
        holder.kill()
