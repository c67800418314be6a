"""The sweep's results store: one SQLite file (OUT/sweep.sqlite), one row per point keyed by the
point's content hash.

SQLite because the store lives beside the driver (workers return their results to it, they never
write it), it is one file a user can open with any SQLite client, and every update is a
transaction: a driver killed mid-write leaves the last committed state. A row is `pending`,
`running` (with its attempts, the process and Ray node of the last one), `done` (metrics) or
`failed` (a one-line error). A finished point is never redone; a failed one only when asked; a
row left `running` by an interrupted driver is run again.
"""
from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS points (
    key TEXT PRIMARY KEY,
    settings TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'running', 'done', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    worker TEXT,
    metrics TEXT,
    error TEXT,
    started REAL,
    finished REAL,
    seconds REAL
)"""


class SweepStore:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.db = sqlite3.connect(self.path, timeout=30)
        self.db.row_factory = sqlite3.Row
        with self.db:
            self.db.execute(SCHEMA)

    def close(self) -> None:
        self.db.close()

    def add(self, key: str, settings: dict) -> None:
        """A new point as pending; a known key is left as it is."""
        with self.db:
            self.db.execute("INSERT OR IGNORE INTO points (key, settings, status) VALUES (?, ?, 'pending')",
                            (key, json.dumps(settings, sort_keys=True)))

    def get(self, key: str) -> dict | None:
        row = self.db.execute("SELECT * FROM points WHERE key = ?", (key,)).fetchone()
        return _row(row) if row else None

    def rows(self, keys=None) -> list[dict]:
        rows = [_row(r) for r in self.db.execute("SELECT * FROM points ORDER BY rowid")]
        if keys is None:
            return rows
        wanted = set(keys)
        return [r for r in rows if r["key"] in wanted]

    def started(self, key: str, attempts: int, worker: str, when: float | None = None) -> None:
        """An attempt began at `when` (the worker's clock). A start reported after the point's
        result (Ray does not order the two) updates who ran it but not its status."""
        with self.db:
            self.db.execute("UPDATE points SET attempts = ?, worker = ?, started = COALESCE(started, ?), "
                            "error = CASE status WHEN 'failed' THEN error END, "
                            "status = CASE WHEN status IN ('done', 'failed') THEN status ELSE 'running' END "
                            "WHERE key = ?", (attempts, worker, when or time.time(), key))

    def finished(self, key: str, metrics: dict, seconds: float) -> None:
        with self.db:
            self.db.execute("UPDATE points SET status = 'done', metrics = ?, error = NULL, finished = ?, seconds = ? "
                            "WHERE key = ?", (json.dumps(metrics), time.time(), seconds, key))

    def failed(self, key: str, error: str, seconds: float | None = None) -> None:
        with self.db:
            self.db.execute("UPDATE points SET status = 'failed', error = ?, finished = ?, seconds = ? WHERE key = ?",
                            (error, time.time(), seconds, key))

    def reset(self, key: str) -> None:
        """Back to pending (a point to run again: left running by an interrupted driver, or a
        failed one retried on request)."""
        with self.db:
            self.db.execute("UPDATE points SET status = 'pending', started = NULL, finished = NULL, seconds = NULL "
                            "WHERE key = ?", (key,))


def _row(row: sqlite3.Row) -> dict:
    out = dict(row)
    out["settings"] = json.loads(out["settings"])
    out["metrics"] = json.loads(out["metrics"]) if out["metrics"] else None
    return out
