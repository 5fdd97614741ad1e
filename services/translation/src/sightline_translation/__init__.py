"""translation: translates transcripts and photo text with engines chosen per language pair."""
