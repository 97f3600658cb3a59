"""What every layer shares and nothing else: the error root and the names of stored codes.

collector, planner, api and the CLI all import ``core``; ``core`` imports none of them.
"""
