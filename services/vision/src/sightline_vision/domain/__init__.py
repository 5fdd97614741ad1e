"""Pure image and text logic of the vision service: no bus, no I/O, no models."""
