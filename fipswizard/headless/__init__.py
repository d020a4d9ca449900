"""The headless front end (command line, subcommands, demo): the twin of `screens/`."""
