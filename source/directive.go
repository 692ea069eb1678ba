package source

import (
	"strconv"
	"strings"
)

// Directive is one "-- waymark:" comment line of a script (see the package
// doc).
type Directive struct {
	// Name is the directive's name, such as "no-transaction" or "allow".
	Name string
	// Args is the text after the name, without surrounding space.
	Args string
	// Pos is where the comment starts. Pos.Statement is the 1-based
	// number of the statement the directive comes before, or 0 when no
	// statement follows it.
	Pos Position
}

// Allow is a hazard that a script's author accepted with
// "-- waymark:allow <rule> "<reason>"". It applies to the statement it
// comes before.
type Allow struct {
	// Rule names the hazard rule; which names exist is up to the checker
	// that reads the allowance.
	Rule string
	// Reason is why the author accepts the hazard; never empty.
	Reason string
	// Pos is where the directive is; Pos.Statement is the statement it
	// applies to.
	Pos Position
}

// directiveSpec says where a directive may stand and checks its arguments.
type directiveSpec struct {
	// fileLevel directives must come before the first statement.
	fileLevel bool
	// check returns what is wrong with args, or "".
	check func(args string) string
}

// directives are the directives waymark knows, by name.
var directives = map[string]directiveSpec{
	"no-transaction": {fileLevel: true, check: noArgs},
	"allow":          {check: func(args string) string { _, _, problem := parseAllow(args); return problem }},
	"empty":          {fileLevel: true, check: func(args string) string { _, problem := parseEmpty(args); return problem }},
	"batch":          {check: func(args string) string { _, problem := parseBatch(args); return problem }},
}

// knownDirectives lists the directive names for messages.
const knownDirectives = "waymark:no-transaction, waymark:allow, waymark:empty, waymark:batch"

func noArgs(args string) string {
	if args != "" {
		return "takes no arguments"
	}
	return ""
}

// parseAllow reads the arguments of an allow directive: a rule name of
// lower-case letters, digits and dashes, then a double-quoted reason.
func parseAllow(args string) (rule, reason, problem string) {
	const want = `want waymark:allow <rule> "<reason>"`
	rule, rest, _ := strings.Cut(args, " ")
	if rule == "" || !all(rule, func(c byte) bool { return 'a' <= c && c <= 'z' || isDigit(c) || c == '-' }) {
		return "", "", want + " (a rule name of a-z 0-9 -)"
	}
	reason, problem = parseReason(rest, want, "why the hazard is acceptable")
	if problem != "" {
		return "", "", problem
	}
	return rule, reason, ""
}

// parseEmpty reads the argument of an empty directive: a double-quoted
// reason.
func parseEmpty(args string) (reason, problem string) {
	return parseReason(args, `want waymark:empty "<reason>"`, "why the step has nothing to do")
}

// parseReason reads a double-quoted reason that says something; want and
// says word the problem.
func parseReason(text, want, says string) (reason, problem string) {
	text = strings.TrimSpace(text)
	reason, err := strconv.Unquote(text)
	if err != nil || !strings.HasPrefix(text, `"`) {
		return "", want + ` (the reason in double quotes)`
	}
	if strings.TrimSpace(reason) == "" {
		return "", want + " (a reason that says " + says + ")"
	}
	return reason, ""
}

// readDirective reads the text of a "--" comment (without the dashes): a
// directive's name and arguments, and the directive as written. It returns
// ok false when the comment is not meant as a directive at all (it does not
// start with "waymark" in any case); a misspelt one has a name that is
// not known.
func readDirective(text string) (name, args, written string, ok bool) {
	body := strings.TrimSpace(text)
	if len(body) < len("waymark") || !strings.EqualFold(body[:len("waymark")], "waymark") {
		return "", "", "", false
	}
	rest, found := strings.CutPrefix(body, "waymark:")
	if !found {
		return "", "", body, true
	}
	name, args, _ = strings.Cut(rest, " ")
	return name, strings.TrimSpace(args), "waymark:" + name, true
}
