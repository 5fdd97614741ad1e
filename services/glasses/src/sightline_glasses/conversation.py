"""The languages the microphone's frames carry: what is spoken, and what the
wearer wants captions in ("" = no translation).

One Conversation belongs to the agent; every microphone session opened
without languages of its own reads it frame by frame, so a
ConversationTranslation command changes the very next frame. Turning
translation off goes back to the languages the glasses started with.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Languages:
    # BCP-47; an empty source means "detect".
    source: str = "en"
    target: str = ""


class Conversation:
    def __init__(self, source: str = "en", target: str = "") -> None:
        self.default = Languages(source, target)
        self.current = self.default
        # Bumped on every change, so a microphone session sees that one happened.
        self.version = 0

    @property
    def translating(self) -> bool:
        return self.current != self.default

    def start(self, *, source: str, target: str) -> None:
        """Translate what is heard from `source` (or detect it, "") into `target`."""
        self._set(Languages(source, target))

    def stop(self) -> None:
        self._set(self.default)

    def reset(self, source: str = "en", target: str = "") -> None:
        """New starting languages (the simulator's --from/--to), in effect now."""
        self.default = Languages(source, target)
        self._set(self.default)

    def _set(self, languages: Languages) -> None:
        if languages != self.current:
            self.current = languages
            self.version += 1
