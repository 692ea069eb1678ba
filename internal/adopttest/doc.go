// Package adopttest tests waymark's adoption of databases that other
// tools migrated, with the tools themselves: golang-migrate, goose, tern
// and pop apply their sets, then waymark converts the files, imports the
// history and takes over. It is a module of its own so that the tools stay
// out of waymark's dependencies; it has no code besides its tests.
package adopttest
