from likeness.cli import app

app(prog_name="likeness")
