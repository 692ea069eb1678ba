#!/usr/bin/env bash
# The CI recipe: plan on the pull request, apply the reviewed plan after
# approval. Both jobs need DATABASE_URL (the plan job only reads) and the
# same WAYMARK_PLAN_KEY secret, so that an edited plan is refused.
#
#   ci.sh plan    writes plan.json (the exact plan, signed) and plan.txt
#                 (every step's SQL with line numbers: post it for review)
#   ci.sh apply   applies plan.json; exits 3, changing nothing, if a
#                 migration file or the database changed since the plan
set -euo pipefail
dir=${MIGRATIONS:-migrations}

case "${1:-}" in
plan)
	waymark plan -dir "$dir" -review -o plan.json >plan.txt
	{ echo '```'; cat plan.txt; echo '```'; } >plan.md # the PR comment
	;;
apply)
	waymark apply -dir "$dir" -plan plan.json
	;;
*)
	echo "usage: $0 plan|apply" >&2
	exit 2
	;;
esac
