-- don't stop here; or here
SELECT 1 -- it's; a "comment
  + 2; --;
SELECT 3--no space needed; really
;
SELECT 4 --- dashes
;
