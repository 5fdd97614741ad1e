"""vision: reads text (OCR) and tags in photos from the glasses."""
