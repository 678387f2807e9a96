from crmapi.cli import cli

cli()
