/* header: it's a comment; with "quotes" */
SELECT 1 /* outer /* nested ' ; */ still ; comment */ + 2;
/**/SELECT /*/ not closed by a slash ; */ 3;
/* a /* b /* c */ b */ a */
SELECT 4;
