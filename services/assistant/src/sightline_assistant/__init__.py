"""Sightline assistant: the wearer's voice commands, reminders and schedule,
notifications, transcripts and meeting notes."""
