package mysql

import "testing"

// TestHasGlobalPrivilege reads SHOW GRANTS lines as MySQL and MariaDB
// print them.
func TestHasGlobalPrivilege(t *testing.T) {
	const usage = "GRANT USAGE ON *.* TO `fluxo`@`%` IDENTIFIED BY PASSWORD '*0123'"
	tests := []struct {
		name       string
		grants     []string
		privs      []string
		has, known bool
	}{
		{"granted", []string{"GRANT RELOAD, REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO `fluxo`@`%`"}, []string{"REPLICATION SLAVE"}, true, true},
		{"all privileges", []string{"GRANT ALL PRIVILEGES ON *.* TO `root`@`localhost` WITH GRANT OPTION"}, []string{"RELOAD"}, true, true},
		{"usage only", []string{usage}, []string{"REPLICATION SLAVE"}, false, true},
		{"on one database", []string{usage, "GRANT ALL PRIVILEGES ON `shop`.* TO `fluxo`@`%`"}, []string{"RELOAD"}, false, true},
		{"a longer privilege is not the privilege", []string{"GRANT REPLICATION SLAVE ADMIN ON *.* TO `fluxo`@`%`"}, []string{"REPLICATION SLAVE"}, false, true},
		{"one of several names", []string{"GRANT REPLICATION REPLICA ON *.* TO `fluxo`@`%`"}, []string{"REPLICATION SLAVE", "REPLICATION REPLICA"}, true, true},
		{"through a role", []string{usage, "GRANT `fluxo_role` TO `fluxo`@`%`"}, []string{"RELOAD"}, false, false},
		{"role grants shown", []string{"GRANT `r` TO `fluxo`@`%`", "GRANT RELOAD ON *.* TO `r`"}, []string{"RELOAD"}, true, true},
		{"grants not readable", nil, []string{"RELOAD"}, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			has, known := hasGlobalPrivilege(tc.grants, tc.privs...)
			if has != tc.has || known != tc.known {
				t.Errorf("has, known = %v, %v; want %v, %v", has, known, tc.has, tc.known)
			}
		})
	}
}

// TestQuoteAccount turns CURRENT_USER() into an account name GRANT accepts.
func TestQuoteAccount(t *testing.T) {
	for in, want := range map[string]string{
		"fluxo@%":        "'fluxo'@'%'",
		"o'brien@10.0.%": "'o''brien'@'10.0.%'",
		"a@b@localhost":  "'a@b'@'localhost'",
		"anonymous":      "'anonymous'@'%'",
	} {
		if got := quoteAccount(in); got != want {
			t.Errorf("quoteAccount(%q) = %s, want %s", in, got, want)
		}
	}
}
