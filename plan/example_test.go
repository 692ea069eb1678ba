package plan_test

import (
	"fmt"
	"log"
	"os"

	"github.com/waymarkdb/waymark/plan"
	"github.com/waymarkdb/waymark/plan/plantest"
	"github.com/waymarkdb/waymark/source"
)

// The review of the demo set's third step, planned for a database at
// version 2, without a database.
func ExamplePlan_Review() {
	set, err := source.FromFS(os.DirFS(".."), "testdata/sample")
	if err != nil {
		log.Fatal(err)
	}
	p, err := plan.Compute(set, plantest.Applied(set, 1, 2), plan.To(3), nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(p.Review())
	// Output:
	// plan: up from 2 to 3 (1 step)
	//   up  3  users_email_index  testdata/sample/v003_users_email_index.up.sql  no-transaction  sha256:3bf9a306
	// made from: versions 1, 2 applied
	//
	// step 1 of 1: up 3 users_email_index, NO TRANSACTION: 1 statement, run one by one; a failure leaves version 3 dirty
	// testdata/sample/v003_users_email_index.up.sql  sha256:3bf9a306
	//   1 | -- waymark:no-transaction
	//   2 | -- Built without blocking writes; CONCURRENTLY cannot run in a transaction.
	//   3 | CREATE UNIQUE INDEX CONCURRENTLY users_email_key ON users (email);
}
