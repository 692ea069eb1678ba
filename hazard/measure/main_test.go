package measure_test

import (
	"os"
	"testing"

	"github.com/waymarkdb/waymark/internal/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
