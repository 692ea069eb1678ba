//go:build !unix

package waymarktest

import "errors"

var errNotFoundForTest = errors.New("PostgreSQL server binaries not found")
