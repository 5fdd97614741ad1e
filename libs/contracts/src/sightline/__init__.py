"""Namespace of the generated Sightline contracts (see sightline.v1)."""
