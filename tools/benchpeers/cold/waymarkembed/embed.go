//go:build peersembed

package main

import "embed"

//go:embed migrations
var embedded embed.FS

func init() { migrations = embedded }
