package convert

import "errors"

// Sentinel errors; use [errors.Is]. Convert's problems come as a
// source.ErrorList, sorted by file and position, of *source.Error values
// located in the tool's files, each wrapping one of these (Convert's
// ErrInvalid also wraps the source package's problem with the converted
// script, and a directory that cannot be read or holds no migration wraps
// source.ErrRead or source.ErrNoMigrations); Write's as a *source.Error.
var (
	// ErrUnknownTool: the tool is not one Convert knows.
	ErrUnknownTool = errors.New("unknown migration tool")
	// ErrLayout: the tool itself would refuse the file or the directory
	// (two files for a version, a goose file without "-- +goose Up", a
	// gap in tern's numbers).
	ErrLayout = errors.New("invalid migration")
	// ErrInvalid: a converted script is not a valid waymark script (an
	// unterminated quote, a transaction left open); the Cause is the
	// source package's problem.
	ErrInvalid = errors.New("not a valid waymark script once converted")
	// ErrExists: Write found .sql files in the directory.
	ErrExists = errors.New("directory is not empty")
	// ErrWrite: Write could not write a file.
	ErrWrite = errors.New("cannot write")
)
