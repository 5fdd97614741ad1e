"""The `sightline` command: run the local stack, simulate glasses, manage devices."""
