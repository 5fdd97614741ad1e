"""Revisions of the photo index, oldest first; write new ones by hand (copy the newest)."""
