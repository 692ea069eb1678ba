SELECT 1;
UPDATE t
   SET x = 1 -- no semicolon follows
  WHERE y /* nor here */

-- trailing comment
