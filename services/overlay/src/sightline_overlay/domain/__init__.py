"""Pure layout logic of the overlay service: no bus, no I/O."""
