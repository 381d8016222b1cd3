"""The index in force, rebuilt when the articles folder changes; an invalid folder is refused and the last good index
stays (logged, counted, and shown by a gauge), so a malformed article never takes the service down."""

import asyncio
import hashlib
import logging
from pathlib import Path
from typing import Literal

from services.knowledge.articles import read_folder
from services.knowledge.metrics import articles_indexed, articles_refused, articles_reloads
from services.knowledge.search import KnowledgeIndex
from shared.language import Lexicon
from shared.taxonomy import Taxonomy
from shared.yamlfile import DataFileError

logger = logging.getLogger(__name__)

ReloadOutcome = Literal["unchanged", "reloaded", "refused"]


def folder_fingerprint(folder: Path) -> str:
    """Changes with any article file's name or content."""
    digest = hashlib.sha256()
    for path in sorted(folder.glob("*.md")):
        digest.update(path.name.encode())
        try:
            digest.update(path.read_bytes())
        except OSError:
            digest.update(b"unreadable")
    return digest.hexdigest()[:16]


class ArticleShelf:
    """`shelf()` is the index in force. Raises DataFileError at start when the folder is invalid: a service with no
    good articles at all has nothing to answer with."""

    def __init__(self, folder: Path, taxonomy: Taxonomy) -> None:
        self.folder = folder
        self.categories = frozenset(taxonomy.categories)
        self.lexicon = Lexicon()  # shared by every index: its memory of words stays warm across reloads
        self._seen = folder_fingerprint(folder)
        self.current = KnowledgeIndex(read_folder(folder, self.categories), self.lexicon)
        articles_indexed.set(len(self.current))

    def __call__(self) -> KnowledgeIndex:
        return self.current

    def reload(self) -> ReloadOutcome:
        seen = folder_fingerprint(self.folder)
        if seen == self._seen:
            return "unchanged"
        self._seen = seen
        try:
            index = KnowledgeIndex(read_folder(self.folder, self.categories), self.lexicon)
        except DataFileError as error:
            articles_reloads.labels("refused").inc()
            articles_refused.set(1)
            logger.error("articles refused, keeping the index of %d articles in force:\n%s", len(self.current), error)
            return "refused"
        self.current = index
        articles_reloads.labels("reloaded").inc()
        articles_refused.set(0)
        articles_indexed.set(len(index))
        logger.info("articles reloaded: %d in the index", len(index))
        return "reloaded"

    async def reload_if_changed(self) -> None:
        # Indexing takes up to seconds for a large folder: off the event loop, so consumers keep their heartbeats.
        await asyncio.to_thread(self.reload)
