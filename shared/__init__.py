"""What both services run the same way and neither owns: log lines and request ids, the database
readiness check. It builds on neither `dashboard` nor `engine` (import-linter keeps it so), and
both may import it: the independence contract keeps the two services from importing each other,
not from sharing the plumbing every process of the image needs alike.
"""
