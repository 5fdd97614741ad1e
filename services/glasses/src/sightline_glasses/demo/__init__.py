"""The scripted demo `sightline up --demo` plays on a simulated pair of glasses."""
