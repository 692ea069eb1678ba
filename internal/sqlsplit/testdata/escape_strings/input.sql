SELECT E'it\'s; escaped', e'back\\', E'\\';
SELECT E'doubled '' quote;' AS a, E'\x41\101\u0041;';
SELECT name'x;' FROM t;
SELECT E'a'
'b\'; still the same literal';
SELECT 1e'x;';
