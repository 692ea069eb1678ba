// Package admin is an HTTP endpoint for migrations that a service mounts on
// its own admin mux: the status of the database, the plan to a target with
// its review, and, when the service enables it, applying that plan. It uses
// the standard library and waymark's own packages only.
//
//	h, err := admin.New(admin.Config{
//		Backend:   pgxbackend.New(pool, nil),
//		Set:       set,
//		Authorize: func(r *http.Request, a admin.Action) error { return checkToken(r, a) },
//		AllowApply: true,
//	})
//	if err != nil { ... }
//	adminMux.Handle("/migrations/", http.StripPrefix("/migrations", h))
//	adminMux.Handle("/ready", admin.ReadyHandler(db, set, 0, nil))
//
// # Requests
//
// Paths are relative to where the handler is mounted (strip the prefix):
//
//	GET  /status                     the report of `waymark status` (package status)
//	GET  /plan[?to=N|down-to=N]      the plan to a target (default: latest), its review and its checksum
//	POST /apply                      apply the plan whose checksum the caller was shown
//
// GET answers in text unless the query has format=json or the Accept header
// asks for application/json; then the JSON of `waymark status -json`, or a
// document holding the plan's JSON, review and checksum. POST /apply takes
// only a body of Content-Type application/json:
//
//	{"to": 4, "checksum": "<the checksum GET /plan returned>"}
//
// ("down_to" instead of "to" for a down plan; neither for the latest
// version) and answers in JSON.
//
// # Safety
//
// Every request for one of the paths above, reads included (a status shows
// the schema's history), first passes the [Authorizer] the caller
// provides: there are no built-in passwords, and [New] refuses a Config
// without one ([ErrNoAuthorizer]). Other paths and methods are answered
// 404 or 405 and read nothing.
//
// Apply is refused (403) unless [Config].AllowApply is set. The handler
// plans again and applies only if that plan's checksum ([PlanChecksum]) is
// the one in the request: a plan the caller did not see, because the
// database or the files changed since, or a checksum edited, is refused
// (409) and nothing runs. Under the migration lock execute.Run checks the
// state once more, so of two identical requests at once exactly one
// applies and the other is refused as stale (409). Only a JSON body is
// accepted, so a form posted by a browser from another site cannot apply.
// Cancelling the request (the client goes away) stops the running step,
// which is rolled back.
//
// Responses never carry connection strings or passwords: errors that are
// not about the plan or the migrations' own SQL (a lost connection, a
// failure to connect) are answered with a generic message, and their detail
// goes to [Config].Logger only.
//
// # Readiness
//
// [Ready] says whether the database is at the version this binary's
// migrations expect (everything applied, clean, with the files' checksums;
// a database a newer release migrated further counts as ready, as for
// execute.Migrate), and [ReadyHandler] answers a Kubernetes readiness probe
// with 200 or 503 and nothing more.
package admin
