"""One module per command group; each has ``register(subparsers)`` that adds its parser and sets
``handler=(args, settings) -> exit code``. Add a group by listing its module in GROUPS."""

GROUPS = ["db", "serve", "demo", "bench", "collector", "importers", "stats", "planner", "user",
          "site", "limit", "sign", "token", "tip", "export", "measure"]
