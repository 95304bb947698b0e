"""Running executions: the dispatcher, the per-target runner, the output writer.

Import from the modules themselves (`sqlfleet.engine.dispatcher`): this package imports
nothing, so that the command line's light modules (`engine.rerun`) do not bring the job
database and the drivers along.
"""
