"""Pure logic of the assistant: no bus, no engines, no clock of its own."""
