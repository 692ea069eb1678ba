package source

// FileName is what a migration file's name says (see the package doc for
// the grammar).
type FileName struct {
	Version int64
	// Name is the words after the version, or "".
	Name      string
	Direction Direction
	// Digits is how many digits the version is written with: 3 for
	// v001_init.up.sql, so that a tool can number the next file alike.
	Digits int
}

// ParseFileName parses the name of a migration file (a base name, without
// a directory). The error is an [*Error] wrapping [ErrBadName] or
// [ErrBadVersion] whose position names the file.
func ParseFileName(name string) (FileName, error) {
	f, err := parseName(name)
	if err != nil {
		err.Pos.Path = name
		return FileName{}, err
	}
	return FileName{Version: f.version, Name: f.name, Direction: f.direction, Digits: leadingDigits(f.stem[1:])}, nil
}
