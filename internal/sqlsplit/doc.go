// Package sqlsplit is waymark's one SQL lexer: it reads a PostgreSQL script
// as tokens, splits it into statements where the server and psql would, and
// maps byte offsets in a script to lines and columns.
//
// A [Scanner] yields the tokens of a script ([Token]: words, quoted
// identifiers, strings, numbers, parameters, operators and, on request,
// comments). [Split] reads the tokens and cuts the script into pieces, one
// per statement, that together cover the script byte for byte. Code that
// needs the key words of a statement reads its tokens rather than scanning
// the text again ([Token.Is] for a key word, [Token.Ident] for a name). A script that cannot be read, because a string, quoted
// identifier or comment is never closed, yields an [*Error] that wraps
// [ErrUnterminated]. [Locate] and [CharOffset] convert between byte
// offsets, positions ([Pos]: line and column) and the character positions
// that PostgreSQL reports in its errors.
//
// # Grammar
//
// A script is a sequence of tokens separated by whitespace (space, \t, \n,
// \r, \f, \v) and comments. A semicolon ends a statement; the last
// statement may lack one. The constructs below hide semicolons from the
// splitter; everything else is ordinary text.
//
//   - 'text' is a string; two adjacent quotes stand for one. A B, X, N or U&
//     prefix does not change how it is read. Strings separated only by
//     whitespace that contains a newline form one literal, as in SQL.
//   - E'text' (or e'text') is an escape string: besides a doubled quote, a
//     backslash escapes the byte after it, so E'it\'s' is one string. The E
//     must start a token: in name'x' the quote opens a plain string.
//   - "name" is a quoted identifier; two adjacent double quotes stand for one.
//   - $$text$$ and $tag$text$tag$ are dollar-quoted strings. A tag has the
//     form [A-Za-z_\x80-\xff][A-Za-z0-9_\x80-\xff]* and is case-sensitive;
//     the string ends at the first copy of its opening delimiter. A $ that
//     continues an identifier (a$b) or precedes a digit ($1, a parameter)
//     opens no string.
//   - -- starts a comment that runs to the end of the line (\n or \r).
//   - /* starts a comment that runs to the matching */; block comments nest.
//
// Identifiers have the form [A-Za-z_\x80-\xff][A-Za-z0-9_$\x80-\xff]*.
// Numbers follow PostgreSQL 16 and later: letters right after a number
// belong to it (1e'x' is the number 1e followed by a plain string, not an
// escape string).
//
// Where psql's scanner and the server's disagree, the splitter follows the
// server, which runs the statements. psql reads a file line by line and so
// never continues a string literal on the next line, which matters for an
// escape string continued by a string holding \'; and psql 15 reads 1e--x as
// the number 1e- followed by -x, where the server sees 1e and a comment.
//
// # Statement boundaries
//
// A semicolon does not end a statement inside parentheses, as in
//
//	CREATE RULE r AS ON INSERT TO t DO ALSO (INSERT INTO a VALUES (1); INSERT INTO b VALUES (2));
//
// nor inside the body of a function or procedure written in the SQL-standard
// form (PostgreSQL 14 and later):
//
//	CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT 2; END;
//
// Like psql, the splitter recognizes such bodies by a heuristic. In a
// statement whose first words are CREATE [OR REPLACE] FUNCTION or CREATE
// [OR REPLACE] PROCEDURE, the words BEGIN and END outside parentheses open
// and close a block, and so do CASE and END inside a block. Words are
// unquoted identifiers compared without regard to ASCII case; a quoted
// identifier, string or comment never counts. Any other statement,
// including a transaction's BEGIN, is split at every semicolon outside
// parentheses.
//
// # Assumptions
//
// The script is read as PostgreSQL reads it with standard_conforming_strings
// on, the default since PostgreSQL 9.1: a backslash in a plain string is an
// ordinary character. The script is UTF-8, or any encoding in which a byte
// below 0x80 always stands for that ASCII character; invalid UTF-8 is
// accepted. psql meta-commands (\i, \set), psql variables (:name) and the
// data of COPY ... FROM STDIN are not understood.
//
// # Positions
//
// Lines and columns are 1-based. Lines end at \n, so with CRLF line endings
// the \r is the last character of its line. Columns count characters, not
// bytes; a tab is one character, and so is each byte that is not part of
// valid UTF-8.
package sqlsplit
