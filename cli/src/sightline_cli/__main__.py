from sightline_cli.main import app

app()
