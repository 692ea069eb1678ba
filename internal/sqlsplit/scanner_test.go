package sqlsplit

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// tok is a token without its offset, for compact tables.
type tok struct {
	Kind Kind
	Text string
}

func scanAll(src string, comments bool) ([]tok, error) {
	sc := NewScanner(src)
	sc.Comments = comments
	var out []tok
	for {
		t, ok := sc.Next()
		if !ok {
			return out, sc.Err()
		}
		if src[t.Offset:t.End()] != t.Text {
			return nil, errors.New("token text is not the input at its offset")
		}
		out = append(out, tok{t.Kind, t.Text})
	}
}

func TestScannerTokens(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		comments bool
		want     []tok
	}{
		{"words and ops", "CREATE TABLE t(id int);", false, []tok{
			{Word, "CREATE"}, {Word, "TABLE"}, {Word, "t"}, {Op, "("}, {Word, "id"}, {Word, "int"}, {Op, ")"}, {Op, ";"}}},
		{"comments skipped", "/* a */ SELECT -- b\n 1", false, []tok{{Word, "SELECT"}, {Number, "1"}}},
		{"comments kept", "/* a /* b */ */ SELECT -- c\n1", true, []tok{
			{Comment, "/* a /* b */ */"}, {Word, "SELECT"}, {Comment, "-- c"}, {Number, "1"}}},
		{"strings of every kind", `'a''b' E'\'' $$x$$ $t$y$t$ 'c'` + "\n'd'", false, []tok{
			{String, `'a''b'`}, {String, `E'\''`}, {String, "$$x$$"}, {String, "$t$y$t$"}, {String, "'c'\n'd'"}}},
		{"prefixed string is a word and a string", "B'101' X'1F'", false, []tok{
			{Word, "B"}, {String, "'101'"}, {Word, "X"}, {String, "'1F'"}}},
		{"quoted identifier", `"Users"""`, false, []tok{{QuotedIdent, `"Users"""`}}},
		{"numbers and params", "1.5e-3 0x1F $1 ..2", false, []tok{
			{Number, "1.5e-3"}, {Number, "0x1F"}, {Param, "$1"}, {Op, ".."}, {Number, "2"}}},
		{"lone dollar", "$ x", false, []tok{{Op, "$"}, {Word, "x"}}},
		{"identifier with dollar", "a$b", false, []tok{{Word, "a$b"}}},
		{"operators are single bytes", "a::int<>b", false, []tok{
			{Word, "a"}, {Op, ":"}, {Op, ":"}, {Word, "int"}, {Op, "<"}, {Op, ">"}, {Word, "b"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := scanAll(tt.in, tt.comments)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("tokens of %q (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestScannerError(t *testing.T) {
	sc := NewScanner("SELECT 1,\n  'open")
	var n int
	for {
		if _, ok := sc.Next(); !ok {
			break
		}
		n++
	}
	var e *Error
	if !errors.As(sc.Err(), &e) || !errors.Is(sc.Err(), ErrUnterminated) {
		t.Fatalf("Err() = %v, want an *Error wrapping ErrUnterminated", sc.Err())
	}
	if want := (Pos{Offset: 12, Line: 2, Column: 3}); e.Pos != want || n != 3 {
		t.Errorf("stopped after %d tokens at %+v, want 3 tokens and %+v", n, e.Pos, want)
	}
	if _, ok := sc.Next(); ok {
		t.Error("Next after an error returned a token")
	}
	if fresh := NewScanner("SELECT 1"); fresh.Err() != nil {
		err := fresh.Err()
		t.Errorf("Err of a fresh scanner = %v", err)
	}
}

func TestTokenIs(t *testing.T) {
	for _, tt := range []struct {
		tok  Token
		kw   string
		want bool
	}{
		{Token{Kind: Word, Text: "Begin"}, "begin", true},
		{Token{Kind: Word, Text: "BEGIN"}, "begin", true},
		{Token{Kind: QuotedIdent, Text: `"begin"`}, "begin", false},
		{Token{Kind: Word, Text: "beginning"}, "begin", false},
		{Token{Kind: Word, Text: "ca\u017fe"}, "case", false},
		{Token{Kind: Word, Text: "LOCK_TIMEOUT"}, "lock_timeout", true},
		{Token{Kind: Word, Text: "lock_timeout"}, "lock_timeout", true},
		{Token{Kind: Word, Text: "lock\x7ftimeout"}, "lock_timeout", false},
		{Token{Kind: Word, Text: "a1"}, "a1", true},
	} {
		if got := tt.tok.Is(tt.kw); got != tt.want {
			t.Errorf("%+v.Is(%q) = %v, want %v", tt.tok, tt.kw, got, tt.want)
		}
	}
}

func TestTokenIdent(t *testing.T) {
	for _, tt := range []struct {
		tok    Token
		want   string
		wantOK bool
	}{
		{Token{Kind: Word, Text: "Users"}, "users", true},
		{Token{Kind: Word, Text: "orders_2024"}, "orders_2024", true},
		{Token{Kind: Word, Text: "Stra\u00dfe"}, "stra\u00dfe", true}, // non-ASCII letters are kept, as the server does in UTF-8
		{Token{Kind: QuotedIdent, Text: `"Users"`}, "Users", true},
		{Token{Kind: QuotedIdent, Text: `"a""b"`}, `a"b`, true},
		{Token{Kind: QuotedIdent, Text: `""""`}, `"`, true},
		{Token{Kind: String, Text: `'users'`}, "", false},
		{Token{Kind: Op, Text: "."}, "", false},
	} {
		got, ok := tt.tok.Ident()
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("%+v.Ident() = %q, %v; want %q, %v", tt.tok, got, ok, tt.want, tt.wantOK)
		}
	}
}
