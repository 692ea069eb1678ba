-- This migration intentionally does nothing.
/* It only has comments;
   even a semicolon; */
   
