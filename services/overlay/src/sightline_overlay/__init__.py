"""overlay: lays events out for the monocular HUD and sends display updates to one device."""
