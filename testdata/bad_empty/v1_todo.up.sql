-- TODO: write this

/* later */
