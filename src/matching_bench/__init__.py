"""The matcher's benchmark: realistic instances of the border area and the runner that scores them.

Kept out of `matching`, the library the service imports: the service never
generates problems or measures itself. `truchement generate` and
`truchement bench` reach it from the command line, `benchmarks/` holds the
scripts, and benchmarks/README.md describes the instances and the targets.
"""
