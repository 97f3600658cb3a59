"""Scheduled jobs of the planner: retention, rollup consistency, silent signs, and the scheduler
that runs them with the situation picture and the plan proposal (``fartkoll planner run``)."""
