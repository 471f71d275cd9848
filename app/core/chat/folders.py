"""Folders that conversations are filed into (issue 17). A conversation sits in at most one;
deleting a folder leaves its conversations in no folder (ON DELETE SET NULL)."""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from app.core.foundation.errors import NotFoundError, ParleyError

if TYPE_CHECKING:
    from app.core.foundation.storage import Database

MAX_NAME = 80


@dataclass(frozen=True, slots=True)
class Folder:
    id: int
    name: str
    count: int = 0  # conversations in it


def clean_folder_name(name: str) -> str:
    cleaned = " ".join(name.split())
    if not cleaned:
        raise ParleyError("A folder needs a name.", "Type a name for the folder.")
    return cleaned[:MAX_NAME]


class FolderStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def list(self) -> list[Folder]:
        """Every folder, by name, with how many conversations it holds."""
        rows = self.db.query(
            "SELECT f.id, f.name, COUNT(c.id) AS n FROM folders f "
            "LEFT JOIN conversations c ON c.folder_id = f.id "
            "GROUP BY f.id ORDER BY f.name COLLATE NOCASE"
        )
        return [Folder(r["id"], r["name"], r["n"]) for r in rows]

    def create(self, name: str) -> Folder:
        name = clean_folder_name(name)
        try:
            cur = self.db.execute(
                "INSERT INTO folders (name, created_at) VALUES (?, ?)", (name, time.time())
            )
        except sqlite3.IntegrityError:
            raise ParleyError(
                f"There is already a folder called “{name}”.", "Choose another name."
            ) from None
        return Folder(int(cur.lastrowid or 0), name)

    def rename(self, folder_id: int, name: str) -> None:
        name = clean_folder_name(name)
        try:
            cur = self.db.execute("UPDATE folders SET name = ? WHERE id = ?", (name, folder_id))
        except sqlite3.IntegrityError:
            raise ParleyError(
                f"There is already a folder called “{name}”.", "Choose another name."
            ) from None
        if cur.rowcount == 0:
            raise NotFoundError(f"There is no folder {folder_id}.")

    def delete(self, folder_id: int) -> None:
        """Remove the folder; its conversations stay, in no folder."""
        self.db.execute("DELETE FROM folders WHERE id = ?", (folder_id,))
