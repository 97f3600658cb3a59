-- Number 0011 belongs to the timed speed limits (0011_limit_hours.sql); this empty step keeps
-- the numbering whole until that file arrives and replaces it.
SELECT 1;
