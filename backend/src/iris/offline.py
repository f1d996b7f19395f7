"""The deterministic offline analyzer: no network, no key, for local runs and tests (responses
say so in `model`). Standard library only."""

from __future__ import annotations

import re
from collections import Counter

from iris.analysis import Analysis

OFFLINE_MODEL = "offline-v1"


class OfflineAnalyzer:
    """A deterministic analysis without network: counts, keywords and a lexicon sentiment."""

    # Compiled (and cached by `re`) at the first analysis, not at every container's start.
    _WORD = r"[^\W_]+(?:['’][^\W_]+)*"
    _SENTENCE_END = r"[.!?。！？]+"
    _STOPWORDS = frozenset(
        "a about after all also an and any are as at be because been but by can could did do "
        "does for from had has have he her him his how i if in into is it its just me my no not "
        "of on or our out she so some than that the their them then there these they this to "
        "too up us was we were what when where which who will with would you your".split()
    )
    _POSITIVE = frozenset(
        "good great excellent love loved like liked happy glad wonderful amazing best better "
        "nice fantastic enjoy enjoyed pleased success successful calm beautiful fast easy helpful "
        "clear win".split()
    )
    _NEGATIVE = frozenset(
        "bad poor terrible awful hate hated dislike sad angry worst worse slow broken fail failed "
        "failure problem problems wrong difficult hard ugly pain error errors bug bugs lose "
        "lost".split()
    )
    _TOP_KEYWORDS = 5

    def prepare(self) -> None:
        """Nothing to prepare: no network, no key."""

    def analyze(self, text: str, deadline: float) -> Analysis:
        """Instant and local: the deadline is never in danger."""
        words = [word.lower() for word in re.findall(self._WORD, text)]
        sentences = [part for part in re.split(self._SENTENCE_END, text) if part.strip()]
        keywords = Counter(
            word for word in words if word not in self._STOPWORDS and not word.isdigit()
        ).most_common(self._TOP_KEYWORDS)
        positive = [word for word in words if word in self._POSITIVE]
        negative = [word for word in words if word in self._NEGATIVE]
        score = len(positive) - len(negative)
        if score > 0:
            sentiment = "positive"
        elif score < 0:
            sentiment = "negative"
        else:
            sentiment = "mixed" if positive else "neutral"

        lines = [
            f"Words: {len(words)}; sentences: {len(sentences)}; characters: {len(text)}.",
            f"Sentiment: {sentiment} (score {score:+d}; "
            f"{len(positive)} positive, {len(negative)} negative word(s)).",
            "Top keywords: "
            + (", ".join(f"{word} ({count})" for word, count in keywords) or "none")
            + ".",
        ]
        return Analysis(analysis="\n".join(lines), model=OFFLINE_MODEL)
