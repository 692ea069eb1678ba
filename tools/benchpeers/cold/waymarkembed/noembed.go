package main

import "io/fs"

// migrations is the embedded set, nil when built without -tags
// peersembed.
var migrations fs.FS
