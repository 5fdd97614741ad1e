"""glasses: the edge agent of a pair of AI glasses (simulated here): sends
what the wearer does up the bus and shows the display updates that come back."""
