package mysql

import (
	"testing"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"
)

func TestGTIDsBehind(t *testing.T) {
	const a, b = "3e11fa47-71ca-11e1-9e33-c80aa9429562", "4f22ab58-82db-22f2-af44-d91bba530673"
	for _, c := range []struct {
		name, flavor, cp, cur string
		want                  int64
	}{
		{"mysql caught up", gomysql.MySQLFlavor, a + ":1-10", a + ":1-10", 0},
		{"mysql behind", gomysql.MySQLFlavor, a + ":1-10", a + ":1-17", 7},
		{"mysql gaps and two sources", gomysql.MySQLFlavor, a + ":1-10:12-14", a + ":1-20," + b + ":1-3", 7 + 3},
		{"mysql 8.4 tagged", gomysql.MySQLFlavor, a + ":1-5", a + ":1-5:etl:1-4", 4},
		{"mysql not contained", gomysql.MySQLFlavor, a + ":1-10", b + ":1-10", -1},
		{"mysql gtids off", gomysql.MySQLFlavor, "", "", -1},
		{"mariadb behind", gomysql.MariaDBFlavor, "0-1-100", "0-1-130", 30},
		{"mariadb new domain", gomysql.MariaDBFlavor, "0-1-100", "0-2-105,1-2-4", 9},
		{"mariadb ahead of server", gomysql.MariaDBFlavor, "0-1-100", "0-1-90", -1},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := gtidsBehind(c.flavor, c.cp, c.cur); got != c.want {
				t.Fatalf("gtidsBehind(%q, %q) = %d, want %d", c.cp, c.cur, got, c.want)
			}
		})
	}
}
