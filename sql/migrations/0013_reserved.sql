-- Number 0013 belongs to another change; this empty step keeps the numbering whole until that
-- file arrives and replaces it.
SELECT 1;
