"""snapinfra: the command-line client of the Snapinfra API."""
