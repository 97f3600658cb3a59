"""The situation picture (*lägesbild*) for the joint police–municipality meeting: ``data`` gathers
a week from the database, ``render`` writes HTML (Swedish or English), ``pdf`` prints it."""
