"""One module per `sightline` command group."""
